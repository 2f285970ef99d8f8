"""playbooks/down.yml: stop keeps the data, purge removes it (and only then), and
dev.yml brings the stack back either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
from stack import ENV_FILE, UNITS, VENV_PYTHON, endpoints_answer, kv, play, sql, unit_state

TABLE = "itest_down_probe"
KEY = "itest:down:probe"


def names(test_vars: dict[str, Any]) -> tuple[list[str], list[str]]:
    containers = [test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"]]
    return containers, [test_vars["postgres_pgvector_volume"], test_vars["redis_volume"]]


def volume_exists(docker_client: docker.DockerClient, name: str) -> bool:
    try:
        docker_client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def container_status(docker_client: docker.DockerClient, name: str) -> str:
    try:
        return str(docker_client.containers.get(name).status)
    except docker.errors.NotFound:
        return "absent"


def env_and_venv_are_kept(host: Any) -> None:
    assert host.file(ENV_FILE).is_file
    assert host.run(f"{VENV_PYTHON} -c 'import fastapi'").rc == 0


def test_down_stops_everything_and_keeps_the_data(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    sql(
        test_vars,
        f"CREATE TABLE IF NOT EXISTS {TABLE} (v text); TRUNCATE {TABLE}; INSERT INTO {TABLE} VALUES ('kept')",
    )
    kv(test_vars).set(KEY, "kept")
    containers, volumes = names(test_vars)

    result = play("down")
    assert result.rc == 0, result
    for unit in UNITS:
        assert unit_state(host, unit) == ("inactive", "disabled"), unit
    assert [container_status(docker_client, c) for c in containers] == ["exited", "exited"]
    assert all(volume_exists(docker_client, v) for v in volumes)
    env_and_venv_are_kept(host)

    again = play("down")
    assert again.rc == 0, again
    assert again.changed == 0, again

    result = converge()
    assert result.rc == 0, result
    assert sql(test_vars, f"SELECT v FROM {TABLE}") == [("kept",)]
    assert kv(test_vars).get(KEY) == "kept"
    for unit in UNITS:
        assert unit_state(host, unit) == ("active", "enabled"), unit
    endpoints_answer(test_vars)


def test_purge_says_what_it_destroys_then_removes_containers_and_volumes(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    sql(
        test_vars,
        f"CREATE TABLE IF NOT EXISTS {TABLE} (v text); TRUNCATE {TABLE}; INSERT INTO {TABLE} VALUES ('gone')",
    )
    kv(test_vars).set(KEY, "gone")
    containers, volumes = names(test_vars)
    announced = (
        f"removing container {containers[0]}, container {containers[1]}, "
        f"volume {volumes[0]} (PostgreSQL data), volume {volumes[1]} (Redis data). This cannot be undone"
    )

    dry = play("down", {"integrador_purge": True}, "--check")
    assert dry.rc == 0, dry
    assert announced.replace("removing", "would remove (check mode)") in dry.output, dry
    assert [container_status(docker_client, c) for c in containers] == ["running", "running"]
    assert all(volume_exists(docker_client, v) for v in volumes)
    assert sql(test_vars, f"SELECT v FROM {TABLE}") == [("gone",)] and kv(test_vars).get(KEY) == "gone"

    result = play("down", {"integrador_purge": "true"})
    assert result.rc == 0, result
    assert announced in result.output, result
    removal = "TASK [day_two : Containers are removed (purge)]"
    assert result.output.index(announced) < result.output.index(removal)
    assert [container_status(docker_client, c) for c in containers] == ["absent", "absent"]
    assert not any(volume_exists(docker_client, v) for v in volumes)
    env_and_venv_are_kept(host)

    again = play("down", {"integrador_purge": True})
    assert again.rc == 0, again
    assert again.changed == 0, again
    assert "integrador_purge=true: nothing to remove, no container or volume is left." in again.output, again
    # A backup of a stack whose containers are gone names them and the way back (it failed on a
    # template reading the State of a container that does not exist).
    nothing = play("backup")
    assert nothing.rc != 0, nothing
    assert (
        f"{containers[0]} (removed) and {containers[1]} (removed) are not running. Start it with `make dev`"
        in (nothing.output)
    ), nothing

    # Back from nothing: an empty, healthy database with the vector extension, an empty Redis.
    result = converge()
    assert result.rc == 0, result
    assert sql(test_vars, f"SELECT to_regclass('{TABLE}')") == [(None,)]
    assert sql(test_vars, "SELECT extname FROM pg_extension ORDER BY 1") == [("plpgsql",), ("vector",)]
    assert kv(test_vars).get(KEY) is None
    assert kv(test_vars).dbsize() == 0
    assert play("status").rc == 0


def test_unclear_purge_value_is_refused_before_any_change(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    result = play("down", {"integrador_purge": "maybe"})
    assert result.rc != 0
    assert "integrador_purge must be true or false (got maybe): nothing was changed." in result.output, result
    containers, _ = names(test_vars)
    assert [container_status(docker_client, c) for c in containers] == ["running", "running"]
