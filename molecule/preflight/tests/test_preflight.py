"""The shared preflight: each problem it knows is caused for real, and the
message must name the cause and the fix; nothing may change before it passes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import docker
import pytest
from conftest import PROJECT, LaptopPaths, known_task, occupied_port, run_playbook, scenario_vars

DEV = PROJECT / "playbooks" / "dev.yml"
# A folder of the user's that holds no checkout.
NOT_A_CHECKOUT = f"{LaptopPaths.of(scenario_vars('preflight')).home}/not-a-checkout"


def after_preflight(result: Any) -> str:
    """The output from the preflight's own module task on."""
    return result.output.split("Docker, ports, checkout, Python, user manager and disk are ready", 1)[-1]


def test_ready_laptop_passes_and_changes_nothing(converge: Callable[..., Any]) -> None:
    result = converge()
    assert result.rc == 0, result
    assert result.changed == 0, result
    assert (
        "Docker, ports, checkout, Python, user manager and disk are ready (db, redis, python, api, ws)"
        in (result.output)
    )


def test_every_problem_is_reported_at_once(host: Any, converge: Callable[..., Any]) -> None:
    host.run(f"mkdir -p {NOT_A_CHECKOUT}")
    with occupied_port(host) as port:
        result = converge(
            {
                "integrador_docker_host": "unix:///nonexistent/docker.sock",
                "integrador_root": NOT_A_CHECKOUT,
                "app_services_api_port": port,
            }
        )
    assert result.rc != 0, result
    assert "Preflight found 3 problems; nothing was changed:" in result.output, result
    assert "Cannot reach the Docker engine at unix:///nonexistent/docker.sock" in result.output, result
    for socket_hint in (
        "unix://$HOME/.docker/run/docker.sock",
        "unix:///run/user/$UID/docker.sock",
        "unix:///run/user/$UID/podman/podman.sock",
    ):
        assert socket_hint in result.output, result
    assert (
        f"integrador_root {NOT_A_CHECKOUT} is not an Integrador checkout: expected the REST API at "
        f"{NOT_A_CHECKOUT}/backend/rest_api/main.py"
    ) in result.output, result
    assert f"Port {port} on 127.0.0.1 is already taken by python3 (pid" in result.output, result
    assert (
        "not by the integrador-api.service unit. Stop that program, or set app_services_api_port "
        "to a free port."
    ) in result.output, result


