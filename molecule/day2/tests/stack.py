"""What the day-2 tests share: running a playbook from playbooks/ against the
laptop, and reaching the test stack with real clients (the laptop shares the
host's network, so its published ports answer on 127.0.0.1 here)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import docker
import psycopg2
import redis
import requests
from conftest import (
    PROJECT,
    USER_ENV,
    ConvergeResult,
    LaptopPaths,
    pg_connect,
    redis_client,
    run_playbook,
    scenario_vars,
    sql,
    unit_state,
)

UNITS = ("integrador-api.service", "integrador-ws.service")
# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("day2"))
BACKUPS = PATHS.backups
ENV_FILE = PATHS.env_file
VENV_PYTHON = PATHS.venv_python
# integrador_state_dir's default: the run lock and restore.yml's journal.
STATE = PATHS.state_dir
LAPTOP = "laptop-day2"
# Re-exported from molecule/conftest.py: the tests of this folder import them from here.
__all__ = ["USER_ENV", "sql", "unit_state"]


def play(name: str, extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    """ansible-playbook playbooks/<name>.yml against the scenario's laptop."""
    return run_playbook(Path(PROJECT) / "playbooks" / f"{name}.yml", extra_vars, *args)


def restore(extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    """playbooks/restore.yml, confirmed as `make restore` confirms it once the user typed yes."""
    return play("restore", {"integrador_restore_confirmed": True, **(extra_vars or {})}, *args)


def backup_name(result: ConvergeResult) -> str:
    """The folder a successful playbooks/backup.yml run wrote, as its summary names it
    (`-e backup=<time>`, with -NN when another backup took the same second)."""
    assert result.rc == 0, result
    found = re.search(r"-e backup=(\d{8}T\d{6}Z(?:-\d{2})?)", result.output)
    assert found, result
    return found.group(1)


def pg(test_vars: dict[str, Any], dbname: str = "menu_ops") -> psycopg2.extensions.connection:
    return pg_connect(test_vars, dbname=dbname)


def kv(test_vars: dict[str, Any]) -> redis.Redis:
    return redis_client(test_vars)


def wait_answering(test_vars: dict[str, Any], name: str, timeout: float = 60) -> None:
    """Until the container started a moment ago answers on its published port: Redis PING (not
    -LOADING), or a PostgreSQL query. (Docker's own healthcheck says "starting" for up to 10 s.)"""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if name == test_vars["redis_container_name"]:
                kv(test_vars).ping()
            else:
                sql(test_vars, "SELECT 1")
            return
        except (redis.RedisError, psycopg2.Error) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not answer within {timeout} s: {exc}") from exc
            time.sleep(0.2)


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


def laptop_files(docker_client: docker.DockerClient, *paths: str) -> list[str]:
    """Which of paths exist on the laptop."""
    laptop = docker_client.containers.get(LAPTOP)
    return [p for p in paths if laptop.exec_run(["test", "-e", p]).exit_code == 0]


def journal(docker_client: docker.DockerClient) -> list[str]:
    """restore.yml's journal, when a restore did not finish."""
    return laptop_files(docker_client, f"{STATE}/restore.json")
