"""integrador_user_units run for real by Ansible (ad-hoc, local connection) on real files:
check mode and diff, a file already as given, refused names, and what a user sees when
systemctl cannot run. Its systemd side (reload, enable, start) runs against a real user
manager in `molecule test -s app_services` and the whole-stack scenario."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ansible_adhoc import run_module

API = "[Unit]\nDescription=Integrador REST API\n\n[Service]\nExecStart=/bin/true\n"
WS = "[Unit]\nDescription=Integrador WebSocket gateway\n\n[Service]\nExecStart=/bin/true\n"
# The API to be started, the gateway's file only.
BOTH = [
    {"name": "integrador-api.service", "content": API, "start": True},
    {"name": "integrador-ws.service", "content": WS},
]


def test_check_mode_reports_every_change_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "systemd" / "user"
    run = run_module(
        "integrador_user_units",
        {"folder": str(folder), "units": BOTH},
        "--check",
        "--diff",
    )
    assert run.rc == 0, run.output
    assert run.result["changed"] is True
    assert run.result["written"] == ["integrador-api.service", "integrador-ws.service"]
    assert run.result["started"] == ["integrador-api.service"]
    assert run.result["reloaded"] is True
    assert [d["after"] for d in run.result["diff"]] == [API, WS]
    assert not folder.exists()


def test_a_unit_already_as_given_and_running_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "integrador-api.service").write_text(API)
    before = (tmp_path / "integrador-api.service").stat().st_mtime_ns
    # No user manager answers here: any systemctl call would fail the run.
    run = run_module(
        "integrador_user_units",
        {"folder": str(tmp_path), "units": [{"name": "integrador-api.service", "content": API}]},
    )
    assert run.rc == 0, run.output
    assert run.result["changed"] is False
    assert run.result["written"] == [] and run.result["started"] == [] and run.result["reloaded"] is False
    assert (tmp_path / "integrador-api.service").stat().st_mtime_ns == before


def test_a_name_that_is_not_a_file_name_is_refused(tmp_path: Path) -> None:
    for name in ("../escape.service", "..", ""):
        run = run_module(
            "integrador_user_units",
            {"folder": str(tmp_path / "units"), "units": [{"name": name, "content": API}]},
        )
        assert run.rc != 0
        assert "is not a file name" in run.result.get("msg", ""), run.output
    assert not (tmp_path / "escape.service").exists()
    assert not (tmp_path / "units").exists()


def test_without_systemctl_the_files_are_written_and_the_error_names_the_command(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    (folder).mkdir()
    (folder / "integrador-ws.service").write_text("old\n")
    empty = tmp_path / "bin"
    empty.mkdir()
    run = run_module(
        "integrador_user_units",
        {"folder": str(folder), "units": BOTH},
        env={"PATH": str(empty)},
    )
    assert run.rc != 0
    assert "systemctl --user daemon-reload" in run.result.get("msg", ""), run.output
    assert (folder / "integrador-api.service").read_text() == API
    assert (folder / "integrador-ws.service").read_text() == WS
    assert stat.S_IMODE((folder / "integrador-api.service").stat().st_mode) == 0o644
    # Written atomically: no temporary file is left beside them.
    assert sorted(os.listdir(folder)) == ["integrador-api.service", "integrador-ws.service"]
