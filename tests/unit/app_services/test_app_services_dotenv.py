"""How the services get backend/.env, run for real: the command prefix every unit and
plist starts with (the tool's launcher, files/launcher/integrador_run.py) and the Windows
launcher's loader are executed here with this interpreter on generated files; the services
must see exactly what python-dotenv's own `dotenv run --override` gives a command (the
oracle: the real python-dotenv CLI, run with the same environment). Also the bind address:
IPv6 in URLs and uvicorn's argv."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from app_services_render import LINUX, MACOS, ROLE, WINDOWS, Role, role_filters
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

PRINT_ENVIRON = "import json, os; print(json.dumps(dict(os.environ)))"

# Lines as developers write them: `export`, indentation, no/single/double quotes,
# any characters (`$`, `#`, backslashes, quotes, newlines inside quotes).
_KEYS = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True).map(lambda key: "T_" + key)
_VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24)
_LINES = st.tuples(
    st.sampled_from(["", "export ", "  "]), _KEYS, st.sampled_from(["", "'", '"']), _VALUES
).map(lambda parts: f"{parts[0]}{parts[1]}={parts[2]}{parts[3]}{parts[2]}")
PEM = """export T_PEM="-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
-----END PRIVATE KEY-----"
T_TRICKY="a$b #c \\\\d \\"dq\\" 'sq'"
T_UNQUOTED=C:\\new\\path$HOME#1  # comment
"""
PEM_VALUES = {
    "T_PEM": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "T_TRICKY": "a$b #c \\d \"dq\" 'sq'",
    "T_UNQUOTED": "C:\\new\\path$HOME#1",
}


LAUNCHER = ROLE / "files" / "launcher" / "integrador_run.py"


def expected(env_file: Path) -> dict[str, str]:
    return {key: value for key, value in dotenv_values(env_file).items() if value is not None}


def real_dotenv_run(env_file: Path, environ: dict[str, str]) -> dict[str, str]:
    """The environment python-dotenv's own CLI gives a command (the tooling venv's python-dotenv)."""
    argv = [sys.executable, "-m", "dotenv", "--file", str(env_file), "run", "--override", "--"]
    proc = subprocess.run(
        [*argv, sys.executable, "-c", PRINT_ENVIRON], env=environ, capture_output=True, text=True, check=True
    )
    environment: dict[str, str] = json.loads(proc.stdout)
    return environment


def run_prefix(role: Role, env_file: Path, environ: dict[str, str]) -> dict[str, str]:
    """Environment a service sees when started with the role's command prefix (the launcher the
    role copies into the state folder is run from the role's files here)."""
    prefix = role.eval("_app_services_dotenv_run")
    assert prefix[1].endswith("/launcher/integrador_run.py") and prefix[2:] == [
        "--env-file",
        str(env_file),
        "--",
    ]
    argv = [sys.executable, str(LAUNCHER), *prefix[2:], sys.executable, "-c", PRINT_ENVIRON]
    proc = subprocess.run(argv, env=environ, capture_output=True, text=True, check=True, timeout=60)
    environment: dict[str, str] = json.loads(proc.stdout)
    return environment


def windows_loader(role: Role) -> str:
    """The python -c code of the Windows launcher, unquoted as PowerShell does."""
    text = role.render("windows/launcher.ps1.j2", _app_services_name="api")
    match = re.search(r"^\$json = & \$python -c '((?:[^']|'')*)' \$envFile$", text, re.MULTILINE)
    assert match, text
    return match.group(1).replace("''", "'")


def run_windows_loader(role: Role, env_file: Path) -> dict[str, str]:
    code = windows_loader(role)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(env_file)], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.isascii() and len(proc.stdout.strip().splitlines()) == 1
    values: dict[str, str] = json.loads(proc.stdout)
    return values


def linux_role(role: Callable[..., Role], env_file: Path) -> Role:
    return role(LINUX, python_env_env_file_path=str(env_file))


