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
