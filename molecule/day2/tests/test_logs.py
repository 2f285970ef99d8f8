"""playbooks/logs.yml: the last lines of both containers and both units."""

from __future__ import annotations

import json
import re
from typing import Any

from stack import UNITS, endpoints_answer, play


def sections(output: str) -> dict[str, list[str]]:
    """The debug messages of the 'Last log lines' task, by their title line."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"=> \(item=[^)]*\)+ => (\{\n.*?\n\})\n", output, re.S):
        lines = json.loads(match.group(1))["msg"]
        found[lines[0]] = lines[1:]
    return found


def test_last_lines_of_every_part(test_vars: dict[str, Any]) -> None:
    # Fresh requests, so both access logs end with a health check.
    endpoints_answer(test_vars)
    result = play("logs", {"integrador_logs_lines": 5})
    assert result.rc == 0, result
    assert result.changed == 0, result
    parts = sections(result.output)
    db = parts[f"== {test_vars['postgres_pgvector_container_name']} (container), last 5 lines =="]
    rd = parts[f"== {test_vars['redis_container_name']} (container), last 5 lines =="]
    api = parts[f"== {UNITS[0]} (user unit), last 5 lines =="]
    ws = parts[f"== {UNITS[1]} (user unit), last 5 lines =="]
    assert len(parts) == 4, result
    for lines in (db, rd, api, ws):
        assert 0 < len(lines) <= 5, result
    # The units' health checks are in their access logs.
    assert any("GET /api/health" in line for line in api), api
    assert any("GET /ws/health" in line for line in ws), ws


def test_bad_line_count_is_refused() -> None:
    result = play("logs", {"integrador_logs_lines": "all"})
    assert result.rc != 0
    assert "integrador_logs_lines must be a whole number of at least 1 (got all)" in result.output, result
