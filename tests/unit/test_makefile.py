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
import subprocess
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playbook_stubs import argv_recorder, backup_printing_runner, received_backup, write_stub

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


@pytest.fixture(scope="module")
def argv_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stub")
    return argv_recorder(folder)


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
    args = ["restore", "YES=1", f"CONVERGE={stub}"]
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
    assert argv[:4] == ["playbooks/restore.yml", "-e", "integrador_restore_confirmed=true", "-e"], argv
    assert len(argv) == 5 and argv[4].startswith("@") and list(files) == [argv[4][1:]]
    assert not Path(argv[4][1:]).exists()
    data = DataLoader().load(files[argv[4][1:]])
    assert list(data) == ["backup"]
    assert isinstance(data["backup"], str)
    return data["backup"]


def test_backup_with_spaces_is_one_value(argv_stub: Path, tmp_path: Path) -> None:
    argv = restore_argv(argv_stub, tmp_path, "a folder with spaces")
    assert backup_ansible_reads(argv) == "a folder with spaces"


def test_restore_without_backup_prints_the_usage(argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    proc = run_make("restore", "YES=1", f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
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
    return backup_printing_runner(tmp_path_factory.mktemp("playbook"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
        "YES=1",
        f"CONVERGE={playbook_stub}",
        f"BACKUP={name}",
        env={"BACKUP_OUT": str(out), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert received_backup(out) == name


# --- make help and the commands of a developer's day ---------------------------------------

MAKEFILE = REPO / "Makefile"


def makefile_targets() -> list[str]:
    """Every target a rule of the Makefile defines (not its files, variables or target-specific
    variables), in the order written."""
    found: list[str] = []
    in_define = False
    for line in MAKEFILE.read_text().splitlines():
        # A define ... endef block is a variable's text (a playbook, a script), not rules.
        if line.startswith(("define ", "endef")):
            in_define = line.startswith("define ")
            continue
        head, sep, rest = line.partition(":")
        if (
            in_define
            or not sep
            or line[:1] in "\t #$."
            or "=" in head
            or rest.startswith("=")
            or " export " in f" {rest.strip()} "
        ):
            continue
        for target in head.split():
            if target not in found:
                found.append(target)
    return found


def test_make_alone_lists_every_target_with_one_line() -> None:
    proc = run_make()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listed = [line.split()[1] for line in lines if line.startswith("  make ")]
    targets = makefile_targets()
    assert {"help", "dev", "status", "logs", "restart", "reset", "down", "backup", "restore"} <= set(targets)
    # One line each, no target left out, nothing listed that is not a target.
    assert sorted(listed) == sorted(targets), (listed, targets)
    for line in lines[1:]:
        assert len(line.split(maxsplit=2)) == 3, line
    assert run_make("help").stdout == proc.stdout


def test_help_is_the_only_thing_make_alone_does(argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    proc = run_make(f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode == 0 and not out.exists()


def converge_calls(out: Path) -> list[list[str]]:
    return [json.loads(line)[0] for line in out.read_text().splitlines()] if out.exists() else []


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["restart"], ["playbooks/restart.yml"]),
        (["restart", "SERVICE=api"], ["playbooks/restart.yml", "-e", "integrador_restart_service=api"]),
        (["restart", "SERVICE=WS"], ["playbooks/restart.yml", "-e", "integrador_restart_service=ws"]),
        (["logs"], ["playbooks/logs.yml"]),
        (
            ["logs", "SERVICE=redis", "FOLLOW=0"],
            ["playbooks/logs.yml", "-e", "integrador_logs_service=redis"],
        ),
        (["status", "FORMAT=table"], ["playbooks/status.yml"]),
        (["dev", "INSTANCE=b"], ["playbooks/dev.yml", "-e", "integrador_instance=b"]),
        (["backup", "INSTANCE=feature-2"], ["playbooks/backup.yml", "-e", "integrador_instance=feature-2"]),
        (["reset", "YES=1"], ["playbooks/reset.yml", "-e", "integrador_reset_confirmed=true"]),
        (
            ["down", "PURGE=1", "INSTANCE=b"],
            ["playbooks/down.yml", "-e", "integrador_purge=true", "-e", "integrador_instance=b"],
        ),
        (["snapshot"], ["playbooks/snapshot.yml", "-e", "integrador_snapshot_action=take"]),
        (
            ["snapshot", "NAME=before-mig_2"],
            [
                "playbooks/snapshot.yml",
                "-e",
                "integrador_snapshot_action=take",
                "-e",
                "integrador_snapshot_name=before-mig_2",
            ],
        ),
        (["snapshots", "FORMAT=table"], ["playbooks/snapshot.yml", "-e", "integrador_snapshot_action=list"]),
        (
            ["restore-snapshot", "NAME=undo-20261206-101500", "INSTANCE=b"],
            [
                "playbooks/snapshot.yml",
                "-e",
                "integrador_snapshot_action=restore",
                "-e",
                "integrador_snapshot_name=undo-20261206-101500",
                "-e",
                "integrador_instance=b",
            ],
        ),
        (
            ["drop-snapshot", "NAME=x"],
            [
                "playbooks/snapshot.yml",
                "-e",
                "integrador_snapshot_action=drop",
                "-e",
                "integrador_snapshot_name=x",
            ],
        ),
    ],
)
def test_day_commands_run_their_playbook(
    args: list[str], wanted: list[str], argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    proc = run_make(*args, f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert converge_calls(out) == [wanted]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["restart", "SERVICE=db"], "SERVICE=db is not understood: SERVICE takes api|ws"),
        (["restart", "SERVICE=api ws"], "SERVICE=api ws is not understood"),
        (["logs", "SERVICE=postgres"], "SERVICE=postgres is not understood: SERVICE takes api|ws|db|redis"),
        (
            ["logs", "FOLLOW=maybe"],
            "FOLLOW=maybe is not understood: FOLLOW=1 (or true, yes) follows the logs live",
        ),
        (["status", "FORMAT=yaml"], "FORMAT=yaml is not understood: FORMAT takes table|json"),
        (["reset", "YES=y"], "YES=y is not understood: YES=1 (or true, yes) goes on without asking"),
        (["dev", "INSTANCE=B"], "INSTANCE=B is not a stack name"),
        (["status", "INSTANCE=-b"], "INSTANCE=-b is not a stack name"),
        (["down", "INSTANCE=a b"], "INSTANCE=a b is not a stack name"),
        (["logs", "INSTANCE=b_2"], "INSTANCE=b_2 is not a stack name"),
        (["logs", "SERVICE=$(shell touch MARKER)"], "is not understood"),
        (["dev", "INSTANCE=$(shell touch MARKER)"], "is not a stack name"),
        (["snapshot", "NAME=Before"], "NAME=Before is not a snapshot name"),
        (["restore-snapshot", "NAME=a b"], "NAME=a b is not a snapshot name"),
        (["drop-snapshot", "NAME=-x"], "NAME=-x is not a snapshot name"),
        (["snapshot", "NAME=" + "x" * 31], "is not a snapshot name: use 1 to 30 of a-z"),
        (["snapshot", "NAME=$(shell touch MARKER)"], "is not a snapshot name"),
        (["snapshots", "FORMAT=yaml"], "FORMAT=yaml is not understood: FORMAT takes table|json"),
    ],
)
def test_bad_values_stop_before_ansible(
    args: list[str], message: str, argv_stub: Path, tmp_path: Path
) -> None:
    out, marker = tmp_path / "argv", tmp_path / "ran"
    args = [arg.replace("MARKER", str(marker)) for arg in args]
    yes = [] if any(arg.startswith("YES=") for arg in args) else ["YES=1"]
    proc = run_make(*args, *yes, f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode != 0
    assert message in proc.stderr and "Nothing was run" in proc.stderr, proc.stderr
    assert not out.exists() and not marker.exists()


@settings(max_examples=80, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), max_size=12))
@example("b")
@example("feature-7")
@example("B")
@example("-x")
@example("é")
def test_instance_reaches_ansible_only_as_a_plain_name(value: str) -> None:
    """Lowercase letters, digits and dashes (not first) pass as `-e integrador_instance=<it>`;
    anything else stops make before a playbook runs."""
    proc = run_make("-n", "down", f"INSTANCE={value}")
    word = value.strip(MAKE_BLANKS)
    plain = word and word[0] != "-" and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in word)
    if not word:
        assert proc.returncode == 0 and converge_argv(proc.stdout) == [
            "scripts/converge",
            "playbooks/down.yml",
        ]
    elif plain:
        assert proc.returncode == 0, proc.stderr
        assert converge_argv(proc.stdout)[2:] == ["-e", f"integrador_instance={word}"]
    else:
        assert proc.returncode != 0 and "is not a stack name" in proc.stderr, (value, proc.stdout)


# make reset and make restore replace data: both ask on a terminal, take YES=1, and refuse
# with no terminal to ask on.
ASKING = {
    "reset": (
        [],
        ["playbooks/reset.yml", "-e", "integrador_reset_confirmed=true"],
        b"REMOVES the PostgreSQL database",
    ),
    "restore": (
        ["BACKUP=20250101T000000Z"],
        ["playbooks/restore.yml", "-e", "integrador_restore_confirmed=true", "-e"],
        b"replaces the database and Redis data of the default stack with backup 20250101T000000Z",
    ),
}


@pytest.mark.parametrize("verb", sorted(ASKING))
def test_data_replacing_verbs_with_no_terminal_refuse_without_yes(
    verb: str, argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    for extra in ([], ["YES=0"], ["YES=no"]):
        proc = subprocess.run(
            [*MAKE, verb, *ASKING[verb][0], *extra, f"CONVERGE={argv_stub}"],
            env=dict(os.environ, ARGV_OUT=str(out)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert f"with no terminal to ask on, run it as make {verb}" in proc.stderr and "YES=1" in proc.stderr
    assert not out.exists()


def on_a_terminal(verb: str, answer: bytes, stub: Path, out: Path) -> tuple[int, bytes]:
    """make <verb> with a pseudo-terminal as stdin, answering the question with answer."""
    import pty

    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [*MAKE, verb, *ASKING[verb][0], f"CONVERGE={stub}"],
        env=dict(os.environ, ARGV_OUT=str(out)),
        stdin=sub,
        stdout=subprocess.PIPE,
        stderr=sub,
    )
    os.close(sub)
    seen = b""
    while b"Type yes to go on:" not in seen:
        chunk = os.read(main, 1024)
        assert chunk, seen
        seen += chunk
    os.write(main, answer)
    proc.communicate(timeout=120)
    os.close(main)
    return proc.returncode, seen


@pytest.mark.parametrize("verb", sorted(ASKING))
@pytest.mark.parametrize(
    ("answer", "runs"), [(b"yes\n", True), (b"no\n", False), (b"y\n", False), (b"\n", False)]
)
def test_data_replacing_verbs_ask_on_a_terminal(
    verb: str, answer: bytes, runs: bool, argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    rc, question = on_a_terminal(verb, answer, argv_stub, out)
    assert ASKING[verb][2] in b" ".join(question.split()), question
    assert (rc == 0) is runs
    calls = converge_calls(out)
    assert [call[: len(ASKING[verb][1])] for call in calls] == ([ASKING[verb][1]] if runs else [])


@pytest.fixture(scope="module")
def status_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for status.yml: prints a table, writes one host's JSON where make asked, and
    exits with STATUS_RC (as the real playbook exits non-zero when a part is unhealthy)."""
    folder = tmp_path_factory.mktemp("status")
    return write_stub(
        folder / "converge",
        "import json, os, sys\n"
        "assert sys.argv[1] == 'playbooks/status.yml', sys.argv\n"
        "print('TASK [Stack status] a table for people')\n"
        "rc = int(os.environ['STATUS_RC'])\n"
        "for arg in sys.argv:\n"
        "    if arg.startswith('integrador_status_json_dir='):\n"
        "        path = os.path.join(arg.split('=', 1)[1], 'localhost.json')\n"
        "        with open(path, 'w') as f:\n"
        "            json.dump({'host': 'localhost', 'healthy': rc == 0, 'parts': [{'ok': rc == 0}]}, f)\n"
        "sys.exit(rc)\n",
    )


@pytest.mark.parametrize("rc", [0, 2])
def test_status_json_is_all_of_stdout_with_the_same_exit_status(status_stub: Path, rc: int) -> None:
    table = run_make("status", f"CONVERGE={status_stub}", env={"STATUS_RC": str(rc)})
    # As a user types it: without -s, where make echoes each recipe line it does not silence.
    loud = [arg for arg in MAKE if arg != "-s"]
    as_json = subprocess.run(
        [*loud, "--no-print-directory", "status", "FORMAT=json", f"CONVERGE={status_stub}"],
        env=dict(os.environ, STATUS_RC=str(rc)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "a table for people" in table.stdout
    assert as_json.returncode == table.returncode and (as_json.returncode == 0) is (rc == 0)
    data = json.loads(as_json.stdout)
    assert data["healthy"] is (rc == 0)
    assert data["hosts"]["localhost"]["parts"] == [{"ok": rc == 0}]
    # The playbook's own output went to stderr.
    assert "a table for people" in as_json.stderr


def test_status_json_of_a_run_that_failed_early_says_unhealthy(argv_stub: Path, tmp_path: Path) -> None:
    failing = write_stub(tmp_path / "converge", "import sys\nsys.exit(4)\n")
    proc = run_make("status", "FORMAT=json", f"CONVERGE={failing}")
    table = run_make("status", f"CONVERGE={failing}")
    assert proc.returncode == table.returncode != 0
    assert "Error 4" in proc.stderr and "Error 4" in table.stderr
    assert json.loads(proc.stdout) == {"healthy": False, "hosts": {}}


def test_logs_follow_runs_the_command_the_playbook_wrote(tmp_path: Path) -> None:
    """FOLLOW=1: make runs, in the foreground, the argv logs.yml wrote (here a stand-in
    that prints its arguments), and removes the folder afterwards."""
    stub = write_stub(
        tmp_path / "converge",
        "import json, os, sys\n"
        "assert sys.argv[1] == 'playbooks/logs.yml', sys.argv\n"
        "args = dict(a.split('=', 1) for a in sys.argv if '=' in a)\n"
        "folder = args['integrador_logs_follow_dir']\n"
        f"open({str(tmp_path / 'folder')!r}, 'w').write(folder)\n"
        "with open(os.path.join(folder, 'localhost.json'), 'w') as f:\n"
        "    json.dump([sys.executable, '-c', 'import sys; print(\"following\", sys.argv[1:])',"
        " args.get('integrador_logs_service', 'all')], f)\n",
    )
    proc = run_make("logs", "FOLLOW=1", "SERVICE=api", f"CONVERGE={stub}")
    assert proc.returncode == 0, proc.stderr
    assert "following ['api']" in proc.stdout
    assert not Path((tmp_path / "folder").read_text()).exists()


@pytest.mark.parametrize("verb", ["restore-snapshot", "drop-snapshot"])
def test_snapshot_verbs_without_name_print_the_usage(verb: str, argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    proc = run_make(verb, f"CONVERGE={argv_stub}", env={"ARGV_OUT": str(out)})
    assert proc.returncode == 2 and f"usage: make {verb} NAME=<snapshot>" in proc.stderr, proc.stderr
    assert not out.exists()


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), max_size=34))
@example("a")
@example("x" * 30)
@example("x" * 31)
@example("_a")
@example("UPPER")
def test_snapshot_name_reaches_ansible_only_as_the_written_rule_allows(value: str) -> None:
    """A name of 1 to 30 of a-z, 0-9, '-' and '_' starting with a letter or digit passes as
    `-e integrador_snapshot_name=<it>` (blanks around dropped, as make strips them); anything
    else stops before Ansible. The rule written out here, not the CLI's own regex."""
    proc = run_make("-n", "snapshot", f"NAME={value}")
    word = value.strip(" \t\n\r\v\f")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    if word == "":
        assert proc.returncode == 0, proc.stderr
        assert "integrador_snapshot_name" not in proc.stdout
    elif len(word) <= 30 and set(word) <= allowed and word[0] not in "-_":
        assert proc.returncode == 0, proc.stderr
        assert f"-e integrador_snapshot_name={word}" in proc.stdout
    else:
        assert proc.returncode == 2 and "is not a snapshot name" in proc.stderr, (value, proc.stderr)
