"""Start a service with backend/.env loaded as python-dotenv reads it, then become it.

    python integrador_run.py --env-file FILE [--record FILE] -- COMMAND [ARG...]

What `python -m dotenv --file FILE run --override -- COMMAND` does, brought by the tool
instead of taken from the checkout's virtualenv: python-dotenv 1.0.x runs COMMAND as a
child (the service manager's main process is then not the one holding the port), 1.2.x
replaces itself with it. This launcher always replaces itself (exec), so the process the
service manager started is the service, whatever python-dotenv the checkout pins.

--record writes, before the exec, the SHA-256 of the .env bytes it read (and the file's
path): a later converge compares it with the file as it is now and restarts exactly the
services that started with other bytes (a hand edit included).

The record also names the pid it started as, which is the service's process group: under
uvicorn --reload the port is held by a worker in that group. When the previous start's main
process is gone but its group lives on (supervisord restarts a program whose main process was
killed, and kills its group only when it stops the program itself), the group is stopped
before the new start (SIGTERM, then SIGKILL after 10 s): otherwise the orphaned worker keeps
the port, answers health checks with the old code, and the new start cannot bind. systemd
(the unit's cgroup) and launchd (the job's process group) do this themselves; then there is
nothing left to stop.

Standard library and integrador_dotenv.py (beside this file) only: it runs with the
checkout's Python (3.8 or newer), whatever is installed in its virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from integrador_dotenv import environment  # noqa: E402


def fail(message: str) -> None:
    sys.stderr.write(f"integrador_run: {message}\n")
    sys.exit(2)


def parse_args(argv: list[str]) -> tuple[str, str | None, list[str]]:
    env_file, record, rest = None, None, list(argv)
    while rest and rest[0] != "--":
        option = rest.pop(0)
        if option in ("--env-file", "--record") and rest:
            value = rest.pop(0)
            if option == "--env-file":
                env_file = value
            else:
                record = value
        else:
            fail(
                f"unknown option {option!r}; "
                "usage: integrador_run.py --env-file FILE [--record FILE] -- COMMAND"
            )
    if not env_file or len(rest) < 2:
        fail("usage: integrador_run.py --env-file FILE [--record FILE] -- COMMAND [ARG...]")
    return env_file, record, rest[1:]


def write_record(path: str, env_file: str, data: bytes) -> None:
    record = {
        "env_file": os.path.abspath(env_file),
        "sha256": hashlib.sha256(data).hexdigest(),
        "pid": os.getpid(),
    }
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, path)
    except OSError as exc:
        # The service still starts; the next converge, finding no record, restarts it once.
        sys.stderr.write(f"integrador_run: could not write {path} ({exc.strerror})\n")


def _signal_group(pgid: int, sig: int) -> bool:
    """Whether a process of the group was there to be signalled (ours to signal)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphaned_group(path: str, grace: float = 10.0) -> None:
    """The previous start's process group, when its main process is gone: stopped."""
    try:
        with open(path, encoding="utf-8") as handle:
            previous = int(json.load(handle).get("pid", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return
    # A live main process means a live service (or the pid was reused): never touched.
    if previous <= 1 or previous == os.getpid() or _alive(previous):
        return
    if not _signal_group(previous, signal.SIGTERM):
        return
    sys.stderr.write(f"integrador_run: stopping what the previous start (pid {previous}) left running\n")
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if not _signal_group(previous, 0):
            return
    _signal_group(previous, signal.SIGKILL)


def main(argv: list[str]) -> None:
    env_file, record, command = parse_args(argv)
    try:
        with open(env_file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        fail(f"cannot read {env_file} ({exc.strerror}): run make dev, which writes it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        fail(f"{env_file} is not UTF-8 text (line {line}): python-dotenv, and the backend, cannot read it")
    os.environ.update(environment(text, dict(os.environ)))
    if record:
        stop_orphaned_group(record)
        write_record(record, env_file, data)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        fail(f"cannot run {command[0]} ({exc.strerror})")


if __name__ == "__main__":
    main(sys.argv[1:])
