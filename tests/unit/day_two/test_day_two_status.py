"""status.yml's rows and table (filter_plugins/day_two.py), from what the modules
return: docker_container_info, systemd_service, the health probe, the restore journal
and integrador_python_env. The molecule day2 and supervisor scenarios read the same
table from real parts; these pin the cases a healthy stack never shows."""

from __future__ import annotations

import json
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

DB = {"name": "itest_db", "docker_host": "unix:///docker.sock"}


def running(health: str = "healthy") -> dict:
    return {
        "item": DB,
        "exists": True,
        "container": {
            "State": {
                "Status": "running",
                "Running": True,
                "StartedAt": "2026-11-30T01:02:03.456789Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
                "ExitCode": 0,
                **({"Health": {"Status": health}} if health else {}),
            },
            "Config": {"Image": "pgvector/pgvector:pg16"},
            "HostConfig": {"PortBindings": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5433"}]}},
            "RestartCount": 2,
        },
    }


def test_a_healthy_container(day_two: ModuleType) -> None:
    (row,) = day_two.container_rows([running()])
    assert row == {
        "ok": True,
        "part": "container",
        "name": "itest_db",
        "status": "running (healthy)",
        "since": "2026-11-30 01:02:03 UTC",
        "details": "pgvector/pgvector:pg16, 127.0.0.1:5433->5432/tcp, restarts 2",
    }


def test_unhealthy_exited_missing_and_unreachable_containers(day_two: ModuleType) -> None:
    starting = running("starting")
    exited = running("")
    exited["container"]["State"].update(
        Status="exited", Running=False, ExitCode=137, FinishedAt="0001-01-01T00:00:00Z"
    )
    exited["container"]["HostConfig"]["PortBindings"] = None
    rows = day_two.container_rows(
        [starting, exited, {"item": DB, "exists": False}, {"item": DB, "msg": " Error connecting \n"}]
    )
    assert [r["ok"] for r in rows] == [False, False, False, False]
    assert rows[0]["status"] == "running (starting)"
    assert rows[1]["status"] == "exited (code 137)" and rows[1]["since"] == "-"
    assert rows[1]["details"] == "pgvector/pgvector:pg16, restarts 2"
    assert rows[2]["status"] == "missing"
    assert rows[3]["details"] == "Docker engine unix:///docker.sock did not answer: Error connecting"


def test_starting_to_docker_is_healthy_only_when_it_answered_when_asked(day_two: ModuleType) -> None:
    """Docker's healthcheck runs every 10 s: a container started a moment ago is "starting" to it;
    status.yml asks it directly, and it is healthy when it answered (integrador_wait's ready)."""
    starting = running("starting")
    (asked,) = day_two.container_rows([starting], ["itest_db"])
    assert asked["ok"] is True and asked["status"] == "running (starting, answering)"
    (other,) = day_two.container_rows([starting], ["itest_redis"])
    assert other["ok"] is False and other["status"] == "running (starting)"
    # An answer does not make an unhealthy or a stopped container healthy.
    (unhealthy,) = day_two.container_rows([running("unhealthy")], ["itest_db"])
    assert unhealthy["ok"] is False and unhealthy["status"] == "running (unhealthy)"
    stopped = running("starting")
    stopped["container"]["State"].update(Status="exited", Running=False)
    assert day_two.container_rows([stopped], ["itest_db"])[0]["ok"] is False


def test_only_running_containers_docker_calls_starting_are_asked(day_two: ModuleType) -> None:
    stopped = running("starting")
    stopped["container"]["State"].update(Status="exited", Running=False)
    redis = running("starting")
    redis["item"] = {"name": "itest_redis", "docker_host": "unix:///docker.sock"}
    results = [running(), running(""), running("unhealthy"), stopped, redis, {"item": DB, "exists": False}]
    assert day_two.starting_containers(results) == ["itest_redis"]
    assert day_two.starting_containers([{"item": DB, "msg": "engine down"}]) == []


UNIT = {"unit": "integrador-api.service"}


def test_units_installed_missing_and_unanswered(day_two: ModuleType) -> None:
    active = {
        "item": UNIT,
        "status": {
            "LoadState": "loaded",
            "ActiveState": "active",
            "SubState": "running",
            "UnitFileState": "enabled",
            "StateChangeTimestamp": "Mon 2026-11-30 01:02:03 UTC",
            "NRestarts": "0",
        },
    }
    rows = day_two.unit_rows(
        [
            active,
            {"item": UNIT, "status": {"LoadState": "not-found"}},
            {"item": UNIT, "msg": "Failed to connect to bus"},
            {"item": UNIT, "skipped": True},
        ]
    )
    assert rows[0] == {
        "ok": True,
        "part": "unit",
        "name": "integrador-api.service",
        "status": "active (running), enabled",
        "since": "2026-11-30 01:02:03 UTC",
        "details": "restarts 0",
    }
    assert rows[1]["ok"] is None and rows[1]["status"] == "not installed"
    assert rows[2]["ok"] is False and rows[2]["details"] == "systemctl --user: Failed to connect to bus"
    assert len(rows) == 3


def test_an_endpoint_of_a_unit_not_installed_is_not_unhealthy(day_two: ModuleType) -> None:
    services = [{"unit": "integrador-api.service"}, {"unit": "integrador-ws.service"}]
    units = [
        {"item": {"unit": "integrador-api.service"}, "status": {"LoadState": "not-found"}},
        {"item": {"unit": "integrador-ws.service"}, "status": {"LoadState": "loaded"}},
    ]
    probes = [
        {"url": "http://127.0.0.1:8000/api/health", "status": 0, "ms": 1, "error": "refused"},
        {"url": "http://127.0.0.1:8001/ws/health", "status": 0, "ms": 2, "error": "refused"},
    ]
    api, ws = day_two.endpoint_rows(probes, services, units)
    assert api["ok"] is None and api["status"] == "no answer" and api["details"] == "1 ms, refused"
    assert ws["ok"] is False
    probes[1].update(status=200, error="")
    assert day_two.endpoint_rows(probes, services, units)[1] == {
        "ok": True,
        "part": "endpoint",
        "name": "http://127.0.0.1:8001/ws/health",
        "status": "HTTP 200",
        "since": "-",
        "details": "2 ms",
    }


def test_restore_journal_rows(day_two: ModuleType) -> None:
    assert day_two.restore_row("") == []
    (staging,) = day_two.restore_row(json.dumps({"step": "staging", "backup": "/b/1", "started": "t"}))
    assert staging["ok"] is True and staging["status"] == "interrupted (staging)"
    (half,) = day_two.restore_row(json.dumps({"step": "db_swapped", "backup": "/b/1"}))
    assert half["ok"] is False and half["details"] == 'half done: finish it with make restore BACKUP="/b/1"'


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_a_damaged_journal_is_a_row_not_a_traceback(day_two: ModuleType, text: str) -> None:
    rows = day_two.restore_row(text)
    assert all(r["part"] == "restore" and isinstance(r["status"], str) for r in rows)


def test_venv_rows(day_two: ModuleType) -> None:
    (err,) = day_two.venv_row({"msg": "\nPython 3.9 is too old\nmore"}, "/src")
    assert err == {
        "ok": False,
        "part": "venv",
        "name": "/src",
        "status": "error",
        "since": "-",
        "details": "Python 3.9 is too old",
    }
    (ok,) = day_two.venv_row(
        {"venv": "/v", "python_version": "3.12.1", "rebuilt": False, "installed": False}, "/src"
    )
    assert ok["ok"] is True and ok["status"] == "Python 3.12.1" and ok["details"] == "requirements up to date"


ROW = st.fixed_dictionaries(
    {
        "ok": st.sampled_from([True, False, None]),
        "part": st.sampled_from(["container", "unit", "endpoint", "venv"]),
        "name": st.text(max_size=30),
        "status": st.text(max_size=30),
        "since": st.text(max_size=25),
        "details": st.text(max_size=40),
    }
).filter(lambda r: all("\n" not in str(v) and "\r" not in str(v) for v in r.values()))


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=8))
def test_the_table_lines_up_and_counts(day_two: ModuleType, rows: list[dict]) -> None:
    lines = day_two.status_table(rows)
    assert len(lines) == len(rows) + 2
    assert lines[0].startswith("      PART")
    # Every column starts where the header's does.
    starts = [lines[0].index(h) for h in ("NAME", "STATUS", "SINCE", "DETAILS")]
    for line, row in zip(lines[1:-1], rows, strict=True):
        assert line[:6].strip() == ("ok" if row["ok"] else "-" if row["ok"] is None else "FAIL")
        assert line[starts[0] :].startswith(row["name"])
        assert line[starts[3] :] == row["details"]
    problems = [r for r in rows if r["ok"] is False]
    verdict = lines[-1]
    if problems:
        assert verdict.startswith(
            f"{len(problems)} of {len([r for r in rows if r['ok'] is not None])} parts unhealthy"
        )
    else:
        assert verdict.startswith("All parts healthy")
    absent = [r["name"] for r in rows if r["ok"] is None and r["part"] == "unit"]
    assert (", not installed: " in verdict) == bool(absent)
