"""`make down PURGE=...` and `make restore BACKUP=...`, tested through `make` itself.

make runs for real with this repository's Makefile. Where a recipe would start a playbook,
CONVERGE points at a stub instead:
- `argv` stubs only record the arguments they were given. They prove make's and the
  shell's quoting (what ansible-playbook would receive), not a restore;
- the `ansible-playbook` stub runs the real ansible-playbook, with make's own arguments, on a
  one-task playbook that writes the `backup` variable to a file: it proves Ansible receives
  exactly the folder name typed, not that a restore works (the day2 Molecule scenario does).
`-o .venv/.requirements.txt` keeps make from reinstalling the tooling virtualenv.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
MAKE = ["make", "-s", "-C", str(REPO), "-o", ".venv/.requirements.txt"]
KEEP = ["", "0", "false", "no", "FALSE", "No", " 0 ", "fAlSe"]
PURGE = ["1", "true", "yes", "TRUE", "Yes", " yes ", "tRuE"]
REFUSED = ["maybe", "2", "on", "off", "y", "n", "-1", "1 2", "true false", "yes!", "0.0", "nope"]
# A folder name: any character but NUL (no argv or environment can hold it) and lone surrogates.
NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)
# make's syntax drops these when they open a command-line value (`make X=" a"` is "a").
MAKE_BLANKS = " \t\n\r\v\f"
MESSAGE = "is not understood: PURGE=1 (or true, yes) removes the containers and volumes"


def write_stub(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def argv_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stub")
    return write_stub(
        folder / "converge",
        "import json, os, sys\n"
        "files = {a[1:]: open(a[1:], encoding='utf-8').read() for a in sys.argv[1:] if a[:1] == '@'}\n"
        "with open(os.environ['ARGV_OUT'], 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps([sys.argv[1:], files]) + '\\n')\n",
    )


def run_make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKE, *args], env=dict(os.environ, **(env or {})), capture_output=True, text=True, check=False
    )


def dry_run_down(value: str) -> subprocess.CompletedProcess[str]:
    return run_make("-n", "down", f"PURGE={value}")


def converge_argv(printed: str) -> list[str]:
    """The converge command `make -n` prints, split as the shell would."""
    lines = [shlex.split(line) for line in printed.splitlines() if "playbooks/down.yml" in line]
    assert len(lines) == 1, printed
    return lines[0]


@pytest.mark.parametrize("value", KEEP)
def test_down_keeps_the_volumes(value: str) -> None:
    proc = dry_run_down(value)
    assert proc.returncode == 0, proc.stderr
    argv = converge_argv(proc.stdout)
    assert argv[:2] == ["scripts/converge", "playbooks/down.yml"]
    assert not any("integrador_purge" in arg for arg in argv)


@pytest.mark.parametrize("value", PURGE)
def test_down_purges_only_when_asked(value: str) -> None:
    proc = dry_run_down(value)
    assert proc.returncode == 0, proc.stderr
    assert converge_argv(proc.stdout) == [
        "scripts/converge",
        "playbooks/down.yml",
        "-e",
        "integrador_purge=true",
    ]


def test_down_without_purge_keeps_the_volumes() -> None:
    proc = run_make("-n", "down")
    assert proc.returncode == 0, proc.stderr
    assert converge_argv(proc.stdout) == ["scripts/converge", "playbooks/down.yml"]


@pytest.mark.parametrize("value", REFUSED)
def test_down_refuses_other_values_before_ansible(value: str, argv_stub: Path, tmp_path: Path) -> None:
    """A real run (not -n): make stops with the message, and the playbook never starts."""
    out = tmp_path / "argv"
    proc = run_make("down", f"PURGE={value}", f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode != 0
    assert f"PURGE={value} {MESSAGE}" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(("value", "wanted"), [("0", []), ("no", []), ("1", ["-e", "integrador_purge=true"])])
def test_down_runs_the_playbook_with_what_make_decided(
    value: str, wanted: list[str], argv_stub: Path, tmp_path: Path
) -> None:
    """A real run (not -n), the argv stub in place of scripts/converge."""
    out = tmp_path / "argv"
    proc = run_make("down", f"PURGE={value}", f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == [["playbooks/down.yml", *wanted], {}]


def test_purge_that_looks_like_make_code_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = dry_run_down(f"$(shell touch {marker})")
    assert proc.returncode != 0 and MESSAGE in proc.stderr
    assert not marker.exists()


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.sampled_from(KEEP + PURGE + REFUSED),
        st.text(st.sampled_from("01tTrRuUeEyYsSnNoOfFaAlL2 -x"), max_size=8),
    )
)
def test_down_purges_exactly_for_1_true_yes(value: str) -> None:
    word = value.strip(" ").lower()
    proc = dry_run_down(value)
    if word in {"1", "true", "yes"}:
        assert proc.returncode == 0 and "integrador_purge=true" in converge_argv(proc.stdout)
    elif word in {"", "0", "false", "no"}:
        assert proc.returncode == 0 and "integrador_purge=true" not in converge_argv(proc.stdout)
    else:
        assert proc.returncode != 0 and MESSAGE in proc.stderr, (value, proc.stdout)


def restore_argv(
    stub: Path, tmp_path: Path, backup: str, on_command_line: bool = True
) -> tuple[list[str], dict[str, str]]:
    """The arguments make gave the playbook runner, and the extra-vars files they name."""
    out = tmp_path / "argv"
    out.unlink(missing_ok=True)
    env = {"ARGV_OUT": str(out)}
    args = ["restore", f"CONVERGE={stub}"]
    if on_command_line:
        args.append(f"BACKUP={backup}")
    else:
        env["BACKUP"] = backup
    proc = run_make(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    calls = out.read_text(encoding="utf-8").splitlines()
    assert len(calls) == 1
    argv, files = json.loads(calls[0])
    return argv, files


def backup_ansible_reads(call: tuple[list[str], dict[str, str]]) -> object:
    """What ansible-playbook makes of the arguments: one extra-vars file, read with Ansible's
    own loader; the file is gone once make is done."""
    argv, files = call
    assert argv[:2] == ["playbooks/restore.yml", "-e"] and len(argv) == 3, argv
    assert argv[2].startswith("@") and list(files) == [argv[2][1:]]
    assert not Path(argv[2][1:]).exists()
    data = DataLoader().load(files[argv[2][1:]])
    assert list(data) == ["backup"]
    assert isinstance(data["backup"], str)
    return data["backup"]


def test_backup_with_spaces_is_one_value(argv_stub: Path, tmp_path: Path) -> None:
    argv = restore_argv(argv_stub, tmp_path, "a folder with spaces")
    assert backup_ansible_reads(argv) == "a folder with spaces"


def test_restore_without_backup_prints_the_usage(argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    proc = run_make("restore", f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode == 2
    assert "usage: make restore BACKUP=<backup folder>" in proc.stderr
    assert not out.exists()


def test_backup_that_looks_like_make_or_shell_code_is_not_run(argv_stub: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for name in (
        f"$(shell touch {marker})",
        f"$$(touch {marker})",
        f"`touch {marker}`",
        f"x; touch {marker}",
    ):
        assert backup_ansible_reads(restore_argv(argv_stub, tmp_path, name)) == name
    assert not marker.exists()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NAMES.filter(lambda name: name[0] not in MAKE_BLANKS))
@example('it\'s a "quoted" $HOME $(x) ${y} `z` \\ \\\\n é 😀 {{ 7 * 6 }} # % ; &')
@example("trailing space ")
@example("new\nline")
@example("0")
@example("0\r")
@example("yes")
@example("=")
@example("~")
def test_backup_on_the_command_line_arrives_exactly(argv_stub: Path, tmp_path: Path, name: str) -> None:
    """make drops the blanks that open a command-line value (its own syntax: `make X=" a"`
    is "a"); any other name arrives as typed."""
    assert backup_ansible_reads(restore_argv(argv_stub, tmp_path, name)) == name


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NAMES)
@example("  leading blanks")
def test_backup_from_the_environment_arrives_exactly(argv_stub: Path, tmp_path: Path, name: str) -> None:
    """`BACKUP=' x' make restore`: the environment keeps even leading blanks."""
    assert backup_ansible_reads(restore_argv(argv_stub, tmp_path, name, on_command_line=False)) == name


@pytest.fixture(scope="module")
def playbook_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("playbook")
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


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NAMES.filter(lambda name: name[0] not in MAKE_BLANKS))
@example("a folder with spaces")
@example('it\'s "quoted" $HOME \\ é 😀 {{ 7 * 6 }} {% raw %}')
@example("0")
@example("0\r")
def test_real_ansible_playbook_receives_backup_exactly(
    playbook_stub: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "backup.txt"
    out.unlink(missing_ok=True)
    proc = run_make(
        "restore",
        f"CONVERGE={playbook_stub}",
        f"BACKUP={name}",
        env={"BACKUP_OUT": str(out), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Bytes, not read_text(): universal newlines would turn a "\r" in the name into "\n".
    assert out.read_bytes().decode("utf-8") == name
