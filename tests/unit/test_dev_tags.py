"""playbooks/dev.yml refuses, before anything is read or changed, a --skip-tags that would
leave a service without part of what it needs (api, ws, python: the tags mark a service and
what it needs), naming the tag and the commands that do what the user meant. The real
ansible-playbook on this machine, with its state folder in a scratch directory: the run ends
before the preflight, so no Docker engine, port or unit is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


def dev(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = {"integrador_state_dir": str(tmp_path / "state"), "integrador_root": str(tmp_path / "nowhere")}
    return subprocess.run(
        [
            str(PLAYBOOK_BIN),
            "-i",
            "localhost,",
            "-c",
            "local",
            "playbooks/dev.yml",
            "-e",
            json.dumps(settings),
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        timeout=300,
    )


@pytest.mark.parametrize(
    "skipped", ["api", "ws", "python", "ws,python", "python,ws", "docker,api", "python,api,ws"]
)
def test_skipping_what_a_service_needs_is_refused_before_anything_runs(tmp_path: Path, skipped: str) -> None:
    proc = dev(tmp_path, "--skip-tags", skipped)
    assert proc.returncode != 0, proc.stdout
    # Named in one order (api, ws, python), whatever the order given.
    named = ",".join(tag for tag in ("api", "ws", "python") if tag in skipped.split(","))
    assert f"--skip-tags {named} cannot be used with this playbook" in proc.stdout, proc.stdout
    assert "--tags api or --tags ws" in proc.stdout and "Nothing was changed." in proc.stdout
    # Refused first: neither the preflight nor any role ran.
    assert "TASK [Preflight]" not in proc.stdout and "TASK [preflight :" not in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
