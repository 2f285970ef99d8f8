"""Ports and bind addresses as users write them: whatever the value, the shared
code answers with a message naming the variable, never an exception; and the
port probe works on IPv6 addresses as on IPv4 ones (real sockets)."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from typing import Any

import fake_supervisord
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from port_rule import expected_port_problem
from this_machine import has_ipv6_loopback

ports = load(ROOT / "module_utils" / "integrador_ports.py", "ansible.module_utils.integrador_ports")

# Anything a YAML file, -e or a template can hand over.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(st.integers(min_value=1, max_value=65535))
def test_every_tcp_port_is_accepted(port: int) -> None:
    assert ports.port_problem(port, "redis_port") is None
    assert ports.port_problem(str(port), "redis_port") is None


@given(st.integers().filter(lambda n: not 1 <= n <= 65535))
def test_integer_outside_the_range_names_the_variable_and_the_range(port: int) -> None:
    problem = ports.port_problem(port, "postgres_pgvector_port")
    assert problem == f"postgres_pgvector_port must be a TCP port from 1 to 65535 (got {port})."


@settings(max_examples=500)
@given(ANY_VALUE)
@example(-1)
@example("-1")
@example(float("nan"))
@example("nan")
@example(float("inf"))
@example(float("-inf"))
@example("inf")
@example(1e999)
@example("1e999")
@example("70000")
@example(" 0080 ")
@example("+80")
@example("80\x85")
def test_any_value_gives_none_or_a_message_naming_the_variable(value: Any) -> None:
    # The oracle is port_rule.py (a written-out rule), not port_problem: a function that always
    # answers None, or accepts "70000", fails here.
    assert ports.port_problem(value, "app_services_api_port") == expected_port_problem(
        value, "app_services_api_port"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        # An independent oracle (issue 24, 4): explicit values and the message each must give.
        (5432, None),
        ("6380", None),
        (" 8000 ", None),
        (1, None),
        (65535, None),
        ("70000", "must be a TCP port from 1 to 65535 (got 70000)."),
        (70000, "must be a TCP port from 1 to 65535 (got 70000)."),
        (0, "must be a TCP port from 1 to 65535 (got 0)."),
        ("0", "must be a TCP port from 1 to 65535 (got 0)."),
        (-1, "must be a TCP port from 1 to 65535 (got -1)."),
        ("5432.0", "must be a TCP port, a whole number from 1 to 65535 (got '5432.0')."),
        (5432.0, "must be a TCP port, a whole number from 1 to 65535 (got 5432.0)."),
        (True, "must be a TCP port, a whole number from 1 to 65535 (got True)."),
        (None, "must be a TCP port, a whole number from 1 to 65535 (got None)."),
        ("", "must be a TCP port, a whole number from 1 to 65535 (got '')."),
        ("５４３２", "must be a TCP port, a whole number from 1 to 65535 (got '５４３２')."),
        ("-1", "must be a TCP port, a whole number from 1 to 65535 (got '-1')."),
        (float("nan"), "must be a TCP port, a whole number from 1 to 65535 (got nan)."),
        (float("inf"), "must be a TCP port, a whole number from 1 to 65535 (got inf)."),
        ("1e999", "must be a TCP port, a whole number from 1 to 65535 (got '1e999')."),
        ("nan", "must be a TCP port, a whole number from 1 to 65535 (got 'nan')."),
        (" 0080 ", None),
    ],
)
def test_each_value_gives_exactly_its_message(value: Any, problem: str | None) -> None:
    expected = None if problem is None else f"redis_port {problem}"
    assert ports.port_problem(value, "redis_port") == expected


@given(st.floats())
def test_floats_are_never_ports(value: float) -> None:
    problem = ports.port_problem(value, "redis_port")
    assert problem is not None and "a whole number from 1 to 65535" in problem


def test_booleans_are_not_ports() -> None:
    assert ports.port_problem(True, "redis_port") is not None


@given(st.ip_addresses())
def test_every_ip_address_is_a_bind_address_bracketed_or_not(address: Any) -> None:
    assert ports.address_problem(str(address), "integrador_bind_address") is None
    if address.version == 6:
        assert ports.address_problem(f"[{address}]", "integrador_bind_address") is None
        assert ports.host_ip(f"[{address}]") == str(address)


@given(ANY_VALUE)
def test_any_bind_address_gives_none_or_a_message_naming_the_variable(value: Any) -> None:
    problem = ports.address_problem(value, "redis_bind_address")
    if problem is None:
        assert isinstance(value, str)
        assert value.strip().lower() == "localhost" or ipaddress.ip_address(
            ports.host_ip(value).split("%", 1)[0]
        )
    else:
        assert problem.startswith("redis_bind_address must be an IP address")


def test_host_names_are_refused_as_docker_refuses_them() -> None:
    assert "not host names" in (ports.address_problem("db.example", "integrador_bind_address") or "")


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("[::]", False),
        ("192.168.1.20", False),
        ("fe80::1%eth0", False),
        ("not an address", False),
    ],
)
def test_loopback_is_127_0_0_0_8_ipv6_loopback_and_localhost(address: str, loopback: bool) -> None:
    assert ports.is_loopback(address) is loopback


@given(st.text())
def test_is_loopback_never_raises(value: str) -> None:
    assert ports.is_loopback(value) in (True, False)


@given(ANY_VALUE, ANY_VALUE)
def test_port_probe_raises_only_value_error_or_os_error(host: Any, port: Any) -> None:
    """Whatever it is given, the probe answers or raises the two errors its
    callers turn into messages (never OverflowError, TypeError...)."""
    try:
        ports.port_in_use(host, port)
    except (ValueError, OSError):
        pass


def test_out_of_range_port_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="must be a TCP port from 1 to 65535"):
        ports.port_owner("127.0.0.1", 70000)


@pytest.mark.parametrize("address", ["::1", "[::1]"])
def test_port_held_on_ipv6_loopback_is_found(address: str) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        in_use, pid, _ = ports.port_owner(address, port)
    assert in_use
    assert ports.port_owner(address, port)[0] is False  # closed: free again
    if pid is not None:
        assert pid == os.getpid()


def test_localhost_is_probed_as_127_0_0_1() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.port_in_use("localhost", port)


LISTEN_CHILD = """
import os, socket, subprocess, sys, time
# The parent starts a child that listens (python-dotenv 1.0's `run`, uvicorn's reload worker).
code = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "print(s.getsockname()[1], flush=True); time.sleep(60)")
child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
if sys.argv[1] == "orphan":
    os._exit(0)  # the child is left behind, in the parent's process group
