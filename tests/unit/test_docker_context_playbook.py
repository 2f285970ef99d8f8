"""The real preflight role and redis defaults, run by the real ansible-playbook on this machine
with a home whose Docker context is Colima's (~/.colima/default/docker.sock, here a link to
this machine's engine socket): with nothing set, the run reaches the engine through the
context, and redis_docker_host follows it. A context whose socket is not there stops the run
naming the context and the socket. Nothing is created: the preflight only reads the engine's
/info and inspects a container name no one uses."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = "/var/run/docker.sock"
PLAYBOOK = """
- name: Docker endpoint from the context
  hosts: localhost
  gather_facts: false
  vars:
    redis_container_name: itest_macos_context_never_created
    preflight_stack_parts: [redis]
    preflight_ports: false
    preflight_fail: true
    preflight_min_free_docker_mb: 0
  tasks:
    - name: Preflight
      ansible.builtin.import_tasks: "@REPO@/playbooks/tasks/preflight_stack.yml"
    - name: What the roles would use
      ansible.builtin.copy:
        content: "{{ {'host': redis_docker_host, 'docker': preflight_state.docker} | to_json }}"
        dest: "{{ lookup('ansible.builtin.env', 'OUT') }}"
        mode: "0600"
"""

pytestmark = pytest.mark.skipif(not Path(ENGINE).is_socket(), reason=f"no Docker engine at {ENGINE}")


def run(home: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    playbook = home / "playbook.yml"
    playbook.write_text(PLAYBOOK.replace("@REPO@", str(REPO)))
    out = home / "out.json"
    base = {
        k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG")
    }
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook), *args],
        cwd=REPO,
        env={**base, "HOME": str(home), "OUT": str(out), "ANSIBLE_NOCOLOR": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, out


def colima_home(tmp_path: Path, link_to_engine: bool) -> str:
    """A Mac-like home with Colima's context current, as the docker CLI writes it."""
    socket = tmp_path / ".colima" / "default" / "docker.sock"
    socket.parent.mkdir(parents=True)
    if link_to_engine:
        socket.symlink_to(ENGINE)
    host = f"unix://{socket}"
    meta = tmp_path / ".docker" / "contexts" / "meta" / hashlib.sha256(b"colima").hexdigest() / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps(
            {
                "Name": "colima",
                "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
            },
            separators=(",", ":"),
        )
    )
    (tmp_path / ".docker" / "config.json").write_text(
        json.dumps({"auths": {}, "currentContext": "colima"}, indent="\t")
    )
    return host


def test_engine_is_reached_through_the_current_context(tmp_path: Path) -> None:
    host = colima_home(tmp_path, link_to_engine=True)
    proc, out = run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(out.read_text())
    assert seen["host"] == host
    assert seen["docker"]["reachable"] is True and seen["docker"]["host"] == host
    assert "'colima'" in seen["docker"]["host_source"]


def test_integrador_docker_host_wins_over_the_context(tmp_path: Path) -> None:
    # The context's socket is missing, yet the run does not go there: integrador_docker_host wins.
    colima_home(tmp_path, link_to_engine=False)
    proc, out = run(tmp_path, "-e", f"integrador_docker_host=unix://{ENGINE}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text())["host"] == f"unix://{ENGINE}"


def test_context_whose_engine_is_not_there_is_named(tmp_path: Path) -> None:
    host = colima_home(tmp_path, link_to_engine=False)
    proc, _ = run(tmp_path)
    assert proc.returncode != 0
    assert f"Cannot reach the Docker engine at {host} (from the Docker context 'colima'" in proc.stdout, (
        proc.stdout
    )
    assert "Traceback" not in proc.stdout + proc.stderr


def test_context_that_does_not_exist_is_named(tmp_path: Path) -> None:
    colima_home(tmp_path, link_to_engine=True)
    proc, _ = run(tmp_path, DOCKER_CONTEXT="orbstack")
    assert proc.returncode != 0
    assert "the Docker context 'orbstack' (DOCKER_CONTEXT) does not exist" in proc.stdout, proc.stdout
