"""Issue 26: under supervisord (no systemd user manager: a container, WSL without systemd, this
machine) the preflight, and so `integrador doctor`, skipped the service ports. Now each service's
port must be free or held by the stack's own supervisord, run for real here: the real supervisord
of the tooling virtualenv, with the configuration, program files, launcher and process-group
record (`<program>.pgid`) the app_services role renders, real uvicorn --reload services (the port
held by the reloader's child), and real foreign listeners (another python process); and the real
`integrador doctor` on this machine."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.plugins.loader import filter_loader, init_plugin_loader
from module_loader import ROOT
from test_integrador_preflight import FakeModule, preflight
from test_integrador_preflight_manager import user_manager_answers
from this_machine import alive, free_ports

sys.path.insert(0, str(ROOT / "tests" / "unit" / "app_services"))
from app_services_render import ROLE, Role  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc")


@pytest.fixture(scope="module", autouse=True)
def _role_filters() -> None:
    """The app_services role's filters, as Ansible loads them for the role."""
    with warnings.catch_warnings():
        # Configured already when the app_services tests ran first in this session (their conftest).
        warnings.filterwarnings("ignore", "AnsibleCollectionFinder has already been configured")
        init_plugin_loader()
    filter_loader.add_directory(str(ROLE / "filter_plugins"))


BIN = Path(sys.executable).parent
SUPERVISORD, SUPERVISORCTL = BIN / "supervisord", BIN / "supervisorctl"

# The demo's two services as the smallest ASGI apps: 200 on their health paths.
APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""

# A service whose port is held by a child (as uvicorn --reload's worker holds it): the child
# listens, the program's main process only waits.
LEADER = """
import socket, subprocess, sys, time
child = ("import socket, sys, time; s = socket.socket(); "
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(120)")
subprocess.Popen([sys.executable, "-c", child, sys.argv[1]])
time.sleep(120)
"""

# Another program of the developer's, in a session of its own.
FOREIGN = (
    "import socket, sys, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(120)"
)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def listening(port: int) -> bool:
    return bool(preflight.port_owner("127.0.0.1", port)[0])


def parent_and_group(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[2])


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def foreign_listener(port: int) -> Iterator[int]:
    """Another program holding the port: (its pid)."""
    proc = subprocess.Popen([sys.executable, "-c", FOREIGN, str(port)], start_new_session=True)
    try:
        wait_for(lambda: listening(port), f"the foreign listener on {port}")
        yield proc.pid
    finally:
        kill_group(proc.pid)
        proc.wait()


