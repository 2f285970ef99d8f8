"""What a developer would check after converging the app_services role: both
user units up and healthy, real-time events flowing from Redis to a WebSocket
client, a crash followed by a restart, and converges that touch one service only."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from conftest import (
    LaptopPaths,
    journal,
    known_task,
    main_pid,
    occupied_port,
    ran_tasks,
    readme_examples,
    redis_client,
    run_readme_example,
    scenario_vars,
    systemctl,
    wait_healthy,
)
from dotenv import dotenv_values
from websockets.sync.client import connect as ws_connect

API_UNIT = "integrador-api.service"
WS_UNIT = "integrador-ws.service"
# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("app_services"))


@pytest.fixture(scope="module")
def laptop(host: Any, docker_client: docker.DockerClient) -> Any:
    """The laptop container, for what only root may do there."""
    return docker_client.containers.get(host.backend.hostname)


@pytest.mark.parametrize("unit", [API_UNIT, WS_UNIT])
def test_unit_is_active_and_enabled(host: Any, unit: str) -> None:
    assert systemctl(host, "is-active", unit) == "active", journal(host, unit)
    assert systemctl(host, "is-enabled", unit) == "enabled", journal(host, unit)
    path = f"{PATHS.units_dir}/{unit}"
    assert host.file(path).user == "dev"
    assert "Restart=on-failure" in host.file(path).content_string


def test_gateway_is_ordered_after_the_api(host: Any) -> None:
    assert API_UNIT in systemctl(host, "show", "--property=After", "--value", WS_UNIT).split()


@pytest.mark.parametrize(
    ("service", "path", "unit"),
    [
        ("api", "/api/health", API_UNIT),
        ("api", "/api/health/detailed", API_UNIT),
        ("gateway", "/ws/health", WS_UNIT),
        ("gateway", "/ws/health/detailed", WS_UNIT),
    ],
)
def test_health_endpoint_answers_200(host: Any, request: Any, service: str, path: str, unit: str) -> None:
    base = request.getfixturevalue(service)
    response = requests.get(base + path, timeout=10)
    assert response.status_code == 200, f"{base}{path}: {response.status_code} {response.text}" + journal(
        host, unit
    )


def test_services_listen_on_loopback_only(host: Any, test_vars: dict[str, Any]) -> None:
    for port in (test_vars["app_services_api_port"], test_vars["app_services_ws_port"]):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_both_services_read_the_env_file(host: Any) -> None:
    """The gateway runs from the checkout root, yet gets .env's secrets as the API does."""
    secrets = {}
    for unit in (API_UNIT, WS_UNIT):
        pid = main_pid(host, unit)
        environ = host.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
        secrets[unit] = next((line for line in environ if line.startswith("JWT_SECRET=")), None)
    assert secrets[API_UNIT] and secrets[API_UNIT] == secrets[WS_UNIT]


def test_redis_message_reaches_a_websocket_client(host: Any, test_vars: dict[str, Any]) -> None:
    url = f"ws://127.0.0.1:{test_vars['app_services_ws_port']}/ws/events"
    message = json.dumps({"type": "order.created", "id": os.getpid()})
    with ws_connect(url, open_timeout=10) as client:
        hello = json.loads(client.recv(timeout=10))
        assert hello["type"] == "subscribed", hello
        with redis_client(test_vars) as publisher:
            receivers = publisher.publish(hello["channel"], message)
        assert receivers >= 1, journal(host, WS_UNIT)
        assert client.recv(timeout=10) == message, journal(host, WS_UNIT)


def test_killed_api_is_restarted_and_healthy(host: Any, api: str) -> None:
    before = main_pid(host, API_UNIT)
    assert before, journal(host, API_UNIT)
    host.run(f"kill -9 {before}")
    deadline = time.monotonic() + 20
    after = before
    while time.monotonic() < deadline and after in (before, 0):
        time.sleep(0.5)
        after = main_pid(host, API_UNIT)
    assert after not in (before, 0), f"no new MainPID after kill -9 {before}" + journal(host, API_UNIT)
    assert wait_healthy(api + "/api/health"), "API not healthy after its restart" + journal(host, API_UNIT)


