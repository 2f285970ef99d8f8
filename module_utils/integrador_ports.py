"""Whether a TCP port is taken, and by which process (shared by the
integrador_port_owner and integrador_preflight modules); and whether a port or a
bind address as a user wrote it is one at all, with the message saying what to
write instead (any value gives a message, never an exception)."""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import socket
import subprocess
from typing import Any

PORT_MIN, PORT_MAX = 1, 65535


def port_problem(value: Any, var: str | None) -> str | None:
    """None for a TCP port (an int, or the digits of one, 1-65535); else what is wrong."""
    name = var or "the port"
    # bool is an int to Python, never a port to a user; a float (5432.0) is a typo.
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        port = int(value.strip())
    else:
        return f"{name} must be a TCP port, a whole number from {PORT_MIN} to {PORT_MAX} (got {value!r})."
    if not PORT_MIN <= port <= PORT_MAX:
        return f"{name} must be a TCP port from {PORT_MIN} to {PORT_MAX} (got {port})."
    return None


def host_ip(value: str) -> str:
    """The address as socket calls and Docker's port bindings take it: no brackets."""
    value = value.strip()
    return value[1:-1] if value.startswith("[") and value.endswith("]") else value


def address_problem(value: Any, var: str | None) -> str | None:
    """None for an address a port can be published on: an IPv4 or IPv6 address
    (brackets allowed), or localhost; else what is wrong."""
    name = var or "the bind address"
    if isinstance(value, str) and value.strip().lower() == "localhost":
        return None
    if isinstance(value, str):
        try:
            # Scoped IPv6 (fe80::1%eth0) is an address too.
            ipaddress.ip_address(host_ip(value).split("%", 1)[0])
            return None
        except ValueError:
            pass
    return (
        f"{name} must be an IP address such as 127.0.0.1 (this machine only), ::1, or 0.0.0.0 (every "
        f"network) (got {value!r}). Docker publishes ports on addresses, not host names."
    )


def is_loopback(value: str) -> bool:
    """Reachable from this machine only: 127.0.0.0/8, ::1, localhost."""
    if value.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_ip(value).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Raises OSError when the address cannot be tested, ValueError for what is not a port or an address."""
    problem = port_problem(port, "port") or address_problem(host, "address")
    if problem:
        raise ValueError(problem)
    host = host_ip(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers set it: TIME_WAIT leftovers do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            if exc.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return False


def listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            continue
    return inodes


def describe(pid: int) -> str:
    try:
        # Any program may name itself with bytes that are not UTF-8 (prctl PR_SET_NAME).
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            name = handle.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"pid {pid}"
    return f"{name} (pid {pid}) {cmdline}"


def owner_from_proc(port: int) -> tuple[int | None, str | None]:
    targets = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not targets:
        return None, None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # another user's process: not readable without root
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    return int(entry), describe(int(entry))
            except OSError:
                continue
    return None, None


def owner_from_lsof(port: int) -> tuple[int | None, str | None]:
    lsof = shutil.which("lsof")
    if not lsof:
        return None, None
    result = subprocess.run(
        [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
        capture_output=True,
        text=True,
        check=False,
    )
    pid, name = None, None
    for line in result.stdout.splitlines():
        if line.startswith("p") and pid is None:
            pid = int(line[1:])
        elif line.startswith("c") and name is None:
            name = line[1:]
    if pid is None:
        return None, None
    return pid, f"{name} (pid {pid})"


def port_owner(host: str, port: int) -> tuple[bool, int | None, str | None]:
    """(in use, pid, description) for a port on an address; raises OSError when
    the address cannot be tested at all, ValueError when it is no port or address."""
    if not port_in_use(host, port):
        return False, None, None
    port = int(port)
    pid, process = owner_from_proc(port) if os.path.isdir("/proc/net") else (None, None)
    if pid is None:
        pid, process = owner_from_lsof(port)
    return True, pid, process


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def _systemd_cgroup(pid: int) -> str:
    """The cgroup systemd put the process in (the unified or the name=systemd hierarchy)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers in ("name=systemd", ""):
            return path
    return ""


def owned_by(pid: int | None, roots: set[int] | list[int], units: list[str] | None = None) -> bool:
    """Whether the process holding a port belongs to one of the services whose main processes
    are roots: the root itself or one of its descendants (python-dotenv 1.0's `run` child, the
    worker uvicorn --reload spawns), a process left in the root's process group (supervisord
    makes each program a group of its own), or, under systemd, a process in one of the units'
    cgroups (a child whose parent has exited). Linux /proc only; elsewhere only pid == root."""
    if not pid:
        return False
    roots = {int(root) for root in roots if root}
    if pid in roots:
        return True
    if not os.path.isdir("/proc"):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return False
    # A process group whose leader is a root (the group id is the leader's pid).
    if len(fields) > 2 and fields[2].isdigit() and int(fields[2]) in roots:
        return True
    if units:
        leaf = _systemd_cgroup(pid).rstrip("/").rsplit("/", 1)[-1]
        if leaf and leaf in units:
            return True
    # Ancestors, up to init (a bounded walk: a pid loop cannot happen, but /proc may change).
    current = pid
    for _ in range(64):
        fields = _stat_fields(current)
        if fields is None or len(fields) < 2 or not fields[1].isdigit():
            return False
        current = int(fields[1])
        if current in roots:
            return True
        if current <= 1:
            return False
    return False


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _runs_supervisord_with(pid: int, config: str) -> bool:
    """Whether the process is a supervisord started with this configuration file (the pid of a
    supervisord that died is taken by another process sooner or later)."""
    argv = _cmdline(pid)
    if not any(os.path.basename(arg).startswith("supervisord") for arg in argv):
        return False
    wanted = os.path.realpath(config)
    for arg in argv:
        for prefix in ("--configuration=", "-c"):
            if arg.startswith(prefix) and len(arg) > len(prefix):
                arg = arg[len(prefix) :]
                break
        if os.path.isabs(arg) and os.path.realpath(arg) == wanted:
            return True
    return False


def supervisor_roots(folder: str, programs: list[str]) -> set[int]:
    """The roots (for owned_by) of the processes the stack's supervisord runs: the supervisord whose
    config, pid file and program records are in folder (app_services_supervisor_dir), and the process
    group each of its programs' starts recorded in `<program>.pgid`. Every program and the children
    it starts (uvicorn --reload's worker) descend from supervisord; a group whose leader died (a
    kill -9 of the program's main process) keeps its workers, which still hold the program's port.
    Empty when that supervisord does not run: then nothing is the stack's. Linux /proc only."""
    try:
        with open(os.path.join(folder, "supervisord.pid"), encoding="ascii") as handle:
            daemon = int(handle.read().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return set()
    if daemon <= 1 or not _runs_supervisord_with(daemon, os.path.join(folder, "supervisord.conf")):
        return set()
    roots = {daemon}
    for program in programs:
        try:
            with open(os.path.join(folder, f"{program}.pgid"), encoding="ascii") as handle:
                pgid = int(handle.read().strip())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if pgid <= 1:
            continue
        fields = _stat_fields(pgid)
        # A live leader is the program's main process while supervisord is its parent (otherwise
        # the pid was reused); a dead leader's pid is not given to another process while its
        # group lives on, so the group is still the program's.
        if fields is None or (len(fields) > 1 and fields[1] == str(daemon)):
            roots.add(pgid)
    return roots
