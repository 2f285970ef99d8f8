"""Every field of the status rows day_two builds from a check-mode python_env result and from the
health probes (docs/day2.md: `make status`), written out whole."""

from __future__ import annotations

from types import ModuleType


def row(ok: bool | None, part: str, name: str, status: str, details: str) -> dict[str, object]:
    return {"ok": ok, "part": part, "name": name, "status": status, "since": "-", "details": details}


def test_venv_row_of_each_check_mode_answer(day_two: ModuleType) -> None:
    up_to_date = {"venv": "/v", "python_version": "3.12.1", "rebuilt": False, "installed": False}
    assert day_two.venv_row(up_to_date, "/src") == [
        row(True, "venv", "/v", "Python 3.12.1", "requirements up to date")
    ]
    assert day_two.venv_row({**up_to_date, "rebuilt": True, "python_version": ""}, "/src") == [
        row(False, "venv", "/v", "missing", "not created or broken (dev.yml builds it)")
    ]
    assert day_two.venv_row({**up_to_date, "installed": True}, "/src") == [
        row(
            False,
            "venv",
            "/v",
            "Python 3.12.1",
            "requirements changed since the last install (dev.yml installs them)",
        )
    ]
    assert day_two.venv_row({**up_to_date, "rebuilt": True, "installed": True}, "/src") == [
        row(False, "venv", "/v", "Python 3.12.1", "not created or broken (dev.yml builds it)")
    ]
    assert day_two.venv_row({"venv": "/v"}, "/src") == [
        row(True, "venv", "/v", "missing", "requirements up to date")
    ]


def test_venv_row_of_a_failure_is_its_first_line(day_two: ModuleType) -> None:
    assert day_two.venv_row({"msg": "  not a checkout\nsecond  "}, "/src") == [
        row(False, "venv", "/src", "error", "not a checkout")
    ]
    assert day_two.venv_row({}, "/src") == [row(False, "venv", "/src", "error", "")]
    assert day_two.venv_row({"msg": None}, "/src") == [row(False, "venv", "/src", "error", "")]
    assert day_two.venv_row({"msg": "   "}, "/src") == [row(False, "venv", "/src", "error", "")]


def test_endpoint_rows_ignore_a_skipped_unit_and_name_a_probe_without_url(day_two: ModuleType) -> None:
    services = [{"unit": "integrador-api.service"}, {"unit": "integrador-ws.service"}]
    units = [
        {"item": {"unit": "integrador-api.service"}, "status": {"LoadState": "not-found"}, "skipped": True},
        {"item": {"unit": "integrador-ws.service"}, "status": {"LoadState": "not-found"}},
    ]
    probes = [{"status": 0, "ms": 3}, {"url": "http://127.0.0.1:8001/ws/health", "status": 503, "ms": 4}]
    assert day_two.endpoint_rows(probes, services, units) == [
        row(False, "endpoint", "?", "no answer", "3 ms"),
        row(None, "endpoint", "http://127.0.0.1:8001/ws/health", "HTTP 503", "4 ms"),
    ]


def container_row(ok: bool, name: str, status: str, since: str, details: str) -> dict[str, object]:
    return {"ok": ok, "part": "container", "name": name, "status": status, "since": since, "details": details}


def test_container_rows_each_field_of_each_case(day_two: ModuleType) -> None:
    exited = {
        "item": {"name": "itest_redis"},
        "exists": True,
        "container": {
            "State": {
                "Status": "exited",
                "Running": False,
                "StartedAt": "2026-11-30T01:02:03Z",
                "FinishedAt": "2026-11-30T04:05:06.789Z",
                "ExitCode": 1,
                "Health": {"Status": "unhealthy"},
            },
            "HostConfig": {
                "PortBindings": {"6379/tcp": [{"HostPort": "6380"}, {"HostIp": "::1", "HostPort": "6381"}]}
            },
        },
    }
    running_unhealthy = {
        "item": {"name": "itest_db"},
        "exists": True,
        "container": {
            "State": {
                "Status": "running",
                "Running": True,
                "StartedAt": "2026-11-30T01:02:03Z",
                "Health": {"Status": "unhealthy"},
            },
            "Config": {"Image": "pg"},
            "RestartCount": 0,
        },
    }
    running_plain = {
        "item": {"name": "c"},
        "exists": True,
        "container": {"State": {"Status": "running", "Running": True}},
    }
    assert day_two.container_rows(
        [exited, running_unhealthy, running_plain, {"exists": False}, {"item": {"name": "d"}}, {}]
    ) == [
        container_row(
            False,
            "itest_redis",
            "exited (code 1)",
            "2026-11-30 04:05:06 UTC",
            "?, 0.0.0.0:6380->6379/tcp, ::1:6381->6379/tcp, restarts ?",
        ),
        container_row(False, "itest_db", "running (unhealthy)", "2026-11-30 01:02:03 UTC", "pg, restarts 0"),
        container_row(True, "c", "running", " UTC", "?, restarts ?"),
        container_row(False, "?", "missing", "-", "not created (dev.yml creates it)"),
        container_row(False, "d", "unknown", "-", "Docker engine ? did not answer: "),
        container_row(False, "?", "unknown", "-", "Docker engine ? did not answer: "),
    ]


