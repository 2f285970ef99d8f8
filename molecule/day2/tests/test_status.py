"""playbooks/status.yml: one table of the whole stack, and an exit status scripts can use."""

from __future__ import annotations

import re
from typing import Any

import docker
from stack import PATHS, UNITS, USER_ENV, endpoints_answer, play, wait_answering

VENV = PATHS.venv
SINCE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def row(output: str, name: str) -> str:
    """The table line of one part (the debug output quotes each line)."""
    for line in output.splitlines():
        cells = line.strip().strip('",').split()
        if len(cells) > 2 and cells[2] == name:
            return " ".join(cells)
    raise AssertionError(f"no row for {name} in:\n{output}")


def test_healthy_stack_is_one_table_and_exit_status_zero(test_vars: dict[str, Any]) -> None:
    result = play("status")
    assert result.rc == 0, result
    assert result.changed == 0, result
    db, rd = test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"]
    db_image, rd_image = re.escape(test_vars["postgres_pgvector_image"]), re.escape(test_vars["redis_image"])
    api = f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health"
    ws = f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health"
    # A container started less than 10 s ago (by a test before) may still be "starting" to Docker.
    health = r"\((healthy|starting, answering)\)"
    expected = {
        db: rf"ok container {db} running {health} {SINCE} {db_image}, "
        rf"127\.0\.0\.1:{test_vars['postgres_pgvector_port']}->5432/tcp, restarts \d+",
        rd: rf"ok container {rd} running {health} {SINCE} {rd_image}, "
        rf"127\.0\.0\.1:{test_vars['redis_port']}->6379/tcp, restarts \d+",
        UNITS[0]: rf"ok unit {UNITS[0]} active \(running\), enabled {SINCE} restarts \d+",
        UNITS[1]: rf"ok unit {UNITS[1]} active \(running\), enabled {SINCE} restarts \d+",
        api: rf"ok endpoint {re.escape(api)} HTTP 200 - \d+ ms",
        ws: rf"ok endpoint {re.escape(ws)} HTTP 200 - \d+ ms",
        VENV: rf"ok venv {re.escape(VENV)} Python 3\.\d+\.\d+ - requirements up to date",
    }
    for name, pattern in expected.items():
        assert re.fullmatch(pattern, row(result.output, name)), result
    assert "All parts healthy" in result.output


def test_stopped_container_is_reported_and_once_started_is_ok_before_docker_checks_it(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    name = test_vars["redis_container_name"]
    docker_client.containers.get(name).stop(timeout=10)
    try:
        result = play("status")
    finally:
        docker_client.containers.get(name).start()
        wait_answering(test_vars, name)
    restarted = play("status")
    # Docker's healthcheck runs every 10 s: a container it still calls "starting" after the run
    # was "starting" during it, and status asked it directly.
    still_starting = docker_client.containers.get(name).attrs["State"]["Health"]["Status"] == "starting"
    assert result.rc != 0, result
    assert re.fullmatch(rf"FAIL container {name} exited \(code 0\) {SINCE} .*", row(result.output, name)), (
        result
    )
    assert restarted.rc == 0, restarted
    if still_starting:
        answering = f"ok container {name} running (starting, answering) "
        assert row(restarted.output, name).startswith(answering), restarted
    assert "1 of 7 parts unhealthy" in result.output, result
    assert f"Unhealthy: {name}: exited (code 0)" in result.output, result
    # The other parts are still reported as they are.
    assert row(result.output, test_vars["postgres_pgvector_container_name"]).startswith("ok "), result
    assert row(result.output, UNITS[0]).startswith("ok "), result


def test_unit_that_is_not_installed_is_reported_without_failing(host: Any, test_vars: dict[str, Any]) -> None:
    unit = UNITS[1]
    url = f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health"
    path = f"{PATHS.units_dir}/{unit}"
    host.run_test(f"{USER_ENV} systemctl --user stop {unit}")
    host.run_test(f"mv {path} {path}.away && {USER_ENV} systemctl --user daemon-reload")
    try:
        result = play("status")
    finally:
        host.run_test(f"mv {path}.away {path} && {USER_ENV} systemctl --user daemon-reload")
        host.run_test(f"{USER_ENV} systemctl --user start {unit}")
        endpoints_answer(test_vars)
    assert result.rc == 0, result
    assert row(result.output, unit) == f"- unit {unit} not installed - app_services (dev.yml) installs it"
    assert re.fullmatch(rf"- endpoint {re.escape(url)} no answer - \d+ ms, .*", row(result.output, url)), (
        result
    )
    assert f"All parts healthy, not installed: {unit}" in result.output, result


def test_unreachable_docker_engine_is_reported_in_the_table(test_vars: dict[str, Any]) -> None:
    result = play("status", {"integrador_docker_host": "unix:///nonexistent/docker.sock"})
    assert result.rc != 0, result
    for name in (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"]):
        assert row(result.output, name).startswith(
            f"FAIL container {name} unknown - Docker engine unix:///nonexistent/docker.sock did not answer: "
        ), result
    # The rest of the stack is still checked.
    assert row(result.output, UNITS[0]).startswith("ok "), result
    assert "2 of 7 parts unhealthy" in result.output, result
