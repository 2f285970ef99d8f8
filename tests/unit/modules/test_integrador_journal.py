"""library/integrador_journal.py (restore.yml's journal), run as Ansible runs it: the record
written as JSON that a reader (json.loads, as the lock module and status read it) gives back,
mode 0600, no temporary file left, a change reported only when the text changes, nothing written
in check mode, and a folder it cannot write named with the fix."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ansible_adhoc import run_module

RECORD = {"backup": "a folder with spaces & 'quotes'", "step": "staged", "units": ["integrador-api.service"],
          "tables": 3, "keys": 2, "id": "20261208T040000-1234", "note": "ñandú ✓"}  # fmt: skip


def write(path: Path, record: dict[str, object], *flags: str):  # noqa: ANN201 (ModuleRun)
    return run_module("integrador_journal", {"path": str(path), "record": record}, *flags)


def test_the_record_reads_back_whole_with_mode_0600_and_nothing_else_left(tmp_path: Path) -> None:
    journal = tmp_path / "restore.json"
    done = write(journal, RECORD)
    assert done.rc == 0 and done.result["changed"] is True, done.output
    assert json.loads(journal.read_text(encoding="utf-8")) == RECORD
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restore.json"]


def test_the_same_record_again_is_no_change_and_a_new_step_replaces_it(tmp_path: Path) -> None:
    journal = tmp_path / "restore.json"
    assert write(journal, RECORD).result["changed"] is True
    again = write(journal, RECORD)
    assert again.rc == 0 and again.result["changed"] is False, again.output
    moved = write(journal, {**RECORD, "step": "redis-swapped"})
    assert moved.result["changed"] is True
    assert json.loads(journal.read_text(encoding="utf-8"))["step"] == "redis-swapped"


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "restore.json"
    done = write(journal, RECORD, "--check")
    assert done.rc == 0 and done.result["changed"] is True, done.output
    assert not journal.exists()


def test_a_folder_it_cannot_write_is_named_with_the_fix(tmp_path: Path) -> None:
    journal = tmp_path / "missing-folder" / "restore.json"
    done = write(journal, RECORD)
    assert done.rc != 0
    assert f"Cannot write the restore journal {journal}" in done.result["msg"], done.output
    assert "point integrador_state_dir elsewhere" in done.result["msg"]
