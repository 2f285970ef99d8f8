"""What a developer would check after converging the redis role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest
import redis

KEY = "itest:survivor"


def client(test_vars: dict[str, Any], password: str | None = None) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=test_vars["redis_port"],
        password=password,
        socket_timeout=5,
        decode_responses=True,
    )


def container(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> Any:
    return docker_client.containers.get(test_vars["redis_container_name"])


def test_container_is_healthy_with_restart_policy_and_loopback_port(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    c = container(docker_client, test_vars)
    assert c.attrs["State"]["Health"]["Status"] == "healthy", c.logs(tail=30).decode()
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
        assert container(docker_client, test_vars).attrs["State"]["Health"]["Status"] == "healthy"
    finally:
        assert converge().rc == 0
    assert client(test_vars).ping() is True


def test_bad_values_fail_early_naming_the_variable(converge: Callable[..., Any]) -> None:
    result = converge({"redis_maxmemory_policy": "most-recent"})
    assert result.rc != 0
    assert "redis_maxmemory_policy" in result.output, result
    assert "Current Redis container is inspected" not in result.output, result

    result = converge({"redis_port": 70000})
    assert result.rc != 0
    assert "redis_port must be 1-65535 (got 70000)" in result.output, result
