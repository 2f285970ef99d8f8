"""What a developer would check after converging the redis role."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
import redis
from conftest import container as shared_container
from conftest import (
    docker_health,
    known_task,
    ran_under,
    readme_examples,
    redis_client,
    run_playbook,
    run_readme_example,
    scratch_container,
)

KEY = "itest:survivor"


def client(test_vars: dict[str, Any], password: str | None = None) -> redis.Redis:
    return redis_client(test_vars, password)


def container(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> Any:
    return shared_container(docker_client, test_vars, "redis")


def test_container_is_healthy_with_restart_policy_and_loopback_port(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    c = container(docker_client, test_vars)
    assert docker_health(docker_client, c.name) == "healthy", c.logs(tail=30).decode()
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert c.attrs["HostConfig"]["PortBindings"]["6379/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(test_vars["redis_port"])}
    ]
    assert "redis-cli ping" in " ".join(c.attrs["Config"]["Healthcheck"]["Test"])


def test_ping_memory_policy_and_aof(test_vars: dict[str, Any]) -> None:
    r = client(test_vars)
    assert r.ping() is True
    assert r.config_get("maxmemory") == {"maxmemory": str(256 * 1024 * 1024)}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert r.config_get("appendonly") == {"appendonly": "yes"}


def test_key_survives_restart_and_recreation(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    client(test_vars).set(KEY, "still here")
    container(docker_client, test_vars).restart()
    result = converge()
    assert result.rc == 0, result
    assert client(test_vars).get(KEY) == "still here"

    before = container(docker_client, test_vars).id
    result = converge({"redis_maxmemory": "128mb"})
    assert result.rc == 0, result
    assert container(docker_client, test_vars).id != before, "a changed setting must recreate the container"
    r = client(test_vars)
    assert r.config_get("maxmemory") == {"maxmemory": str(128 * 1024 * 1024)}
    assert r.get(KEY) == "still here"


def test_password_enables_auth_and_an_authenticated_healthcheck(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    secret = "itest-Redis-pass-0123456789"
    result = converge({"redis_password": secret})
    try:
        assert result.rc == 0, result
        assert secret not in result.output, "the password was printed"
        with pytest.raises(redis.AuthenticationError):
            client(test_vars).get(KEY)
        assert client(test_vars, secret).get(KEY) == "still here"
        # Docker's own check authenticates too (REDISCLI_AUTH in the container).
        assert docker_health(docker_client, test_vars["redis_container_name"]) == "healthy"
    finally:
        assert converge().rc == 0
    assert client(test_vars).ping() is True


def test_bad_values_fail_early_naming_the_variable(converge: Callable[..., Any]) -> None:
    result = converge({"redis_maxmemory_policy": "most-recent"})
    assert result.rc != 0
    assert "redis_maxmemory_policy" in result.output, result
    assert known_task("Data volume exists") not in result.output, result

    result = converge({"redis_port": 70000})
    assert result.rc != 0
    assert "redis_port must be 1-65535 (got 70000)" in result.output, result


# --- issue 10: exposure, secrets, bad input ----------------------------------------------------

SECRET = "itest-Redis-secret-Kq72"


def test_no_password_beyond_loopback_is_refused_untouched(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    before = container(docker_client, test_vars).id
    result = converge({"integrador_bind_address": "0.0.0.0"})
    assert result.rc != 0, result
    assert (
        f"redis_bind_address (integrador_bind_address) is 0.0.0.0: the {test_vars['redis_container_name']} "
        "container would be reachable from the network with no password. Set redis_password"
    ) in result.output, result
    assert container(docker_client, test_vars).id == before

    # The override, and a password, let it through (check mode: the test publishes nothing
    # beyond this machine).
    allowed = converge(
        {"redis_bind_address": "192.168.1.20", "integrador_allow_insecure_exposure": True}, "--check"
    )
    assert allowed.rc == 0, allowed
    assert "beyond this machine, with no password" in allowed.output, allowed
    own = converge({"integrador_bind_address": "0.0.0.0", "redis_password": SECRET}, "--check", "-vvv")
    assert own.rc == 0, own
    assert SECRET not in own.output, "the password was printed"
    assert container(docker_client, test_vars).id == before


def test_password_is_never_printed_even_with_vvv_and_a_failure(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    try:
        result = converge({"redis_password": SECRET}, "-vvv")
        assert result.rc == 0, result
        assert SECRET not in result.output, "the password was printed"
        assert client(test_vars, SECRET).ping() is True
    finally:
        assert converge().rc == 0

    # A container that never becomes healthy (an image without redis-server): its
    # inspection carries --requirepass; the message gives state and log tail only.
    with scratch_container(docker_client, test_vars, "redis") as (name, volume, port):
        failed = converge(
            {
                "redis_container_name": name,
                "redis_volume": volume,
                "redis_port": port,
                "redis_image": "integrador-test/base:trixie",
                "redis_healthy_timeout": 5,
                "redis_password": SECRET,
            },
            "-vvv",
        )
    assert failed.rc != 0, failed
    assert f"The {name} container did not become healthy within 5 s." in failed.output, failed
    assert "Last log lines:" in failed.output, failed
    assert SECRET not in failed.output, "the password was printed"


def test_day_two_inspection_never_prints_the_password(converge: Callable[..., Any]) -> None:
    """backup.yml, down.yml and restore.yml inspect the containers: with -vvv the
    result would show Redis's command line, --requirepass and all."""
    try:
        assert converge({"redis_password": SECRET}).rc == 0
        inspect = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "inspect.yml"
        result = run_playbook(inspect, {"redis_password": SECRET}, "-vvv")
        assert result.rc == 0, result
        assert "Containers are inspected" in result.output, result
        assert SECRET not in result.output, "the password was printed"
    finally:
        assert converge().rc == 0


