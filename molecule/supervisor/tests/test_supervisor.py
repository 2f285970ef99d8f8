"""A laptop without systemd (PID 1 is `sleep`): `make dev`'s playbook with the
default app_services_manager (auto) runs both services under supervisord, as
the user, and supervisord repairs a crash."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PROJECT, LaptopPaths, occupied_port, run_playbook, scenario_vars
from conftest import wait_healthy as shared_wait_healthy

PLAYBOOKS = PROJECT / "playbooks"
# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("supervisor"))
HOME = PATHS.home
STATE = f"{HOME}/.local/state/integrador/supervisor"
VENV = f"{HOME}/.local/share/integrador/supervisor-venv"
CTL = f"{VENV}/bin/supervisorctl --configuration {STATE}/supervisord.conf"


def status(host: Any) -> dict[str, tuple[str, int]]:
    """`supervisorctl status` as the developer: program -> (state, pid)."""
    programs = {}
    for line in host.run(f"{CTL} status").stdout.splitlines():
        words = line.split()
        pid = int(words[3].rstrip(",")) if len(words) > 3 and words[2] == "pid" else 0
        programs[words[0]] = (words[1], pid)
    return programs


def log(host: Any, program: str) -> str:
    return (
        f"\n--- {program} log ---\n" + host.run(f"tail -n 40 {STATE}/logs/{program.split('-')[1]}.log").stdout
    )


def changed_tasks(result: Any) -> str:
    """The tasks a converge changed, for a failure message."""
    task, found = "", []
    for line in result.output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:"):
            found.append(f"{task}\n  {line}")
    return "\n".join(found) + f"\n{result!r}"


def wait_healthy(url: str, timeout: float = 30) -> bool:
    """conftest's health wait, with the longer limit supervisord's restarts need."""
    return shared_wait_healthy(url, timeout) is not None


def new_pid(host: Any, program: str, old: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    pid = old
    while time.monotonic() < deadline and pid in (old, 0):
        time.sleep(0.5)
        state, pid = status(host).get(program, ("", 0))
        pid = pid if state == "RUNNING" else 0
    return pid


def test_laptop_has_no_systemd(host: Any) -> None:
    assert host.process.get(pid=1).comm != "systemd"
    assert host.run("systemctl --user show-environment").rc != 0


def test_supervisord_runs_as_the_user_from_its_own_venv(host: Any) -> None:
    pid = int(host.file(f"{STATE}/supervisord.pid").content_string.strip())
    daemon = host.process.get(pid=pid)
    assert daemon.user == "dev"
    assert f"{VENV}/bin/python" in host.run(f"tr '\\0' ' ' < /proc/{pid}/cmdline").stdout
    assert host.file(f"{STATE}/supervisor.sock").is_socket
    assert host.file(f"{STATE}/supervisor.sock").user == PATHS.user
    assert not host.file(f"{PATHS.venv}/bin/supervisord").exists


@pytest.mark.parametrize(
    ("program", "service", "path"),
    [("integrador-api", "api", "/api/health"), ("integrador-ws", "gateway", "/ws/health")],
)
def test_program_runs_and_answers_its_health_path(
    host: Any, request: Any, program: str, service: str, path: str
) -> None:
    assert status(host)[program][0] == "RUNNING", log(host, program)
    conf = host.file(f"{STATE}/programs/{program}.conf").content_string
    assert "autorestart=true" in conf
    # .env is loaded by the tool's launcher when the program starts (as python-dotenv's
    # `run --override`); no value of it is in the file.
    assert f"/launcher/integrador_run.py --env-file {PATHS.env_file} --record " in conf
    secret = host.run(f"grep -m1 '^REDIS_URL=' {PATHS.env_file}").stdout.strip()
    assert secret and secret not in conf
    assert wait_healthy(request.getfixturevalue(service) + path), log(host, program)


def test_the_summary_says_supervisord_is_not_started_at_boot(converge: Callable[..., Any]) -> None:
    result = converge({})
    assert result.rc == 0 and result.changed == 0, changed_tasks(result)
    assert f"{STATE}/logs/".replace(HOME, "~") in result.output or "supervisor/logs/" in result.output, result
    assert "nothing starts it at boot" in result.output, result


def group(host: Any, pgid: int) -> set[int]:
    """Live processes of a process group (zombies left out)."""
    found = set()
    for line in host.run("ps -e -o pid=,pgid=,stat=").stdout.splitlines():
        pid, group_id, stat = line.split()
        if int(group_id) == pgid and not stat.startswith("Z"):
            found.add(int(pid))
    return found


def port_holders(host: Any, url: str) -> set[int]:
    """The processes listening on the URL's port (as root: every user's)."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    return {int(pid) for pid in re.findall(r"pid=(\d+)", host.run(f"ss -ltnpH 'sport = :{port}'").stdout)}


