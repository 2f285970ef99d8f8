"""The cases that kill mutants `make mutation` found surviving in module_utils/integrador_ports.py:
/proc files and supervisord's records read in their own encoding whatever the locale, the search
for a port's holder going on past a process or a descriptor it cannot read, lsof asked about the
port when /proc names no holder, and owned_by's cgroup leaf, its bounded ancestor walk and its
answer where there is no /proc. Real processes, sockets and /proc of this machine."""

from __future__ import annotations

import builtins
import contextlib
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import fake_supervisord
import pytest
from ansible.module_utils import integrador_ports as ports  # loaded by conftest.py from module_utils/
from c_locale import ascii_locale

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/net"), reason="Linux /proc")


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        text = handle.read()
    return int(text[text.rindex(")") + 2 :].split()[1])


# --- What /proc and supervisord's records hold, read whatever the locale ---------------------------
NAMED = """
import ctypes, time
ctypes.CDLL(None).prctl(15, "itest-é".encode(), 0, 0, 0)
print("ready", flush=True)
time.sleep(60)
"""


@needs_proc
def test_a_process_name_is_read_as_utf8_in_an_ascii_locale() -> None:
    proc = subprocess.Popen([sys.executable, "-c", NAMED], stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # type: ignore[union-attr]
        with ascii_locale():
            described = ports.describe(proc.pid)
        assert described.startswith(f"itest-é (pid {proc.pid}) {sys.executable} -c")
    finally:
        proc.kill()
        proc.wait()


def test_the_systemd_cgroup_is_read_as_utf8_in_an_ascii_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cgroup under a delegated subtree may have any name: the file is UTF-8, not the locale's."""
    cgroup = tmp_path / "cgroup"
    cgroup.write_bytes("0::/user.slice/café.scope\n".encode())

    def real_open_of_the_file(path: str, *args: Any, **kwargs: Any) -> Any:
        assert path == "/proc/31337/cgroup"
        return builtins.open(cgroup, *args, **kwargs)

    monkeypatch.setattr(ports, "open", real_open_of_the_file, raising=False)
    with ascii_locale():
        assert ports._systemd_cgroup(31337) == "/user.slice/café.scope"


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")  # digits int() takes, no pid file's


@needs_proc
def test_supervisor_records_are_ascii_digits_and_no_other_unicode_digits(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n")
    with fake_supervisord.running(conf) as (daemon, program):
        (tmp_path / "supervisord.pid").write_text(f"{daemon}\n")
        (tmp_path / "api.pgid").write_text(str(program), encoding="utf-8")
        (tmp_path / "worker.pgid").write_text(str(program).translate(ARABIC_INDIC), encoding="utf-8")
        assert ports.supervisor_roots(str(tmp_path), ["api"]) == {daemon, program}
        assert ports.supervisor_roots(str(tmp_path), ["worker"]) == {daemon}
        (tmp_path / "supervisord.pid").write_text(f"{daemon}\n".translate(ARABIC_INDIC), encoding="utf-8")
        assert ports.supervisor_roots(str(tmp_path), ["api"]) == set()


# --- The holder of a port: the search goes on past what it cannot read -----------------------------
LISTENER = """
import ctypes, os, socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
if sys.argv[1:] == ["nobody"]:  # root's child becomes nobody's, readable by nobody again
    os.setresuid(65534, 65534, 65534)
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, which the change of user cleared
print(listener.getsockname()[1], flush=True)
time.sleep(60)
"""
NOBODY = 65534


def unreadable_fd_dir_below(pid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) < pid:
            try:
                os.listdir(f"/proc/{entry}/fd")
            except OSError:
                return True
    return False


@needs_proc
def test_a_process_whose_descriptors_are_not_readable_does_not_end_the_search() -> None:
    """Run as a user that is not root (root drops to nobody for the search): init's descriptors,
    listed before the listener's, are not readable; the listener, the searcher's own user's, is
    still found."""
    as_root = os.geteuid() == 0
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER, "nobody" if as_root else "self"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        # First with this user's rights: it loads the codecs the search uses, which nobody may
        # not be allowed to read from this interpreter's folder.
        assert ports.owner_from_proc(port) == (proc.pid, ports.describe(proc.pid))
        if as_root:
            os.seteuid(NOBODY)
        try:
            blocked = unreadable_fd_dir_below(proc.pid)
            found = ports.owner_from_proc(port)
        finally:
            if as_root:
                os.seteuid(0)
        if not blocked:
            pytest.skip("every process listed before the listener is readable here")
        assert found == (proc.pid, ports.describe(proc.pid))
    finally:
        proc.kill()
        proc.wait()


@needs_proc
def test_a_descriptor_closed_while_searching_does_not_end_the_search() -> None:
    """The search lists this process's descriptors through one it opens and closes at once (the
    lowest free number), then reads each: that one is gone, the listener's after it is found."""
    placeholder = os.open(os.devnull, os.O_RDONLY)
    with socket.socket() as listener:
        os.close(placeholder)
        assert listener.fileno() > placeholder
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.owner_from_proc(port) == (os.getpid(), ports.describe(os.getpid()))


def fake_lsof(folder: Path, port: int) -> None:
    """lsof answering -Fpc for the one port it is asked about, nothing (status 1) otherwise."""
    script = folder / "lsof"
    script.write_text(
        f'#!/bin/sh\ncase "$*" in *"-iTCP:{port} "*) printf "p4242\\ncpostgres\\n";; *) exit 1;; esac\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@needs_proc
def test_a_port_bound_without_listening_is_asked_of_lsof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket bound but not listening takes the port and is in no listening table of /proc:
    port_owner asks lsof about that port and gives its answer."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        assert ports.owner_from_proc(port) == (None, None)
        fake_lsof(tmp_path, port)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert ports.port_owner("127.0.0.1", port) == (True, 4242, "postgres (pid 4242)")


# --- owned_by: the cgroup leaf, the bounded walk, and no /proc -------------------------------------
def in_root_cgroup(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    paths = [line.split(":", 2)[2] for line in lines if line.split(":", 2)[1] in ("name=systemd", "")]
    return bool(paths) and paths[0] == "/"


@needs_proc
def test_a_process_in_the_root_cgroup_is_in_no_unit() -> None:
    """Kernel threads (kthreadd is pid 2), and in a container its processes, are in cgroup "/"."""
    pid = next((pid for pid in (os.getpid(), 2) if in_root_cgroup(pid)), None)
    if pid is None:
        pytest.skip("no process of the root cgroup here")
    assert ports.owned_by(pid, {99_999_999}, units=["integrador-api.service"]) is False


CHAIN = """n=$1
if [ "$n" -gt 0 ]; then sh "$0" $((n - 1)); else echo $$; exec sleep 60; fi
"""


@needs_proc
def test_the_walk_up_the_parents_stops_after_64(tmp_path: Path) -> None:
    """A chain of 65 shells (in this test's process group) over a sleep: the root 64 parents up
    is found, the one 65 up is not, and neither is any other root."""
    script = tmp_path / "chain.sh"
    script.write_text(CHAIN)
    top = subprocess.Popen(["sh", str(script), "65"], stdout=subprocess.PIPE, text=True)
    leaf = int(top.stdout.readline())  # type: ignore[union-attr]
    ancestors = [parent_of(leaf)]
    while ancestors[-1] != top.pid:
        ancestors.append(parent_of(ancestors[-1]))
    try:
        assert len(ancestors) == 65
        assert ports.owned_by(leaf, {ancestors[63]}) is True
        assert ports.owned_by(leaf, {ancestors[64]}) is False
        assert ports.owned_by(leaf, {99_999_999}) is False
    finally:
        kill([leaf, *ancestors])
        top.wait()


def test_without_proc_only_the_root_itself_is_owned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no /proc (macOS), a child is not known to be its parent's."""
    isdir = os.path.isdir
    monkeypatch.setattr(ports.os.path, "isdir", lambda path: False if path == "/proc" else isdir(path))
    assert ports.owned_by(os.getpid(), {os.getpid()}) is True
    assert ports.owned_by(os.getpid(), {os.getppid()}) is False
