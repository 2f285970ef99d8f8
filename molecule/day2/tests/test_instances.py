"""Two stacks side by side on one laptop (integrador_instance): the default one and `b`, a
second checkout of the backend, converged with `make dev INSTANCE=b`. Each has its own
containers, volumes, units, state, backups, data and secrets; purging b leaves the default
one healthy with its data.

The test settings name every container and volume explicitly (so a failed run never leaves
anything that is not itest_day2_*), so b's are given explicitly too, as a user may; what b
derives by itself from integrador_instance here is its units, run lock, state and backup
folders. tests/unit/test_local_settings.py proves the derived container, volume and port
defaults with the real ansible-playbook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import docker
import psycopg2
import pytest
import requests
import yaml
from conftest import read_env, systemctl
from make import describe, make
from stack import BACKUPS, ENV_FILE, PATHS, UNITS, USER_ENV, endpoints_answer, sql

ROOT_B = f"{PATHS.root}-b"
UNITS_B = ("integrador-b-api.service", "integrador-b-ws.service")
BACKUPS_B = f"{PATHS.home}/integrador-b-backups"
STATE_B = f"{PATHS.state_dir}-b"
SHIFT = 5


def settings_b(test_vars: dict[str, Any]) -> dict[str, Any]:
    prefix = test_vars["postgres_pgvector_container_name"].removesuffix("_db") + "_b"
    return {
        "integrador_root": ROOT_B,
        "postgres_pgvector_container_name": f"{prefix}_db",
        "postgres_pgvector_volume": f"{prefix}_pgdata",
        "redis_container_name": f"{prefix}_redis",
        "redis_volume": f"{prefix}_redisdata",
        "postgres_pgvector_port": test_vars["postgres_pgvector_port"] + SHIFT,
        "redis_port": test_vars["redis_port"] + SHIFT,
        "app_services_api_port": test_vars["app_services_api_port"] + SHIFT,
        "app_services_ws_port": test_vars["app_services_ws_port"] + SHIFT,
    }


@pytest.fixture(scope="module")
def b_args(
    host: Any,
    test_vars: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
) -> Iterator[str]:
    """Instance b converged from a second checkout (a copy of the first without its
    virtualenv, .env and fingerprints); ARGS for make. Anything b left is removed afterwards."""
    settings = settings_b(test_vars)
    copy = host.run(
        f"rm -rf {ROOT_B} && cp -a {PATHS.root} {ROOT_B}"
        f" && rm -rf {ROOT_B}/backend/.venv {ROOT_B}/backend/venv {ROOT_B}/backend/.env"
        f" && find {ROOT_B}/backend -maxdepth 1 -name '.integrador*' -exec rm -rf {{}} +"
    )
    assert copy.rc == 0, copy.stderr
    path = tmp_path_factory.mktemp("instance-b") / "b.yml"
    path.write_text(yaml.safe_dump(settings))
    args = f"ARGS=-e @{path}"
    try:
        proc = make("dev", "INSTANCE=b", args)
        assert proc.returncode == 0, describe(proc)
        yield args
    finally:
        for name in (settings["postgres_pgvector_container_name"], settings["redis_container_name"]):
            try:
                docker_client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        for name in (settings["postgres_pgvector_volume"], settings["redis_volume"]):
            try:
                docker_client.volumes.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass


def b_vars(test_vars: dict[str, Any]) -> dict[str, Any]:
    return {**test_vars, **settings_b(test_vars)}


def test_both_instances_are_up_and_healthy_side_by_side(
    host: Any, test_vars: dict[str, Any], b_args: str
) -> None:
    endpoints_answer(test_vars)
    vb = b_vars(test_vars)
    assert (
        requests.get(f"http://127.0.0.1:{vb['app_services_api_port']}/api/health", timeout=5).status_code
        == 200
    )
    assert (
        requests.get(f"http://127.0.0.1:{vb['app_services_ws_port']}/ws/health", timeout=5).status_code == 200
    )
    for unit in UNITS + UNITS_B:
        assert systemctl(host, "is-active", unit) == "active", unit
    # b's services run from b's checkout and its own virtualenv.
    api_b = host.run(f"{USER_ENV} systemctl --user show --property=ExecStart --value {UNITS_B[0]}").stdout
    assert f"{ROOT_B}/backend/.venv/bin/python" in api_b
    # Its own state folder (the run lock) next to the default one's.
    assert host.file(STATE_B).is_directory

    # status acts on the instance it is given (test_day_commands.py covers the default one).
    proc = make("status", "FORMAT=json", "INSTANCE=b", b_args)
    assert proc.returncode == 0, describe(proc)
    data = json.loads(proc.stdout)
    assert data["healthy"] is True
    (laptop,) = data["hosts"].values()
    assert laptop["instance"] == "b"
    assert [p["name"] for p in laptop["parts"] if p["part"] == "unit"] == list(UNITS_B)


def test_each_instance_has_its_own_data_and_secrets(
    host: Any, test_vars: dict[str, Any], b_args: str
) -> None:
    vb = b_vars(test_vars)
    sql(test_vars, "CREATE TABLE IF NOT EXISTS itest_instance_probe (v text)")
    sql(test_vars, "INSERT INTO itest_instance_probe VALUES ('default only')")
    assert sql(vb, "SELECT to_regclass('itest_instance_probe')") == [(None,)]
    sql(vb, "CREATE TABLE itest_instance_b_probe (v text)")
    assert sql(test_vars, "SELECT to_regclass('itest_instance_b_probe')") == [(None,)]

    default_env, b_env = read_env(host, ENV_FILE), read_env(host, f"{ROOT_B}/backend/.env")
    for secret in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert default_env[secret] and b_env[secret] and default_env[secret] != b_env[secret], secret
    # Each .env points at its own database and Redis.
    assert f":{vb['postgres_pgvector_port']}/" in b_env["DATABASE_URL"]
    assert f":{test_vars['postgres_pgvector_port']}/" in default_env["DATABASE_URL"]


def test_backup_and_logs_of_one_instance(host: Any, test_vars: dict[str, Any], b_args: str) -> None:
    default_backups = host.run(f"ls -1 {BACKUPS}").stdout.split()
    proc = make("backup", "INSTANCE=b", b_args)
    assert proc.returncode == 0, describe(proc)
    assert len(host.run(f"ls -1 {BACKUPS_B}").stdout.split()) == 1
    assert host.run(f"ls -1 {BACKUPS}").stdout.split() == default_backups

    proc = make("logs", "INSTANCE=b", "SERVICE=api", b_args)
    assert proc.returncode == 0, describe(proc)
    assert f"== {UNITS_B[0]} (user unit), last 50 lines ==" in proc.stdout
    assert f"== {UNITS[0]} (user unit)" not in proc.stdout


def test_purging_one_instance_leaves_the_other_healthy_with_its_data(
    host: Any, test_vars: dict[str, Any], b_args: str, docker_client: docker.DockerClient
) -> None:
    vb = b_vars(test_vars)
    proc = make("down", "PURGE=1", "INSTANCE=b", b_args)
    assert proc.returncode == 0, describe(proc)
    for name in (vb["postgres_pgvector_container_name"], vb["redis_container_name"]):
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(name)
    for name in (vb["postgres_pgvector_volume"], vb["redis_volume"]):
        with pytest.raises(docker.errors.NotFound):
            docker_client.volumes.get(name)
    for unit in UNITS_B:
        assert systemctl(host, "is-active", unit) != "active", unit
    with pytest.raises(psycopg2.OperationalError):
        sql(vb, "SELECT 1")

    # The default stack did not notice.
    endpoints_answer(test_vars)
    for unit in UNITS:
        assert systemctl(host, "is-active", unit) == "active", unit
    assert sql(test_vars, "SELECT v FROM itest_instance_probe") == [("default only",)]
    assert host.file(ENV_FILE).is_file
