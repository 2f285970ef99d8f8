"""What `make workstation` leaves on a bare Debian laptop: the README's prerequisites as
distribution packages, dev in the docker group, the engine's unit enabled, lingering on, a
docker CLI that talks to an engine and a Python that makes virtualenvs. The engine itself is
not started there (an unprivileged container cannot run dockerd): the CLI is pointed at the
host's engine, mounted at /docker.sock."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("package", ["docker.io", "docker-cli", "python3", "python3-venv", "git", "make"])
def test_prerequisite_is_installed(host: Any, package: str) -> None:
    assert host.package(package).is_installed


def test_dev_is_in_the_docker_group(host: Any) -> None:
    assert "docker" in host.user("dev").groups
    assert "docker" in host.check_output("id -nG dev").split()


def test_engine_unit_is_enabled(host: Any) -> None:
    assert host.run("systemctl is-enabled docker.service").stdout.strip() == "enabled"
    assert host.service("docker").is_enabled


def test_lingering_is_enabled(host: Any) -> None:
    assert host.file("/var/lib/systemd/linger/dev").exists


def test_docker_cli_talks_to_an_engine(host: Any) -> None:
    # As dev, who may use the host's engine socket (prepare.yml), as the docker group grants.
    version = host.run("docker -H unix:///docker.sock version --format '{{.Server.Version}}'")
    assert version.rc == 0, version.stderr
    assert version.stdout.strip()


def test_python_makes_a_virtualenv_and_git_make_run(host: Any) -> None:
    with host.sudo("dev"):
        venv = host.run("python3 -m venv /tmp/itest-venv && /tmp/itest-venv/bin/python -m pip --version")
        assert venv.rc == 0, venv.stderr
        assert host.run("git --version").rc == 0
        assert host.run("make --version").rc == 0
