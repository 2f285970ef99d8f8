"""What a developer would check after converging the python_env role (as `dev`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

ROOT = "/home/dev/integrador"
VENV = f"{ROOT}/backend/.venv"
ENV_FILE = f"{ROOT}/backend/.env"
REQS = f"{ROOT}/backend/requirements.txt"


def read_env(host: Any) -> dict[str, str]:
    entries = {}
    for line in host.file(ENV_FILE).content_string.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries[key] = value
    return entries


def run_ok(host: Any, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_demo_backend_imports_from_the_venv(host: Any) -> None:
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")
    run_ok(host, f"cd {ROOT} && PYTHONPATH={ROOT}/backend {VENV}/bin/python -c 'import ws_gateway.main'")


def test_env_file_has_exactly_the_keys_private_to_the_user(host: Any, test_vars: dict[str, Any]) -> None:
    env_file = host.file(ENV_FILE)
    assert env_file.user == "dev"
    assert env_file.mode == 0o600
    entries = read_env(host)
    assert list(entries) == [
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_ORIGINS",
        "DEBUG",
        "ENVIRONMENT",
        "JWT_SECRET",
        "TABLE_TOKEN_SECRET",
    ]
    port, redis_port = test_vars["postgres_pgvector_port"], test_vars["redis_port"]
    assert entries["DATABASE_URL"] == f"postgresql://postgres:postgres@127.0.0.1:{port}/menu_ops"
    assert entries["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}"
    for key in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert len(entries[key]) >= 32
        assert all(c.isalnum() or c in "-_" for c in entries[key]), f"{key} is not URL-safe"
    assert entries["JWT_SECRET"] != entries["TABLE_TOKEN_SECRET"]


def test_no_change_run_does_not_invoke_pip(host: Any, converge: Callable[..., Any]) -> None:
    # Hide pip: a converge that ran it would fail.
    site = run_ok(
        host, f"{VENV}/bin/python -c 'import pip, os; print(os.path.dirname(pip.__path__[0]))'"
    ).strip()
    run_ok(host, f"mv {site}/pip {site}/pip.hidden")
    try:
        result = converge()
    finally:
        run_ok(host, f"mv {site}/pip.hidden {site}/pip")
    assert result.rc == 0, result
    assert result.changed == 0, result


def test_secrets_are_stable_and_never_printed(host: Any, converge: Callable[..., Any]) -> None:
    before = read_env(host)
    result = converge(None, "--diff", "-v")
    assert result.rc == 0, result
    assert read_env(host) == before
    for key in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert before[key] not in result.output, f"{key} was printed"


def test_hand_edit_survives_and_a_deleted_secret_alone_is_regenerated(
    host: Any, converge: Callable[..., Any]
) -> None:
    before = read_env(host)
    run_ok(host, f"sed -i -e 's/^DEBUG=.*/DEBUG=false/' -e '/^TABLE_TOKEN_SECRET=/d' {ENV_FILE}")
    result = converge(None, "--diff")
    assert result.rc == 0, result
    assert "Kept hand-edited DEBUG" in result.output, result
    after = read_env(host)
    assert after["DEBUG"] == "false"
    assert after["JWT_SECRET"] == before["JWT_SECRET"]
    assert after["TABLE_TOKEN_SECRET"] != before["TABLE_TOKEN_SECRET"]
    assert len(after["TABLE_TOKEN_SECRET"]) >= 32
    assert after["TABLE_TOKEN_SECRET"] not in result.output
    assert host.file(ENV_FILE).mode == 0o600
    # Deleting the hand-edited line hands it back to the role.
    run_ok(host, f"sed -i '/^DEBUG=/d' {ENV_FILE}")
    assert converge().rc == 0
    assert read_env(host)["DEBUG"] == "true"


def test_changed_setting_updates_the_url_it_wrote(host: Any, converge: Callable[..., Any]) -> None:
    result = converge({"python_env_database_url_scheme": "postgresql+asyncpg"})
    assert result.rc == 0, result
    assert read_env(host)["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert converge().rc == 0
    assert read_env(host)["DATABASE_URL"].startswith("postgresql://")


def test_requirement_change_installs_exactly_once(host: Any, converge: Callable[..., Any]) -> None:
    run_ok(host, f"cp {REQS} {REQS}.orig && echo 'six==1.17.0' >> {REQS}")
    try:
        first = converge()
        assert first.rc == 0, first
        assert first.changed >= 1, first
        run_ok(host, f"{VENV}/bin/python -c 'import six'")
        second = converge()
        assert second.rc == 0, second
        assert second.changed == 0, second
    finally:
        run_ok(host, f"mv {REQS}.orig {REQS}")
    assert converge().rc == 0


def test_broken_venv_is_rebuilt(host: Any, converge: Callable[..., Any]) -> None:
    # What an OS upgrade does: the interpreter the venv points at is gone.
    run_ok(host, f"ln -sfn /nonexistent/python3 {VENV}/bin/python")
    result = converge()
    assert result.rc == 0, result
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")


@pytest.mark.parametrize("minimum", ["3.99"])
def test_python_older_than_minimum_is_refused(host: Any, converge: Callable[..., Any], minimum: str) -> None:
    version = run_ok(host, "python3 -c 'import platform; print(platform.python_version())'").strip()
    result = converge({"python_env_min_version": minimum})
    assert result.rc != 0
    assert f"No Python of at least {minimum} (python_env_min_version) was found: Python {version} at" in (
        result.output
    ), result
    assert "point python_env_python at it" in result.output
    # The existing venv was not touched.
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")


def test_folder_that_is_not_a_checkout_is_refused(converge: Callable[..., Any]) -> None:
    result = converge({"integrador_root": "/tmp"})
    assert result.rc != 0
    assert (
        "integrador_root /tmp is not an Integrador checkout: expected the REST API at "
        "/tmp/backend/rest_api/main.py" in result.output
    ), result


def test_too_little_free_disk_is_refused_before_pip(host: Any, converge: Callable[..., Any]) -> None:
    host.run(f"rm -rf {VENV}")
    result = converge({"python_env_min_free_mb": 10**9})
    assert result.rc != 0
    assert "MB free on the file system of" in result.output, result
    assert "the virtualenv and its requirements need about 1000000000 MB" in result.output
    assert not host.file(VENV).exists
    assert converge().rc == 0
