"""The systemd user units (also run for real by `molecule test -s app_services`)
and the role's filters: quoting that systemd and PowerShell parse back to the
same words, and the parsers of `systemctl show` and .env."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import pytest
from app_services_render import LINUX, ROLE, Role, role_filters


def unit(role: Role, name: str, digest: str = "d1g3st") -> dict[str, list[str]]:
    text = role.render(
        "systemd/integrador.service.j2", _app_services_name=name, _app_services_unit_digest=digest
    )
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def filters() -> dict[str, Callable[..., Any]]:
    return role_filters()


def test_api_unit(role: Callable[..., Role]) -> None:
    settings = unit(role(LINUX), "api")
    assert settings["WorkingDirectory"] == ["/home/ana/integrador/backend"]
    # .env is loaded by the tool's launcher (as python-dotenv's `run --override`), never by
    # systemd's EnvironmentFile= parser; the launcher records the bytes it read.
    assert "EnvironmentFile" not in settings
    assert settings["ExecStart"] == [
        "/home/ana/integrador/backend/.venv/bin/python"
        " /home/ana/.local/state/integrador/launcher/integrador_run.py"
        " --env-file /home/ana/integrador/backend/.env"
        " --record /home/ana/.local/state/integrador/started/api.json --"
        " /home/ana/integrador/backend/.venv/bin/python -m uvicorn rest_api.main:app --host 127.0.0.1"
        " --port 8000 --reload --reload-dir /home/ana/integrador/backend"
    ]
    assert settings["Restart"] == ["on-failure"]
    assert settings["WantedBy"] == ["default.target"]
    assert "INTEGRADOR_UNIT_DIGEST=d1g3st" in settings["Environment"]
    assert "After" not in settings


def test_gateway_unit_is_ordered_after_the_api(role: Callable[..., Role]) -> None:
    settings = unit(role(LINUX), "ws")
    assert settings["After"] == ["integrador-api.service"]
    assert settings["WorkingDirectory"] == ["/home/ana/integrador"]
    assert "PYTHONPATH=/home/ana/integrador/backend" in settings["Environment"]
    assert "ExecStartPre" not in settings


def test_pre_start_runs_through_sh_with_systemd_escapes(role: Callable[..., Role]) -> None:
    command = 'alembic upgrade head && echo "done $(date)" 100% \\ok'
    settings = unit(role(LINUX, app_services_api_pre_start=[command]), "api")
    (pre,) = settings["ExecStartPre"]
    # systemd unescapes "$$" and "%%", then splits like a shell.
    words = shlex.split(pre.replace("$$", "$").replace("%%", "%"))
    venv = "/home/ana/integrador/backend/.venv"
    launcher = "/home/ana/.local/state/integrador/launcher/integrador_run.py"
    dotenv_run = [f"{venv}/bin/python", launcher, "--env-file", "/home/ana/integrador/backend/.env"]
    # The pre-start commands do not record: only the service's own start does.
    assert words == [*dotenv_run, "--", "/bin/sh", "-c", command]


def test_digest_changes_with_any_setting_and_only_then(role: Callable[..., Role]) -> None:
    digest = "_app_services_unit_digest_now"
    base = role(LINUX).eval(digest, _app_services_name="api")
    assert base == role(LINUX).eval(digest, _app_services_name="api")
    assert len(base) == 64
    assert base != role(LINUX, app_services_reload=False).eval(digest, _app_services_name="api")
    assert base != role(LINUX, app_services_api_pre_start=["true"]).eval(digest, _app_services_name="api")
    assert base != role(LINUX).eval(digest, _app_services_name="ws")


@pytest.mark.parametrize("name", ["api", "ws"])
@pytest.mark.parametrize(
    "settings", [{}, {"app_services_reload": False}, {"app_services_api_pre_start": ["true"]}]
)
def test_unit_file_is_the_template_rendered_with_its_digest(
    role: Callable[..., Role], name: str, settings: dict[str, Any]
) -> None:
    """The unit is rendered once per run (with an empty digest line); the file written is
    that render with the digest filled in, exactly what rendering it with the digest gives."""
    r = role(LINUX, **settings)
    blank = r.eval("_app_services_unit_blank_now", _app_services_name=name)
    noted = {"__app_services_unit_blank": {name: blank}, "_app_services_name": name}
    digest = r.eval("_app_services_unit_digest", **noted)
    assert digest == r.eval("_app_services_unit_digest_now", _app_services_name=name)
    text = r.eval("_app_services_unit_text", **noted)
    assert text == r.render(
        "systemd/integrador.service.j2", _app_services_name=name, _app_services_unit_digest=digest
    )
    assert f"\nEnvironment=INTEGRADOR_UNIT_DIGEST={digest}\n" in text


SHOW = (
    "Id=integrador-api.service\nMainPID=101\nSubState=running\n"
    "ExecStart={ path=/v/bin/python ; argv[]=/v/bin/python -m uvicorn rest_api.main:app --host 127.0.0.1 "
    "--port 8000 --reload ; ignore_errors=no }\n\n"
    "Id=integrador-ws.service\nMainPID=0\nSubState=dead\nLoadState=not-found\n"
)


def test_systemctl_show_is_parsed_per_unit() -> None:
    units = filters()["app_services_systemctl_show"](SHOW)
    assert units["integrador-api.service"]["MainPID"] == "101"
    assert units["integrador-ws.service"]["LoadState"] == "not-found"


@pytest.mark.parametrize(("port", "on_port"), [(8000, True), (8010, False)])
def test_running_unit_on_the_configured_port_needs_no_port_check(
    role: Callable[..., Role], port: int, on_port: bool
) -> None:
    r = role(LINUX, app_services_api_port=port, __app_services_show={"stdout": SHOW})
    assert r.eval("_app_services_unit_on_port", _app_services_name="api") is on_port
    assert r.eval("_app_services_unit_on_port", _app_services_name="ws") is False


@pytest.mark.parametrize(
    ("word", "exec_line", "quoted"),
    [
        ("/usr/bin/python", True, "/usr/bin/python"),
        ("a b", True, '"a b"'),
        ("50%", True, "50%%"),
        ("$HOME", True, "$$HOME"),
        ("$HOME", False, "$HOME"),
        ('say "hi"\\', True, '"say \\"hi\\"\\\\"'),
        ("", True, '""'),
        (";", True, '";"'),
    ],
)
def test_systemd_quoting(word: str, exec_line: bool, quoted: str) -> None:
    assert filters()["app_services_systemd_quote"](word, exec_line) == quoted


def test_systemd_quoting_refuses_a_newline() -> None:
    with pytest.raises(ValueError, match="cannot span lines"):
        filters()["app_services_systemd_quote"]("a\nb")


def test_filters_are_the_roles() -> None:
    assert (ROLE / "filter_plugins" / "app_services.py").is_file()
    assert set(filters()) >= {"app_services_ps_quote", "app_services_systemd_path"}


def test_reload_given_as_a_string_on_the_command_line(role: Callable[..., Role]) -> None:
    """`-e app_services_reload=false` passes the string "false"."""
    settings = unit(role(LINUX, app_services_reload="false"), "api")
    assert "--reload" not in settings["ExecStart"][0]
