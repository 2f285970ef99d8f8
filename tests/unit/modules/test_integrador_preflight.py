"""The preflight module's checks that need no Docker engine or user manager:
real sockets, real folders, real interpreters."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
