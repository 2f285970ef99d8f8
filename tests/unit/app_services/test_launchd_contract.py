"""The launchd agents against what launchd accepts, as far as a machine without a Mac can tell.

1. Every plist the role writes is a property list: rendered by Ansible's own templar from the
   role's real template, for any paths and values (hypothesis: XML's special characters, quotes,
   `$`, `{{ }}`, non-ASCII), loaded back by plistlib, and every field is the value the role meant.
2. Every `launchctl` call in the role's tasks and handlers, rendered with a Mac's facts, has the
   shape Apple's launchctl(1) gives its verb (the role's README quotes the synopses):
       bootstrap | bootout domain-target [service-path ...] | service-target
       enable | disable service-target
       kickstart [-kp] service-target
       list [-x] [label]                        (legacy; three columns: PID, status, label)
   with the domain target gui/<uid> (uid: a number) and the service target gui/<uid>/<label>,
   where <label> is the Label of the plist that bootstrap loads.

What this cannot show: launchd itself running the agents. No Mac has run them (README).
"""

from __future__ import annotations

import plistlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.template import Templar, trust_as_template
from app_services_render import MACOS, ROLE, Role
from hypothesis import given, settings
from hypothesis import strategies as st

DOMAIN = re.compile(r"^gui/(\d+)$")
SERVICE = re.compile(r"^gui/(\d+)/([A-Za-z0-9._-]+)$")


def launchctl_tasks() -> list[tuple[str, dict[str, Any]]]:
    """(file, task) for every command task of the launchd path that runs launchctl."""
    found = []
    for name in ("tasks/launchd.yml", "tasks/launchd_agent.yml", "handlers/main.yml"):
        stack = list(yaml.safe_load((ROLE / name).read_text()))
        while stack:
            task = stack.pop()
            stack.extend(task.get("block", []) + task.get("rescue", []) + task.get("always", []))
            argv = task.get("ansible.builtin.command", {}).get("argv")
            if argv and argv[0] == "launchctl":
                found.append((name, task))
    return found


def test_every_launchctl_call_is_found() -> None:
    verbs = sorted(task["ansible.builtin.command"]["argv"][1] for _, task in launchctl_tasks())
    # launchd.yml: list; launchd_agent.yml: bootout, enable, bootstrap; handlers: per service
    # bootout, bootstrap, kickstart.
    assert verbs == sorted(
        ["list", "bootout", "enable", "bootstrap"] + 2 * ["bootout", "bootstrap", "kickstart"]
    )


def check_argv(argv: list[str], uid: int, plists: dict[str, dict[str, Any]]) -> None:
    """One launchctl argv against launchctl(1)'s synopsis of its verb."""
    verb, *args = argv
    if verb == "list":
        assert args == []
    elif verb == "bootstrap":
        domain, *paths = args
        assert DOMAIN.match(domain) and int(DOMAIN.match(domain)[1]) == uid, argv
        assert len(paths) == 1 and paths[0] in plists, argv
    elif verb in ("bootout", "enable", "kickstart"):
        options = [a for a in args if a.startswith("-")]
        targets = [a for a in args if not a.startswith("-")]
        assert set(options) <= ({"-k", "-p"} if verb == "kickstart" else set()), argv
        assert args == options + targets and len(targets) == 1, argv
        match = SERVICE.match(targets[0])
        assert match and int(match[1]) == uid, argv
        # The service launchd knows by the Label of a plist the role bootstraps.
        assert match[2] in {p["Label"] for p in plists.values()}, argv
    else:  # pragma: no cover - a verb outside the documented set
        pytest.fail(f"launchctl {verb} is not one of the verbs checked against launchctl(1): {argv}")


@pytest.mark.parametrize("name", ["api", "ws"])
def test_launchctl_calls_have_the_shape_launchd_accepts(name: str) -> None:
    role = Role(MACOS, {"_app_services_launchd_reload": {"api": True, "ws": True}})
    plists = {}
    for service in ("api", "ws"):
        path = role.eval("_app_services_agent_plist", _app_services_name=service)
        assert path == f"/Users/ana/Library/LaunchAgents/com.integrador.{service}.plist"
        plists[path] = plistlib.loads(
            role.render("launchd/agent.plist.j2", _app_services_name=service).encode()
        )
        # launchd's convention: the file is named after its Label.
        assert Path(path).name == plists[path]["Label"] + ".plist"
    for file, task in launchctl_tasks():
        argv = [template(role, a, _app_services_name=name) for a in task["ansible.builtin.command"]["argv"]]
        assert argv[0] == "launchctl"
        check_argv(argv[1:], 501, plists)
        assert "{{" not in " ".join(argv), (file, argv)