def test_container_rows_of_a_container_without_state(day_two: ModuleType) -> None:
    assert day_two.container_rows([{"item": {"name": "x"}, "exists": True, "container": None}]) == [
        container_row(False, "x", "", " UTC", "?, restarts ?")
    ]


def test_container_rows_name_the_container_or_say_question_mark(day_two: ModuleType) -> None:
    up = {"State": {"Status": "running", "Running": True, "StartedAt": "2026-12-01T10:00:00Z"}}
    assert day_two.container_rows(
        [{"item": {"name": "gone"}, "exists": False}, {"exists": True, "container": up}]
    ) == [
        container_row(False, "gone", "missing", "-", "not created (dev.yml creates it)"),
        container_row(True, "?", "running", "2026-12-01 10:00:00 UTC", "?, restarts ?"),
    ]


def unit_row(ok: bool | None, name: str, status: str, since: str, details: str) -> dict[str, object]:
    return {"ok": ok, "part": "unit", "name": name, "status": status, "since": since, "details": details}


def test_unit_rows_each_field_of_each_case(day_two: ModuleType) -> None:
    failed = {
        "item": {"unit": "integrador-ws.service"},
        "status": {
            "LoadState": "loaded",
            "ActiveState": "failed",
            "SubState": "failed",
            "UnitFileState": "disabled",
            "StateChangeTimestamp": "Tue 2026-12-01 10:00:00 UTC",
            "NRestarts": "5",
        },
    }
    assert day_two.unit_rows(
        [
            {"item": {"unit": "e.service"}, "skipped": False},  # skipped (with any value): left out
            failed,
            {"item": {"unit": "a.service"}, "status": {"ActiveState": "active"}},
            {"status": None},
            {"item": {"unit": "b.service"}},
            {"item": {"unit": "c.service"}, "msg": None},
            {"item": {"unit": "d.service"}, "status": {"LoadState": "not-found"}},
        ]
    ) == [
        unit_row(
            False,
            "integrador-ws.service",
            "failed (failed), disabled",
            "2026-12-01 10:00:00 UTC",
            "restarts 5",
        ),
        unit_row(True, "a.service", "active (None), None", "-", "restarts ?"),
        unit_row(False, "?", "None (None), None", "-", "restarts ?"),
        unit_row(False, "b.service", "unknown", "-", "systemctl --user: no answer"),
        unit_row(False, "c.service", "unknown", "-", "systemctl --user: "),
        unit_row(None, "d.service", "not installed", "-", "app_services (dev.yml) installs it"),
    ]


def test_unit_rows_strip_only_a_leading_weekday(day_two: ModuleType) -> None:
    stamp = {
        "item": {"unit": "u"},
        "status": {"ActiveState": "active", "StateChangeTimestamp": "2026-12-01 Mon 10:00"},
    }
    assert day_two.unit_rows([stamp])[0]["since"] == "2026-12-01 Mon 10:00"
    stamp["status"]["StateChangeTimestamp"] = "Mon Tue 10:00"
    assert day_two.unit_rows([stamp])[0]["since"] == "Tue 10:00"


def supervised(active: str, sub: str, load: str = "loaded") -> dict[str, object]:
    return {
        "LoadState": load,
        "ActiveState": active,
        "SubState": sub,
        "UnitFileState": "supervisord (not started at boot)",
        "StateChangeTimestamp": "",
        "NRestarts": "?",
    }


def test_supervisor_programs_in_systemds_shape_whole(day_two: ModuleType) -> None:
    names = ["a", "b", "c", "d", "e", "f", "g"]
    services = [{"program": f"integrador-{n}"} for n in names]
    programs = {
        "integrador-a": {"state": "RUNNING"},
        "integrador-b": {"state": "STARTING"},
        "integrador-c": {"state": "BACKOFF"},
        "integrador-d": {"state": "FATAL"},
        "integrador-e": {"state": "STOPPED"},
        "integrador-f": {"pid": 0},  # listed without a state
    }
    assert day_two.supervisor_units(services, programs, ["answer"]) == [
        {"item": {"unit": "integrador-a"}, "status": supervised("active", "running")},
        {"item": {"unit": "integrador-b"}, "status": supervised("activating", "starting")},
        {"item": {"unit": "integrador-c"}, "status": supervised("activating", "backoff")},
        {"item": {"unit": "integrador-d"}, "status": supervised("failed", "fatal")},
        {"item": {"unit": "integrador-e"}, "status": supervised("inactive", "stopped")},
        {"item": {"unit": "integrador-f"}, "status": supervised("inactive", "")},
        {"item": {"unit": "integrador-g"}, "status": supervised("inactive", "", "not-found")},
    ]
    assert day_two.supervisor_units(services[:1], None, None) == [
        {"item": {"unit": "integrador-a"}, "status": supervised("inactive", "supervisord not running")}
    ]
    rows = day_two.unit_rows(day_two.supervisor_units(services[3:5], programs, True))
    assert rows == [
        unit_row(
            False, "integrador-d", "failed (fatal), supervisord (not started at boot)", "-", "restarts ?"
        ),
        unit_row(
            False, "integrador-e", "inactive (stopped), supervisord (not started at boot)", "-", "restarts ?"
        ),
    ]