time.sleep(60)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc")
@pytest.mark.parametrize("mode", ["child", "orphan"])
def test_a_port_held_in_a_services_process_tree_is_its_own(mode: str) -> None:
    """Issue 23, 1: the preflight compared the port's holder with the unit's main PID only,
    and called the stack's own services foreign when a child held the port. Real processes:
    a group leader (as a service manager starts a service) whose child listens."""
    leader = subprocess.Popen(
        [sys.executable, "-c", LISTEN_CHILD, mode], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        child_pid, port = (int(part) for part in leader.stdout.readline().split())  # type: ignore[union-attr]
        in_use, pid, _ = ports.port_owner("127.0.0.1", port)
        assert in_use and pid == child_pid
        assert ports.owned_by(pid, {leader.pid})
        assert not ports.owned_by(pid, {os.getpid() + 10_000_000})
        assert not ports.owned_by(pid, set())
        # An unrelated process (this test) is nobody's child of the leader.
        assert not ports.owned_by(os.getpid(), {leader.pid})
    finally:
        os.killpg(leader.pid, 9)
        leader.wait()


# --- Who holds a port, read from /proc (real processes and sockets) --------------------------
# port_owner falls back to lsof when /proc gives no answer: these tests call the /proc readers
# themselves, and compare port_owner's description with the one only /proc gives (lsof's has no
# command line), so a broken /proc reader cannot pass on lsof's answer.

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/net"), reason="Linux /proc")
# The name the kernel shows for the process (/proc/<pid>/comm and stat): bytes that are not
# UTF-8, as any program may set them (prctl PR_SET_NAME), and an argument that is not either.
LISTENER = """
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"itest\\xffport", 0, 0, 0)
listener = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
listener.bind((sys.argv[1], 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
time.sleep(60)
"""


def addresses() -> list[str]:
    return ["127.0.0.1", "::1"] if has_ipv6_loopback() else ["127.0.0.1"]


@needs_proc
@pytest.mark.parametrize("address", addresses())
def test_the_holder_of_a_port_is_named_from_proc_with_its_command_line(address: str, tmp_path: Any) -> None:
    script = tmp_path / "listener.py"
    script.write_text(LISTENER)
    proc = subprocess.Popen(
        [sys.executable, str(script), address, b"x\xff y"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        described = f"itest\ufffdport (pid {proc.pid}) {sys.executable} {script} {address} x\ufffd y"
        assert ports.describe(proc.pid) == described
        assert ports.owner_from_proc(port) == (proc.pid, described)
        assert ports.port_owner(address, port) == (True, proc.pid, described)
        assert ports._cmdline(proc.pid) == [sys.executable, str(script), address, "x\ufffd y"]
        # After the name: state, then the parent (this test).
        assert ports._stat_fields(proc.pid)[1] == str(os.getpid())  # type: ignore[index]
    finally:
        proc.kill()
        proc.wait()
    assert ports.describe(proc.pid) == f"pid {proc.pid}"
    assert ports._stat_fields(proc.pid) is None and ports._cmdline(proc.pid) == []


@needs_proc
@pytest.mark.parametrize("address", addresses())
def test_only_the_listening_socket_of_a_port_is_its_holder(address: str) -> None:
    """A connection accepted on the port is on the same local port, in another state."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as listener:
        listener.bind((address, 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection((address, port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert client.getpeername()[1] == port
                assert ports.listening_inodes(port) == {str(os.fstat(listener.fileno()).st_ino)}
                assert ports.owner_from_proc(port) == (os.getpid(), ports.describe(os.getpid()))
    assert ports.listening_inodes(port) == set()
    assert ports.owner_from_proc(port) == (None, None)


TREE = """
import os, socket, subprocess, sys, time
code = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "print(s.getsockname()[1], flush=True); time.sleep(60)")
# own_session: the child is a session and a group of its own (only its parent links it to
# this process); group: it stays in this process's group, and this process then exits.
own = sys.argv[1] == "own_session"
child = subprocess.Popen(
    [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=own
)
print(child.pid, child.stdout.readline().strip(), flush=True)
if not own:
    os._exit(0)
time.sleep(60)
"""


@needs_proc
@pytest.mark.parametrize("mode", ["own_session", "group"])
def test_a_port_held_by_a_child_is_found_through_its_parent_or_its_group_alone(mode: str) -> None:
    """The leader is a group of its own in this test's session (process_group=0, not a new
    session: the group and the session must differ to tell which one is read). A child in a
    session of its own is the leader's only through its parent; an orphan left in the leader's
    group only through the group."""
    leader = subprocess.Popen(
        [sys.executable, "-c", TREE, mode], stdout=subprocess.PIPE, text=True, process_group=0
    )
    child_pid = 0
    try:
        child_pid, port = (int(part) for part in leader.stdout.readline().split())  # type: ignore[union-attr]
        if mode == "group":
            leader.wait()
        assert ports.port_owner("127.0.0.1", port)[1] == child_pid
        assert ports.owned_by(child_pid, {leader.pid}) is True
        assert ports.owned_by(child_pid, {os.getpid()}) is (mode == "own_session")
    finally:
        leader.kill()
        leader.wait()
        if child_pid:  # in a session of its own, or orphaned: the leader's end leaves it
            os.kill(child_pid, 9)


def test_a_process_that_does_not_exist_belongs_to_no_service() -> None:
    # Above any kernel's pid_max (4194304): never a process.
    assert ports.owned_by(99_999_999, {os.getpid()}) is False
    assert ports.owned_by(None, {os.getpid()}) is False
    assert ports.owned_by(os.getpid(), [0, None, os.getpid()]) is True  # type: ignore[list-item]


@needs_proc
def test_supervisor_roots_are_the_daemon_of_this_config_and_its_programs_groups(tmp_path: Any) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n")
    assert ports.supervisor_roots(str(tmp_path), ["api"]) == set()  # no pid file
    (tmp_path / "supervisord.pid").write_text(f"{os.getpid()}\n")  # not a supervisord
    assert ports.supervisor_roots(str(tmp_path), ["api"]) == set()
    with fake_supervisord.running(conf) as (daemon, program):
        (tmp_path / "supervisord.pid").write_text(f"{daemon}\n")
        records = {
            "garbage": "not a pid",  # unreadable: skipped, the next still read
            "init": "1",  # never a program's group
            "api": str(program),  # its program: a root
            "foreign": str(os.getpid()),  # a live leader whose parent is not the daemon: reused pid
            "gone": "99999999",  # a dead leader: its group may live on
        }
        for name, text in records.items():
            (tmp_path / f"{name}.pgid").write_text(text)
        assert ports.supervisor_roots(str(tmp_path), list(records)) == {daemon, program, 99_999_999}
        other = tmp_path / "other"
        other.mkdir()
        (other / "supervisord.pid").write_text(f"{daemon}\n")  # that daemon runs another config
        assert ports.supervisor_roots(str(other), ["api"]) == set()


def test_a_bad_port_or_address_is_named_as_the_probe_names_it() -> None:
    with pytest.raises(ValueError, match=r"^port must be a TCP port from 1 to 65535 \(got 70000\)"):
        ports.port_in_use("127.0.0.1", 70000)
    with pytest.raises(ValueError, match=r"^address must be an IP address"):
        ports.port_in_use("db.example", 80)
    assert (ports.port_problem("x", None) or "").startswith("the port must be a TCP port")
    assert (ports.address_problem("x", None) or "").startswith("the bind address must be an IP address")
    # Half a bracket is no address (only a pair is taken off).
    assert ports.host_ip("[::1") == "[::1" and ports.address_problem("[::1", "v") is not None
    assert ports.host_ip("::1]") == "::1]" and ports.address_problem("::1]", "v") is not None


def test_an_address_this_machine_does_not_have_holds_no_port() -> None:
    """TEST-NET-1 (192.0.2.0/24) is on no machine: the bind fails with EADDRNOTAVAIL, which
    says nothing is listening there (a machine that allows binding any address says the same)."""
    assert ports.port_in_use("192.0.2.1", 8080) is False
