"""Day two's health URLs (filter app_services_recorded_health): what the last converge
recorded where it is at the settings' address and port, else the settings' URL. On the real
checkout, make dev finds the gateway's /ws/health answering 404 and /health answering 200;
make restart, status and restore-snapshot must then probe /health too."""

from __future__ import annotations

import base64
import json
from typing import Any

from app_services_render import filters_module
from hypothesis import given
from hypothesis import strategies as st

filters = filters_module()

NOW = {"api": "http://127.0.0.1:8000/api/health", "ws": "http://127.0.0.1:8001/ws/health"}


def record(services: Any) -> str:
    return base64.b64encode(json.dumps({"fingerprint": "x", "services": services}).encode()).decode()


def test_the_path_the_converge_found_is_used_at_the_same_address() -> None:
    found = record(
        [
            {"name": "api", "port": 8000, "health_url": "http://127.0.0.1:8000/api/health"},
            {"name": "ws", "port": 8001, "health_url": "http://127.0.0.1:8001/health"},
        ]
    )
    assert filters.recorded_health(found, NOW) == {
        "api": "http://127.0.0.1:8000/api/health",
        "ws": "http://127.0.0.1:8001/health",
    }


def test_a_record_of_another_port_or_address_is_not_used() -> None:
    moved = record(
        [
            {"name": "api", "health_url": "http://127.0.0.1:8005/health"},
            {"name": "ws", "health_url": "http://[::1]:8001/health"},
        ]
    )
    assert filters.recorded_health(moved, NOW) == NOW


def test_no_record_or_a_broken_one_gives_the_settings_urls() -> None:
    for content in (
        "",
        None,
        "not base64!",
        base64.b64encode(b"{not json").decode(),
        record("nope"),
        record([1, None]),
    ):
        assert filters.recorded_health(content, NOW) == NOW


@given(st.binary(max_size=200))
def test_any_bytes_give_urls_and_never_raise(data: bytes) -> None:
    got = filters.recorded_health(base64.b64encode(data).decode(), NOW)
    assert set(got) == {"api", "ws"} and all(isinstance(v, str) for v in got.values())


def test_a_record_with_stray_characters_is_unreadable_and_a_bad_entry_does_not_hide_the_next() -> None:
    good = record([{"name": "ws", "health_url": "http://127.0.0.1:8001/health"}])
    # Not base64 as slurp gives it (a * inside): unreadable, not decoded around the character.
    assert filters.recorded_health(good[:8] + "*" + good[8:], NOW) == NOW
    after_junk = record(["junk", None, {"name": "ws", "health_url": "http://127.0.0.1:8001/health"}])
    assert filters.recorded_health(after_junk, NOW) == {**NOW, "ws": "http://127.0.0.1:8001/health"}
