"""What the day-2 tests share: running a playbook from playbooks/ against the
laptop, and reaching the test stack with real clients (the laptop shares the
host's network, so its published ports answer on 127.0.0.1 here)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import psycopg2
import redis
import requests
from conftest import PROJECT, ConvergeResult, run_playbook

USER_ENV = "XDG_RUNTIME_DIR=/run/user/1000"
UNITS = ("integrador-api.service", "integrador-ws.service")
BACKUPS = "/home/dev/integrador-backups"
ENV_FILE = "/home/dev/integrador/backend/.env"
VENV_PYTHON = "/home/dev/integrador/backend/.venv/bin/python"
# integrador_state_dir's default: the run lock and restore.yml's journal.
STATE = "/home/dev/.local/state/integrador"
LAPTOP = "laptop-day2"


def play(name: str, extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    """ansible-playbook playbooks/<name>.yml against the scenario's laptop."""
    return run_playbook(Path(PROJECT) / "playbooks" / f"{name}.yml", extra_vars, *args)


def pg(test_vars: dict[str, Any], dbname: str = "menu_ops") -> psycopg2.extensions.connection:
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=test_vars["postgres_pgvector_port"],
        dbname=dbname,
        user="postgres",
        password="postgres",
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


def sql(test_vars: dict[str, Any], query: str) -> list[tuple[Any, ...]]:
    conn = pg(test_vars)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def kv(test_vars: dict[str, Any]) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1", port=test_vars["redis_port"], socket_timeout=5, decode_responses=True
    )


def wait_healthy(docker_client: docker.DockerClient, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = docker_client.containers.get(name).attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(0.5)
    raise AssertionError(f"{name} not healthy within {timeout} s: {state}")


def endpoints_answer(test_vars: dict[str, Any], timeout: float = 60) -> None:
    """Both services answer 200 on their health paths (they may be restarting)."""
    urls = [
        f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health",
        f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health",
    ]
    deadline = time.monotonic() + timeout
    codes: list[int] = []
    while time.monotonic() < deadline:
        codes = []
        for url in urls:
            try:
                codes.append(requests.get(url, timeout=3).status_code)
            except requests.RequestException:
                codes.append(0)
        if codes == [200, 200]:
            return
        time.sleep(0.5)
    raise AssertionError(f"services not answering within {timeout} s: {dict(zip(urls, codes, strict=True))}")


def unit_state(host: Any, unit: str) -> tuple[str, str]:
    active = host.run(f"{USER_ENV} systemctl --user is-active {unit}").stdout.strip()
    enabled = host.run(f"{USER_ENV} systemctl --user is-enabled {unit}").stdout.strip()
    return active, enabled


def laptop_files(docker_client: docker.DockerClient, *paths: str) -> list[str]:
    """Which of paths exist on the laptop."""
    laptop = docker_client.containers.get(LAPTOP)
    return [p for p in paths if laptop.exec_run(["test", "-e", p]).exit_code == 0]


def journal(docker_client: docker.DockerClient) -> list[str]:
    """restore.yml's journal, when a restore did not finish."""
    return laptop_files(docker_client, f"{STATE}/restore.json")
