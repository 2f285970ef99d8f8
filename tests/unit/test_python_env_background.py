"""python_env's background install, as playbooks/dev.yml runs it: the entry point
`background` starts the module with async, other work goes on, the main entry point runs it
again in the foreground (same run_token), which waits for the background run and reports its
install. Real ansible-playbook, real pip, real virtualenvs, on a scratch checkout; Ansible's
async job files go to a scratch folder (ANSIBLE_ASYNC_DIR), where the test can see them.

What this proves: the install is reported once, as a change, by the foreground task (and not
as a change by the background start); a second run changes nothing; a background install that
fails is done again in the foreground, which fails with pip's own message; and in every case
the background job's file (it holds the module's arguments) is gone afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Install starts in the background
      ansible.builtin.include_role:
        name: python_env
        tasks_from: background.yml
    - name: Other work goes on meanwhile
      ansible.builtin.command: sleep 1
      changed_when: false
    - name: The role waits for it and goes on
      ansible.builtin.include_role:
        name: python_env
"""


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    home = tmp_path / "home"
    checkout = tmp_path / "integrador"
    (checkout / "backend" / "rest_api").mkdir(parents=True)
    (checkout / "backend" / "rest_api" / "main.py").write_text("app = 1\n")
    (checkout / "ws_gateway").mkdir()
    home.mkdir()
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return {"tmp": tmp_path, "home": home, "checkout": checkout}


def converge(world: dict[str, Path], requirements: str) -> tuple[int, str, dict[str, Any]]:
    (world["checkout"] / "backend" / "requirements.txt").write_text(requirements)
    env = dict(
        os.environ,
        ANSIBLE_ASYNC_DIR=str(world["home"] / ".ansible_async"),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_LIBRARY=str(REPO / "library"),
        ANSIBLE_MODULE_UTILS=str(REPO / "module_utils"),
        ANSIBLE_FILTER_PLUGINS=str(REPO / "filter_plugins"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "localhost,",
        str(world["tmp"] / "play.yml"),
        "-e",
        json.dumps({"integrador_root": str(world["checkout"]), "python_env_venv": "backend/.venv"}),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    document, _ = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{") :])
    tasks = {}
    for play in document["plays"]:
        for task in play["tasks"]:
            tasks.setdefault(task["task"]["name"], []).append(task["hosts"].get("localhost", {}))
    return done.returncode, done.stdout + done.stderr, tasks


def job_files(world: dict[str, Path]) -> list[str]:
    folder = world["home"] / ".ansible_async"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_background_install_is_reported_once_and_leaves_no_job_file(world: dict[str, Path]) -> None:
    rc, output, tasks = converge(world, "# nothing to install: no index needed\n")
    assert rc == 0, output
    started = tasks["python_env : Virtualenv holds the backend's requirements (started in the background)"][0]
    assert started.get("ansible_job_id") and not started.get("changed"), started
    foreground = tasks["python_env : Virtualenv holds the backend's requirements"][-1]
    assert foreground["changed"] and foreground["installed"] and foreground["rebuilt"], foreground
    assert foreground["install_seconds"] > 0, foreground
    assert job_files(world) == [], "the background job's file was left behind"
    assert (world["checkout"] / "backend" / ".venv" / "pyvenv.cfg").is_file()

    rc, output, tasks = converge(world, "# nothing to install: no index needed\n")
    assert rc == 0, output
    foreground = tasks["python_env : Virtualenv holds the backend's requirements"][-1]
    assert not foreground["changed"] and not foreground["installed"], foreground
    assert job_files(world) == []


def test_failed_background_install_fails_in_the_foreground_with_pips_message(
    world: dict[str, Path],
) -> None:
    # A local path that is not there: pip fails at once, without an index.
    rc, output, tasks = converge(world, "./no-such-project-here\n")
    assert rc != 0, output
    foreground = tasks["python_env : Virtualenv holds the backend's requirements"][-1]
    assert foreground.get("failed"), foreground
    message = foreground["msg"]
    assert "pip install failed" in message and "no-such-project-here" in message, foreground
    assert job_files(world) == [], "the background job's file was left behind"
