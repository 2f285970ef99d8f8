"""Filters of the app_services role: quoting for systemd unit files and
PowerShell, the parser of `systemctl show`, and the services' health URLs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_PLAIN_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def systemd_quote(value: Any, exec_line: bool = True) -> str:
    """One word of a unit file setting, double-quoted when it needs to be.

    systemd resolves %-specifiers in every setting, and $VAR only in Exec*= lines,
    so `$` is doubled only there.
    """
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"a systemd setting cannot span lines: {text!r}")
    text = text.replace("%", "%%")
    if exec_line:
        text = text.replace("$", "$$")
    if _PLAIN_WORD.fullmatch(text.replace("$", "")):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_path(value: Any) -> str:
    """A path setting (WorkingDirectory=, EnvironmentFile=): specifiers escaped."""
    text = str(value)
    if "\n" in text:
        raise ValueError(f"a systemd setting cannot span lines: {text!r}")
    return text.replace("%", "%%")


def ps_quote(value: Any) -> str:
    """A PowerShell single-quoted string literal (nothing inside is expanded)."""
    text = str(value)
    # PowerShell also treats the typographic single quotes as quote characters.
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        text = text.replace(quote, quote * 2)
    return f"'{text}'"


def systemctl_show(stdout: str) -> dict[str, dict[str, str]]:
    """`systemctl show UNIT...` output: one block of KEY=VALUE lines per unit,
    blank-line separated; keyed by the unit's Id."""
    units: dict[str, dict[str, str]] = {}
    for block in stdout.strip().split("\n\n"):
        props: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key] = value
        if "Id" in props:
            units[props["Id"]] = props
    return units


def connect_host(bind_address: Any) -> str:
    """The address a client connects to for a service bound to bind_address: loopback
    for a wildcard (0.0.0.0, :: or empty), else the address itself."""
    address = str(bind_address).strip()
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)


def http_url(bind_address: Any, port: Any, path: str = "/") -> str:
    """http URL of a service bound to bind_address: an IPv6 address in brackets."""
    host = connect_host(bind_address)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{int(port)}{path}"


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "app_services_systemd_quote": systemd_quote,
            "app_services_systemd_path": systemd_path,
            "app_services_ps_quote": ps_quote,
            "app_services_systemctl_show": systemctl_show,
            "app_services_connect_host": connect_host,
            "app_services_http_url": http_url,
        }
