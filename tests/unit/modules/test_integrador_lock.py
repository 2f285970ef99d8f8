"""The run lock: one holder at a time across real processes, a gone run's lock
taken over only by someone who saw it gone, never a half-written record, and the
controller side's judgement of a holder's process (real processes, killed)."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = load("integrador_lock", ROOT / "library" / "integrador_lock.py")
plugin = load("integrador_lock_action", ROOT / "playbooks" / "action_plugins" / "integrador_lock.py")


def owner(run: str) -> dict[str, Any]:
    return {"id": run, "playbook": "playbooks/dev.yml", "pid": 1, "user": "dev"}


def test_first_run_takes_the_lock_and_a_second_sees_it_held(tmp_path: Path) -> None:
    first = lock.step(str(tmp_path / "state"), "run.lock", "acquired", owner("a"), None)
    assert first["acquired"] and first["holder"]["id"] == "a"
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert ((tmp_path / "state" / "run.lock").stat().st_mode & 0o777) == 0o600

    second = lock.step(str(tmp_path / "state"), "run.lock", "acquired", owner("b"), None)
    assert not second["acquired"] and second["holder"]["id"] == "a"
    # The same run asking again (a second play) holds it already.
    assert lock.step(str(tmp_path / "state"), "run.lock", "acquired", owner("a"), None)["acquired"]


def test_only_the_holder_releases(tmp_path: Path) -> None:
    lock.step(str(tmp_path), "run.lock", "acquired", owner("a"), None)
    lock.step(str(tmp_path), "run.lock", "released", owner("b"), None)
    assert json.loads((tmp_path / "run.lock").read_text())["id"] == "a"
    lock.step(str(tmp_path), "run.lock", "released", owner("a"), None)
    assert not (tmp_path / "run.lock").exists()
    assert lock.step(str(tmp_path), "run.lock", "acquired", owner("b"), None)["acquired"]


def test_takeover_replaces_only_the_holder_it_names(tmp_path: Path) -> None:
    lock.step(str(tmp_path), "run.lock", "acquired", owner("gone"), None)
    # A waiter that saw another holder gone cannot take this one.
    assert not lock.step(str(tmp_path), "run.lock", "acquired", owner("b"), "other")["acquired"]
    took = lock.step(str(tmp_path), "run.lock", "acquired", owner("b"), "gone")
    assert took["acquired"] and took["took_over"]["id"] == "gone"
    # A second waiter that also saw "gone" is too late: b holds it now.
    assert not lock.step(str(tmp_path), "run.lock", "acquired", owner("c"), "gone")["acquired"]


def test_damaged_record_is_held_by_nobody_known_never_free(tmp_path: Path) -> None:
    (tmp_path / "run.lock").write_text('{"id": "a", "pid"')
    answer = lock.step(str(tmp_path), "run.lock", "acquired", owner("b"), None)
    assert not answer["acquired"] and answer["holder"]["damaged"]


def _contend(folder: str, run: str, results: Any) -> None:
    results.put((run, lock.step(folder, "run.lock", "acquired", owner(run), None)["acquired"]))


def test_many_processes_at_once_only_one_acquires(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(tmp_path), f"run{i}", results)) for i in range(12)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    winners = [run for run, acquired in (results.get(timeout=5) for _ in procs) if acquired]
    assert len(winners) == 1
    assert json.loads((tmp_path / "run.lock").read_text())["id"] == winners[0]


@settings(max_examples=40, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(["playbook", "user", "started", "controller", "pid"]),
        st.one_of(st.text(), st.integers(), st.none()),
    )
)
def test_any_holder_record_is_described_and_judged_without_error(record: dict[str, Any]) -> None:
    text = plugin.describe(record)
    assert isinstance(text, str) and text
    assert plugin.alive(record) in (True, False)


def test_a_killed_process_is_gone_and_a_running_one_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    record = {"pid": proc.pid, "pid_start": plugin.pid_start(proc.pid)}
    try:
        assert plugin.alive(record)
        # The same pid with another start time is another process (a reused pid).
        if record["pid_start"]:
            assert not plugin.alive({**record, "pid_start": "1"})
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not plugin.alive(record)


def test_this_controller_names_its_pid_namespace() -> None:
    me = plugin.controller()
    assert me.split("/")[0]
    if Path("/proc/self/ns/pid").exists():
        assert "pid:[" in me


@pytest.mark.parametrize("bad", ["../x", "a/b"])
def test_module_refuses_paths_as_names(tmp_path: Path, bad: str) -> None:
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(tmp_path), "name": bad}})
    proc = subprocess.run(
        [sys.executable, str(ROOT / "library" / "integrador_lock.py")],
        input=args,
        capture_output=True,
        text=True,
        check=False,
    )
    answer = json.loads(proc.stdout)
    assert answer["failed"] and "are file names" in answer["msg"]


FAILING_RUN = """
- name: A day-two run that stops on an ordinary refusal
  hosts: localhost
  gather_facts: false
  vars:
    _day2_lock_playbook: playbooks/itest.yml
    integrador_state_dir: "{state}"
  tasks:
    - name: Run lock
      ansible.builtin.import_tasks: {root}/playbooks/tasks/lock.yml
    - name: An ordinary refusal
      ansible.builtin.assert:
        that: "{ok}"
        fail_msg: refused on purpose
    - name: Run lock is released
      ansible.builtin.import_tasks: {root}/playbooks/tasks/unlock.yml
"""


def run_playbook(tmp_path: Path, ok: bool) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(FAILING_RUN.format(state=tmp_path / "state", root=ROOT, ok="true" if ok else "false"))
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            *("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"),
            str(play),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_ACTION_PLUGINS": str(ROOT / "playbooks" / "action_plugins"),
            "ANSIBLE_NOCOLOR": "1",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_run_that_fails_releases_its_lock_and_the_next_takes_over_nothing(tmp_path: Path) -> None:
    """Issue 28, 5: a run that failed on an ordinary refusal left its lock, and the next run
    warned that it took over a lock left behind. The real playbook tasks and callback."""
    failed = run_playbook(tmp_path, ok=False)
    assert failed.returncode != 0 and "refused on purpose" in failed.stdout, failed.stdout
    assert not (tmp_path / "state" / "run.lock").exists(), failed.stdout
    passed = run_playbook(tmp_path, ok=True)
    assert passed.returncode == 0, passed.stdout
    assert "Took over the run lock" not in passed.stdout + passed.stderr
    assert not (tmp_path / "state" / "run.lock").exists()
