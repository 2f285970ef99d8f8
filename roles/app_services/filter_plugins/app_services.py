"""Filters of the app_services role: quoting for systemd unit files and
PowerShell and supervisord's config, the parser of `systemctl show`, and the services' health URLs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

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


# supervisord's config parser (Python's configparser) ends a value at a ; or #
# that follows whitespace: an inline comment.
_SUPERVISOR_COMMENT = re.compile(r"(\s)([;#])")


def _supervisor_line(text: str, what: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise ValueError(f"{what} cannot span lines or hold a NUL: {text!r}")
    return text


def supervisor_value(value: Any, setting: str = "a supervisord setting") -> str:
    """A plain supervisord setting (a path): %-expansion escaped; a space before
    ; or # (read as a comment there) is refused, naming the setting."""
    text = _supervisor_line(str(value), setting)
    if _SUPERVISOR_COMMENT.search(text):
        raise ValueError(
            f"{setting} cannot hold a space followed by ; or # (supervisord reads a comment there): {text!r}"
        )
    return text.replace("%", "%%")


def supervisor_command(argv: Any) -> str:
    """A program's command= line that supervisord splits back into exactly argv.

    supervisord expands %(...)s, cuts an inline comment at whitespace + ; or #,
    then splits the rest with shlex (POSIX). shlex.join puts whitespace only
    inside single quotes, so closing and reopening the quotes ('a '';b' is
    "a ;b") keeps a ; or # from following whitespace.
    """
    words = [_supervisor_line(str(word), "a service's command word") for word in argv]
    line = _SUPERVISOR_COMMENT.sub(r"\1''\2", shlex.join(words))
    return line.replace("%", "%%")


def supervisor_status(lines: Any) -> dict[str, dict[str, Any]]:
    """`supervisorctl status` lines (NAME STATE [pid N, uptime ...|description]),
    keyed by program name: state and pid (0 when it has none)."""
    programs: dict[str, dict[str, Any]] = {}
    for line in lines or []:
        words = str(line).split(None, 2)
        if len(words) < 2 or not words[1].isupper():
            continue
        pid = re.match(r"pid (\d+),", words[2]) if len(words) > 2 else None
        programs[words[0]] = {"state": words[1], "pid": int(pid.group(1)) if pid else 0}
    return programs


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


def recorded_health(content: Any, current: Mapping[str, str]) -> dict[str, str]:
    """The health URL of each service for day two: the one the last converge recorded (its
    record, converged.json, base64 as slurp gives it) when it is at the same address and port
    as the current settings' URL (make dev may have found the configured path answering 404 and
    a fallback path answering 200), else the current settings' URL. A missing, unreadable or
    foreign record gives the current URLs."""
    chosen = dict(current)
    try:
        record = json.loads(base64.b64decode(str(content or ""), validate=True) or b"{}")
    except (ValueError, TypeError, binascii.Error):
        return chosen
    services = record.get("services") if isinstance(record, dict) else None
    for service in services if isinstance(services, list) else []:
        if not isinstance(service, dict):
            continue
        name, url = service.get("name"), service.get("health_url")
        if name in chosen and isinstance(url, str) and urlsplit(url).netloc == urlsplit(chosen[name]).netloc:
            chosen[name] = url
    return chosen


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "app_services_systemd_quote": systemd_quote,
            "app_services_systemd_path": systemd_path,
            "app_services_ps_quote": ps_quote,
            "app_services_systemctl_show": systemctl_show,
            "app_services_connect_host": connect_host,
            "app_services_http_url": http_url,
            "app_services_recorded_health": recorded_health,
            "app_services_supervisor_value": supervisor_value,
            "app_services_supervisor_command": supervisor_command,
            "app_services_supervisor_status": supervisor_status,
        }
