"""`make psql` and `make redis-cli`, for real: make reads the settings through Ansible (here
given with ARGS, as a user may), and docker exec runs the client in a real PostgreSQL and a
real Redis container (the local stand-in images). Input is piped, so no terminal is allocated."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
MAKE = ["make", "-s", "-C", str(REPO), "-o", ".venv/.requirements.txt"]
PREFIX = "itest_unit_make"
USER = "itest_menu"
DB = "menu_ops"
PASSWORD = "itest-Redis-shell-0123456789"


def wait_for(container: docker.models.containers.Container, argv: list[str]) -> None:
    """Until argv succeeds inside the container (the engine's own exit code; no timing asserted)."""
    for _ in range(600):
        container.reload()
        assert container.status == "running", container.logs(tail=30).decode()
        if container.exec_run(argv).exit_code == 0:
            return
        subprocess.run(["sleep", "0.2"], check=True)
    raise AssertionError(f"{argv} never succeeded in {container.name}")


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    return client


@pytest.fixture(scope="module")
def database(engine: docker.DockerClient) -> Iterator[str]:
    name = f"{PREFIX}_db"
    c = engine.containers.run(
        "integrador-test/pgvector:pg16",
        name=name,
        detach=True,
        environment={"POSTGRES_USER": USER, "POSTGRES_PASSWORD": "itest", "POSTGRES_DB": DB},
    )
    try:
        wait_for(c, ["psql", "--username", USER, "--dbname", DB, "--command", "select 1"])
        yield name
    finally:
        c.remove(force=True, v=True)


@pytest.fixture(scope="module")
def redis_with_password(engine: docker.DockerClient) -> Iterator[str]:
    """As roles/redis runs it with redis_password: --requirepass, and REDISCLI_AUTH in its environment."""
    name = f"{PREFIX}_redis"
    c = engine.containers.run(
        "integrador-test/redis:7",
        ["redis-server", "--requirepass", PASSWORD],
        name=name,
        detach=True,
        environment={"REDISCLI_AUTH": PASSWORD},
    )
    try:
        wait_for(c, ["sh", "-c", "redis-cli ping | grep -q PONG"])
        yield name
    finally:
        c.remove(force=True, v=True)


def make(target: str, stdin: str, *settings: str) -> subprocess.CompletedProcess[str]:
    args = " ".join(f"-e {setting}" for setting in settings)
    return subprocess.run(
        [*MAKE, target, f"ARGS={args}"],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
    )


def test_psql_runs_on_the_database_as_the_configured_user(database: str) -> None:
    result = make(
        "psql",
        "select current_user || '@' || current_database();\n",
        f"postgres_pgvector_container_name={database}",
        f"postgres_pgvector_user={USER}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{USER}@{DB}" in result.stdout, result.stdout + result.stderr
    assert "not a TTY" not in result.stderr


def test_redis_cli_authenticates_without_printing_the_password(redis_with_password: str) -> None:
    result = make(
        "redis-cli",
        "ping\nacl whoami\n",
        f"redis_container_name={redis_with_password}",
        f"redis_password={PASSWORD}",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.split() == ["PONG", "default"], output
    assert PASSWORD not in output


def test_a_container_that_is_not_there_is_named(engine: docker.DockerClient) -> None:
    result = make("psql", "select 1;\n", f"postgres_pgvector_container_name={PREFIX}_missing")
    assert result.returncode != 0
    assert f"{PREFIX}_missing" in result.stderr, result.stderr
