"""Holding a restore inside one of its module runs, so that a test can kill it there: in the
middle of the database swap's transaction, or while the Redis swap container copies files.

restore.yml's test kill points (roles/day_two/tasks/test_kill_point.yml) kill a run between two
tasks, at places the code chose. These holds stop the run where no task boundary is, with what
a real machine has, and no hook in the code under test:
- the database swap: the test holds a lock on the scratch database (COMMENT ON DATABASE, in an
  open transaction) that its rename needs, so the swap's transaction waits after renaming the
  live database away and before the scratch database takes its name;
- the Redis swap: one staged append-only file is replaced by a named pipe, so the swap
  container's `cp` of it waits, after dump.rdb was swapped and before the manifest is.
Then the run is killed as `kill -9` or a power cut would: the controller's ansible-playbook and
its workers, the module process on the laptop, and what that module ran (the swap's PostgreSQL
backend, the swap container). Only then is the hold released, and the staged data put back as
the restore staged it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import psycopg2
from conftest import pg_connect

# The run on the laptop: Ansible's pipelined module process (/usr/bin/python3 reading the module
# on stdin) and the shell that started it.
MODULE_PROCESSES = ["^/usr/bin/python3[.0-9]*$", "python3[.0-9]* && sleep 0"]


def kill_run(docker_client: docker.DockerClient, laptop: str, proc: subprocess.Popen[str]) -> None:
    """SIGKILL to the run's process group (started with start_new_session) and to the module
    processes on the laptop."""
    os.killpg(proc.pid, signal.SIGKILL)
    box = docker_client.containers.get(laptop)
    for pattern in MODULE_PROCESSES:
        box.exec_run(["pkill", "-KILL", "-f", pattern])


def wait_until(what: str, proc: subprocess.Popen[str], check: Callable[[], Any], timeout: float = 600) -> Any:
    """check()'s first true answer; fails when the run ended first or the timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def scratch_database(test_vars: dict[str, Any]) -> str:
    """The scratch database a staged restore left (integrador_restore_<hash>_new)."""
    connection = pg_connect(test_vars, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                r"SELECT datname FROM pg_database WHERE datname LIKE 'integrador\_restore\_%\_new'"
            )
            names = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    assert len(names) == 1, f"one scratch database expected, found {names}"
    return names[0]


@contextlib.contextmanager
def database_swap_held(test_vars: dict[str, Any]) -> Iterator[Callable[[subprocess.Popen[str]], int]]:
    """Holds the scratch database's rename; yields wait(proc), which returns the pid of the swap's
    backend once it waits for the lock. On leaving, that backend is ended first (as a killed
    client's connection ends), then the lock released: the swap's transaction never commits."""
    scratch = scratch_database(test_vars)
    holder = pg_connect(test_vars, dbname="postgres", autocommit=False)
    waiting: list[int] = []
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"COMMENT ON DATABASE \"{scratch}\" IS 'held by a test'")

        def blocked() -> int | None:
            with holder.cursor() as cursor:
                cursor.execute(
                    "SELECT l.pid FROM pg_locks l JOIN pg_database d ON l.objid = d.oid "
                    "WHERE NOT l.granted AND l.locktype = 'object' "
                    "AND l.classid = 'pg_database'::regclass AND d.datname = %s",
                    (scratch,),
                )
                row = cursor.fetchone()
            return row[0] if row else None

        def wait(proc: subprocess.Popen[str]) -> int:
            pid = wait_until("the database swap waiting for the held scratch database", proc, blocked)
            waiting.append(pid)
            return pid

        yield wait
    finally:
        with contextlib.suppress(psycopg2.Error):
            with holder.cursor() as cursor:
                for pid in waiting:
                    cursor.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            holder.rollback()
        holder.close()


@contextlib.contextmanager
def redis_swap_held(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> Iterator[Callable[[subprocess.Popen[str]], docker.models.containers.Container]]:
    """Replaces the first staged append-only file with a named pipe; yields wait(proc), which
    returns the swap container once its `cp` waits on the pipe. On leaving, the swap container
    is killed and the staged file put back."""
    volume = f"{test_vars['redis_volume']}__restore"
    image = docker_client.containers.get(test_vars["redis_container_name"]).image
    swap_name = f"{test_vars['redis_container_name']}__restore_swap"

    def on_scratch(script: str) -> str:
        out = docker_client.containers.run(
            image,
            ["sh", "-euc", script],
            entrypoint=[],
            network_mode="none",
            mounts=[docker.types.Mount("/s", volume, type="volume")],
            remove=True,
        )
        return out.decode().strip()

    # The manifest's first data file (type b or i; h is history, which the swap skips).
    held = on_scratch(
        "cd /s/appendonlydir; "
        "f=$(awk '$6 != \"h\" {print $2; exit}' *.manifest); "
        'mv "$f" "/s/held-by-test"; mkfifo "$f"; echo "$f"'
    )
    assert held, "no staged append-only file to hold"

    def copying() -> docker.models.containers.Container | None:
        try:
            swap = docker_client.containers.get(swap_name)
        except docker.errors.NotFound:
            return None
        if swap.status != "running":
            return None
        commands = [" ".join(process) for process in swap.top()["Processes"]]
        return swap if any(held in command and "cp -p " in command for command in commands) else None

    def wait(proc: subprocess.Popen[str]) -> docker.models.containers.Container:
        return wait_until("the Redis swap container copying the held file", proc, copying)

    try:
        yield wait
    finally:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            docker_client.containers.get(swap_name).kill()
        on_scratch(f'cd /s/appendonlydir; rm -f "{held}"; mv /s/held-by-test "{held}"')
