#!/usr/bin/python
"""Tell whether a TCP port is taken on an address, and by which process."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_port_owner
short_description: Tell whether a TCP port is taken, and by which process
description:
  - Tries to bind the port on the address (the same test a server makes when it
    starts), then looks for the listening process in /proc (Linux) or with lsof.
  - Never changes anything.
options:
  port:
    description: TCP port.
    type: int
    required: true
  host:
    description: Address the port would be bound to.
    type: str
    default: 127.0.0.1
author: Integrador developers
"""

EXAMPLES = r"""
- name: Port 5432 is free or ours
  integrador_port_owner:
    port: 5432
  register: __port
"""

RETURN = r"""
in_use:
  description: Whether binding the port failed because it is taken.
  type: bool
  returned: always
pid:
  description: PID of the listening process, when it could be found.
  type: int
  returned: always
process:
  description: Human-readable owner, for example C(postgres (pid 812) /usr/lib/postgresql/15/bin/postgres).
  type: str
  returned: always
"""


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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "port": {"type": "int", "required": True},
            "host": {"type": "str", "default": "127.0.0.1"},
        },
        supports_check_mode=True,
    )
    port, host = module.params["port"], module.params["host"]
    if not 0 < port < 65536:
        module.fail_json(msg=f"port {port} is not a TCP port (1-65535)")
    try:
        in_use = port_in_use(host, port)
    except OSError as exc:
        module.fail_json(msg=f"cannot test {host}:{port}: {exc}")
    pid, process = None, None
    if in_use:
        pid, process = owner_from_proc(port) if os.path.isdir("/proc/net") else (None, None)
        if pid is None:
            pid, process = owner_from_lsof(port)
    module.exit_json(changed=False, in_use=in_use, pid=pid, process=process)


if __name__ == "__main__":
    main()
