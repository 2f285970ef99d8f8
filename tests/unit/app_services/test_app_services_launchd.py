"""The launchd agents, rendered as on a Mac (not run on one: see the role's README)."""

from __future__ import annotations

import base64
import plistlib
from collections.abc import Callable
from typing import Any

import pytest
from app_services_render import MACOS, Role

# The tool's launcher (python-dotenv's `run --override`, then exec), recording the .env it read.
DOTENV_RUN = [
    "/Users/ana/src/integrador/backend/.venv/bin/python",
    "/Users/ana/.local/state/integrador/launcher/integrador_run.py",
    "--env-file",
    "/Users/ana/src/integrador/backend/.env",
    "--record",
    "/Users/ana/.local/state/integrador/started/api.json",
    "--",
]


def dotenv_run(name: str) -> list[str]:
    return [part.replace("/started/api.json", f"/started/{name}.json") for part in DOTENV_RUN]


def plist(role: Role, name: str) -> dict[str, Any]:
    text = role.render("launchd/agent.plist.j2", _app_services_name=name)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist'), text[:80]
    return plistlib.loads(text.encode())


def test_mac_gets_launchd(role: Callable[..., Role]) -> None:
    assert role(MACOS).eval("_app_services_manager") == "launchd"


def test_api_agent_runs_uvicorn_in_backend_with_the_venv(role: Callable[..., Role]) -> None:
    agent = plist(role(MACOS), "api")
    assert agent["Label"] == "com.integrador.api"
    assert agent["ProgramArguments"] == [
        *DOTENV_RUN,
        "/Users/ana/src/integrador/backend/.venv/bin/python",
        "-m",
        "uvicorn",
        "rest_api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        "--reload",
        "--reload-dir",
        "/Users/ana/src/integrador/backend",
    ]
    assert agent["WorkingDirectory"] == "/Users/ana/src/integrador/backend"
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    log = "/Users/ana/Library/Logs/integrador/api.log"
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == log


def test_gateway_agent_runs_from_the_root_with_backend_on_pythonpath(role: Callable[..., Role]) -> None:
    agent = plist(role(MACOS, app_services_reload=False, app_services_ws_port=9001), "ws")
    assert agent["Label"] == "com.integrador.ws"
    assert agent["ProgramArguments"][: len(DOTENV_RUN)] == dotenv_run("ws")
    assert agent["ProgramArguments"][len(DOTENV_RUN) + 1 :] == [
        "-m",
        "uvicorn",
        "ws_gateway.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        "9001",
    ]
    assert agent["WorkingDirectory"] == "/Users/ana/src/integrador"
    assert agent["EnvironmentVariables"]["PYTHONPATH"] == "/Users/ana/src/integrador/backend"
    assert agent["StandardOutPath"] == "/Users/ana/Library/Logs/integrador/ws.log"


@pytest.mark.parametrize("name", ["api", "ws"])
def test_agents_get_the_venv_first_on_path_and_the_env_file(role: Callable[..., Role], name: str) -> None:
    agent = plist(role(MACOS), name)
    environment = agent["EnvironmentVariables"]
    assert environment["PATH"].split(":")[0] == "/Users/ana/src/integrador/backend/.venv/bin"
    assert "/opt/homebrew/bin" in environment["PATH"].split(":")
    assert environment["VIRTUAL_ENV"] == "/Users/ana/src/integrador/backend/.venv"
    # .env is loaded by the launcher when the agent starts: no value of it is in the plist.
    assert agent["ProgramArguments"][: len(DOTENV_RUN)] == dotenv_run(name)
    assert not {"DATABASE_URL", "REDIS_URL", "JWT_SECRET"} & set(environment)


def test_plist_holds_no_value_of_the_env_file(role: Callable[..., Role]) -> None:
    """Whatever .env holds, the plist is the same: it names the file, never its values."""
    dotenv = "JWT_SECRET='s3cr<et>&\"x'\n"
    changed = role(MACOS, __app_services_dotenv={"content": base64.b64encode(dotenv.encode()).decode()})
    text = changed.render("launchd/agent.plist.j2", _app_services_name="api")
    assert text == role(MACOS).render("launchd/agent.plist.j2", _app_services_name="api")
    assert "s3cr" not in text
    assert changed.eval("_app_services_svc.log", _app_services_name="api").endswith("api.log")


def test_pre_start_commands_run_before_the_api_without_reparsing_its_arguments(
    role: Callable[..., Role],
) -> None:
    commands = ["alembic upgrade head", "python -m rest_api.seed --if-empty"]
    r = role(MACOS, app_services_api_pre_start=commands, integrador_root="/Users/ana/my src")
    agent = plist(r, "api")
    assert agent["ProgramArguments"][: len(DOTENV_RUN)] == DOTENV_RUN
    shell, flag, script, name, *service = agent["ProgramArguments"][len(DOTENV_RUN) :]
    assert (shell, flag, name) == ("/bin/sh", "-c", "com.integrador.api")
    assert script.splitlines() == ["set -e", *commands, 'exec "$@"']
    assert service[0] == "/Users/ana/src/integrador/backend/.venv/bin/python"
    assert service[-1] == "/Users/ana/my src/backend"
    assert agent["WorkingDirectory"] == "/Users/ana/my src/backend"


def test_gateway_never_gets_the_api_pre_start(role: Callable[..., Role]) -> None:
    agent = plist(role(MACOS, app_services_api_pre_start=["alembic upgrade head"]), "ws")
    assert agent["ProgramArguments"][len(DOTENV_RUN)].endswith("/bin/python")


def test_wildcard_bind_address_is_checked_on_loopback(role: Callable[..., Role]) -> None:
    r = role(MACOS, integrador_bind_address="0.0.0.0")
    arguments = plist(r, "api")["ProgramArguments"]
    assert arguments[arguments.index("--host") + 1] == "0.0.0.0"
    assert (
        r.eval("_app_services_svc.health_url", _app_services_name="api") == "http://127.0.0.1:8000/api/health"
    )
    r6 = role(MACOS, integrador_bind_address="::")
    assert r6.eval("_app_services_svc.health_url", _app_services_name="ws") == "http://[::1]:8001/ws/health"


@pytest.mark.parametrize(("name", "pid"), [("ws", 812), ("api", 0)])
def test_agent_pid_is_read_from_launchctl_list(role: Callable[..., Role], name: str, pid: int) -> None:
    assert role(MACOS).eval("_app_services_agent_pid", _app_services_name=name) == pid


@pytest.mark.parametrize("root", ["~/src/integrador", "/Users/ana/src/integrador/"])
def test_root_in_the_home_folder_and_trailing_slash(role: Callable[..., Role], root: str) -> None:
    agent = plist(role(MACOS, integrador_root=root), "ws")
    assert agent["WorkingDirectory"] == "/Users/ana/src/integrador"
