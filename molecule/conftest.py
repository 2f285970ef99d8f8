"""Shared by every scenario's testinfra tests: the test settings, and a way to
run the scenario's converge again with other variables (for the failure and
recovery cases)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent
PORT_EXPRESSION = re.compile(r"\{\{ (\d+) \+ itest_port_offset \| int \}\}")
SHARED_VARS = PROJECT / "molecule" / "shared" / "group_vars" / "all" / "main.yml"


@pytest.fixture(scope="session")
def test_vars() -> dict[str, Any]:
    """The shared test settings, with the scenario's prefix filled in as Ansible does."""
    raw: dict[str, Any] = yaml.safe_load(SHARED_VARS.read_text())
    scenario = os.environ["MOLECULE_SCENARIO_NAME"]
    prefix = f"itest_{scenario}"
    offset = raw["itest_port_offsets"].get(scenario, 90)
    rendered: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            port = PORT_EXPRESSION.fullmatch(value)
            value = int(port.group(1)) + offset if port else value.replace("{{ itest_prefix }}", prefix)
        rendered[key] = value
    return rendered


@pytest.fixture(scope="module")
def api(test_vars: dict[str, Any]) -> str:
    """Base URL of the REST API the scenario converged."""
    return f"http://127.0.0.1:{test_vars['app_services_api_port']}"


@pytest.fixture(scope="module")
def gateway(test_vars: dict[str, Any]) -> str:
    """Base URL of the WebSocket gateway the scenario converged."""
    return f"http://127.0.0.1:{test_vars['app_services_ws_port']}"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


class ConvergeResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr

    @property
    def changed(self) -> int:
        for line in self.output.splitlines():
            if "changed=" in line and ("ok=" in line):
                return int(line.split("changed=")[1].split()[0])
        raise AssertionError(f"no PLAY RECAP in output:\n{self.output}")

    def __repr__(self) -> str:
        return f"ConvergeResult(rc={self.rc})\n{self.output[-4000:]}"


def playbook_command(
    playbook: Path, extra_vars: dict[str, Any] | None = None, *args: str
) -> tuple[list[str], dict[str, str]]:
    """The ansible-playbook command and environment molecule would use for the scenario's instances."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_LIBRARY=str(PROJECT / "library"),
        ANSIBLE_MODULE_UTILS=str(PROJECT / "module_utils"),
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", yaml.safe_dump({key: value}, default_flow_style=True).strip()]
    return cmd + list(args), env


def run_playbook(playbook: Path, extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    cmd, env = playbook_command(playbook, extra_vars, *args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
    return ConvergeResult(proc)


def scenario_converge() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"


@pytest.fixture(scope="session")
def converge() -> Callable[..., ConvergeResult]:
    """Run the scenario's converge.yml again, with extra variables."""

    def _converge(extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
        return run_playbook(scenario_converge(), extra_vars, *args)

    return _converge


@contextlib.contextmanager
def occupied_port(host: Any) -> Iterator[int]:
    """A free port on the laptop's loopback, held by another program (a plain
    python3 listener, as a developer's own server would) while in use."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    squatter = (
        f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(120)"
    )
    host.run(f'nohup python3 -c "{squatter}" >/dev/null 2>&1 &')
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and host.run(f"ss -Hltn 'sport = :{port}' | grep -q .").rc != 0:
        time.sleep(0.2)
    try:
        yield port
    finally:
        host.run(f"pkill -f 'bind.*127.0.0.1.,{port}'")
