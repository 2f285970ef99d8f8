"""Ports and bind addresses as users write them: whatever the value, the shared
code answers with a message naming the variable, never an exception; and the
port probe works on IPv6 addresses as on IPv4 ones (real sockets)."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

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
    import subprocess
    import sys

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
