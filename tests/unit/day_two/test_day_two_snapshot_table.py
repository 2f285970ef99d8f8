"""`make snapshots`' table (filter day_two_snapshot_table) and its sizes (human_bytes), against
written-out lines."""

from __future__ import annotations

from types import ModuleType
from typing import Any


def snap(name: str, **fields: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "taken": "2026-12-06T10:15:00Z",
        "bytes": 7_654_321,
        "redis_bytes": 2048,
        "complete": True,
        "revision": "0003_menus",
        "branch": "main",
        "named": True,
    }
    return {**base, **fields}


def test_the_table_lists_each_snapshot_under_aligned_columns(day_two: ModuleType) -> None:
    lines = day_two.snapshot_table(
        [
            snap("before-mig"),
            snap("20261206-101500", named=False, revision="", branch="", redis_bytes=None, complete=False),
        ]
    )
    assert lines == [
        "NAME             TAKEN (UTC)          SIZE                          REVISION    BRANCH  KIND",
        "before-mig       2026-12-06 10:15:00  7.3 MiB + 2.0 KiB             0003_menus  main    named",
        "20261206-101500  2026-12-06 10:15:00  7.3 MiB (Redis part missing)  -           -       automatic",
        "2 snapshots",
    ]


def test_no_snapshots_says_how_to_take_one(day_two: ModuleType) -> None:
    assert day_two.snapshot_table([]) == ["No snapshots yet: `make snapshot [NAME=...]` takes one."]
    assert day_two.snapshot_table([snap("x")])[-1] == "1 snapshot"


def test_sizes_are_read_as_people_read_them(day_two: ModuleType) -> None:
    assert [day_two.human_bytes(v) for v in (None, 0, 1023, 1024, 1536, 5 * 2**20, 3 * 2**30, 2**50)] == [
        "-",
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
        "1048576.0 GiB",
    ]


def test_a_snapshot_without_a_time_shows_a_question_mark(day_two: ModuleType) -> None:
    assert day_two.snapshot_table([snap("old", taken="")])[1].split()[:2] == ["old", "?"]
