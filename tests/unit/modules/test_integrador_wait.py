"""integrador_wait and its probes against real servers: the PostgreSQL and Redis
stand-in images on this machine's Docker engine, a real HTTP server, and the
module run for real by Ansible (ad-hoc, local connection)."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import redis as redis_client
from ansible_adhoc import run_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from this_machine import eventually, free_port

probe = load(ROOT / "module_utils" / "integrador_probe.py", "integrador_probe_under_test")
PREFIX = "itest_unitwait"
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
PG_PASSWORD = "unit-Pg-pass-8421"


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    for container in client.containers.list(all=True, filters={"name": PREFIX}):
        container.remove(force=True)


@pytest.fixture(scope="module")
def pg(engine: docker.DockerClient) -> Iterator[dict[str, Any]]:
    port = free_port()
    container = engine.containers.run(
        "integrador-test/pgvector:pg16",
        name=f"{PREFIX}_db",
        detach=True,
        environment={"POSTGRES_PASSWORD": PG_PASSWORD, "POSTGRES_DB": "menu_ops"},
        ports={"5432/tcp": ("127.0.0.1", port)},
    )
    assert eventually(lambda: probe.postgres("127.0.0.1", port)[0]), container.logs(tail=30)
    yield {"name": container.name, "port": port}
    container.remove(force=True)


@pytest.fixture(scope="module")
def rd(engine: docker.DockerClient) -> Iterator[dict[str, Any]]:
    port = free_port()
    container = engine.containers.run(
        "integrador-test/redis:7",
        ["redis-server", "--protected-mode", "no"],
        name=f"{PREFIX}_redis",
        detach=True,
        ports={"6379/tcp": ("127.0.0.1", port)},
    )
    assert eventually(lambda: probe.redis("127.0.0.1", port)[0]), container.logs(tail=30)
    yield {"name": container.name, "port": port}
    container.remove(force=True)


def run_wait(args: dict[str, Any], *flags: str) -> tuple[int, dict[str, Any], str]:
    """ansible localhost -m integrador_wait; (rc, the module's result, all output)."""
    run = run_module("integrador_wait", args, *flags, callback="minimal")
    return run.rc, run.result, run.output


def test_postgres_probe_judges_as_pg_isready(pg: dict[str, Any]) -> None:
    # A server asking for a password is accepting connections, whatever the user.
    assert probe.postgres("127.0.0.1", pg["port"], "nobody", "nowhere")[0]
    ready, answer = probe.postgres("127.0.0.1", free_port())
    assert not ready and answer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1))
def test_redis_probe_authenticates_with_any_password(rd: dict[str, Any], password: str) -> None:
    admin = redis_client.Redis(host="127.0.0.1", port=rd["port"])
    admin.config_set("requirepass", password)
    try:
        assert probe.redis("127.0.0.1", rd["port"], password) == (True, "+PONG")
        ready, answer = probe.redis("127.0.0.1", rd["port"], password + "x")
        # The answer is Redis's own refusal, the same whatever the password: never an echo of it
        # (a one-character password may well be a letter of that refusal).
        assert not ready and answer.startswith("AUTH refused: -WRONGPASS"), answer
        assert answer == probe.redis("127.0.0.1", rd["port"], "\x01not-the-password")[1]
        assert not probe.redis("127.0.0.1", rd["port"])[0]
    finally:
        redis_client.Redis(host="127.0.0.1", port=rd["port"], password=password).config_set("requirepass", "")


def test_http_probe_wants_200_and_ignores_a_dead_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    try:
        port = server.server_address[1]
        assert probe.http_get(f"http://127.0.0.1:{port}/ok") == (True, "HTTP 200")
        assert probe.http_get(f"http://127.0.0.1:{port}/down") == (False, "HTTP 503")
        # A status the caller accepts (a health path that is not there: 404) is an answer.
        assert probe.http_get(f"http://127.0.0.1:{port}/down", (200, 503)) == (True, "HTTP 503")
        assert probe.http_get(f"http://127.0.0.1:{port}/ok", [404]) == (False, "HTTP 200")
        # The module: status widens what counts as an answer, and the answer tells which.
        down = {"name": "svc", "kind": "http", "url": f"http://127.0.0.1:{port}/down"}
        rc, result, output = run_wait({"targets": [{**down, "status": [200, 503]}], "timeout": 5})
        assert rc == 0 and result["answers"] == {"svc": "HTTP 503"}, output
        rc, result, output = run_wait({"targets": [down], "timeout": 1})
        assert rc != 0 and "svc did not answer within 1 s (http, last answer: HTTP 503)" in output, output
    finally:
        server.shutdown()


def test_module_starts_both_stopped_containers_and_waits_for_both(
    engine: docker.DockerClient, pg: dict[str, Any], rd: dict[str, Any]
) -> None:
    for name in (pg["name"], rd["name"]):
        engine.containers.get(name).stop(timeout=10)
    common = {"start": True, "docker_host": DOCKER_HOST}
    targets = [
        {"name": pg["name"], "kind": "postgres", "port": pg["port"], **common},
        {"name": rd["name"], "kind": "redis", "port": rd["port"], **common},
    ]
    rc, result, output = run_wait({"targets": targets, "timeout": 60}, "--check")
    assert rc == 0 and result["changed"], output
    assert engine.containers.get(pg["name"]).status == "exited", "check mode started a container"

    rc, result, output = run_wait({"targets": targets, "timeout": 60})
    assert rc == 0, output
    assert result["changed"] and sorted(result["started"]) == sorted([pg["name"], rd["name"]]), result
    assert probe.postgres("127.0.0.1", pg["port"])[0] and probe.redis("127.0.0.1", rd["port"])[0]

    rc, result, output = run_wait({"targets": targets, "timeout": 60})
    assert rc == 0 and not result["changed"] and result["started"] == [], output
    assert result["ready"] == sorted([pg["name"], rd["name"]]), result


def test_timeout_0_is_one_round_that_says_which_target_answers(pg: dict[str, Any]) -> None:
    """What make status asks a container Docker still calls "starting": one round, no wait."""
    with contextlib.closing(socket.socket()) as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        common = {"container": pg["name"], "docker_host": DOCKER_HOST}
        targets = [
            {"name": pg["name"], "kind": "postgres", "port": pg["port"], **common},
            {"name": "nobody", "kind": "redis", "port": port, **common},
        ]
        # The json callback: the failure message quotes the task, which the minimal one's parse trips on.
        run = run_module("integrador_wait", {"targets": targets, "timeout": 0})
    assert run.rc != 0 and run.result.get("failed"), run.output
    assert run.result["ready"] == [pg["name"]], run.output
    assert run.result["seconds"] < 5, run.result


def test_timeout_names_the_target_with_its_log_and_masks_the_secret(pg: dict[str, Any]) -> None:
    secret = "unit-Secret-in-a-log-5521"
    with contextlib.closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        rc, result, output = run_wait(
            {
                "targets": [
                    {
                        "name": "the_db",
                        "container": pg["name"],
                        "kind": "postgres",
                        "port": port,
                        "docker_host": DOCKER_HOST,
                    }
                ],
                "timeout": 2,
                "secrets": [PG_PASSWORD, secret],
            },
            "-vvv",
        )
    assert rc != 0, output
    assert "the_db did not answer within 2 s (postgres, last answer:" in output, output
    assert f"Last log lines of {pg['name']}" in output, output
    assert PG_PASSWORD not in output and secret not in output