def template(role: Role, value: str, **extra: Any) -> str:
    """A string of a task, templated as Ansible does with the host's variables."""
    templar = Templar(loader=role.loader, variables=role.variables | extra)
    return str(templar.template(trust_as_template(value)))


def test_handlers_read_the_plist_again_only_when_it_changed() -> None:
    """bootout + bootstrap reads a changed plist; kickstart -k restarts with the loaded one."""
    handlers = yaml.safe_load((ROLE / "handlers" / "main.yml").read_text())
    for name in ("api", "ws"):
        mine = [
            h
            for h in handlers
            if h.get("listen") == f"app_services restart {name}" and "launchd" in h.get("when", "")
        ]
        verbs = [h["ansible.builtin.command"]["argv"][1] for h in mine]
        assert verbs == ["bootout", "bootstrap", "kickstart"]
        reload_when = f"_app_services_launchd_reload.{name} | default(false)"
        assert mine[0]["when"].endswith(" and " + reload_when)
        assert mine[1]["when"].endswith(" and " + reload_when)
        assert mine[2]["when"].endswith(" and not " + reload_when)


# Any text a path or a value might hold, but what XML 1.0 cannot carry at all (control
# characters; \r would read back as \n) and surrogates.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029"),
    min_size=1,
    max_size=12,
)
SPECIAL = st.sampled_from(
    ["<", ">", "&", '"', "'", "]]>", "&amp;", "{{ x }}", "{%", "$HOME", "#", "ü", "日本"]
)
PART = (
    st.lists(st.one_of(TEXT, SPECIAL), min_size=1, max_size=4)
    .map("".join)
    .filter(lambda s: "/" not in s and s.strip() == s and s not in (".", ".."))
)


@settings(max_examples=50, deadline=None)
@given(
    root_parts=st.lists(PART, min_size=1, max_size=3),
    pre_start=st.lists(PART, max_size=2),
    extra=st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True), PART, max_size=2),
    name=st.sampled_from(["api", "ws"]),
    reload=st.booleans(),
)
def test_plist_round_trips_through_plistlib(
    root_parts: list[str], pre_start: list[str], extra: dict[str, str], name: str, reload: bool
) -> None:
    root = "/Users/ana/" + "/".join(root_parts)
    settings_ = {
        "integrador_root": root,
        "python_env_venv_path": root + "/backend/.venv",
        "python_env_env_file_path": root + "/backend/.env",
        "app_services_api_pre_start": pre_start,
        "app_services_reload": reload,
    }
    # The role's own environment of the services, plus values with the same characters.
    environment = {"VIRTUAL_ENV": root + "/backend/.venv", "PYTHONUNBUFFERED": "1", **extra}
    role = Role(MACOS, {**settings_, "_app_services_environment": environment})
    svc = role.eval("_app_services_svc", _app_services_name=name)
    if name == "ws":
        environment = {**environment, "PYTHONPATH": root + "/backend"}
    text = role.render("launchd/agent.plist.j2", _app_services_name=name)
    agent = plistlib.loads(text.encode())

    dotenv_run = [
        root + "/backend/.venv/bin/python",
        "/Users/ana/.local/state/integrador/launcher/integrador_run.py",
        "--env-file",
        root + "/backend/.env",
        "--record",
        f"/Users/ana/.local/state/integrador/started/{name}.json",
        "--",
    ]
    assert agent["Label"] == f"com.integrador.{name}"
    assert agent["ProgramArguments"][: len(dotenv_run)] == dotenv_run
    rest = agent["ProgramArguments"][len(dotenv_run) :]
    if name == "api" and pre_start:
        assert rest[:2] == ["/bin/sh", "-c"]
        assert rest[2].split("\n") == ["set -e", *pre_start, 'exec "$@"']
        rest = rest[4:]
    assert rest == [str(a) for a in svc["argv"]]
    assert agent["WorkingDirectory"] == (root + "/backend" if name == "api" else root)
    expected_env = {"PATH": role.eval("_app_services_path"), **{k: str(v) for k, v in environment.items()}}
    assert agent["EnvironmentVariables"] == expected_env
    assert agent["EnvironmentVariables"]["VIRTUAL_ENV"] == root + "/backend/.venv"
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert (
        agent["StandardOutPath"]
        == agent["StandardErrorPath"]
        == f"/Users/ana/Library/Logs/integrador/{name}.log"
    )
