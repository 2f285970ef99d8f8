"""What the unit tests ask of the machine they run on (a CI runner, a laptop, a container)."""

from __future__ import annotations

import socket


def has_ipv6_loopback() -> bool:
    """Whether ::1 can be bound here (containers and some CI runners have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