def test_ipv6_bind_address_is_published_bracketed(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    try:
        result = converge({"integrador_bind_address": "::1"})
        assert result.rc == 0, result
        assert container(docker_client, test_vars).attrs["HostConfig"]["PortBindings"]["6379/tcp"] == [
            {"HostIp": "::1", "HostPort": str(test_vars["redis_port"])}
        ]
        r = redis_client(test_vars, host="::1")
        assert r.ping() is True
        again = converge({"integrador_bind_address": "[::1]"})
        assert again.rc == 0 and again.changed == 0, again
    finally:
        assert converge().rc == 0


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_outside_the_range_is_a_message_not_a_traceback(port: int, converge: Callable[..., Any]) -> None:
    result = converge({"redis_port": port})
    assert result.rc != 0
    assert f"redis_port must be 1-65535 (got {port})" in result.output, result
    assert "Traceback" not in result.output and "OverflowError" not in result.output, result


def test_stopped_container_is_started_without_docker_container_and_ends_healthy(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The shared container path (roles/container_service): a stopped container as
    configured is started by integrador_wait (docker start, PING every 0.1 s); the role
    alone ends with Redis answering, and Docker's healthcheck (every 10 s) agrees."""
    before = container(docker_client, test_vars)
    before.stop(timeout=10)
    result = converge()
    assert result.rc == 0 and result.changed >= 1, result
    assert "changed: [" in ran_under(result.output, "container_service : Container answers"), result
    assert not ran_under(result.output, "container_service : Container is created or changed"), result
    after = container(docker_client, test_vars)
    assert after.id == before.id, "a stopped container as configured must be started, not recreated"
    assert client(test_vars).ping() is True
    assert docker_health(docker_client, after.name) == "healthy", after.logs(tail=30).decode()
    again = converge()
    assert again.rc == 0 and again.changed == 0, again


def test_readme_example_runs_as_written(
    test_vars: dict[str, Any], converge: Callable[..., Any], tmp_path: Path
) -> None:
    """roles/redis/README.md's example playbook, on this laptop: its own redis_maxmemory is applied."""
    try:
        for example in readme_examples("redis"):
            result = run_readme_example(example, tmp_path)
            assert result.rc == 0, result
            assert client(test_vars).config_get("maxmemory") == {"maxmemory": str(512 * 1024 * 1024)}
    finally:
        assert converge().rc == 0
