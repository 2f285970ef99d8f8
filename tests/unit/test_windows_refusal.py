"""A native Windows host in the inventory (winrm, psrp or a PowerShell shell) is refused by the
preflight before anything is contacted or changed, naming the host and pointing at WSL2; the
stack's Python modules do not run on Windows (docs/platforms.md). The run is the real
ansible-playbook with the real preflight role; the host's address is TEST-NET (never reached)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- name: Preflight of a Windows host
  hosts: all
  gather_facts: false
  vars:
    preflight_parts: [db, redis, python, api, ws]
  roles:
    - preflight
"""


def run(tmp_path: Path, host_vars: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.ini").write_text(f"winbox ansible_host=192.0.2.10 {host_vars}\n")
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(tmp_path / "hosts.ini"),
            str(tmp_path / "playbook.yml"),
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_TIMEOUT": "3"},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    "host_vars",
    [
        "ansible_connection=winrm",
        "ansible_connection=psrp",
        "ansible_connection=ssh ansible_shell_type=powershell",
        "ansible_connection=ssh ansible_shell_type=cmd",
    ],
)
def test_native_windows_host_is_refused_pointing_at_wsl2(tmp_path: Path, host_vars: str) -> None:
    proc = run(tmp_path, host_vars)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "winbox" in out and "native Windows" in out and "WSL2" in out, out
    assert "docs/platforms.md" in out, out
    # Refused before any connection was tried.
    assert "UNREACHABLE" not in out, out