def test_port_taken_by_another_program_is_named(host: Any, converge: Callable[..., Any]) -> None:
    # The squatter runs on the laptop, as the developer's own program would.
    with occupied_port(host) as port:
        gateway_pid = main_pid(host, WS_UNIT)
        result = converge({"app_services_ws_port": port}, "--tags", "ws")
    assert result.rc != 0, result
    assert f"Port {port} on 127.0.0.1 is already taken by python3 (pid" in result.output, result
    assert (
        f"not by the {WS_UNIT} unit. Stop that program, or set app_services_ws_port to a free port."
        in result.output
    ), result
    assert main_pid(host, WS_UNIT) == gateway_pid, "the gateway was touched" + journal(host, WS_UNIT)


def test_tags_api_restarts_the_api_only(host: Any, api: str, converge: Callable[..., Any]) -> None:
    api_pid, gateway_pid = main_pid(host, API_UNIT), main_pid(host, WS_UNIT)
    marker = f"{PATHS.home}/.cache/integrador-pre-start-ran"
    pre_start = [f"mkdir -p $(dirname {marker}) && python -c 'import integrador_settings' && touch {marker}"]
    changed = {"app_services_reload": False, "app_services_api_pre_start": pre_start}
    try:
        result = converge(changed, "--tags", "api")
        assert result.rc == 0, result
        assert main_pid(host, API_UNIT) != api_pid, "API not restarted" + journal(host, API_UNIT)
        assert "--reload" not in systemctl(host, "show", "--property=ExecStart", "--value", API_UNIT)
        assert host.file(marker).exists, "pre-start command did not run" + journal(host, API_UNIT)
        assert main_pid(host, WS_UNIT) == gateway_pid, "the gateway was restarted" + journal(host, WS_UNIT)
        assert wait_healthy(api + "/api/health", timeout=5), journal(host, API_UNIT)

        again = converge(changed, "--tags", "api")
        assert again.rc == 0 and again.changed == 0, again
    finally:
        restored = converge({}, "--tags", "api")
    assert restored.rc == 0, restored
    assert "--reload" in systemctl(host, "show", "--property=ExecStart", "--value", API_UNIT)
    assert main_pid(host, WS_UNIT) == gateway_pid, "the gateway was restarted" + journal(host, WS_UNIT)