def test_container_port_held_by_another_program_is_named(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    with occupied_port(host) as port:
        result = run_playbook(DEV, {"postgres_pgvector_port": port})
    assert result.rc != 0, result
    assert f"Port {port} on 127.0.0.1 is already taken by python3 (pid" in result.output, result
    assert (
        f"not by the {test_vars['postgres_pgvector_container_name']} container. Stop that program, or set "
        "postgres_pgvector_port to a free port."
    ) in result.output, result
    # dev.yml stopped at its preflight: no role ran, nothing was created.
    # (postgres_pgvector's preflight_input, a set_fact, runs before the preflight: no role task after it.)
    assert "postgres_pgvector : " not in after_preflight(result), result
    assert not docker_client.containers.list(
        all=True, filters={"name": test_vars["postgres_pgvector_container_name"]}
    )
    assert not docker_client.volumes.list(filters={"name": test_vars["postgres_pgvector_volume"]})


def test_python_too_old_names_the_setting(converge: Callable[..., Any]) -> None:
    result = converge({"python_env_min_version": "3.99"})
    assert result.rc != 0, result
    assert "No Python of at least 3.99 (python_env_min_version) was found: Python 3." in result.output, result
    assert "point python_env_python at it" in result.output, result


def test_missing_user_manager_is_explained(
    host: Any, docker_client: docker.DockerClient, converge: Callable[..., Any]
) -> None:
    """A user whose systemd user manager is not running: no login session, no lingering.
    With systemd asked for by name (auto would take supervisord there)."""
    # "*": not a locked account, which the tests' SSH would refuse (test_app_services.py).
    docker_client.containers.get(host.backend.hostname).exec_run(
        ["useradd", "--create-home", "--password", "*", "nopreflight"]
    )
    result = converge(
        {
            "ansible_user": "nopreflight",
            "preflight_stack_parts": ["api", "ws"],
            "app_services_manager": "systemd",
        }
    )
    assert result.rc != 0, result
    assert "No systemd user session is reachable for nopreflight" in result.output, result
    assert "/etc/wsl.conf" in result.output, result
    assert "sudo loginctl enable-linger nopreflight" in result.output, result


def test_bad_setting_of_a_later_role_fails_before_any_check(converge: Callable[..., Any]) -> None:
    result = run_playbook(DEV, {"app_services_ws_port": "eight thousand"})
    assert result.rc != 0, result
    assert "app_services_ws_port" in result.output, result
    assert "Settings of the roles in this run are valid" in result.output, result
    assert known_task("Docker, ports, checkout, Python") not in result.output, result


def test_too_little_disk_for_images_and_volumes(docker_client: docker.DockerClient) -> None:
    """Runs on this machine, not in the laptop: only here is Docker's data root a
    local folder (as on a Linux laptop; Docker Desktop keeps it in its VM)."""
    data_root = docker_client.info()["DockerRootDir"]
    if not os.path.isdir(data_root):
        pytest.skip(f"Docker's data root {data_root} is not on this machine's file system")
    free_mb = shutil.disk_usage(data_root).free // (1024 * 1024)
    volume = "itest_preflight_disk_pgdata"
    extra = {
        "ansible_python_interpreter": sys.executable,
        "integrador_docker_host": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
        "postgres_pgvector_volume": volume,
        "postgres_pgvector_container_name": "itest_preflight_disk_db",
        "preflight_stack_parts": ["db"],
        "preflight_ports": False,
        "integrador_min_free_docker_mb": free_mb + 100_000,
    }
    cmd = [
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        str(PROJECT / "molecule" / "preflight" / "converge.yml"),
    ]
    for key, value in extra.items():
        cmd += ["-e", json.dumps({key: value})]
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert (
        f"MB are free for Docker's data root {data_root}, and this converge still has to create" in output
    ), output
    assert f"volume {volume}" in output, output
    assert f"integrador_min_free_docker_mb asks for {free_mb + 100_000} MB" in output, output
    assert "docker system prune" in output, output
    assert not docker_client.volumes.list(filters={"name": volume})


# --- issue 10: bad input reaches a message, exposure is refused ---------------------------------


def test_every_port_outside_the_range_is_named_at_once(converge: Callable[..., Any]) -> None:
    """Each role's port variable, 0, 65536, 70000 and -1: one message each, naming the
    variable and the range (the module raised OverflowError before)."""
    result = converge(
        {
            "postgres_pgvector_port": 70000,
            "redis_port": 0,
            "app_services_api_port": 65536,
            "app_services_ws_port": -1,
        }
    )
    assert result.rc != 0, result
    assert "Preflight found 4 problems; nothing was changed:" in result.output, result
    for var, port in [
        ("postgres_pgvector_port", 70000),
        ("redis_port", 0),
        ("app_services_api_port", 65536),
        ("app_services_ws_port", -1),
    ]:
        assert f"{var} must be a TCP port from 1 to 65535 (got {port})." in result.output, result
    assert "Traceback" not in result.output and "OverflowError" not in result.output, result


def test_unquoted_version_is_refused_before_anything_changes(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    """python_env_min_version: 3.10 unquoted is the float 3.1 (yaml.safe_dump writes it
    unquoted, as a user would)."""
    result = run_playbook(DEV, {"python_env_min_version": 3.10})
    assert result.rc != 0, result
    assert (
        "python_env_min_version is the number 3.1, not text: YAML reads an unquoted 3.10 as the number "
        '3.1. Quote it, with the quotes: python_env_min_version: "3.10".'
    ) in result.output, result
    assert known_task("Docker, ports, checkout, Python") not in result.output, result
    assert not docker_client.containers.list(
        all=True, filters={"name": test_vars["postgres_pgvector_container_name"]}
    )
    assert not docker_client.volumes.list(filters={"name": test_vars["postgres_pgvector_volume"]})


def test_stack_beyond_loopback_without_passwords_is_refused(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    result = run_playbook(DEV, {"integrador_bind_address": "0.0.0.0"})
    assert result.rc != 0, result
    assert "Preflight found 2 problems; nothing was changed:" in result.output, result
    assert "reachable from the network with the default password. Set postgres_pgvector_password" in (
        result.output
    ), result
    assert "reachable from the network with no password. Set redis_password" in result.output, result
    # (postgres_pgvector's preflight_input, a set_fact, runs before the preflight: no role task after it.)
    assert "postgres_pgvector : " not in after_preflight(result), result
    assert not docker_client.containers.list(
        all=True, filters={"name": test_vars["postgres_pgvector_container_name"]}
    )
    assert not docker_client.volumes.list(filters={"name": test_vars["postgres_pgvector_volume"]})


def test_insecure_exposure_can_be_accepted(converge: Callable[..., Any]) -> None:
    """The preflight alone (it changes nothing): with the override, warnings instead."""
    result = converge({"integrador_bind_address": "0.0.0.0", "integrador_allow_insecure_exposure": True})
    assert result.rc == 0, result
    assert "beyond this machine, with the default password" in result.output, result
    assert "beyond this machine, with no password" in result.output, result
    passwords = {"postgres_pgvector_password": "itest-own-Pg-7", "redis_password": "itest-own-Redis-7"}
    result = converge({"integrador_bind_address": "0.0.0.0", **passwords}, "-vvv")
    assert result.rc == 0, result
    assert "beyond this machine" not in result.output, result
    for secret in passwords.values():
        assert secret not in result.output, "a password was printed"


def test_port_held_on_ipv6_loopback_is_named(host: Any, converge: Callable[..., Any]) -> None:
    with occupied_port(host, "::1") as port:
        result = converge({"integrador_bind_address": "[::1]", "redis_port": port})
    assert result.rc != 0, result
    assert f"Port {port} on [::1] is already taken by python3 (pid" in result.output, result
    assert "Stop that program, or set redis_port to a free port." in result.output, result


# --- issue 14: the preflight checks what the tags converge, from the roles' documented inputs ---


def checked(result: Any) -> dict[str, Any]:
    """What converge.yml's last task says the preflight read (names only)."""
    line = next(line for line in result.output.splitlines() if "PREFLIGHT-CHECKED" in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"].split(" ", 1)[1])


def test_tags_api_and_ws_check_their_own_service_port_only(host: Any, converge: Callable[..., Any]) -> None:
    """In the laptop, where the systemd user manager answers: both units are read, and only the
    port of the service the tags converge is checked. An occupied gateway port stops the full run
    and `--tags ws`, never `--tags api`; the API's port the other way round."""
    with occupied_port(host) as port:
        full = converge({"app_services_ws_port": port})
        api = converge({"app_services_ws_port": port}, "--tags", "api")
        ws = converge({"app_services_ws_port": port}, "--tags", "ws")
        ws_free = converge({"app_services_api_port": port}, "--tags", "ws")
    assert full.rc != 0 and "set app_services_ws_port to a free port" in full.output, full
    assert ws.rc != 0 and "set app_services_ws_port to a free port" in ws.output, ws
    for result in (api, ws_free):
        assert result.rc == 0, result
        assert str(port) not in result.output, result
    seen = checked(api)
    assert seen["units"] == ["integrador-api.service", "integrador-ws.service"], seen
    assert len(seen["containers"]) == 2, seen
    assert "(db, redis, python, api)" in api.output, api
    assert "(redis, python, ws)" in ws_free.output, ws_free
    assert len(checked(ws_free)["containers"]) == 1, ws_free


def test_skip_tags_docker_checks_no_container(host: Any, converge: Callable[..., Any]) -> None:
    with occupied_port(host) as port:
        result = converge({"redis_port": port}, "--skip-tags", "docker")
    assert result.rc == 0, result
    assert str(port) not in result.output, result
    seen = checked(result)
    assert seen["containers"] == [], seen
    assert seen["units"] == ["integrador-api.service", "integrador-ws.service"], seen
    assert "(python, api, ws)" in result.output, result
