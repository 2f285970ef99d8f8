"""Stand-ins for scripts/converge (what runs a playbook) shared by the Makefile's and the
command line's tests: one that records its arguments, one that hands them to the real
ansible-playbook with a playbook that writes out the `backup` variable as Ansible received it."""

from __future__ import annotations

import stat
import sys
from pathlib import Path


def write_stub(path: Path, body: str) -> Path:
    """An executable Python script at path (this interpreter), body its code."""
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def argv_recorder(folder: Path) -> Path:
    """A runner that appends [its arguments, the text of each @file they name] as one JSON line
    to $ARGV_OUT, and exits with $STUB_RC (0 when unset)."""
    return write_stub(
        folder / "converge",
        "import json, os, sys\n"
        "files = {a[1:]: open(a[1:], encoding='utf-8').read() for a in sys.argv[1:] if a[:1] == '@'}\n"
        "with open(os.environ['ARGV_OUT'], 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps([sys.argv[1:], files]) + '\\n')\n"
        "sys.exit(int(os.environ.get('STUB_RC', '0')))\n",
    )


def backup_printing_runner(folder: Path) -> Path:
    """A runner for playbooks/restore.yml that runs the real ansible-playbook on a playbook
    writing the `backup` variable, as received, to $BACKUP_OUT."""
    playbook = folder / "print_backup.yml"
    playbook.write_text(
        "- name: The backup variable is written as received\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Backup is written\n"
        "      ansible.builtin.copy:\n"
        "        content: '{{ backup }}'\n"
        "        dest: \"{{ lookup('ansible.builtin.env', 'BACKUP_OUT') }}\"\n"
        "        mode: '0600'\n"
    )
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    return write_stub(
        folder / "converge",
        "import os, sys\n"
        "assert sys.argv[1] == 'playbooks/restore.yml', sys.argv\n"
        f"cmd = [{str(playbook_bin)!r}, {str(playbook)!r}, '-i', 'localhost,', '-c', 'local',\n"
        f"       '-e', 'ansible_python_interpreter={sys.executable}', *sys.argv[2:]]\n"
        "os.execv(cmd[0], cmd)\n",
    )