def test_restore_rows_of_each_journal(day_two: ModuleType) -> None:
    def restore(ok: bool, name: str, status: str, since: str, details: str) -> dict[str, object]:
        return {
            "ok": ok,
            "part": "restore",
            "name": name,
            "status": status,
            "since": since,
            "details": details,
        }

    assert day_two.restore_row(None) == []
    assert day_two.restore_row({"step": "staging", "backup": "/b/2", "started": "2026-12-01 10:00"}) == [
        restore(
            True,
            "/b/2",
            "interrupted (staging)",
            "2026-12-01 10:00",
            "staging only, the live data untouched; the next restore removes its scratch data",
        )
    ]
    assert day_two.restore_row('{"step": "db_swapped"}') == [
        restore(
            False, "?", "interrupted (db_swapped)", "-", 'half done: finish it with make restore BACKUP="?"'
        )
    ]
    assert day_two.restore_row("{}") == [
        restore(False, "?", "interrupted (?)", "-", 'half done: finish it with make restore BACKUP="?"')
    ]
    assert day_two.restore_row("{not json") == [
        restore(False, "?", "interrupted (unreadable journal)", "-", "restore.json is not JSON")
    ]
    assert day_two.restore_row(7) == [
        restore(False, "?", "interrupted (unreadable journal)", "-", "restore.json is not JSON")
    ]
    assert day_two.restore_row("[1, 2]") == [
        restore(False, "?", "interrupted (unreadable journal)", "-", "restore.json is not an object")
    ]


def test_the_status_table_written_out(day_two: ModuleType) -> None:
    rows = [
        {"ok": True, "part": "container", "name": "db", "status": "running", "since": "t1", "details": "d1"},
        {
            "ok": False,
            "part": "endpoint",
            "name": "http://x",
            "status": "no answer",
            "since": "-",
            "details": "d2",
        },
        {
            "ok": None,
            "part": "unit",
            "name": "integrador-ws.service",
            "status": "not installed",
            "since": "-",
            "details": "",
        },
        {
            "ok": None,
            "part": "endpoint",
            "name": "http://y",
            "status": "no answer",
            "since": "-",
            "details": "d4",
        },
    ]
    assert day_two.status_table(rows) == [
        "      PART       NAME                   STATUS         SINCE  DETAILS",
        "ok    container  db                     running        t1     d1",
        "FAIL  endpoint   http://x               no answer      -      d2",
        "-     unit       integrador-ws.service  not installed  -      ",
        "-     endpoint   http://y               no answer      -      d4",
        "1 of 2 parts unhealthy, not installed: integrador-ws.service",
    ]
    assert day_two.status_table(rows[:1] + rows[3:]) == [
        "      PART       NAME      STATUS     SINCE  DETAILS",
        "ok    container  db        running    t1     d1",
        "-     endpoint   http://y  no answer  -      d4",
        "All parts healthy",
    ]
    assert (
        day_two.status_table(rows[1:3])[-1] == "1 of 1 parts unhealthy, not installed: integrador-ws.service"
    )


def test_copy_rows_read_the_first_column_of_the_first_copy_block(day_two: ModuleType) -> None:
    script = (
        "COPY public.other (a) TO stdout;\n"
        "not a row\n"
        "SET x = 1; FROM stdin;\n"
        "ignored too\n"
        "COPY public.alembic_version (version_num) FROM stdin;   \n"
        "abc def\tsecond\tthird\n"
        "\n"
        "r2\n"
        "\\.\n"
        "after\n"
    )
    assert day_two.copy_rows(script) == ["abc def", "r2"]
    assert day_two.copy_rows(None) == []


def test_the_verdict_names_every_unit_not_installed(day_two: ModuleType) -> None:
    rows = [
        {"ok": None, "part": "unit", "name": n, "status": "not installed", "since": "-", "details": ""}
        for n in ("integrador-api.service", "integrador-ws.service")
    ]
    assert day_two.status_table(rows)[-1] == (
        "All parts healthy, not installed: integrador-api.service, integrador-ws.service"
    )
