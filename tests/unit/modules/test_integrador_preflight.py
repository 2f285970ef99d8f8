"""The preflight module's checks that need no Docker engine or user manager:
real sockets, real folders, real interpreters."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from port_rule import expected_port_problem
from wire_servers import (
    Server,
    error_response,
    redis_answering,
    start_postgres,
    startup_message,
    wait_received,
)

# Where Ansible would put them when it ships the module to a host.
load(ROOT / "module_utils" / "integrador_ports.py", "ansible.module_utils.integrador_ports")
load(ROOT / "module_utils" / "integrador_python.py", "ansible.module_utils.integrador_python")
preflight = load(ROOT / "library" / "integrador_preflight.py", "integrador_preflight")


class FakeModule:
    """Only the parameters: the checks under test never call the module otherwise."""

    def __init__(self, **params: Any) -> None:
        defaults = {
            "docker_host": None,
            "containers": [],
            "min_free_docker_mb": 0,
            "root": None,
            "python": "",
            "min_version": "",
            "venv": "",
            "units": [],
            "linger": False,
            "ports": True,
            "allow_insecure_exposure": False,
            "fail_on_problems": True,
        }
        self.params = defaults | params


def test_port_held_by_this_process_is_named() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = preflight.Preflight(FakeModule())
        check.port_free(port, "127.0.0.1", "redis_port", "the itest container")
    assert len(check.problems) == 1
    problem = check.problems[0]
    assert problem.startswith(f"Port {port} on 127.0.0.1 is already taken by ")
    assert "not by the itest container. Stop that program, or set redis_port to a free port." in problem


def test_port_held_by_our_own_unit_is_fine() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = preflight.Preflight(FakeModule())
        in_use, pid, _ = preflight.port_owner("127.0.0.1", port)
        assert in_use
        if pid is None:
            pytest.skip("the owner of a socket cannot be found on this platform")
        check.port_free(port, "127.0.0.1", "app_services_api_port", "the unit", ours={pid})
    assert check.problems == []


def test_free_port_and_disabled_port_checks_pass() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check = preflight.Preflight(FakeModule())
    check.port_free(port, "127.0.0.1", "redis_port", "the container")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        preflight.Preflight(FakeModule(ports=False)).port_free(taken, "127.0.0.1", "x", "y")
    assert check.problems == []


def test_empty_folder_is_not_a_checkout(tmp_path: Path) -> None:
    check = preflight.Preflight(FakeModule(root=str(tmp_path), min_version="3.8"))
    check.checkout()
    assert check.problems == [
        f"integrador_root {tmp_path} is not an Integrador checkout: expected the REST API at "
        f"{tmp_path}/backend/rest_api/main.py and the gateway in {tmp_path}/ws_gateway. Set "
        "integrador_root to the folder that holds backend/ and ws_gateway/."
    ]


def test_demo_checkout_with_this_python_passes() -> None:
    check = preflight.Preflight(FakeModule(root=str(ROOT / "examples" / "integrador"), min_version="3.8"))
    check.checkout()
    assert check.problems == []


def test_python_too_old_names_what_was_found() -> None:
    check = preflight.Preflight(
        FakeModule(root=str(ROOT / "examples" / "integrador"), python=sys.executable, min_version="3.99")
    )
    check.checkout()
    version = ".".join(str(part) for part in sys.version_info[:3])
    assert len(check.problems) == 1
    assert check.problems[0].startswith(
        "No Python of at least 3.99 (python_env_min_version) was found: "
        f"Python {version} at {sys.executable}."
    )


def test_no_user_manager_message_gives_every_way_out() -> None:
    message = preflight.Preflight(FakeModule()).no_user_manager("Failed to connect to bus")
    assert "`systemctl --user` says Failed to connect to bus." in message
    assert "/etc/wsl.conf" in message and "wsl --shutdown" in message
    assert "app_services_linger: true" in message and "loginctl enable-linger" in message


# --- settings: ports, bind addresses, exposure -------------------------------------------------

# Anything a YAML file, -e or a template can hand over as a port or an address.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)


def container_spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "name": "itest_db",
        "image": "pgvector/pgvector:pg16",
        "port": 5432,
        "port_var": "postgres_pgvector_port",
        "bind_address": "127.0.0.1",
        "bind_var": "postgres_pgvector_bind_address (integrador_bind_address)",
        "unprotected": "",
        "password_var": "postgres_pgvector_password",
    }
    return spec | overrides


@settings(max_examples=200, deadline=None)
@given(port=ANY_VALUE, address=ANY_VALUE)
@example(port="70000", address="127.0.0.1")
@example(port=-1, address="127.0.0.1")
@example(port=float("nan"), address="127.0.0.1")
@example(port=float("inf"), address="127.0.0.1")
@example(port="1e999", address="127.0.0.1")
@example(port="5432", address="127.0.0.1")
def test_any_port_and_address_give_messages_naming_the_variables(port: Any, address: Any) -> None:
    """The OverflowError case: a port outside 1-65535 (or no port at all) is a
    problem naming its variable and the range; the probes never see it."""
    spec = container_spec(port=port, bind_address=address if isinstance(address, str) else str(address))
    unit = {"unit": "integrador-api.service", "port": port, "port_var": "app_services_api_port"}
    unit |= {"bind_address": spec["bind_address"], "bind_var": "app_services_bind_address"}
    check = preflight.Preflight(FakeModule(containers=[spec], units=[unit]))
    check.settings()
    for problem in check.problems:
        assert problem.startswith(
            ("postgres_pgvector_port must be a TCP port", "app_services_api_port must be a TCP port")
        ) or problem.startswith(("postgres_pgvector_bind_address", "app_services_bind_address")), problem
    # The written-out rule (port_rule.py), not preflight.port_problem judging itself.
    port_ok = expected_port_problem(port, "x") is None if port is not None else True
    assert spec["valid"] is (port_ok and preflight.address_problem(spec["bind_address"], "x") is None)
    if not spec["valid"]:
        assert check.problems
    else:
        check.port_free(spec["port"], spec["bind_address"], spec["port_var"], "the container")


def test_port_70000_is_a_message_not_an_overflow() -> None:
    spec = container_spec(port=70000)
    check = preflight.Preflight(FakeModule(containers=[spec]))
    check.settings()
    assert check.problems == ["postgres_pgvector_port must be a TCP port from 1 to 65535 (got 70000)."]
    assert spec["valid"] is False


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", "::", "[::]"])
def test_default_password_beyond_loopback_is_refused_naming_what_to_set(address: str) -> None:
    spec = container_spec(bind_address=address, unprotected="the default password")
    check = preflight.Preflight(FakeModule(containers=[spec]))
    check.settings()
    assert len(check.problems) == 1
    assert check.problems[0].startswith(
        f"postgres_pgvector_bind_address (integrador_bind_address) is {address}: the itest_db container "
        "would be reachable from the network with the default password. Set postgres_pgvector_password"
    )
    assert "integrador_allow_insecure_exposure: true" in check.problems[0]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_default_password_on_loopback_is_fine(address: str) -> None:
    check = preflight.Preflight(
        FakeModule(containers=[container_spec(bind_address=address, unprotected="the default password")])
    )
    check.settings()
    assert check.problems == [] and check.warnings == []


def test_insecure_exposure_allowed_is_a_warning() -> None:
    spec = container_spec(bind_address="0.0.0.0", unprotected="no password", password_var="redis_password")
    check = preflight.Preflight(FakeModule(containers=[spec], allow_insecure_exposure=True))
    check.settings()
    assert check.problems == []
    assert check.exposed == ["itest_db"]
    assert check.warnings == [
        "The itest_db container is published on 0.0.0.0, beyond this machine, with no password "
        "(redis_password; integrador_allow_insecure_exposure: true)."
    ]


def test_a_password_of_its_own_may_leave_loopback() -> None:
    check = preflight.Preflight(FakeModule(containers=[container_spec(bind_address="0.0.0.0")]))
    check.settings()
    assert check.problems == []


# --- the role's password against PostgreSQL's verifier -----------------------------------------

# Made by PostgreSQL 17 (the stand-in image): CREATE ROLE ... PASSWORD '...', then pg_authid.
REAL_VERIFIERS = [
    (
        "pw",
        "postgres",
        "SCRAM-SHA-256$4096:i8du9y0jQ35ypFl0xKko4Q==$8gIchNuPSUTSr6bd/KzCtWnV2WSY+/FPRTGPomRIKo4="
        ":gvvy6URYLUOA35KcxjfWA/VVnySdLndeEqi8pn0V2Dw=",
    ),
    (
        "pässwörd",
        "r1",
        "SCRAM-SHA-256$4096:Rx3qKy72cZcHyR9BvDpTYg==$JqwWaN0VP6q+Kx5cKeryR+tkpmhbKoCTN+ITcnfpBMk="
        ":1zDTNkzXRbVAHM6goXlWyo2UozGygow6ZUEJpadbI6s=",
    ),
    (
        "Ⅸ-roman",  # SASLprep's NFKC makes it IX-roman before hashing
        "r2",
        "SCRAM-SHA-256$4096:Qxu6B2M10y0N/g0zAZTCVw==$2qyZnaGDyCTLAcxQsixMbisCxeBbN/NZ8xnWxHfG4zI="
        ":FahLujv3LOvCoQody/cA4JxPqrWDaJercMPRm+QDncM=",
    ),
    (
        "it's a \\ back slash",
        "r3",
        "SCRAM-SHA-256$4096:yuJz7Odn2PkTa8OX6VCIaw==$nXVGkec33Rl8qJcKqA3aUW79FNwjEWIsTyK+F5TAS9s="
        ":Geo9dJggL1JY/IXWfY4q9vs/Zp+lx2b1HRBfPOntRNA=",
    ),
    ("md5-secret", "r4", "md51dbe799b7c93333454c84a0720b68f4e"),
]


@pytest.mark.parametrize(("password", "role", "verifier"), REAL_VERIFIERS)
def test_the_configured_password_matches_its_verifier(password: str, role: str, verifier: str) -> None:
    assert preflight.password_matches(password, verifier, role) is True


@pytest.mark.parametrize(("password", "role", "verifier"), REAL_VERIFIERS)
def test_another_password_does_not_match(password: str, role: str, verifier: str) -> None:
    assert preflight.password_matches(password + "x", verifier, role) is False
    assert preflight.password_matches(password, verifier, role + "x") is (not verifier.startswith("md5"))


@given(password=st.text(), verifier=st.text(), role=st.text())
def test_any_verifier_gives_true_or_false(password: str, verifier: str, role: str) -> None:
    assert preflight.password_matches(password, verifier, role) in (True, False)


def test_no_password_at_all_does_not_match() -> None:
    assert preflight.password_matches("postgres", "", "postgres") is False


# --- answering: a container Docker's healthcheck (every 10 s) still calls "starting" ----------
def answering(spec: dict[str, Any], health: str = "starting", port_ours: bool = True) -> bool:
    return preflight.Preflight.answering(spec, health, port_ours)


def test_healthy_to_docker_answers_without_being_asked() -> None:
    # Nothing listens on that port: the answer is Docker's.
    assert answering({"answers": "postgres", "bind_address": "127.0.0.1", "port": 1}, "healthy") is True


def test_starting_postgres_that_replies_is_answering(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00\x00\x08\x00\x00\x00\x00")  # AuthenticationOk
    spec = {"answers": "postgres", "bind_address": "0.0.0.0", "port": str(server.port)}
    assert answering(spec) is True
    assert wait_received(server).startswith(startup_message("postgres", "postgres"))
    # Not its port (another program's), unhealthy, or no protocol named: not answering.
    assert answering(spec, port_ours=False) is False
    assert answering(spec, "unhealthy") is False
    assert answering({**spec, "answers": None}) is False


def test_starting_postgres_still_starting_up_is_not_answering(serve: Callable[..., Server]) -> None:
    reply = error_response(S="FATAL", C="57P03", M="the database system is starting up")
    server = start_postgres(serve, reply)
    assert answering({"answers": "postgres", "bind_address": "127.0.0.1", "port": server.port}) is False


def test_starting_redis_is_asked_with_its_password(serve: Callable[..., Server]) -> None:
    seen: list[bytes] = []

    def script(conn: socket.socket) -> None:
        seen.append(conn.recv(65536))
        conn.sendall(b"+OK\r\n")
        seen.append(conn.recv(65536))
        conn.sendall(b"+PONG\r\n")

    server = serve(script)
    spec = {"answers": "redis", "bind_address": "localhost", "port": server.port, "password": "pw"}
    assert answering(spec) is True
    assert seen[0] == b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"


def test_starting_redis_loading_or_not_listening_is_not_answering(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"-LOADING Redis is loading the dataset in memory\r\n"))
    assert answering({"answers": "redis", "bind_address": "127.0.0.1", "port": server.port}) is False
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert answering({"answers": "redis", "bind_address": "127.0.0.1", "port": port}) is False
