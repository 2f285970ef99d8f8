"""The cases that kill mutants `make mutation` found surviving in module_utils/integrador_probe.py:
how long a probe may wait (its own timeout on PostgreSQL, Redis and HTTP; the Docker layer's for
docker_start and docker_logs), the exact message of an HTTP probe that failed, and the
Terminate sent after an AuthenticationOk whatever follows its code. The servers are the loopback
stand-ins of wire_servers.py; each holds its connection open HOLD seconds at most, so a probe
without a timeout fails the test instead of hanging it."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils import integrador_probe as probe  # loaded by conftest.py from module_utils/
from wire_servers import Server, start_postgres, startup_message, wait_received

HOLD = 3.0  # the longest a stand-in keeps a silent connection open
TIMEOUT = 0.2  # the probes' timeout in these tests (PROBE_TIMEOUT is read when a probe connects)

# The timeout each socket had when it connected to a watched unix socket path: a Python audit hook
# sees every socket.connect with the socket itself. The hook cannot be removed, so it only records
# connections to the paths a test put in WATCHED.
WATCHED: dict[str, list[float | None]] = {}


def _record_connect(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and isinstance(args[1], str) and args[1] in WATCHED:
        WATCHED[args[1]].append(args[0].gettimeout())


sys.addaudithook(_record_connect)


@pytest.fixture
def silent(serve: Callable[..., Server]) -> Iterator[Server]:
    """A stand-in that reads what the client sends and answers nothing until the test ends (HOLD
    seconds at most)."""
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        while not done.is_set():
            try:
                if not conn.recv(65536):
                    break  # the client gave up and closed
            except TimeoutError:
                pass
        conn.settimeout(5)

    timer = threading.Timer(HOLD, done.set)
    timer.start()
    yield serve(script)
    done.set()
    timer.cancel()


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "PROBE_TIMEOUT", TIMEOUT)


@pytest.mark.usefixtures("short_timeout")
def test_a_server_that_accepts_and_never_answers_is_not_ready_after_the_probe_timeout(silent: Server) -> None:
    """PostgreSQL and Redis probes give up after PROBE_TIMEOUT and say it timed out; without a
    timeout they would wait for the server to hang up."""
    assert probe.postgres("127.0.0.1", silent.port) == (False, "timed out")
    assert probe.redis("127.0.0.1", silent.port) == (False, "timed out")


@pytest.mark.usefixtures("short_timeout")
def test_an_http_server_that_never_answers_is_not_ready_after_the_probe_timeout(silent: Server) -> None:
    assert probe.http_get(f"http://127.0.0.1:{silent.port}/ok") == (False, "timed out")


def test_an_http_hang_up_is_reported_with_the_errors_message(serve: Callable[..., Server]) -> None:
    """A server that reads the request and closes: the reason is the exception's own message,
    not its class name."""
    server = serve(lambda conn: conn.recv(65536))
    assert probe.http_get(f"http://127.0.0.1:{server.port}/ok") == (
        False,
        "Remote end closed connection without response",
    )


def test_authentication_ok_with_trailing_bytes_is_still_terminated(serve: Callable[..., Server]) -> None:
    """The authentication code is the first Int32 of the R message: code 0 (ok) gets a Terminate
    whatever bytes follow it."""
    server = start_postgres(serve, b"R\x00\x00\x00\x09\x00\x00\x00\x00\x00")
    assert probe.postgres("127.0.0.1", server.port) == (True, "accepting connections")
    assert wait_received(server) == startup_message("postgres", "postgres") + b"X\x00\x00\x00\x04"


def test_docker_start_waits_30_s_and_docker_logs_10_s_for_the_engine(tmp_path: Path) -> None:
    """The Docker calls are bounded: starting a container may take the engine up to 30 s, reading
    its log up to 10 s (the socket's timeout when it connects to the engine's socket)."""
    path = str(tmp_path / "docker.sock")  # no engine there: the connection is tried and refused
    WATCHED[path] = []
    try:
        changed, problem = probe.docker_start(f"unix://{path}", "db")
        assert (changed, problem.startswith("Docker could not start db: ")) == (False, True)
        assert WATCHED[path] == [30.0]
        assert probe.docker_logs(f"unix://{path}", "db") == []
        assert WATCHED[path] == [30.0, 10.0]
    finally:
        del WATCHED[path]
