"""Tells a service that will not answer from one still starting: uvicorn --reload.

Under `--reload`, uvicorn's reloader (the process the unit or program runs) serves nothing
itself: it starts the app in a child process (multiprocessing, beside multiprocessing's
resource tracker). When that child exits at start (a setting the app's settings refuse, an
import error), the reloader lives on and only starts a new child when a watched file changes.
The manager sees the service running, and its health URL will not answer however long one
waits. Waiting the whole health timeout for it cost a minute per wait on the real checkout.

ReloadWatch follows the process app_services' launcher recorded at the service's start
(<state>/started/<service>.json, its "pid"; the launcher execs the command, so the pid is
uvicorn's own): once a worker child has been seen, or multiprocessing's resource tracker
says one was started, or the reloader is long past its start with no child at all, and no
live worker has been there for `grace` seconds, it answers why. It answers nothing (keep
waiting) whenever it cannot tell: no record, a pid that is gone or changed, a command without
--reload, no /proc (macOS, Windows): an input it cannot read never shortens a wait. Standard
library only: it runs on the managed host's Python, never on a library of the user's
virtualenv."""

from __future__ import annotations

import json
import os
import time

# A reload (a file changed) stops the old worker and starts the next within a second or so.
GRACE = 3.0
TRACKER = b"multiprocessing.resource_tracker"
# multiprocessing starts its resource tracker just before the first worker: a tracker with no
# worker beside it for the grace period, on a reloader at least this old, means that worker
# was started and has exited.
STARTED = 3.0
# A reloader this old with no child at all (its worker and the tracker both killed, as
# `pkill -9 -P <pid>` or an OOM kill of the group would) is long past starting its first worker:
# it has lost it. Younger, it may still be importing before its first start: keep waiting.
ALONE = 20.0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _stat(pid: int | str) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name (state first), [] when gone.
    The name is in parentheses and may hold spaces: the fields start after its last ")"."""
    stat = _read(f"/proc/{pid}/stat")
    return stat[stat.rfind(b")") + 2 :].split()


def recorded_pid(record: str) -> int:
    """The pid the launcher recorded at the service's last start, 0 when there is none."""
    try:
        with open(record, encoding="utf-8") as handle:
            pid = json.load(handle).get("pid", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else 0


def reloads(pid: int) -> bool:
    """The process runs uvicorn with --reload (its command line, read from /proc)."""
    argv = _read(f"/proc/{pid}/cmdline").split(b"\0")
    return b"--reload" in argv and any(b"uvicorn" in part for part in argv)


def children(pid: int) -> list[int] | None:
    """The pid's child processes (None when /proc cannot tell)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in threads:
        listed = _read(f"/proc/{pid}/task/{tid}/children")
        found += [int(word) for word in listed.split()]
    if found or os.path.exists(f"/proc/{pid}/task/{pid}/children"):
        return found
    # A kernel without CONFIG_PROC_CHILDREN: every process's parent, from its stat line.
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    for entry in entries:
        fields = _stat(entry)
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.append(int(entry))
    return found


def workers(pid: int) -> tuple[list[int], bool] | None:
    """The reloader's app workers (its children other than multiprocessing's resource tracker),
    and whether that tracker runs: multiprocessing starts it with the first worker, so a
    tracker beside no worker means a worker was started and is gone. None: /proc cannot tell."""
    kids = children(pid)
    if kids is None:
        return None
    # An exited worker its reloader has not reaped yet stays a child: a zombie (Z), no worker.
    lines = {kid: _read(f"/proc/{kid}/cmdline") for kid in kids if state(kid) not in ("", "Z", "X")}
    found = [kid for kid, line in lines.items() if TRACKER not in line]
    return found, len(found) < len(lines)


def state(pid: int) -> str:
    """The process's state letter (R, S, Z...), empty when it is gone."""
    fields = _stat(pid)
    return fields[0].decode("ascii", "replace") if fields else ""


def age(pid: int) -> float:
    """Seconds since the process started (0 when /proc cannot tell)."""
    fields = _stat(pid)
    try:
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(_read("/proc/uptime").split()[0])
    except (IndexError, ValueError, OSError):
        return 0.0
    return max(0.0, uptime - started)


class ReloadWatch:
    """Call dead() at each round of a wait: a message once the recorded uvicorn --reload
    process has lost the worker it had for `grace` seconds, else an empty string."""

    def __init__(self, record: str, grace: float = GRACE, alone: float = ALONE) -> None:
        self.record = record
        self.grace = grace
        self.alone = alone
        self.pid = 0
        self.seen = False
        self.gone_since: float | None = None

    def dead(self) -> str:
        pid = recorded_pid(self.record) if self.record else 0
        if pid != self.pid:
            self.pid, self.seen, self.gone_since = pid, False, None
        if not pid or not reloads(pid):
            return ""
        seen = workers(pid)
        if seen is None:
            return ""
        found, tracker = seen
        if found:
            self.seen, self.gone_since = True, None
            return ""
        # Never seen by this wait (a worker that died before it began): the tracker the first
        # worker started, on a reloader past its own start, says there was one; with no tracker
        # either, only a reloader long past its start (ALONE) has certainly lost its worker.
        if not (self.seen or age(pid) >= (STARTED if tracker else self.alone)):
            self.gone_since = None
            return ""
        now = time.monotonic()
        if self.gone_since is None:
            self.gone_since = now
        if now - self.gone_since < self.grace:
            return ""
        return (
            f"its uvicorn --reload process (pid {pid}) is running, but the app's worker it started "
            f"exited and no new one came for {self.grace:g} s: uvicorn waits for a file change to "
            "try again, so the service will not answer; the reason is in its log"
        )
