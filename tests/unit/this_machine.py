"""What the unit tests ask of the machine they run on (a CI runner, a laptop, a container)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any


def has_ipv6_loopback() -> bool:
    """Whether ::1 can be bound here (containers and some CI runners have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on at 127.0.0.1, all different (each probe is held until all are picked)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def alive(pid: int) -> bool:
    """Whether the process runs: a zombie (exited, not yet reaped) counts as gone. Linux /proc."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def eventually(check: Any, seconds: float = 60) -> Any:
    """Polls check until it returns something true (never a timed assertion: the
    limit only keeps a broken test from hanging)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@contextlib.contextmanager
def standin_stack(
    prefix: str, db: str, pg_password: str, redis_password: str, redis_env: dict[str, str] | None = None
) -> Any:
    """The PostgreSQL (pgvector) and Redis stand-in images run on this machine's Docker engine as
    <prefix>_db (database db) and <prefix>_redis (requirepass, AOF), each published on a free
    loopback port; leftovers of an earlier run removed first, both removed afterwards. Yields
    (db container, Redis container, PostgreSQL port, Redis port)."""
    import docker  # only the tests that start containers need the SDK

    engine = docker.from_env()
    for old in engine.containers.list(all=True, filters={"name": prefix}):
        old.remove(force=True)
    pg_port, redis_port = free_port(), free_port()
    postgres = engine.containers.run(
        "integrador-test/pgvector:pg16",
        name=f"{prefix}_db",
        detach=True,
        environment={"POSTGRES_PASSWORD": pg_password, "POSTGRES_DB": db},
        ports={"5432/tcp": ("127.0.0.1", pg_port)},
    )
    redis = engine.containers.run(
        "integrador-test/redis:7",
        ["redis-server", "--requirepass", redis_password, "--appendonly", "yes"],
        name=f"{prefix}_redis",
        detach=True,
        environment=redis_env or {},
        ports={"6379/tcp": ("127.0.0.1", redis_port)},
    )
    try:
        yield postgres, redis, pg_port, redis_port
    finally:
        postgres.remove(force=True)
        redis.remove(force=True)


def pg_rows(port: int, password: str, dbname: str, query: str) -> list[tuple[Any, ...]]:
    """One statement on a stand-in PostgreSQL through psycopg2 (as user postgres, autocommit):
    its rows, none for a command. Independent of the modules' own psql."""
    import psycopg2  # only the tests that talk to PostgreSQL need it

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname=dbname)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pg_connects(port: int, password: str, dbname: str) -> bool:
    """Whether the server lets us in (the ready probe answers during the image's first-start init)."""
    import psycopg2

    try:
        psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", password=password, dbname=dbname
        ).close()
        return True
    except psycopg2.OperationalError:
        return False
