"""Every module_utils/*.py importable as ansible.module_utils.<name>, where Ansible puts them
when it ships a module to a host, so a test can load any module of library/ by path whatever
module_utils it imports (the tests' own `load` calls stay as they are)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator

import pytest
from module_loader import ROOT, load
from wire_servers import Server

for path in sorted((ROOT / "module_utils").glob("*.py")):
    name = f"ansible.module_utils.{path.stem}"
    if name not in sys.modules:
        load(path, name)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], Server]]:
    """Starts stand-in servers (wire_servers.Server) for a test, each answering as its script
    says; all are closed after the test."""
    servers: list[Server] = []

    def start(script: Callable[[socket.socket], None]) -> Server:
        servers.append(Server(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