def test_failing_pre_start_shows_the_journal_and_url(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    url = f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health"
    try:
        result = converge(
            {
                "app_services_api_pre_start": ["echo migration-failed-on-purpose >&2; exit 3"],
                "app_services_health_timeout": 4,
            },
            "--tags",
            "api",
        )
        assert result.rc != 0, result
        assert f"The Integrador REST API did not answer 200 on {url} within 4 s" in result.output, result
        assert f"Lines of journalctl --user -u {API_UNIT} since its start:" in result.output, result
        assert "migration-failed-on-purpose" in result.output, result
    finally:
        restored = converge({}, "--tags", "api")
    assert restored.rc == 0, restored
    assert systemctl(host, "is-active", API_UNIT) == "active", journal(host, API_UNIT)


def test_missing_user_manager_is_explained(laptop: Any, converge: Callable[..., Any]) -> None:
    """A user whose systemd user manager is not running: no login session, no lingering.
    With systemd asked for by name (auto would take supervisord there)."""
    # "*": no password, but not locked ("!"): the tests reach the laptop over SSH, which
    # refuses a locked account even with its key (sshd without PAM).
    laptop.exec_run(["useradd", "--create-home", "--password", "*", "nomanager"])
    result = converge(
        {
            "ansible_user": "nomanager",
            "app_services_manager": "systemd",
            # python_env (tag python) is skipped: its results are given.
            "python_env_venv_path": PATHS.venv,
            "python_env_env_file_path": PATHS.env_file,
        },
        "--tags",
        "api",
        "--skip-tags",
        "python",
    )
    assert result.rc != 0, result
    assert "No systemd user session is reachable for nomanager" in result.output, result
    assert "on WSL, enable systemd" in result.output, result
    assert "sudo loginctl enable-linger nomanager" in result.output, result


# --- The services see what the file says --------------------------------------

ENV_FILE = PATHS.env_file
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
# Written by hand as a developer would: a quoted PEM over several lines, `$`, `#`,
# backslashes and both quote kinds, an `export` line.
HAND_WRITTEN = (
    "\n# added by hand\n"
    'JWT_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\n'
    f"{PEM_BODY}\n"
    "bGlrZSBhIHJlYWwga2V5Cg\n"
    '-----END PRIVATE KEY-----"\n'
    "SMTP_PASSWORD='pa$$word #not-a-comment \\\\back\\\\slash \"dq\" \\'sq\\''\n"
    'EXPORT_DIR="C:\\\\new\\\\dir $HOME #x \\"q\\" \'s\'"\n'
    "export MAIL_FROM=exported$value#kept  # a comment\n"
)
INTENDED = {
    "JWT_PRIVATE_KEY": "\n".join(
        ["-----BEGIN PRIVATE KEY-----", PEM_BODY, "bGlrZSBhIHJlYWwga2V5Cg", "-----END PRIVATE KEY-----"]
    ),
    "SMTP_PASSWORD": "pa$$word #not-a-comment \\back\\slash \"dq\" 'sq'",
    "EXPORT_DIR": "C:\\new\\dir $HOME #x \"q\" 's'",
    "MAIL_FROM": "exported$value#kept",
}


def dotenv_of(content: bytes) -> dict[str, str]:
    """What python-dotenv (the backend's parser) reads from the file's bytes."""
    values = dotenv_values(stream=io.StringIO(content.decode("utf-8")))
    return {key: value for key, value in values.items() if value is not None}


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def reported(base: str, prefix: str, name: str) -> dict[str, Any] | None:
    """What the running service reports for a setting (its DEBUG endpoint): None for unknown."""
    response = requests.get(f"{base}{prefix}/debug/settings/{name}/sha256", timeout=10)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, f"{base}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def write_as_dev(host: Any, path: str, content: bytes) -> None:
    encoded = base64.b64encode(content).decode()
    # Through a copy: `cat >` keeps the file itself (its mode, a symlink).
    command = f"printf %s {encoded} | base64 -d > {path}.tmp && cat {path}.tmp > {path} && rm {path}.tmp"
    assert host.run(command).rc == 0


def restart_both(host: Any, api: str, gateway: str) -> None:
    systemctl(host, "restart", API_UNIT, WS_UNIT)
    assert wait_healthy(api + "/api/health", timeout=60), journal(host, API_UNIT)
    assert wait_healthy(gateway + "/ws/health", timeout=60), journal(host, WS_UNIT)


def assert_services_see(api: str, gateway: str, content: bytes, names: list[str]) -> None:
    expected = dotenv_of(content)
    for base, prefix in ((api, "/api"), (gateway, "/ws")):
        for name in names:
            seen = reported(base, prefix, name)
            if name not in expected:
                assert seen is None or seen["source"] != "environment", (base, name, seen)
                continue
            assert seen is not None, f"{base} does not see {name}, which python-dotenv reads from .env"
            assert seen["source"] == "environment", (base, name, seen)
            assert seen["sha256"] == sha256_hex(expected[name]), (base, name, "not python-dotenv's value")


def test_services_see_exactly_what_python_dotenv_reads(
    host: Any, api: str, gateway: str, converge: Callable[..., Any]
) -> None:
    original = host.file(ENV_FILE).content
    edited = original + HAND_WRITTEN.encode()
    assert {name: dotenv_of(edited)[name] for name in INTENDED} == INTENDED, "the test's own file is wrong"
    names = [*INTENDED, "JWT_SECRET", "DATABASE_URL", "DEBUG"]
    try:
        write_as_dev(host, ENV_FILE, edited)
        # As a developer does after editing .env: the services restart with its values.
        restart_both(host, api, gateway)
        assert_services_see(api, gateway, edited, names)
        for base, prefix in ((api, "/api"), (gateway, "/ws")):
            for name, value in INTENDED.items():
                seen = reported(base, prefix, name)
                assert seen and seen["sha256"] == sha256_hex(value), (base, name, "not the value written")

        # No value of .env is in the units, neither in their files nor in what systemd loaded.
        secret = dotenv_of(edited)["JWT_SECRET"]
        for unit in (API_UNIT, WS_UNIT):
            unit_file = host.file(f"{PATHS.units_dir}/{unit}").content_string
            loaded = systemctl(host, "show", "--property=Environment,ExecStart,ExecStartPre", unit)
            for text in (unit_file, loaded):
                assert PEM_BODY not in text and secret not in text and "pa$$word" not in text, unit
            assert not [line for line in unit_file.splitlines() if line.startswith("EnvironmentFile=")]
            assert f"/launcher/integrador_run.py --env-file {ENV_FILE} --record " in loaded

        # A converge edits .env in place: the hand-written lines stay byte for byte, and
        # the services still see exactly the values written by hand.
        result = converge()
        assert result.rc == 0, result
        after = host.file(ENV_FILE).content
        assert HAND_WRITTEN.encode() in after
        assert_services_see(api, gateway, after, names)
        for base, prefix in ((api, "/api"), (gateway, "/ws")):
            for name, value in INTENDED.items():
                seen = reported(base, prefix, name)
                assert seen and seen["sha256"] == sha256_hex(value), (base, name, "not the value written")
    finally:
        write_as_dev(host, ENV_FILE, original)
        restart_both(host, api, gateway)


def test_health_waits_bypass_a_dead_http_proxy(host: Any, api: str, converge: Callable[..., Any]) -> None:
    """A corporate laptop's shell exports http_proxy: set where the modules run (the
    play's environment in the laptop), the health waits still reach the services."""
    dead = "http://127.0.0.1:9"
    proxy = {name: dead for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")}
    api_pid = main_pid(host, API_UNIT)
    # A changed setting restarts the API: its health wait then retries while it starts.
    result = converge({"itest_environment": proxy, "app_services_reload": False}, "--tags", "api,ws")
    try:
        assert result.rc == 0, result
        assert main_pid(host, API_UNIT) != api_pid, "API not restarted" + journal(host, API_UNIT)
        # The API's health wait ran after the restart and answered (a wait that failed would
        # fail the run): the configured path's (when the preflight had no answer to reuse) or
        # the health check's.
        wait_tasks = (known_task("Configured health path answers"), known_task("Health URL answers 200"))
        waits = [name for name in ran_tasks(result.output) if name.split(" : ")[-1].startswith(wait_tasks)]
        assert [name for name in waits if f"({api}/" in name], (waits, result)
        # The dead proxy is real for a request that does not bypass it.
        code = f"import urllib.request as u; u.urlopen('{api}/api/health', timeout=5)"
        probe = host.run(f'http_proxy={dead} python3 -c "{code}"')
        assert probe.rc != 0 and "Connection refused" in probe.stderr, probe.stderr
    finally:
        restored = converge({}, "--tags", "api,ws")
    assert restored.rc == 0, restored


def test_ipv6_loopback_bind_address(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    if "inet6 ::1/128" not in host.run("ip -6 addr show lo").stdout:
        pytest.skip("the laptop has no IPv6 loopback")
    ports = (test_vars["app_services_api_port"], test_vars["app_services_ws_port"])
    try:
        result = converge({"app_services_bind_address": "::1"}, "--tags", "api,ws")
        assert result.rc == 0, result
        assert f"http://[::1]:{ports[0]}/api/health" in result.output, result
        for port, path in zip(ports, ("/api/health", "/ws/health"), strict=True):
            assert host.socket(f"tcp://::1:{port}").is_listening
            assert not host.socket(f"tcp://127.0.0.1:{port}").is_listening
            assert wait_healthy(f"http://[::1]:{port}{path}", timeout=10), journal(host, API_UNIT)
        again = converge({"app_services_bind_address": "::1"}, "--tags", "api,ws")
        assert again.rc == 0 and again.changed == 0, again
    finally:
        restored = converge({}, "--tags", "api,ws")
    assert restored.rc == 0, restored
    assert host.socket(f"tcp://127.0.0.1:{ports[0]}").is_listening


def test_readme_example_runs_as_written(
    host: Any, api: str, gateway: str, converge: Callable[..., Any], tmp_path: Path
) -> None:
    """roles/app_services/README.md's example (the four roles, as the scenario converges), on this laptop:
    its integrador_root (~/src/integrador) is this scenario's checkout, linked there; both
    services answer afterwards. The scenario's own converge puts the units back."""
    host.run(f"mkdir -p {PATHS.home}/src && ln -sfn {PATHS.root} {PATHS.home}/src/integrador")
    try:
        for example in readme_examples("app_services"):
            result = run_readme_example(example, tmp_path)
            assert result.rc == 0, result
            assert wait_healthy(api + "/api/health", timeout=60), journal(host, API_UNIT)
            assert wait_healthy(gateway + "/ws/health", timeout=60), journal(host, WS_UNIT)
    finally:
        assert converge().rc == 0
        host.run(f"rm -f {PATHS.home}/src/integrador && rmdir {PATHS.home}/src")
