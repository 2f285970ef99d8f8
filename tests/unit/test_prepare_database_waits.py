"""python_env's integrador_prepare_database.py (the API's first pre-start step) started before
PostgreSQL answers, against the real PostgreSQL stand-in on this machine's Docker engine: it
waits for the server and then prepares the database; an error the server itself gives (a
wrong password) ends it at once, without waiting. After a reboot, where the user manager is up
before Docker restarted the containers, the API's start then waits instead of failing every 2 s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import psycopg2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from this_machine import free_port

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "roles" / "python_env" / "files" / "integrador_prepare_database.py"
PREFIX = "itest_unitprepare"
PASSWORD = "unit-Prepare-pass-5713"


def helper(port: int, password: str, *args: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        DATABASE_URL=f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{port}/menu_ops",
        INTEGRADOR_DATABASE_WAIT="120",
    )
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture()
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    for container in client.containers.list(all=True, filters={"name": PREFIX}):
        container.remove(force=True)


def start_postgres(engine: docker.DockerClient, port: int) -> None:
    engine.containers.run(
        "integrador-test/pgvector:pg16",
        name=f"{PREFIX}_db",
        detach=True,
        environment={"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "menu_ops"},
        ports={"5432/tcp": ("127.0.0.1", port)},
    )


def marks(port: int) -> list[tuple[str, str]]:
    with psycopg2.connect(
        host="127.0.0.1", port=port, user="postgres", password=PASSWORD, dbname="menu_ops"
    ) as db:
        with db.cursor() as cursor:
            cursor.execute("SELECT name, value FROM integrador_provisioning.marks ORDER BY name")
            return [tuple(row) for row in cursor.fetchall()]


def test_started_before_postgres_it_waits_and_then_prepares_the_database(engine: docker.DockerClient) -> None:
    port = free_port()
    proc = helper(port, PASSWORD, "--seed", "true")
    assert proc.stdout is not None
    # Nothing listens yet: the helper says it waits, and keeps waiting.
    first = proc.stdout.readline()
    assert "waiting up to 120 s for the database" in first, first
    assert proc.poll() is None
    start_postgres(engine, port)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, first + out
    assert "seeding a fresh database: true" in out
    # The first connections may meet "the database system is starting up": waited out too.
    assert "Traceback" not in out
    assert marks(port) == [("seed", "true")]


def test_a_wrong_password_ends_it_at_once(engine: docker.DockerClient) -> None:
    port = free_port()
    start_postgres(engine, port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            marks(port)
            break
        except psycopg2.errors.UndefinedTable:
            break
        except psycopg2.OperationalError:
            time.sleep(0.2)
    proc = helper(port, "not-the-password", "--seed", "true")
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode != 0
    assert "password authentication failed" in out, out
    assert "waiting up to" not in out, out
    assert "seeding" not in out


def test_psycopg2s_errors_are_told_apart_as_asyncpgs(engine: docker.DockerClient) -> None:
    """The helper's test of 'not up yet' on the sync drivers' errors, as libpq words them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("integrador_prepare_database_under_test", HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    port = free_port()
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=PASSWORD, connect_timeout=5)
    assert module.not_up_yet(refused.value), str(refused.value)
    start_postgres(engine, port)
    deadline = time.monotonic() + 120
    while True:
        try:
            psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", password="wrong", dbname="menu_ops"
            )
        except psycopg2.OperationalError as exc:
            if "password authentication failed" in str(exc):
                assert not module.not_up_yet(exc)
                break
            # Still starting: what libpq says then is 'not up yet' as well.
            assert module.not_up_yet(exc), str(exc)
            assert time.monotonic() < deadline, "the PostgreSQL stand-in never answered"
            time.sleep(0.05)
        else:
            pytest.fail("the stand-in took a wrong password")


@settings(max_examples=40, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12).filter(
        lambda text: not _seconds(text)
    )
)
# What generated text almost never is, and float() takes (issue 24, 5).
@example("-1")
@example("nan")
@example("inf")
@example("1e999")
@example("-0.5")
def test_a_wait_that_is_no_number_of_seconds_is_named_not_a_traceback(given_wait: str) -> None:
    """Whatever a user puts in INTEGRADOR_DATABASE_WAIT: a number of seconds, or a message naming
    it (never a traceback), before any connection is tried."""
    env = dict(
        os.environ,
        DATABASE_URL=f"postgresql://postgres:x@127.0.0.1:{free_port()}/menu_ops",
        INTEGRADOR_DATABASE_WAIT=given_wait,
    )
    done = subprocess.run([sys.executable, str(HELPER)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "INTEGRADOR_DATABASE_WAIT must be a number of seconds, 0 or more" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def _seconds(text: str) -> bool:
    """Whether the helper takes text as its wait (empty: the default)."""
    if not text.strip():
        return True
    try:
        return 0 <= float(text) < float("inf")
    except ValueError:
        return False
