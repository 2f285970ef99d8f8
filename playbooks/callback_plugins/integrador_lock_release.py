"""Releases the stack's run lock when a run ends on a failure (issue 28, 5).

tasks/unlock.yml releases it at the end of a run that succeeds; a run that fails on an
ordinary refusal (no BACKUP, an assertion, a service that does not answer) never reached that
task, so the next run warned that it "took over" a lock left behind. This callback, loaded for
every run (it needs no enabling), notes each lock this run took on this machine (the lock
action did the work in-process: a local connection) and, once the run ends whatever its
outcome, releases the ones it still holds, through the lock module's own step (under its
guard, and only while the file still names this run). A run that is killed runs no callback:
its lock is still taken over by the next run, with the warning.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase

LIBRARY = Path(__file__).resolve().parents[2] / "library" / "integrador_lock.py"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "integrador_lock_release"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: dict[str, dict[str, Any]] = {}

    def v2_runner_on_ok(self, result: Any) -> None:
        if not str(result._task.action).endswith("integrador_lock"):
            return
        answer = result._result
        path = answer.get("lock")
        if not path or not answer.get("in_process"):
            return
        if answer.get("acquired"):
            self.held[path] = dict(answer.get("holder") or {})
        elif self.held.get(path) and not answer.get("holder"):
            self.held.pop(path, None)  # released by tasks/unlock.yml

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if not self.held:
            return
        spec = importlib.util.spec_from_file_location("_integrador_lock_release", LIBRARY)
        if not spec or not spec.loader:
            return
        lock = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lock)
        for path, holder in self.held.items():
            # The run is this process (the lock action ran in one of its workers).
            if int(holder.get("pid", 0) or 0) != os.getpid():
                continue
            try:
                lock.step(os.path.dirname(path), os.path.basename(path), "released", holder, None)
            except OSError:
                pass  # the next run takes it over, saying so
