"""playbooks/callback_plugins/integrador_fork_gc.py: before each task (and handler) is forked, the
last task's garbage is collected and what is left is frozen, so the workers' collections do not
visit (and so copy) the controller's heap. Checked in this process: the freeze happens, the
garbage of the young generations is freed first (nothing that could be freed stays frozen for
the rest of the run), and a run with it gives the same results (a real ansible-playbook)."""

from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "playbooks" / "callback_plugins" / "integrador_fork_gc.py"


@pytest.fixture
def plugin() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("integrador_fork_gc", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gc.unfreeze()
    yield module
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.mark.parametrize("hook", ["task", "handler"])
def test_each_task_start_collects_the_young_garbage_then_freezes_the_rest(
    plugin: ModuleType, hook: str
) -> None:
    callback = plugin.CallbackModule()
    kept = Node()
    garbage = weakref.ref(Node())
    assert garbage() is not None  # a cycle outlives its last name until a collection
    assert gc.get_freeze_count() == 0

    if hook == "task":
        callback.v2_playbook_on_task_start(object(), False)
    else:
        callback.v2_playbook_on_handler_task_start(object())

    assert garbage() is None, "the last task's garbage would stay frozen for the whole run"
    assert gc.get_freeze_count() > 0
    assert kept.me is kept


def test_ansible_loads_it_for_every_playbook_of_playbooks() -> None:
    """Ansible adds callback_plugins/ beside a playbook to its plugin path (every playbook of
    playbooks/, and the scenarios' converge.yml, which imports dev.yml from there); the plugin
    needs no enabling."""
    probe = (
        "from ansible.plugins.loader import add_all_plugin_dirs, callback_loader\n"
        f"add_all_plugin_dirs({str(PLUGIN.parents[1])!r})\n"
        "print(*sorted(p.ansible_name for p in callback_loader.all(class_only=True)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "integrador_fork_gc" in proc.stdout.split(), proc.stdout
    spec = importlib.util.spec_from_file_location("integrador_fork_gc_flags", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CallbackModule.CALLBACK_NEEDS_ENABLED is False


def test_a_run_with_it_gives_the_same_results(tmp_path: Path) -> None:
    """A real ansible-playbook with the plugin beside its playbook: templating, facts set by one
    task and read by the next, a handler, all as without it."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.set_fact:\n        answer: '{{ 6 * 7 }}'\n"
        "    - ansible.builtin.command: 'true'\n      notify: checked\n"
        "    - ansible.builtin.assert:\n        that: answer | int == 42\n"
        "  handlers:\n    - name: checked\n"
        "      ansible.builtin.debug:\n        msg: 'handler ran {{ answer }}'\n"
    )
    (tmp_path / "callback_plugins").symlink_to(PLUGIN.parent)
    ansible_playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run(
        [str(ansible_playbook), "-i", "localhost,", "-c", "local", str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": f"{ansible_playbook.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        },
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "handler ran 42" in proc.stdout, proc.stdout
    assert "ok=4" in proc.stdout and "changed=1" in proc.stdout and "failed=0" in proc.stdout, proc.stdout
