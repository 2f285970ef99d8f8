"""The Windows scheduled tasks and their PowerShell launchers, rendered as on
Windows (not run on it: see the role's README)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from app_services_render import ROLE, WINDOWS, Role

VENV = "C:\\Users\\ana\\src\\integrador\\backend\\.venv"
STATE = "C:\\Users\\ana\\AppData\\Local\\Integrador"


def launcher(role: Role, name: str) -> str:
    return role.render("windows/launcher.ps1.j2", _app_services_name=name)


def assignment(script: str, variable: str) -> str:
    match = re.search(rf"^\${variable} = (.*)$", script, re.MULTILINE)
    assert match, f"${variable} is not set in:\n{script}"
    return match.group(1)


def test_windows_gets_scheduled_tasks_and_backslash_paths(role: Callable[..., Role]) -> None:
    r = role(WINDOWS)
    assert r.eval("_app_services_manager") == "scheduled_task"
    api = r.eval("_app_services_svc", _app_services_name="api")
    assert api["argv"][0] == f"{VENV}\\Scripts\\python.exe"
    assert api["cwd"] == "C:\\Users\\ana\\src\\integrador\\backend"
    assert api["launcher"] == f"{STATE}\\integrador-api.ps1"
    assert api["pid_file"] == f"{STATE}\\integrador-api.pid"
    assert api["log"] == f"{STATE}\\logs\\api.log"


def test_tasks_start_at_logon_restart_and_never_time_out(role: Callable[..., Role]) -> None:
    task = role(WINDOWS).eval("_app_services_win_task")
    assert task["path"] == "\\Integrador\\"
    assert task["triggers"] == [{"type": "logon", "user_id": "ana"}]
    assert task["logon_type"] == "interactive_token"
    assert task["execution_time_limit"] == "PT0S"
    assert task["restart_count"] > 0 and task["restart_interval"] == "PT1M"
    assert task["multiple_instances"] == 2
    assert task["disallow_start_if_on_batteries"] is False
    assert task["stop_if_going_on_batteries"] is False


def test_lingering_means_a_boot_trigger_under_s4u(role: Callable[..., Role]) -> None:
    task = role(WINDOWS, app_services_linger=True).eval("_app_services_win_task")
    assert task["triggers"] == [{"type": "boot"}]
    assert task["logon_type"] == "s4u"


@pytest.mark.parametrize(("name", "cwd"), [("api", "\\backend"), ("ws", "")])
def test_task_action_runs_the_launcher_with_powershell(
    role: Callable[..., Role], name: str, cwd: str
) -> None:
    action = role(WINDOWS).eval("_app_services_win_action", _app_services_name=name)
    assert action["path"] == "powershell.exe"
    assert action["arguments"] == (
        "-NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden "
        f'-File "{STATE}\\integrador-{name}.ps1"'
    )
    assert action["working_directory"] == "C:\\Users\\ana\\src\\integrador" + cwd


def test_task_module_gets_every_setting(role: Callable[..., Role]) -> None:
    """The task file passes each of these settings to win_scheduled_task."""
    tasks = (ROLE / "tasks" / "scheduled_task_service.yml").read_text()
    for option in role(WINDOWS).eval("_app_services_win_task"):
        if option != "path":
            assert f'{option}: "{{{{ _app_services_win_task.{option} }}}}"' in tasks, option


def test_api_launcher_runs_uvicorn_in_backend_with_the_venv(role: Callable[..., Role]) -> None:
    script = launcher(role(WINDOWS), "api")
    assert assignment(script, "python") == f"'{VENV}\\Scripts\\python.exe'"
    assert assignment(script, "arguments") == (
        "@('-m', 'uvicorn', 'rest_api.main:app', '--host', '127.0.0.1', '--port', '8000', "
        "'--reload', '--reload-dir', 'C:\\Users\\ana\\src\\integrador\\backend')"
    )
    assert assignment(script, "envFile") == "'C:\\Users\\ana\\src\\integrador\\backend\\.env'"
    assert assignment(script, "log") == f"'{STATE}\\logs\\api.log'"
    assert "Set-Location -LiteralPath 'C:\\Users\\ana\\src\\integrador\\backend'" in script
    assert f"$env:PATH = '{VENV}\\Scripts' + ';' + $env:PATH" in script
    assert f"[Environment]::SetEnvironmentVariable('VIRTUAL_ENV', '{VENV}', 'Process')" in script
    assert f"Set-Content -LiteralPath '{STATE}\\integrador-api.pid' -Value $PID" in script
    assert "PYTHONPATH" not in script


def test_gateway_launcher_runs_from_the_root_with_backend_on_pythonpath(role: Callable[..., Role]) -> None:
    script = launcher(role(WINDOWS, app_services_reload=False), "ws")
    assert assignment(script, "arguments") == (
        "@('-m', 'uvicorn', 'ws_gateway.main:app', '--host', '127.0.0.1', '--port', '8001')"
    )
    assert "Set-Location -LiteralPath 'C:\\Users\\ana\\src\\integrador'\n" in script
    backend = "C:\\Users\\ana\\src\\integrador\\backend"
    assert f"[Environment]::SetEnvironmentVariable('PYTHONPATH', '{backend}', 'Process')" in script
    assert assignment(script, "preStart") == "@()"


def test_env_file_is_loaded_after_the_roles_settings(role: Callable[..., Role]) -> None:
    script = launcher(role(WINDOWS), "api")
    assert script.index("'VIRTUAL_ENV'") < script.index("$json = & $python -c ")
    # Read by python-dotenv, the backend's own parser (test_app_services_dotenv runs it),
    # and set over the inherited environment before pre-start and the service.
    assert "from dotenv import dotenv_values" in script
    assert "[Environment]::SetEnvironmentVariable($setting.Name, [string]$setting.Value, 'Process')" in script
    assert script.index("SetEnvironmentVariable($setting.Name") < script.index(
        "foreach ($command in $preStart)"
    )
    assert "Get-Content -LiteralPath $envFile" not in script


def test_pre_start_commands_are_quoted_and_stop_a_start_on_failure(role: Callable[..., Role]) -> None:
    commands = ["alembic upgrade head", "python -c 'print(1)'", "echo \u2019curly\u2019"]
    script = launcher(role(WINDOWS, app_services_api_pre_start=commands), "api")
    assert assignment(script, "preStart") == (
        "@('alembic upgrade head', 'python -c ''print(1)''', 'echo \u2019\u2019curly\u2019\u2019')"
    )
    loop = script[script.index("while ($true)") :]
    assert loop.index("foreach ($command in $preStart)") < loop.index("& $python @arguments")
    assert "if ($LASTEXITCODE -ne 0)" in loop


def test_launcher_restarts_the_service_after_a_crash_only(role: Callable[..., Role]) -> None:
    loop = launcher(role(WINDOWS), "ws")
    assert "if ($LASTEXITCODE -eq 0) { break }" in loop
    assert "Start-Sleep -Seconds 2" in loop


def test_quotes_in_paths_cannot_break_out_of_the_strings(role: Callable[..., Role]) -> None:
    r = role(
        WINDOWS,
        integrador_root="C:\\Users\\O'Brien\\src",
        python_env_venv_path="C:\\Users\\O'Brien\\src\\backend\\.venv",
        python_env_env_file_path="C:\\Users\\O'Brien\\src\\backend\\.env",
    )
    script = launcher(r, "api")
    assert "Set-Location -LiteralPath 'C:\\Users\\O''Brien\\src\\backend'" in script
    assert assignment(script, "envFile") == "'C:\\Users\\O''Brien\\src\\backend\\.env'"


def test_restart_script_kills_only_its_own_launcher_tree() -> None:
    script = (ROLE / "files" / "restart_task.ps1").read_text()
    assert "$process.CommandLine.Contains($Launcher)" in script
    assert script.index("taskkill.exe /PID $launcherPid /T /F") < script.index("Start-ScheduledTask")


def test_root_in_the_home_folder_and_trailing_separators(role: Callable[..., Role]) -> None:
    r = role(WINDOWS, integrador_root="~\\src\\integrador\\")
    assert r.eval("_app_services_backend") == "C:\\Users\\ana\\src\\integrador\\backend"
