"""Day two reads the other roles only through their public variables and app_services'
published fact (issue 14): no `_app_services_*` or other role's private variable in
roles/day_two or the day-two playbooks."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PRIVATE = re.compile(
    r"(?<![A-Za-z0-9_])_{1,2}(app_services|postgres_pgvector|redis|python_env|preflight|ollama)_\w+"
)
DAY_TWO = ("status", "down", "logs", "restart", "backup", "restore", "reset")


def test_day_two_reads_no_private_variable_of_another_role() -> None:
    files = [*sorted((REPO / "roles" / "day_two").rglob("*.yml"))]
    files += [REPO / "playbooks" / f"{verb}.yml" for verb in DAY_TWO]
    files += sorted((REPO / "playbooks" / "tasks").glob("*.yml"))
    assert len(files) > 20
    found = [
        f"{path.relative_to(REPO)}:{n}: {match.group(0)}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for match in PRIVATE.finditer(line)
    ]
    assert found == []


def test_the_check_finds_a_private_variable() -> None:
    assert PRIVATE.search("argv: \"{{ _app_services_sv_ctl + ['status'] }}\"")
    assert not PRIVATE.search("{{ app_services_units.manager }} {{ _day_two_redis_scratch }}")
