"""Controller side of library/integrador_lock.py: who this run is, waiting for a
held lock, and taking over a lock whose run is gone.

A run is the ansible-playbook process on the controller: this plugin runs in one
of its worker processes, forked from it, so the run's pid is the worker's parent.
Whether a holder's process still exists can only be told on the controller it
ran on (the lock file lives on the managed host): a holder from this controller
(same host name and pid namespace) whose process is gone (or whose pid now
belongs to a process started at another time) left the lock behind, failed or
killed, and the lock is taken over, saying so. A holder from another controller
is waited for, then named.

On a local connection without become (a developer's `make dev`) the lock file
is on this machine, read and written by this process as the module would (its
own functions, loaded from library/integrador_lock.py): taking and releasing
the lock then costs no module execution.
"""

from __future__ import annotations

import datetime
import errno
import functools
import getpass
import importlib.util
import os
import socket
import time
from types import ModuleType
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import module_loader

POLL_SECONDS = 2.0


def pid_start(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot, Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def controller() -> str:
    """This controller: its host name, and its pid namespace where there is one
    (a container on the same host, even with the host's name, is another)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}{'/' + namespace if namespace else ''}"


def alive(record: dict[str, Any]) -> bool:
    """Whether the run of a lock record (from this controller) still runs."""
    try:
        pid = int(record.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        # No such process (a pid beyond the system's range cannot be one).
        return False
    except PermissionError:
        pass
    start = record.get("pid_start")
    now = pid_start(pid)
    return not (start and now and start != now)


def describe(record: dict[str, Any]) -> str:
    if record.get("damaged"):
        return "an unreadable lock record"
    return (
        f"{record.get('playbook', '?')} (pid {record.get('pid', '?')}, user {record.get('user', '?')}, "
        f"on {str(record.get('controller', '?')).split('/')[0]}, started {record.get('started', '?')})"
    )


@functools.cache
def lock_module() -> ModuleType:
    """library/integrador_lock.py, as found on the module path, for in-process use."""
    path = module_loader.find_plugin("integrador_lock")
    if not path:
        raise ImportError("integrador_lock module not found on the module path")
    spec = importlib.util.spec_from_file_location("_integrador_lock_module", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_here(module_args: dict[str, Any]) -> dict[str, Any]:
    """What the module would answer, done by this process (the lock file is local)."""
    lock = lock_module()
    folder = os.path.expanduser(module_args["path"])
    try:
        result = lock.step(
            folder, "run.lock", module_args["state"], module_args["owner"], module_args.get("takeover")
        )
        journal = lock.read_json(os.path.join(folder, "restore.json"))
    except OSError as exc:
        return {
            "failed": True,
            "msg": f"Cannot use the run lock in {folder} ({os.strerror(exc.errno or errno.EIO)}: "
            f"{exc.filename or folder}). Make it writable, or point integrador_state_dir elsewhere.",
        }
    return {"changed": False, "lock": os.path.join(folder, "run.lock"), "journal": journal, **result}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "state", "playbook", "timeout", "interrupted_restore"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        state = args.get("state", "acquired")
        path = args.get("path")
        if not path or state not in ("acquired", "released"):
            return {
                **result,
                "failed": True,
                "msg": "integrador_lock needs path, and state acquired or released.",
            }
        try:
            timeout = float(args.get("timeout", 120))
        except (TypeError, ValueError):
            timeout = -1
        if timeout < 0:
            return {
                **result,
                "failed": True,
                "msg": f"integrador_lock_timeout must be a number of seconds, 0 or more "
                f"(got {args.get('timeout')}).",
            }
        pid = os.getppid()
        me = controller()
        owner = {
            "id": f"{me}:{pid}:{pid_start(pid) or ''}",
            "controller": me,
            "pid": pid,
            "pid_start": pid_start(pid),
            "user": getpass.getuser(),
            "playbook": args.get("playbook", "?"),
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        module_args: dict[str, Any] = {"path": path, "state": state, "owner": owner}
        # The managed host is this machine, as this user: no module run is needed.
        here = self._connection.transport == "local" and not self._play_context.become

        def ask(margs: dict[str, Any]) -> dict[str, Any]:
            if here:
                return run_here(margs)
            return self._execute_module(module_name="integrador_lock", module_args=margs, task_vars=task_vars)

        deadline = time.monotonic() + timeout
        notes: list[str] = []
        waited = False
        waited_for: dict[str, Any] = {}
        while True:
            answer = ask(module_args)
            if answer.get("failed") or state == "released" or answer.get("acquired"):
                break
            holder = answer.get("holder") or {}
            if holder.get("controller") == me and not alive(holder):
                # Gone: failed or killed before releasing. Replaced only if it
                # still holds the lock (another waiter may have been first).
                module_args["takeover"] = holder.get("id")
                notes.append(
                    f"Took over the run lock {answer.get('lock')} left by {describe(holder)}, "
                    "which ended without releasing it (it failed or was killed)."
                )
                continue
            if time.monotonic() >= deadline:
                answer = {
                    "failed": True,
                    "holder": holder,
                    "lock": answer.get("lock"),
                    "msg": f"Another run holds the lock of this stack: {describe(holder)}. Waited "
                    f"{timeout:g} s (integrador_lock_timeout) and changed nothing. Let that run finish, then "
                    f"run this again; if that run is gone (another machine, or a reboot), delete "
                    f"{answer.get('lock')}.",
                }
                break
            if not waited:
                waited_for = holder
                self._display.display(
                    f"Waiting up to {timeout:g} s for the run lock, held by {describe(holder)}",
                    screen_only=True,
                )
                waited = True
            time.sleep(POLL_SECONDS)

        if waited and answer.get("acquired"):
            notes.append(
                f"Waited {time.monotonic() - deadline + timeout:.0f} s for the run lock, held by "
                f"{describe(waited_for)}."
            )
        answer.pop("invocation", None)
        answer["changed"] = False
        journal = answer.get("journal")
        policy = args.get("interrupted_restore", "ignore")
        if state == "acquired" and not answer.get("failed") and journal and policy != "ignore":
            message = (
                f"A restore of {journal.get('backup', '?')} was interrupted ({journal.get('step', '?')}, "
                f"started {journal.get('started', '?')}): finish it with `make restore "
                f'BACKUP="{journal.get("backup", "?")}"` (playbooks/restore.yml -e backup=...), which '
                "completes it whatever step it reached."
            )
            if policy == "fail" and journal.get("step") != "staging":
                ask({**module_args, "state": "released"})
                answer.update(failed=True, msg=message + " Nothing was changed.")
            else:
                notes.append(message)
        if notes:
            answer.setdefault("warnings", []).extend(notes)
        answer["waited"] = waited
        # Read by bench/run.py, which counts module executions.
        answer["in_process"] = here
        return {**result, **answer}