class Stack:
    """A checkout, state folder and supervisord as the app_services role makes them, with the
    role's own variables and templates (app_services_manager: supervisor)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.state = base / "state"
        self.api_port, self.ws_port = free_ports(2)
        user = pwd.getpwuid(os.getuid())
        self.role = Role(
            {
                "ansible_facts": {
                    "system": "Linux",
                    "user_dir": user.pw_dir,
                    "user_id": user.pw_name,
                    "user_uid": user.pw_uid,
                },
                "integrador_root": str(self.root),
                "python_env_venv_path": sys.prefix,
                "python_env_env_file_path": str(self.root / "backend" / ".env"),
            },
            {
                "integrador_state_dir": str(self.state),
                "app_services_manager": "supervisor",
                "app_services_api_port": self.api_port,
                "app_services_ws_port": self.ws_port,
            },
        )
        self.sv_dir = Path(self.role.eval("_app_services_sv_dir"))
        self.conf = self.sv_dir / "supervisord.conf"

    # --- files ---------------------------------------------------------------------------------
    def write_checkout(self) -> None:
        (self.root / "backend" / "rest_api").mkdir(parents=True)
        (self.root / "ws_gateway").mkdir(parents=True)
        for package in (self.root / "backend" / "rest_api", self.root / "ws_gateway"):
            (package / "__init__.py").write_text("")
            (package / "main.py").write_text(APP)
        (self.root / "backend" / ".env").write_text("APP_LABEL=itest\n")
        # The launcher, where tasks/launcher.yml copies it.
        shutil.copytree(ROLE / "files" / "launcher", self.state / "launcher")

    def write_supervisord_conf(self) -> None:
        for folder in (self.sv_dir, self.sv_dir / "programs", self.sv_dir / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.role.render("supervisor/supervisord.conf.j2"))

    def write_role_program(self, name: str) -> None:
        """The program file the role renders for the service (api or ws)."""
        program = self.role.eval(f"_app_services_services.{name}.program")
        text = self.role.render("supervisor/program.conf.j2", _app_services_name=name)
        (self.sv_dir / "programs" / f"{program}.conf").write_text(text)

    def write_leader_program(self, program: str, port: int) -> None:
        """A program started as the role starts its programs (the role's shell prefix, which records
        the program's process group in <program>.pgid), whose port a child holds; not restarted
        when it ends, so a kill -9 leaves the child in the group."""
        script = self.base / "leader.py"
        script.write_text(LEADER)
        argv = [
            "/bin/sh",
            "-c",
            self.role.eval("_app_services_sv_enter"),
            str(self.sv_dir / f"{program}.pgid"),
            str(self.base),
            "--",
            sys.executable,
            str(script),
            str(port),
        ]
        command = self.role.eval("argv | app_services_supervisor_command", argv=argv)
        (self.sv_dir / "programs" / f"{program}.conf").write_text(
            f"[program:{program}]\ncommand={command}\nautostart=true\nautorestart=false\nstartsecs=0\n"
            "stopasgroup=true\nkillasgroup=true\nstopwaitsecs=5\nredirect_stderr=true\n"
            f"stdout_logfile={self.sv_dir}/logs/{program}.log\n"
        )

    # --- supervisord ---------------------------------------------------------------------------
    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SUPERVISORCTL), "--configuration", str(self.conf), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def start(self) -> None:
        """supervisord as the role's `The supervisord daemon is started` task starts it."""
        subprocess.run([str(SUPERVISORD), "--configuration", str(self.conf)], check=True, timeout=60)
        wait_for(lambda: self.daemon_pid() > 0 and alive(self.daemon_pid()), "supervisord's pid file")

    def daemon_pid(self) -> int:
        try:
            return int((self.sv_dir / "supervisord.pid").read_text().strip())
        except (OSError, ValueError):
            return 0

    def pgid(self, program: str) -> int:
        try:
            return int((self.sv_dir / f"{program}.pgid").read_text().strip())
        except (OSError, ValueError):
            return 0

    def stop(self) -> None:
        """`supervisorctl shutdown` (down.yml), then whatever a program's group left behind."""
        daemon = self.daemon_pid()
        if daemon and alive(daemon):
            self.ctl("shutdown")
            deadline = time.monotonic() + 30
            while alive(daemon) and time.monotonic() < deadline:
                time.sleep(0.1)
            if alive(daemon):
                os.kill(daemon, signal.SIGKILL)
        for record in self.sv_dir.glob("*.pgid"):
            with contextlib.suppress(ValueError, OSError):
                kill_group(int(record.read_text().strip()))

    # --- what the preflight is given -------------------------------------------------------------
    def units(self, **overrides: Any) -> list[dict[str, Any]]:
        """Both services as app_services_preflight_input hands them to the preflight."""
        services = self.role.eval("_app_services_preflight")
        return [dict(services[name], **overrides) for name in ("api", "ws")]


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A short folder: supervisord's socket path must fit in a Unix socket address (108 bytes).
    made = Stack(tmp_path_factory.mktemp("sv"))
    try:
        yield made
    finally:
        made.stop()


def supervisor_check(units: list[dict[str, Any]]) -> Any:
    check = preflight.Preflight(FakeModule(units=units, manager="supervisor"))
    check.settings()
    states, _ = check.units()
    assert states == {} and check.manager == "supervisor"
    return check


def port_problem(port: int, program: str, var: str, holder: int) -> str:
    """The start and the end of the message the preflight gives (the holder's command line between)."""
    return (
        f"Port {port} on 127.0.0.1 is already taken by python",
        f"(pid {holder})",
        f"not by supervisord's {program} program. Stop that program, or set {var} to a free port.",
    )


def assert_names(problem: str, parts: tuple[str, str, str]) -> None:
    start, holder, end = parts
    assert problem.startswith(start) and holder in problem and problem.endswith(end), problem


def test_the_running_stack_holds_its_own_ports_under_supervisord(stack: Stack) -> None:
    """The role's own supervisord, programs and launcher, real uvicorn --reload: a full converge
    (and the doctor) on the running stack finds no port problem (issue 23, 1 under systemd, which
    must not come back under supervisord)."""
    stack.write_checkout()
    stack.write_supervisord_conf()
    stack.write_role_program("api")
    stack.write_role_program("ws")
    stack.start()
    for port in (stack.api_port, stack.ws_port):
        wait_for(lambda port=port: listening(port), f"the service on {port}")
    # uvicorn --reload: the program's main process started a worker of its own (the server).
    api_main = stack.pgid("integrador-api")
    assert api_main and subprocess.run(["pgrep", "-P", str(api_main)], capture_output=True).returncode == 0

    check = supervisor_check(stack.units())
    assert check.problems == []

    # supervisor_dir as the role's default gives it, under the user's home (a leading ~).
    home = stack.base.parent
    tilde = "~/" + str(stack.sv_dir.relative_to(home))
    check = preflight.Preflight(FakeModule(units=stack.units(supervisor_dir=tilde), manager="supervisor"))
    check.user = SimpleNamespace(pw_dir=str(home), pw_name=check.user.pw_name if check.user else "")
    check.settings()
    check.units()
    assert check.problems == []

    # Without supervisord's folder the same processes are nobody's: each port is named.
    check = supervisor_check(stack.units(supervisor_dir=None))
    assert [problem.split(" is already")[0] for problem in check.problems] == [
        f"Port {stack.api_port} on 127.0.0.1",
        f"Port {stack.ws_port} on 127.0.0.1",
    ]


def test_a_port_taken_by_another_program_is_named_with_its_fix(stack: Stack) -> None:
    """A foreign python process on the gateway's port while the stack's supervisord runs the API:
    the message names the port, its holder, supervisord's program and the variable to change."""
    stack.write_supervisord_conf()
    stack.write_leader_program("integrador-api", stack.api_port)
    stack.start()
    wait_for(lambda: listening(stack.api_port), "the API's child listener")
    with foreign_listener(stack.ws_port) as holder:
        check = supervisor_check(stack.units())
    assert len(check.problems) == 1, check.problems
    expected = port_problem(stack.ws_port, "integrador-ws", "app_services_ws_port", holder)
    assert_names(check.problems[0], expected)


def test_a_child_of_a_program_and_what_its_recorded_group_left_are_ours(stack: Stack) -> None:
    """The port is held by a child of the program's main process; then, after a kill -9 of that
    main process, by the child alone (its parent gone, still in the group the role's start
    recorded). Both are the stack's while its supervisord runs; once supervisord is gone, nothing
    is, and the same listener is named as another program's."""
    stack.write_supervisord_conf()
    stack.write_leader_program("integrador-api", stack.api_port)
    stack.start()
    wait_for(lambda: listening(stack.api_port), "the API's child listener")
    leader = stack.pgid("integrador-api")
    in_use, holder, _ = preflight.port_owner("127.0.0.1", stack.api_port)
    assert in_use and holder and leader and holder != leader
    assert parent_and_group(holder) == (leader, leader)  # the main process's child, in its group

    assert supervisor_check(stack.units()).problems == []

    os.kill(leader, signal.SIGKILL)
    wait_for(lambda: not alive(leader), "the program's main process to end")
    assert alive(holder) and listening(stack.api_port)
    assert parent_and_group(holder)[0] != leader  # nobody's child of the program any more
    assert supervisor_check(stack.units()).problems == []

    # supervisord stopped: the program was no longer running, so its group's worker lives on.
    stack.ctl("shutdown")
    wait_for(lambda: not alive(stack.daemon_pid()), "supervisord to stop")
    assert alive(holder) and listening(stack.api_port)
    check = supervisor_check(stack.units())
    assert len(check.problems) == 1, check.problems
    assert_names(
        check.problems[0], port_problem(stack.api_port, "integrador-api", "app_services_api_port", holder)
    )


def test_a_stale_pid_file_makes_nothing_ours(stack: Stack) -> None:
    """supervisord's pid file left behind, its pid now another process (this test): the program's
    listener is not the stack's."""
    stack.write_supervisord_conf()
    stack.write_leader_program("integrador-api", stack.api_port)
    stack.start()
    wait_for(lambda: listening(stack.api_port), "the API's child listener")
    assert supervisor_check(stack.units()).problems == []
    daemon = stack.daemon_pid()
    (stack.sv_dir / "supervisord.pid").write_text(f"{os.getpid()}\n")
    try:
        check = supervisor_check(stack.units())
    finally:
        (stack.sv_dir / "supervisord.pid").write_text(f"{daemon}\n")
    assert len(check.problems) == 1 and check.problems[0].startswith(f"Port {stack.api_port} on 127.0.0.1")


@pytest.mark.skipif(
    user_manager_answers() or os.path.isdir("/run/systemd/system"),
    reason="a systemd user manager answers on this machine",
)
def test_auto_without_a_user_manager_checks_the_ports_against_supervisord(stack: Stack) -> None:
    """The module as Ansible runs it (its argument spec included), manager auto, on a machine
    where no systemd user manager answers: supervisord is chosen, the stack's own port is fine,
    a foreign listener on the other is named."""
    from ansible_adhoc import run_module

    stack.write_supervisord_conf()
    stack.write_leader_program("integrador-api", stack.api_port)
    stack.start()
    wait_for(lambda: listening(stack.api_port), "the API's child listener")
    units = stack.units()
    run = run_module("integrador_preflight", {"units": units, "manager": "auto", "fail_on_problems": False})
    assert run.rc == 0 and run.result.get("manager") == "supervisor", run.output
    assert run.result["problems"] == [], run.output

    with foreign_listener(stack.ws_port) as holder:
        run = run_module("integrador_preflight", {"units": units, "manager": "auto"})
    assert run.rc != 0, run.output
    assert run.result["problems"] and len(run.result["problems"]) == 1, run.output
    expected = port_problem(stack.ws_port, "integrador-ws", "app_services_ws_port", holder)
    assert_names(run.result["problems"][0], expected)
    assert "Preflight found 1 problem; nothing was changed" in run.result["msg"]


@pytest.mark.parametrize("manager", ["auto", "supervisor"])
def test_integrador_doctor_names_a_service_port_taken_by_another_program(manager: str) -> None:
    """`integrador doctor` (the real CLI and playbooks/doctor.yml on this machine's inventory;
    `--tags api --skip-tags docker`: the checkout, Python and the API, no Docker engine needed)
    with app_services_manager auto (where no systemd user manager answers) or supervisor: the
    API's port, taken by another program, is named with its fix; the run fails, changing nothing."""
    if manager == "auto" and (user_manager_answers() or os.path.isdir("/run/systemd/system")):
        pytest.skip("a systemd user manager answers on this machine: auto takes systemd")
    (port,) = free_ports(1)
    with foreign_listener(port) as holder:
        proc = subprocess.run(
            [str(BIN / "integrador"), "--converge", str(BIN / "ansible-playbook"), "doctor", "--"]
            + ["--tags", "api", "--skip-tags", "docker"]
            + ["-e", f"app_services_manager={manager}", "-e", f"app_services_api_port={port}"],
            env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"FAILED Port {port} on 127.0.0.1 is already taken by python" in proc.stdout, proc.stdout
    assert f"(pid {holder})" in proc.stdout, proc.stdout
    assert (
        "not by supervisord's integrador-api program. Stop that program, or set app_services_api_port "
        "to a free port." in proc.stdout
    ), proc.stdout
    assert "The preflight found 1 problem(s)" in proc.stdout, proc.stdout
    assert re.search(r"\bchanged=0\b.*\bfailed=1\b", proc.stdout), proc.stdout
