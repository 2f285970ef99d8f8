"""Cases of the day_two role's filters (roles/day_two/filter_plugins/day_two.py) that kill mutants
`make mutation` found surviving: behaviour the other day_two tests did not pin down."""

from __future__ import annotations

from types import ModuleType

import pytest
from module_loader import ROOT, load


@pytest.fixture(scope="module")
def day_two() -> ModuleType:
    """The role's filter plugin, loaded by path as the day_two tests load it."""
    return load(ROOT / "roles" / "day_two" / "filter_plugins" / "day_two.py", "day_two_filters")


def test_redis_info_skips_a_comment_line_even_with_a_colon(day_two: ModuleType) -> None:
    """A line starting with # is a header or comment, never a field, colon or not."""
    text = "# Persistence\r\n# note: written by hand\r\nrdb_saves:3\r\n\r\n"
    assert day_two.redis_info(text) == {"rdb_saves": "3"}


def test_starting_container_without_a_name_is_listed_as_a_question_mark(day_two: ModuleType) -> None:
    """A running container still "starting" whose loop item has no name is named "?"."""
    result = {
        "item": {"docker_host": "unix:///var/run/docker.sock"},
        "exists": True,
        "container": {"State": {"Running": True, "Health": {"Status": "starting"}}},
    }
    assert day_two.starting_containers([result]) == ["?"]


def test_endpoint_rows_with_fewer_probe_answers_than_services_do_not_raise(day_two: ModuleType) -> None:
    """A probe output shorter than the service list gives a row per answer, not an error."""
    services = [{"unit": "integrador-api.service"}, {"unit": "integrador-ws.service"}]
    probes = [{"url": "http://127.0.0.1:8000/health", "status": 200, "ms": 2}]
    rows = day_two.endpoint_rows(probes, services, [])
    assert [(r["name"], r["ok"], r["status"]) for r in rows] == [
        ("http://127.0.0.1:8000/health", True, "HTTP 200")
    ]


def test_snapshot_taken_keeps_a_zone_letter_other_than_z(day_two: ModuleType) -> None:
    """Only a trailing Z (UTC) is dropped from TAKEN: a time recorded with another military
    zone letter (X, UTC-11) keeps it, so it is not read as a UTC time."""
    snapshot = {
        "name": "foreign",
        "taken": "2026-12-06T10:15:00X",
        "bytes": 1024,
        "redis_bytes": 2048,
        "complete": True,
        "revision": "0003_menus",
        "branch": "main",
        "named": True,
    }
    line = day_two.snapshot_table([snapshot])[1]
    assert line.split("  ")[1].strip() == "2026-12-06 10:15:00X"