def test_killed_api_is_restarted_by_supervisord(host: Any, api: str) -> None:
    """kill -9 of the program's main process (uvicorn's reloader) left its reload worker holding
    the port: it answered health with the old code while the restarted program could not bind.
    Now nothing of the old process group survives, and the port is held by the new one."""
    before = status(host)["integrador-api"][1]
    assert before, log(host, "integrador-api")
    old_group = group(host, before)
    assert port_holders(host, api) <= old_group and len(old_group) > 1, (old_group, port_holders(host, api))
    host.run(f"kill -9 {before}")
    after = new_pid(host, "integrador-api", before)
    assert after not in (before, 0), f"no new pid after kill -9 {before}" + log(host, "integrador-api")
    assert wait_healthy(api + "/api/health"), "API not healthy after its restart" + log(
        host, "integrador-api"
    )
    assert group(host, before) == set(), f"left running: {group(host, before)}" + log(host, "integrador-api")
    holders = port_holders(host, api)
    assert holders and holders <= group(host, after), (holders, group(host, after))
    assert status(host)["integrador-api"] == ("RUNNING", after)


def test_tags_api_restarts_the_api_only_when_env_changes(
    host: Any, api: str, converge: Callable[..., Any]
) -> None:
    api_pid, ws_pid = status(host)["integrador-api"][1], status(host)["integrador-ws"][1]
    changed = {"python_env_env_extra": {"APP_LABEL": "restart-the-api"}}
    result = converge(changed, "--tags", "api")
    assert result.rc == 0, result
    assert "integrador-api will be restarted" in result.output, result
    after = new_pid(host, "integrador-api", api_pid)
    assert after not in (api_pid, 0), "API not restarted" + log(host, "integrador-api")
    assert status(host)["integrador-ws"][1] == ws_pid, "the gateway was restarted"
    assert wait_healthy(api + "/api/health"), log(host, "integrador-api")
    marker = host.run(f"tr '\\0' '\\n' < /proc/{after}/environ").stdout
    # The API (or its reloader's child) sees the new value through python-dotenv.
    children = host.run(f"pgrep -P {after}").stdout.split()
    environs = marker + "".join(host.run(f"tr '\\0' '\\n' < /proc/{c}/environ").stdout for c in children)
    assert "APP_LABEL=restart-the-api" in environs

    try:
        again = converge(changed, "--tags", "api")
        assert again.rc == 0 and again.changed == 0, changed_tasks(again)
    finally:
        # python_env takes the key out again; the API is restarted once more.
        restored = converge({}, "--tags", "api")
    assert restored.rc == 0, restored
    assert status(host)["integrador-ws"][1] == ws_pid, "the gateway was restarted"


def test_doctor_names_a_service_port_taken_by_another_program(host: Any, api: str, gateway: str) -> None:
    """Issue 26: under supervisord the doctor (the preflight alone) skipped the service ports. On
    the running stack both ports are held by the stack's own programs (uvicorn --reload's workers):
    no problem. A port taken by another program is named with its holder and its fix."""
    assert port_holders(host, api) and port_holders(host, gateway), "the services do not listen"
    healthy = run_playbook(PLAYBOOKS / "doctor.yml")
    assert healthy.rc == 0, healthy
    assert "Everything the stack needs is there. Nothing was changed." in healthy.output, healthy
    assert "already taken" not in healthy.output, healthy

    # The squatter runs on the laptop, as the developer's own program would.
    with occupied_port(host) as port:
        taken = run_playbook(PLAYBOOKS / "doctor.yml", {"app_services_ws_port": port})
    assert taken.rc != 0, taken
    assert f"FAILED Port {port} on 127.0.0.1 is already taken by python3 (pid" in taken.output, taken
    assert (
        "not by supervisord's integrador-ws program. Stop that program, or set app_services_ws_port "
        "to a free port." in taken.output
    ), taken
    api_port = api.rsplit(":", 1)[1]
    assert f"Port {api_port} on" not in taken.output, taken  # the API's own port is fine
    assert re.search(r"\bchanged=0\b", taken.output), taken


def test_status_logs_and_down_work_with_supervisord(
    host: Any, api: str, converge: Callable[..., Any]
) -> None:
    status_run = run_playbook(PLAYBOOKS / "status.yml")
    assert status_run.rc == 0, status_run
    assert "integrador-api" in status_run.output and "integrador-ws" in status_run.output, status_run
    assert "active (running)" in status_run.output, status_run

    logs = run_playbook(PLAYBOOKS / "logs.yml")
    assert logs.rc == 0, logs
    assert "integrador-api (supervisord program)" in logs.output, logs
    assert "Uvicorn running on" in logs.output, logs

    down = run_playbook(PLAYBOOKS / "down.yml")
    assert down.rc == 0, down
    assert "supervisord and its programs stopped" in down.output, down
    assert host.run(f"{CTL} status").rc == 4, "supervisord still answers after down"
    assert not wait_healthy(api + "/api/health", timeout=2), "the API still answers after down"
    assert run_playbook(PLAYBOOKS / "status.yml").rc != 0, "status is healthy with everything down"

    back = converge({})
    assert back.rc == 0, back
    assert wait_healthy(api + "/api/health"), log(host, "integrador-api")
