"""Which folders of the backup directory are backups (issue 28, first section).

An interrupted `make backup` left its half-written folder under its final name, pruning counted
it, and after one good backup and six interrupted ones the next backup deleted the only older
restorable backup; `BACKUP=latest` and the "Backups in ..." lists took unfinished folders too.
Backups are now written as .partial-<stamp> and renamed once checksummed; only folders holding
their SHA256SUMS are listed, counted, pruned or taken as latest. The real day_two task files
(tasks/list_backups.yml, tasks/prune_backups.yml) run by the real ansible-playbook on folders
laid out as interrupted runs leave them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = """
- name: Backups of a folder
  hosts: localhost
  gather_facts: false
  tasks:
    - name: What {task} does
      ansible.builtin.include_role:
        name: day_two
        tasks_from: {task}
        public: true
    - name: The finished backups are written out
      ansible.builtin.copy:
        content: "{{{{ _day_two_available | to_json }}}}"
        dest: "{out}"
        mode: "0600"
"""
GOOD = ["20260101T000000Z", "20260103T000000Z", "20260103T000000Z-02", "20260109T000000Z"]
# As interrupted runs leave them: an older version's folders under final names (empty, only the
# tar, only the dump), this version's .partial-* folders (one even holding its SHA256SUMS: killed
# between the checksums and the rename), and a folder of the user's that is no backup.
UNFINISHED = {
    "20260104T000000Z": [],
    "20260105T000000Z": [".postgres.dump.tar"],
    "20260106T000000Z": ["postgres.dump"],
    ".partial-20260107T000000Z": ["postgres.dump"],
    ".partial-20260108T000000Z": ["postgres.dump", "dump.rdb", "SHA256SUMS"],
    "notes": ["SHA256SUMS"],
}


def lay_out(base: Path) -> None:
    for name in GOOD:
        (base / name).mkdir(parents=True)
        for file in ("postgres.dump", "dump.rdb", "SHA256SUMS"):
            (base / name / file).write_text(file)
    for name, files in UNFINISHED.items():
        (base / name).mkdir(parents=True)
        for file in files:
            (base / name / file).write_text(file)


def run(tmp_path: Path, task: str, **extra: object) -> list[str]:
    out = tmp_path / f"{task}.json"
    play = tmp_path / f"{task}.yml"
    play.write_text(PLAYBOOK.format(task=task, out=out))
    variables = {"integrador_backup_dir": str(tmp_path / "backups"), **extra}
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            *("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"),
            *("-e", json.dumps(variables), str(play)),
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed: list[str] = json.loads(out.read_text())
    return listed


def test_only_finished_backups_are_listed_oldest_first(tmp_path: Path) -> None:
    lay_out(tmp_path / "backups")
    listed = run(tmp_path, "list_backups")
    assert listed == sorted(GOOD)
    # What restore.yml takes for BACKUP=latest: the newest finished backup.
    assert listed[-1] == "20260109T000000Z"


def test_pruning_never_counts_or_removes_an_unfinished_folder(tmp_path: Path) -> None:
    """Keep 2: the two oldest finished backups go, whatever number of unfinished folders lie
    beside them; every unfinished folder is still there (the next backup removes .partial-*)."""
    base = tmp_path / "backups"
    lay_out(base)
    run(tmp_path, "prune_backups", integrador_backup_keep=2)
    left = sorted(path.name for path in base.iterdir())
    assert left == sorted(["20260103T000000Z-02", "20260109T000000Z", *UNFINISHED])
