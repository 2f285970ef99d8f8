"""Stand-ins for scripts/converge (what runs a playbook) shared by the Makefile's and the
command line's tests: one that records its arguments, one that hands them to the real
ansible-playbook with a playbook that shows the `backup` variable as Ansible received it."""

from __future__ import annotations

import json
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
    showing the `backup` variable, as received, with Ansible's JSON output written to
    $BACKUP_OUT (received_backup reads it back). No module runs: a `debug` task is judged on
    the controller, about 1 s a run against 2 s for a `copy` (a module process)."""
    playbook = folder / "print_backup.yml"
    playbook.write_text(
        "- name: The backup variable is shown as received\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Backup is shown\n"
        "      ansible.builtin.debug:\n"
        "        var: backup\n"
    )
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    return write_stub(
        folder / "converge",
        "import os, subprocess, sys\n"
        "assert sys.argv[1] == 'playbooks/restore.yml', sys.argv\n"
        f"cmd = [{str(playbook_bin)!r}, {str(playbook)!r}, '-i', 'localhost,', '-c', 'local',\n"
        f"       '-e', 'ansible_python_interpreter={sys.executable}', *sys.argv[2:]]\n"
        "env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1')\n"
        "with open(os.environ['BACKUP_OUT'], 'wb') as out:\n"
        "    sys.exit(subprocess.run(cmd, env=env, stdout=out, check=False).returncode)\n",
    )


def received_backup(out: Path) -> object:
    """The `backup` variable as the playbook of backup_printing_runner received it: read from
    Ansible's JSON output (JSON keeps every character, a "\\r" or an emoji as typed)."""
    # raw_decode: the first JSON document; ansible.cfg's timer callback prints a line after it.
    result, _ = json.JSONDecoder().raw_decode(out.read_bytes().decode("utf-8"))
    [task] = result["plays"][0]["tasks"]
    return task["hosts"]["localhost"]["backup"]
