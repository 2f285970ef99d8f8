"""The names the day_two role's tasks call its filters by: each one is the plugin's function of
that name, and every `| day_two_...` filter a task or playbook calls is one the plugin offers."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

ROLE = Path(__file__).resolve().parents[3] / "roles" / "day_two"

NAMES = {
    "day_two_redis_info": "redis_info",
    "day_two_sha256sums_parse": "sha256sums_parse",
    "day_two_sha256sums_mismatches": "sha256sums_mismatches",
    "day_two_sha256sums_format": "sha256sums_format",
    "day_two_backup_name": "backup_name",
    "day_two_copy_rows": "copy_rows",
    "day_two_supervisor_units": "supervisor_units",
    "day_two_systemd_units": "systemd_units",
    "day_two_container_rows": "container_rows",
    "day_two_starting_containers": "starting_containers",
    "day_two_unit_rows": "unit_rows",
    "day_two_endpoint_rows": "endpoint_rows",
    "day_two_restore_row": "restore_row",
    "day_two_venv_row": "venv_row",
    "day_two_status_table": "status_table",
    "day_two_snapshot_table": "snapshot_table",
}


def test_each_filter_is_the_function_of_its_name(day_two: ModuleType) -> None:
    assert day_two.FilterModule().filters() == {
        name: getattr(day_two, function) for name, function in NAMES.items()
    }


def test_every_filter_the_role_and_playbooks_call_is_offered() -> None:
    repo = ROLE.parents[1]
    files = [*ROLE.rglob("*.yml"), *(repo / "playbooks").rglob("*.yml")]
    used = {
        match.group(1)
        for path in files
        for match in re.finditer(r"\|\s*(day_two_[a-z0-9_]+)", path.read_text())
    }
    assert len(used) >= 10
    assert used <= set(NAMES)