def test_pem_dollar_hash_backslash_quotes_and_export_reach_the_service(
    role: Callable[..., Role], tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(PEM, encoding="utf-8")
    assert expected(env_file) == PEM_VALUES
    # A variable already in the manager's environment does not win over the file.
    seen = run_prefix(linux_role(role, env_file), env_file, {**os.environ, "T_TRICKY": "stale"})
    assert {key: seen[key] for key in PEM_VALUES} == PEM_VALUES
    assert run_windows_loader(role(WINDOWS, python_env_env_file_path=str(env_file)), env_file) == PEM_VALUES


@settings(max_examples=25, deadline=None)
@given(st.lists(_LINES, max_size=5))
def test_services_see_what_python_dotenv_reads(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    env_file = tmp_path_factory.mktemp("env") / ".env"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wanted = expected(env_file)
    stale = {key: "stale" for key in wanted} | {"T_ONLY_IN_ENVIRONMENT": "kept"}

    environ = {**os.environ, **stale}
    seen = run_prefix(Role(LINUX, {"python_env_env_file_path": str(env_file)}), env_file, environ)

    assert seen == real_dotenv_run(env_file, environ)
    assert seen["T_ONLY_IN_ENVIRONMENT"] == "kept"
    assert run_windows_loader(Role(WINDOWS, {"python_env_env_file_path": str(env_file)}), env_file) == wanted


def test_windows_loader_has_no_double_quote(role: Callable[..., Role]) -> None:
    """Windows PowerShell 5.1 mangles double quotes inside native arguments."""
    assert '"' not in windows_loader(role(WINDOWS))


@pytest.mark.parametrize("host_vars", [LINUX, MACOS])
def test_units_and_plists_name_the_file_not_its_values(
    host_vars: dict[str, object], role: Callable[..., Role]
) -> None:
    r = role(host_vars)
    prefix = r.eval("_app_services_dotenv_run")
    assert prefix[2:] == ["--env-file", host_vars["python_env_env_file_path"], "--"]
    assert prefix[1] == r.eval("_app_services_state_path") + "/launcher/integrador_run.py"


# --- bind addresses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/api/health"),
        ("0.0.0.0", "http://127.0.0.1:8000/api/health"),
        ("", "http://127.0.0.1:8000/api/health"),
        ("::1", "http://[::1]:8000/api/health"),
        ("::", "http://[::1]:8000/api/health"),
        ("fd00::5", "http://[fd00::5]:8000/api/health"),
        ("devbox.local", "http://devbox.local:8000/api/health"),
    ],
)
def test_health_url_brackets_ipv6(bind: str, url: str) -> None:
    assert role_filters()["app_services_http_url"](bind, 8000, "/api/health") == url


@pytest.mark.parametrize("host_vars", [LINUX, MACOS, WINDOWS])
def test_ipv6_bind_address_everywhere(host_vars: dict[str, object], role: Callable[..., Role]) -> None:
    r = role(host_vars, integrador_bind_address="::1", app_services_ws_port=9001)
    for name, port, path in (("api", 8000, "/api/health"), ("ws", 9001, "/ws/health")):
        argv = r.eval("_app_services_svc.argv", _app_services_name=name)
        # uvicorn takes the bare address; only the URL has brackets.
        assert argv[argv.index("--host") : argv.index("--port") + 2] == ["--host", "::1", "--port", str(port)]
        assert r.eval("_app_services_svc.health_url", _app_services_name=name) == f"http://[::1]:{port}{path}"
        assert r.eval("_app_services_preflight")[name]["health_url"] == f"http://[::1]:{port}{path}"


def test_ipv6_unit_execstart_and_port_check(role: Callable[..., Role]) -> None:
    r = role(LINUX, app_services_bind_address="::1")
    text = r.render("systemd/integrador.service.j2", _app_services_name="api", _app_services_unit_digest="d")
    (exec_start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert " --host ::1 --port 8000 " in exec_start
    show = f"Id=integrador-api.service\nSubState=running\nExecStart={{ argv[]={exec_start[10:]} ; }}\n"
    assert r.eval(
        "_app_services_unit_on_port", _app_services_name="api", __app_services_show={"stdout": show}
    )


def bind_address_check() -> str:
    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
    (task,) = [task for task in tasks if task["name"] == "Bind address is a bare address"]
    check: str = task["ansible.builtin.assert"]["that"]
    return check


@pytest.mark.parametrize(
    ("bind", "accepted"),
    [("127.0.0.1", True), ("::1", True), ("::", True), ("[::1]", False), ("::1 ", False), ("a/b", False)],
)
def test_bracketed_or_odd_bind_address_is_refused(
    bind: str, accepted: bool, role: Callable[..., Role]
) -> None:
    assert role(LINUX, app_services_bind_address=bind).eval(bind_address_check()) is accepted
