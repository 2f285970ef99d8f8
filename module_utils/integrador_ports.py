"""Whether a TCP port is taken, and by which process (shared by the
integrador_port_owner and integrador_preflight modules)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers set it: TIME_WAIT leftovers do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
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
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
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
    the address cannot be tested at all."""
    if not port_in_use(host, port):
        return False, None, None
    pid, process = owner_from_proc(port) if os.path.isdir("/proc/net") else (None, None)
    if pid is None:
        pid, process = owner_from_lsof(port)
    return True, pid, process
