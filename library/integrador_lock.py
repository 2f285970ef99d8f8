#!/usr/bin/python
"""The run lock of a stack, on the managed host: one converge, backup, restore or
down at a time. The action plugin of the same name (playbooks/action_plugins)
waits for a held lock and decides, on the controller, whether its holder is gone;
this module only reads and writes the lock file, atomically."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_lock
short_description: The run lock of the Integrador stack (one run at a time)
description:
  - Takes, inspects or releases the lock file C(<path>/<name>) on the managed host.
  - The lock holds a JSON record of its run (playbook, controller, pid, user, start time).
  - Every read and write happens under an C(flock) of C(<path>/<name>.guard), so two
    runs never both take the lock, and a reader never sees a half-written record.
  - Use it through its action plugin (playbooks/action_plugins/integrador_lock.py),
    which waits for a held lock and takes over a lock whose run is gone.
  - Never reports a change: the lock is bookkeeping of the run, not state of the stack.
options:
  path:
    description: Folder of the stack's state; created (mode 0700) when missing.
    type: path
    required: true
  name:
    description: File name of the lock in I(path).
    type: str
    default: run.lock
  state:
    description: C(acquired) takes the lock, C(released) gives it back, C(inspect) only reads.
    type: str
    choices: [acquired, released, inspect]
    default: acquired
  owner:
    description: The run asking; its C(id) tells runs apart.
    type: dict
    default: {}
  takeover:
    description: Id of a holder known to be gone; its lock is replaced (only if it still holds it).
    type: str
  journal:
    description: File name in I(path) of the restore journal, returned when present.
    type: str
    default: restore.json
author: Integrador developers
"""

EXAMPLES = r"""
- name: Run lock is taken
  integrador_lock:
    path: ~/.local/state/integrador
    owner: {id: "laptop:1234:5678", playbook: playbooks/dev.yml, pid: 1234}
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock now.
  type: bool
  returned: always
holder:
  description: The record of the run holding the lock (another run's when I(acquired) is false).
  type: dict
  returned: always
lock:
  description: Path of the lock file.
  type: str
  returned: always
journal:
  description: The restore journal (an interrupted restore's record), or null.
  type: dict
  returned: always
"""


def read_json(path: str) -> dict[str, Any] | None:
    """The record in path; None when there is none. A damaged record reads as an
    unknown holder, never as a free lock."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return {"id": "unreadable", "damaged": True}
    return record if isinstance(record, dict) else {"id": "unreadable", "damaged": True}


def write_json(path: str, record: dict[str, Any]) -> None:
    """Replaces path with record in one rename: readers see the old or the new record."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".lock-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def guarded(path: str) -> Iterator[None]:
    """Exclusive flock of <path>.guard for one read-decide-write step."""
    fd = os.open(path + ".guard", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def step(folder: str, name: str, state: str, owner: dict[str, Any], takeover: str | None) -> dict[str, Any]:
    """One lock operation; returns acquired and the holder's record."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    lock = os.path.join(folder, name)
    with guarded(lock):
        current = read_json(lock)
        mine = current is not None and owner.get("id") is not None and current.get("id") == owner.get("id")
        if state == "inspect":
            return {"acquired": mine, "holder": current or {}}
        if state == "released":
            if mine:
                os.unlink(lock)
            return {"acquired": False, "holder": {} if mine else current or {}}
        if current is None or mine or (takeover is not None and current.get("id") == takeover):
            if not mine:
                write_json(lock, owner)
            return {"acquired": True, "holder": owner, "took_over": current if not mine else None}
        return {"acquired": False, "holder": current}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "name": {"type": "str", "default": "run.lock"},
            "state": {"type": "str", "choices": ["acquired", "released", "inspect"], "default": "acquired"},
            "owner": {"type": "dict", "default": {}},
            "takeover": {"type": "str"},
            "journal": {"type": "str", "default": "restore.json"},
        },
        supports_check_mode=True,
    )
    p = module.params
    folder = os.path.expanduser(p["path"])
    if "/" in p["name"] or "/" in p["journal"]:
        module.fail_json(msg=f"integrador_lock: name and journal are file names in {folder}, not paths.")
    try:
        result = step(folder, p["name"], p["state"], p["owner"], p["takeover"])
        journal = read_json(os.path.join(folder, p["journal"]))
    except OSError as exc:
        module.fail_json(
            msg=f"Cannot use the run lock in {folder} ({os.strerror(exc.errno or errno.EIO)}: "
            f"{exc.filename or folder}). Make it writable, or point integrador_state_dir elsewhere."
        )
    module.exit_json(changed=False, lock=os.path.join(folder, p["name"]), journal=journal, **result)


if __name__ == "__main__":
    main()
