"""The whole stack after `ansible-playbook playbooks/dev.yml`, as a developer sees it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
import pytest
import requests
import websockets
from conftest import (
    USER_ENV,
    docker_health,
    journal,
    known_task,
    ran_tasks,
    redis_client,
    systemctl,
    unit_state,
)

# converge.yml gives this scenario a Redis password (test_secrets.py).
REDIS_PASSWORD = "itest-redis-pass-Vm4"


@pytest.mark.parametrize("unit", ["integrador-api.service", "integrador-ws.service"])
def test_units_are_active_and_enabled(host: Any, unit: str) -> None:
    assert unit_state(host, unit) == ("active", "enabled"), journal(host, unit, 30)


def test_containers_are_healthy(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> None:
    for name in (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"]):
        assert docker_health(docker_client, name) == "healthy", name


@pytest.mark.parametrize(
    ("port_var", "path"),
    [
        ("app_services_api_port", "/api/health"),
        ("app_services_api_port", "/api/health/detailed"),
        ("app_services_ws_port", "/ws/health"),
        ("app_services_ws_port", "/ws/health/detailed"),
    ],
)
def test_health_endpoints_answer_200(test_vars: dict[str, Any], port_var: str, path: str) -> None:
    response = requests.get(f"http://127.0.0.1:{test_vars[port_var]}{path}", timeout=10)
    assert response.status_code == 200, response.text


def test_published_event_reaches_a_websocket_client(test_vars: dict[str, Any]) -> None:
    async def roundtrip() -> str:
        url = f"ws://127.0.0.1:{test_vars['app_services_ws_port']}/ws/events?channel=itest:stack"
        async with websockets.connect(url, open_timeout=10) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
            redis_client(test_vars, REDIS_PASSWORD).publish("itest:stack", "order 42 ready")
            return str(await asyncio.wait_for(ws.recv(), 10))

    assert asyncio.run(roundtrip()) == "order 42 ready"


def test_check_diff_on_the_converged_host_changes_nothing(converge: Callable[..., Any]) -> None:
    result = converge(None, "--check", "--diff")
    assert result.rc == 0, result
    assert result.changed == 0, result


def test_summary_names_every_endpoint(converge: Callable[..., Any], test_vars: dict[str, Any]) -> None:
    result = converge()
    assert result.rc == 0, result
    for expected in (
        f"REST API    http://127.0.0.1:{test_vars['app_services_api_port']}/api/health",
        f"Gateway     ws://127.0.0.1:{test_vars['app_services_ws_port']}/ws/events",
        f"PostgreSQL  postgresql://postgres@127.0.0.1:{test_vars['postgres_pgvector_port']}/menu_ops",
        f"Redis       redis://127.0.0.1:{test_vars['redis_port']}",
        "journalctl --user -u integrador-api -u integrador-ws -f",
    ):
        assert expected in result.output, result


def test_skip_tags_docker_leaves_the_containers_alone(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    db = docker_client.containers.get(test_vars["postgres_pgvector_container_name"])
    db.stop(timeout=10)
    try:
        result = converge(None, "--skip-tags", "docker")
        assert result.rc == 0, result
        # Neither container was touched: the shared container path's tasks did not run.
        for task in ("Data volume exists", "Container is created or changed to its configuration"):
            assert known_task(task) not in result.output, result
        assert docker_client.containers.get(db.name).status == "exited"
    finally:
        assert converge().rc == 0
    assert docker_health(docker_client, db.name) == "healthy"


# Names of the tasks with a result other than skipping (molecule/conftest.py).
tasks_that_ran = ran_tasks


def test_no_change_run_executes_only_the_preflight_and_python_env(converge: Callable[..., Any]) -> None:
    """The full converge's no-change path (the fast path off, as after a change of
    settings): one preflight module run, python_env's fingerprint and .env checks, and
    one read of the database's Alembic revision (day_two's before_migrations); no
    docker_container, setup, systemctl or health request."""
    result = converge({"integrador_fast_path": False})
    assert result.rc == 0 and result.changed == 0, result
    ran = tasks_that_ran(result.output)
    preflight = "Docker, ports, checkout, Python, user manager and disk are ready"
    assert any(preflight in name for name in ran), ran
    for task in (
        "Docker engine answers, the port is free or ours",
        "Database and vector extension exist",
        "Platform and user facts are known",
        "State of the user units is read",
        "Owner of the port is looked up",
        "Unit files are current and stopped units started",
        "Health URL answers 200",
        # The shared container path (roles/container_service) and the stack's waits.
        "Data volume exists",
        "Container is created or changed to its configuration",
        "Container answers",
        "Containers are started and answer",
    ):
        assert not [name for name in ran if known_task(task) in name], (
            f"{task} ran on a no-change run:\n{result.output}"
        )


def test_accepted_insecure_exposure_is_warned_in_the_summary(converge: Callable[..., Any]) -> None:
    """integrador_allow_insecure_exposure lets the run go on; the end of the run says
    what is open and how to close it (--check: nothing is republished)."""
    result = converge(
        {
            "integrador_bind_address": "0.0.0.0",
            "integrador_allow_insecure_exposure": True,
            "postgres_pgvector_password": "postgres",
            "redis_password": "",
        },
        "--check",
    )
    assert result.rc == 0, result
    said = " ".join(result.output.split())
    assert (
        "WARNING: integrador_allow_insecure_exposure is on and PostgreSQL (default password; set "
        "postgres_pgvector_password) and Redis (no password; set redis_password) are reachable beyond" in said
    ), result
    quiet = converge(None, "--check")
    assert quiet.rc == 0, quiet
    assert "integrador_allow_insecure_exposure is on" not in quiet.output, quiet


def all_green(test_vars: dict[str, Any]) -> bool:
    urls = [
        f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health",
        f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health/detailed",
        f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health",
        f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health/detailed",
    ]
    try:
        return all(requests.get(url, timeout=5).status_code == 200 for url in urls)
    except requests.RequestException:
        return False


def ready_at(docker_client: docker.DockerClient, name: str, line: str) -> datetime:
    """When a container's server last said it accepts connections (its log, Docker's clock)."""
    log = docker_client.containers.get(name).logs(timestamps=True).decode(errors="replace")
    stamps = [entry.split(" ", 1)[0] for entry in log.splitlines() if line in entry]
    assert stamps, f"{name} never logged {line!r}"
    return datetime.fromisoformat(stamps[-1][:26] + "+00:00")


def unit_started_at(host: Any, unit: str) -> datetime:
    """When the unit's main process started (systemd's clock, microseconds)."""
    value = systemctl(
        host, "show", "--timestamp=us+utc", "--property=ExecMainStartTimestamp", "--value", unit
    )
    return datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=UTC)


def test_warm_start_starts_both_containers_in_one_module_run(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The full converge (the fast path off), both containers and both units
    stopped: one integrador_wait starts both containers (docker_container is not
    called for a container as configured), the units start once both answer, and
    the run ends with all four endpoints green; Docker's own healthcheck (every 10 s,
    which nothing waits for) agrees afterwards."""
    host.run(f"{USER_ENV} systemctl --user stop integrador-api.service integrador-ws.service")
    names = (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"])
    for name in names:
        docker_client.containers.get(name).stop(timeout=10)
    result = converge({"integrador_fast_path": False})
    assert result.rc == 0, result
    ran = tasks_that_ran(result.output)
    assert [name for name in ran if "Containers are started and answer" in name], ran
    assert not [name for name in ran if "Container is created or changed" in name], ran
    assert all_green(test_vars), result
    # The units started only once PostgreSQL and Redis answered (the same kernel clock).
    answered = max(
        ready_at(docker_client, names[0], "database system is ready to accept connections"),
        ready_at(docker_client, names[1], "Ready to accept connections"),
    )
    for unit in ("integrador-api.service", "integrador-ws.service"):
        assert unit_started_at(host, unit) > answered, (unit, unit_started_at(host, unit), answered)
    again = converge({"integrador_fast_path": False})
    assert again.rc == 0 and again.changed == 0, again
    for name in names:
        assert docker_health(docker_client, name) == "healthy", name


def test_summary_says_the_stack_comes_back_after_a_reboot(converge: Callable[..., Any]) -> None:
    result = converge()
    assert result.rc == 0, result
    assert "Reboot      comes back by itself: the containers restart by themselves" in result.output, result
    assert "the user units are enabled and start at boot (lingering is on)" in result.output, result


def test_laptop_restart_brings_the_stack_back_by_itself(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    """A reboot of the laptop (its container restarted) while the containers beside it go down
    too (their main process killed, as a power cut would: Docker's restart policy, not a
    command, brings them back; a `docker stop` would keep them down, as Docker promises): no
    command is run, and the units (enabled, lingering) and the containers (unless-stopped) are
    back. The Docker engine's own restart is .ci/acceptance's case."""
    laptop = docker_client.containers.get(f"laptop-{os.environ['MOLECULE_SCENARIO_NAME']}")
    names = (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"])
    started = {name: docker_client.containers.get(name).attrs["State"]["StartedAt"] for name in names}
    for name in names:
        os.kill(docker_client.containers.get(name).attrs["State"]["Pid"], signal.SIGKILL)
    laptop.restart(timeout=20)
    # A limit only so that a broken stack fails instead of hanging the suite.
    deadline = time.monotonic() + 180
    while not all_green(test_vars) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all_green(test_vars), host.run("journalctl --user -n 40 --no-pager").stdout
    for unit in ("integrador-api.service", "integrador-ws.service"):
        assert systemctl(host, "is-active", unit) == "active", unit
    for name in names:
        state = docker_client.containers.get(name).attrs["State"]
        assert state["Running"] and state["StartedAt"] != started[name], (name, state)
