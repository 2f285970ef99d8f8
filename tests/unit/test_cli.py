"""`integrador <verb>` (integrador_cli/main.py), through Click's test runner and through the real
entry point .venv/bin/integrador.

Where a verb would start a playbook, the runner is a stub (--converge, or INTEGRADOR_CONVERGE
through the entry point, as tests/unit/test_makefile.py does with CONVERGE=): `argv` stubs only
record the arguments they were given (what ansible-playbook would receive); the
`ansible-playbook` stub runs the real ansible-playbook on a one-task playbook that writes the
`backup` variable to a file, proving Ansible receives exactly the folder name typed. psql and
redis-cli run the real settings playbook and a stand-in `docker` that prints its arguments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playbook_stubs import argv_recorder, backup_printing_runner, received_backup, write_stub

from integrador_cli import main
from integrador_cli.main import cli, unsafe_extra_vars

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / ".venv" / "bin" / "integrador"
MAKE = ["make", "-s", "-C", str(REPO), "-o", ".venv/.requirements.txt"]
# A folder name: any character but NUL (no argv or environment can hold it) and lone surrogates.
NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)
INSTANCE = re.compile(r"[a-z0-9][a-z0-9-]*")


# --- Click's runner: every verb's argv -----------------------------------------------------


class Recorder:
    """Stands in for main.execute: records each argv; a status or logs run writes what the
    playbook would (one host's JSON) into the folder its -e names."""

    def __init__(self, rc: int = 0) -> None:
        self.rc = rc
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], *, stdout: int | None = None) -> int:
        self.calls.append(list(argv))
        for arg in argv:
            if arg.startswith("integrador_status_json_dir="):
                state = {"host": "localhost", "healthy": self.rc == 0, "parts": [{"ok": self.rc == 0}]}
                Path(arg.split("=", 1)[1], "localhost.json").write_text(json.dumps(state))
            if arg.startswith("@"):
                self.calls[-1].append(Path(arg[1:]).read_text(encoding="utf-8"))
        return self.rc


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(main, "execute", recorder)
    monkeypatch.setattr(main, "sudo_needs_no_password", lambda: True)
    return recorder


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="integrador")


C = "scripts/converge"


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["dev"], [[C, "playbooks/dev.yml"]]),
        (
            ["dev", "--instance", "b", "-vv", "--", "--tags", "api", "-e", "x=a b"],
            [[C, "playbooks/dev.yml", "-e", "integrador_instance=b", "-vv", "--tags", "api", "-e", "x=a b"]],
        ),
        (["check"], [[C, "playbooks/dev.yml", "--check", "--diff"]]),
        (
            ["check", "--instance=feature-2", "--", "--tags", "db"],
            [
                [
                    C,
                    "playbooks/dev.yml",
                    "--check",
                    "--diff",
                    "-e",
                    "integrador_instance=feature-2",
                    "--tags",
                    "db",
                ]
            ],
        ),
        (["status"], [[C, "playbooks/status.yml"]]),
        (["logs"], [[C, "playbooks/logs.yml"]]),
        (["logs", "--service", "REDIS"], [[C, "playbooks/logs.yml", "-e", "integrador_logs_service=redis"]]),
        (["restart"], [[C, "playbooks/restart.yml"]]),
        (
            ["restart", "--service", "ws"],
            [[C, "playbooks/restart.yml", "-e", "integrador_restart_service=ws"]],
        ),
        (["down"], [[C, "playbooks/down.yml"]]),
        (
            ["down", "--purge", "--instance", "b"],
            [[C, "playbooks/down.yml", "-e", "integrador_purge=true", "-e", "integrador_instance=b"]],
        ),
        (["backup", "-v"], [[C, "playbooks/backup.yml", "-v"]]),
        (["reset", "--yes"], [[C, "playbooks/reset.yml", "-e", "integrador_reset_confirmed=true"]]),
        (["doctor", "--instance", "b"], [[C, "playbooks/doctor.yml", "-e", "integrador_instance=b"]]),
        (["workstation", "--", "--check"], [["ansible-playbook", "playbooks/workstation.yml", "--check"]]),
        (
            ["bench", "--", "--runs", "3"],
            [
                ["make", "--no-print-directory", "images"],
                ["python", "bench/run.py", "--runs", "3"],
            ],
        ),
        (["--converge", "stub --flag", "backup"], [["stub", "--flag", "playbooks/backup.yml"]]),
    ],
)
def test_every_verb_runs_what_its_make_target_ran(
    args: list[str], wanted: list[list[str]], recorder: Recorder
) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert recorder.calls == wanted


def test_restore_hands_the_backup_over_in_an_unsafe_extra_vars_file(recorder: Recorder) -> None:
    result = invoke("restore", "my backup", "--yes", "--instance", "b", "--", "--check")
    assert result.exit_code == 0, result.output
    [call] = recorder.calls
    assert call[:5] == [C, "playbooks/restore.yml", "-e", "integrador_restore_confirmed=true", "-e"]
    assert call[5].startswith("@") and call[6:] == [
        "-e",
        "integrador_instance=b",
        "--check",
        unsafe_extra_vars("my backup"),
    ]
    assert not Path(call[5][1:]).exists()


@pytest.mark.parametrize("how", ["argument", "option"])
def test_import_db_hands_the_absolute_path_over_in_an_unsafe_extra_vars_file(
    how: str, recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    given = ["my dump's {{ x }}.sql"] if how == "argument" else ["--file", "my dump's {{ x }}.sql"]
    result = invoke("import-db", *given, "--instance", "b")
    assert result.exit_code == 0, result.output
    [call] = recorder.calls
    assert call[:4] == [C, "playbooks/snapshot.yml", "-e", "integrador_snapshot_action=import"]
    assert call[4] == "-e" and call[5].startswith("@") and call[6:8] == ["-e", "integrador_instance=b"]
    # Relative to where the user stood, and never templated by Ansible (!unsafe).
    assert call[8] == unsafe_extra_vars(str(tmp_path / "my dump's {{ x }}.sql"), "integrador_import_file")
    assert not Path(call[5][1:]).exists()


def test_import_db_without_a_file_says_how_and_runs_nothing(recorder: Recorder) -> None:
    result = invoke("import-db")
    assert result.exit_code == 2 and "Missing argument 'FILE'" in result.output, result.output
    both = invoke("import-db", "a.sql", "--file", "b.sql")
    assert both.exit_code == 2 and "Give the dump once" in both.output, both.output
    assert recorder.calls == []


def test_workstation_asks_for_the_sudo_password_only_when_sudo_needs_one(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(main, "sudo_needs_no_password", lambda: False)
    assert invoke("workstation").exit_code == 0
    monkeypatch.setattr(main.os, "geteuid", lambda: 0)
    assert invoke("workstation").exit_code == 0
    assert recorder.calls == [
        ["ansible-playbook", "playbooks/workstation.yml", "--ask-become-pass"],
        ["ansible-playbook", "playbooks/workstation.yml"],
    ]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["restart", "--service", "db"], "'--service'"),
        (["logs", "--service", "postgres"], "'--service'"),
        (["dev", "--instance", "B"], "'--instance'"),
        (["status", "--instance", "-b"], "'--instance'"),
        (["down", "--instance", "a b"], "'--instance'"),
        (["logs", "--instance", "b_2"], "'--instance'"),
        (["backup", "--verbose=3"], "--verbose"),
        (["dev", "--tags", "api"], "--tags"),
        (["completion", "tcsh"], "'tcsh' is not one of 'bash', 'zsh', 'fish'"),
        (["restore", "--yes"], "'BACKUP'"),
        (["restore", "x", "--backup", "y", "--yes"], "BACKUP or --backup"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_usage_is_refused_by_click_with_status_2_before_ansible(
    args: list[str], option: str, recorder: Recorder
) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert recorder.calls == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12))
@example("b")
@example("feature-7")
@example("0")
@example("B")
@example("-x")
@example("é")
@example("b\n")
@example(" b")
def test_instance_reaches_ansible_only_as_a_plain_name(recorder: Recorder, value: str) -> None:
    """As the Makefile took INSTANCE: blanks around dropped, then lowercase letters, digits and
    dashes, not first; empty is the default stack."""
    recorder.calls.clear()
    result = invoke("down", f"--instance={value}")
    word = value.strip(" \t\n\r\v\f")
    if word == "":
        assert result.exit_code == 0 and recorder.calls == [[C, "playbooks/down.yml"]]
    elif INSTANCE.fullmatch(word):
        assert result.exit_code == 0, result.output
        assert recorder.calls == [[C, "playbooks/down.yml", "-e", f"integrador_instance={word}"]]
    else:
        assert result.exit_code == 2 and "Invalid value for '--instance'" in result.output
        assert "is not a stack name" in result.output and recorder.calls == []


@settings(max_examples=300, deadline=None)
@given(NAMES)
@example('it\'s a "quoted" $HOME $(x) ${y} `z` \\ \\\\n é 😀 {{ 7 * 6 }} # % ; &')
@example("0")
@example("yes")
@example("null")
@example("~")
@example("0\r")
@example("new\nline")
@example("\x7f\x85\u2028")
def test_the_extra_vars_file_gives_ansible_the_backup_exactly(name: str) -> None:
    """Ansible's own loader reads the file main.unsafe_extra_vars writes as the name, a string."""
    data = DataLoader().load(unsafe_extra_vars(name))
    assert list(data) == ["backup"] and isinstance(data["backup"], str)
    assert data["backup"] == name


def test_exit_status_is_0_done_1_failed_and_status_passes_ansibles_on(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder.rc = 4
    assert invoke("dev").exit_code == 1
    assert invoke("backup").exit_code == 1
    assert invoke("status").exit_code == 4
    assert invoke("status", "--json").exit_code == 4
    recorder.rc = 0
    assert invoke("status").exit_code == 0


def test_status_json_through_clicks_runner(recorder: Recorder) -> None:
    result = invoke("status", "--json", "--instance", "b")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "healthy": True,
        "hosts": {"localhost": {"host": "localhost", "healthy": True, "parts": [{"ok": True}]}},
    }
    [call] = recorder.calls
    assert call[:3] == [C, "playbooks/status.yml", "-e"] and call[3].startswith("integrador_status_json_dir=")
    assert call[4:] == ["-e", "integrador_instance=b"]
    assert not Path(call[3].split("=", 1)[1]).exists()


def test_dry_run_prints_the_commands_and_runs_nothing(recorder: Recorder) -> None:
    result = invoke("--dry-run", "down", "--purge", "--", "--limit", "my host")
    assert result.exit_code == 0 and recorder.calls == []
    assert result.stdout == "scripts/converge playbooks/down.yml -e integrador_purge=true --limit 'my host'\n"
    result = invoke("--dry-run", "restore", "x")
    assert (
        result.exit_code == 0
        and recorder.calls == []
        and "integrador_restore_confirmed=true" in result.stdout
    )


def test_every_verb_has_help_with_examples() -> None:
    verbs = sorted(cli.commands)
    assert set(verbs) >= {
        *("dev", "check", "status", "logs", "restart", "down", "backup", "restore", "reset"),
        *("psql", "redis-cli", "workstation", "bench", "doctor", "completion"),
    }
    for verb in verbs:
        result = invoke(verb, "--help")
        assert result.exit_code == 0, (verb, result.output)
        assert verb == "completion" or f"integrador {verb}" in result.output.split("Examples:")[1], verb
    assert "--instance NAME" in invoke("dev", "--help").output
    assert "[-- ANSIBLE-PLAYBOOK ARGUMENTS...]" in invoke("status", "--help").output


# --- The real entry point, its runner a stub ------------------------------------------------


@pytest.fixture(scope="module")
def argv_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stub")
    return argv_recorder(folder)


def run(
    *args: str, runner: Path, out: Path, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRY), *args],
        env=dict(os.environ, INTEGRADOR_CONVERGE=str(runner), ARGV_OUT=str(out), **(env or {})),
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def calls(out: Path) -> list[list[str]]:
    return [json.loads(line)[0] for line in out.read_text().splitlines()] if out.exists() else []


def test_the_entry_point_is_installed_in_the_tooling_virtualenv() -> None:
    assert ENTRY.is_file() and os.access(ENTRY, os.X_OK)
    proc = subprocess.run([str(ENTRY), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "doctor" in proc.stdout


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["dev", "--", "--tags", "api"], ["playbooks/dev.yml", "--tags", "api"]),
        (["restart", "--service", "api"], ["playbooks/restart.yml", "-e", "integrador_restart_service=api"]),
        (
            ["down", "--purge", "--instance", "b"],
            ["playbooks/down.yml", "-e", "integrador_purge=true", "-e", "integrador_instance=b"],
        ),
        (["reset", "-y"], ["playbooks/reset.yml", "-e", "integrador_reset_confirmed=true"]),
    ],
)
def test_entry_point_runs_the_runner(
    args: list[str], wanted: list[str], argv_stub: Path, tmp_path: Path
) -> None:
    proc = run(*args, runner=argv_stub, out=tmp_path / "argv")
    assert proc.returncode == 0, proc.stderr
    assert calls(tmp_path / "argv") == [wanted]


def test_entry_point_exit_status(argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    assert run("dev", runner=argv_stub, out=out, env={"STUB_RC": "3"}).returncode == 1
    assert run("status", runner=argv_stub, out=out, env={"STUB_RC": "3"}).returncode == 3
    bad = run("restart", "--service", "db", runner=argv_stub, out=out)
    assert bad.returncode == 2 and "Invalid value for '--service'" in bad.stderr
    assert len(calls(out)) == 2


@pytest.fixture(scope="module")
def status_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for status.yml: prints a table on stdout, writes one host's JSON where asked,
    exits with STATUS_RC."""
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
def test_status_json_is_all_of_stdout_with_the_same_exit_status(
    status_stub: Path, tmp_path: Path, rc: int
) -> None:
    env = {"STATUS_RC": str(rc)}
    table = run("status", runner=status_stub, out=tmp_path / "argv", env=env)
    as_json = run("status", "--json", "-v", runner=status_stub, out=tmp_path / "argv", env=env)
    assert "a table for people" in table.stdout
    assert as_json.returncode == table.returncode == rc
    data = json.loads(as_json.stdout)
    assert data == {
        "healthy": rc == 0,
        "hosts": {"localhost": {"host": "localhost", "healthy": rc == 0, "parts": [{"ok": rc == 0}]}},
    }
    assert "a table for people" in as_json.stderr


def test_status_json_of_a_run_that_failed_early_says_unhealthy(tmp_path: Path) -> None:
    failing = write_stub(tmp_path / "converge", "import sys\nsys.exit(4)\n")
    proc = run("status", "--json", runner=failing, out=tmp_path / "argv")
    assert proc.returncode == 4
    assert json.loads(proc.stdout) == {"healthy": False, "hosts": {}}


def test_logs_follow_runs_the_command_the_playbook_wrote(tmp_path: Path) -> None:
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
    proc = run("logs", "--follow", "--service", "db", runner=stub, out=tmp_path / "argv")
    assert proc.returncode == 0, proc.stderr
    assert "following ['db']" in proc.stdout
    assert not Path((tmp_path / "folder").read_text()).exists()


# --- restore and reset: asked on a terminal, --yes, refused with none -----------------------

ASKING = {
    "reset": (
        [],
        ["playbooks/reset.yml", "-e", "integrador_reset_confirmed=true"],
        b"REMOVES the PostgreSQL database",
    ),
    "restore": (
        ["20250101T000000Z"],
        ["playbooks/restore.yml", "-e", "integrador_restore_confirmed=true", "-e"],
        b"replaces the database and Redis data of the default stack with backup 20250101T000000Z",
    ),
}


@pytest.mark.parametrize("verb", sorted(ASKING))
def test_with_no_terminal_and_no_yes_they_refuse_naming_yes(
    verb: str, argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    proc = run(verb, *ASKING[verb][0], runner=argv_stub, out=out, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert f"integrador {verb}" in proc.stderr and "with no terminal to ask on" in proc.stderr
    assert "--yes" in proc.stderr and "YES=1" in proc.stderr and "Nothing was run" in proc.stderr
    assert not out.exists()
    proc = run(verb, *ASKING[verb][0], "--yes", runner=argv_stub, out=out, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert [call[: len(ASKING[verb][1])] for call in calls(out)] == [ASKING[verb][1]]


def on_a_terminal(verb: str, answer: bytes, stub: Path, out: Path) -> tuple[int, bytes]:
    """integrador <verb> with a pseudo-terminal as stdin, answering the question with answer."""
    import pty

    main_fd, sub = pty.openpty()
    proc = subprocess.Popen(
        [str(ENTRY), verb, *ASKING[verb][0]],
        env=dict(os.environ, ARGV_OUT=str(out), INTEGRADOR_CONVERGE=str(stub)),
        stdin=sub,
        stdout=subprocess.PIPE,
        stderr=sub,
    )
    os.close(sub)
    seen = b""
    while b"Type yes to go on:" not in seen:
        chunk = os.read(main_fd, 1024)
        assert chunk, seen
        seen += chunk
    os.write(main_fd, answer)
    proc.communicate(timeout=120)
    os.close(main_fd)
    return proc.returncode, seen


@pytest.mark.parametrize("verb", sorted(ASKING))
@pytest.mark.parametrize(
    ("answer", "runs"), [(b"yes\n", True), (b"no\n", False), (b"y\n", False), (b"\n", False)]
)
def test_they_ask_on_a_terminal(
    verb: str, answer: bytes, runs: bool, argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    rc, question = on_a_terminal(verb, answer, argv_stub, out)
    assert ASKING[verb][2] in b" ".join(question.split()), question
    assert rc == (0 if runs else 1)
    assert [call[: len(ASKING[verb][1])] for call in calls(out)] == ([ASKING[verb][1]] if runs else [])


# --- BACKUP reaches the real ansible-playbook exactly ----------------------------------------


@pytest.fixture(scope="module")
def playbook_stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return backup_printing_runner(tmp_path_factory.mktemp("playbook"))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NAMES)
@example("a folder with spaces")
@example('it\'s "quoted" $HOME \\ é 😀 {{ 7 * 6 }} {% raw %}')
@example("0")
@example("0\r")
@example("  leading blanks")
@example("-starts-with-a-dash")
@example("--")
def test_real_ansible_playbook_receives_backup_exactly(
    playbook_stub: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "backup.txt"
    # As an option (any name: make's BACKUP goes this way), and as the argument (a name that
    # does not start with a dash: Click would take it for an option).
    forms = [["--yes", f"--backup={name}"], *([["--yes", name]] if name[0] != "-" else [])]
    for args in forms:
        out.unlink(missing_ok=True)
        proc = run(
            "restore",
            *args,
            runner=playbook_stub,
            out=tmp_path / "argv",
            env={"BACKUP_OUT": str(out), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert received_backup(out) == name


# --- psql and redis-cli: the real settings playbook, a stand-in docker ------------------------


@pytest.fixture(scope="module")
def fake_docker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docker")
    write_stub(
        folder / "docker",
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'DOCKER_HOST': os.environ.get('DOCKER_HOST'),"
        " 'stdin': sys.stdin.read()}))\n",
    )
    return folder


def shell(
    verb: str, fake_docker: Path, *settings: str, entry: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    extra = [arg for setting in settings for arg in ("-e", setting)]
    command = entry or [str(ENTRY), verb, "--", *extra]
    return subprocess.run(
        command,
        input="select 1;\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=dict(os.environ, PATH=f"{fake_docker}{os.pathsep}{os.environ['PATH']}", ANSIBLE_NOCOLOR="1"),
    )


def test_psql_execs_psql_in_the_configured_container(fake_docker: Path) -> None:
    proc = shell(
        "psql",
        fake_docker,
        "postgres_pgvector_container_name=itest_db",
        "postgres_pgvector_user=itest_menu",
        "integrador_docker_host=unix:///tmp/itest.sock",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["argv"] == [
        "exec",
        "-i",
        "itest_db",
        "psql",
        "--username",
        "itest_menu",
        "--dbname",
        "menu_ops",
    ]
    assert seen["DOCKER_HOST"] == "unix:///tmp/itest.sock" and seen["stdin"] == "select 1;\n"


def test_redis_cli_through_make_never_shows_the_password(fake_docker: Path) -> None:
    secret = "itest-Redis-shell-0123456789"
    args = f"ARGS=-e redis_container_name=itest_redis -e redis_password={secret}"
    proc = shell("redis-cli", fake_docker, entry=[*MAKE, "redis-cli", "INSTANCE=b", args])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["argv"] == ["exec", "-i", "itest_redis", "redis-cli"]
    assert secret not in proc.stdout + proc.stderr


def test_settings_that_cannot_be_read_are_named(fake_docker: Path) -> None:
    proc = shell("psql", fake_docker, "postgres_pgvector_container_name={{ no_such_variable }}")
    assert proc.returncode == 1
    assert "integrador psql: the settings could not be read (above)." in proc.stderr


# --- make: the aliases ----------------------------------------------------------------------


def test_make_targets_are_one_line_aliases_of_the_cli() -> None:
    recipes = {}
    target = ""
    for line in (REPO / "Makefile").read_text().splitlines():
        if line[:1] not in ("\t", "#", "") and ":" in line and "=" not in line.split(":")[0]:
            target = line.split(":")[0]
        elif line.startswith("\t") and target:
            recipes.setdefault(target, []).append(line.strip())
    verbs = ["dev", "check", "status", "logs", "backup", "restart", "reset", "down", "restore", "psql"]
    for verb in [*verbs, "redis-cli", "doctor", "bench"]:
        assert len(recipes[verb]) == 1 and recipes[verb][0].startswith(f"@+$(integrador) {verb}"), recipes[
            verb
        ]
    assert recipes["workstation"][-1] == "@+$(integrador) workstation -- $(ARGS)"


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["doctor", "INSTANCE=b"], ["playbooks/doctor.yml", "-e", "integrador_instance=b"]),
        (["check", "ARGS=--tags db"], ["playbooks/dev.yml", "--check", "--diff", "--tags", "db"]),
        (["logs", "SERVICE= Api ", "FOLLOW=no"], ["playbooks/logs.yml", "-e", "integrador_logs_service=api"]),
        (["status", "FORMAT=Table"], ["playbooks/status.yml"]),
    ],
)
def test_make_maps_its_variables_to_options(
    args: list[str], wanted: list[str], argv_stub: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv"
    proc = subprocess.run(
        [*MAKE, *args, f"CONVERGE={argv_stub}"],
        env=dict(os.environ, ARGV_OUT=str(out)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert calls(out) == [wanted]


def test_make_n_prints_and_runs_nothing(argv_stub: Path, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    proc = subprocess.run(
        [*MAKE, "-n", "reset", f"CONVERGE={argv_stub}", "INSTANCE=b"],
        env=dict(os.environ, ARGV_OUT=str(out)),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        f"{argv_stub} playbooks/reset.yml -e integrador_reset_confirmed=true -e integrador_instance=b"
        in proc.stdout
    )
    assert not out.exists()


# --- Shell completion -----------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A HOME with backups (finished ones hold SHA256SUMS) and the state folders of two instances."""
    for folder in ("integrador-backups/20250101T000000Z", "integrador-backups/20250102T000000Z"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "SHA256SUMS").write_text("")
    (tmp_path / "integrador-backups/20250103T000000Z").mkdir()  # interrupted: no SHA256SUMS
    (tmp_path / "integrador-b-backups/20250201T000000Z").mkdir(parents=True)
    (tmp_path / "integrador-b-backups/20250201T000000Z/SHA256SUMS").write_text("")
    for state in ("integrador", "integrador-b", "integrador-feature-2", "integrador-Bad_name"):
        (tmp_path / ".local/state" / state).mkdir(parents=True)
    yield tmp_path


def bash_complete(home: Path, *words: str) -> list[str]:
    """What real bash completes for `integrador <words>` (the last word being typed), through the
    script `integrador completion bash` prints."""
    script = (
        'source <(integrador completion bash) && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && '
        '_integrador_completion integrador && printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(
        ["bash", "-c", script, "bash", "integrador", *words],
        env=dict(os.environ, HOME=str(home), PATH=f"{ENTRY.parent}{os.pathsep}{os.environ['PATH']}"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_the_bash_script_registers_with_real_bash() -> None:
    proc = subprocess.run(
        ["bash", "-c", f"source <({ENTRY} completion bash) && complete -p integrador"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "_integrador_completion" in proc.stdout and proc.stdout.rstrip().endswith(" integrador")


@pytest.mark.parametrize("shell_name", ["zsh", "fish"])
def test_zsh_and_fish_scripts_are_printed(shell_name: str) -> None:
    result = invoke("completion", shell_name)
    assert result.exit_code == 0 and "_INTEGRADOR_COMPLETE" in result.output


def test_bash_completes_verbs_services_backups_and_instances(home: Path) -> None:
    assert {"dev", "status", "restore", "redis-cli", "doctor"} <= set(bash_complete(home, ""))
    assert bash_complete(home, "logs", "--service", "") == ["api", "ws", "db", "redis"]
    assert bash_complete(home, "restart", "--service", "") == ["api", "ws"]
    assert bash_complete(home, "restore", "") == ["latest", "20250102T000000Z", "20250101T000000Z"]
    assert bash_complete(home, "restore", "--instance", "b", "2025") == ["20250201T000000Z"]
    assert bash_complete(home, "status", "--instance", "") == ["b", "feature-2"]


def shell_env(home: Path) -> dict[str, str]:
    return dict(os.environ, HOME=str(home), PATH=f"{ENTRY.parent}{os.pathsep}{os.environ['PATH']}")


def zsh_complete(home: Path, *words: str) -> list[str]:
    """What real zsh completes for `integrador <words>` through the script `integrador completion
    zsh` prints, run as compinit would run it (the words in $words, the cursor in $CURRENT);
    zsh's completion builtins that would show the candidates (_describe, compadd) print them."""
    script = (
        "compdef() { :; }\n"  # compinit's registration, a no-op outside an interactive shell
        'eval "$(integrador completion zsh)"\n'
        "_describe() { local name=$3; print -rl -- ${(@)${(@P)name}%%:*} }\n"
        "compadd() { local name=${@[-1]}; print -rl -- ${(@P)name} }\n"
        'words=(integrador "$@"); CURRENT=$(( $# + 1 ))\n'
        "_integrador_completion\n"
    )
    proc = subprocess.run(
        ["zsh", "-f", "-c", script, "zsh", *words],
        env=shell_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def fish_complete(home: Path, line: str) -> list[str]:
    """What real fish completes for the command line `line` (its own `complete -C`), with the
    script `integrador completion fish` prints loaded; the candidates without descriptions."""
    script = "integrador completion fish | source; complete -C $argv[1]"
    proc = subprocess.run(
        ["fish", "--no-config", "-c", script, line],
        env=shell_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [entry.split("\t")[0] for entry in proc.stdout.splitlines() if entry]


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (.ci/run installs it)")
def test_zsh_completes_verbs_services_backups_and_instances(home: Path) -> None:
    assert {"dev", "status", "restore", "redis-cli", "doctor"} <= set(zsh_complete(home, ""))
    assert zsh_complete(home, "logs", "--service", "") == ["api", "ws", "db", "redis"]
    assert zsh_complete(home, "restore", "") == ["latest", "20250102T000000Z", "20250101T000000Z"]
    assert zsh_complete(home, "status", "--instance", "") == ["b", "feature-2"]


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (.ci/run installs it)")
def test_fish_completes_verbs_services_backups_and_instances(home: Path) -> None:
    assert {"dev", "status", "restore", "redis-cli", "doctor"} <= set(fish_complete(home, "integrador "))
    # fish sorts the candidates itself.
    assert fish_complete(home, "integrador logs --service ") == ["api", "db", "redis", "ws"]
    assert fish_complete(home, "integrador restore 2025") == ["20250101T000000Z", "20250102T000000Z"]
    assert fish_complete(home, "integrador status --instance ") == ["b", "feature-2"]


def test_a_completion_request_answers_as_click_does(home: Path) -> None:
    proc = subprocess.run(
        [str(ENTRY)],
        env=dict(
            os.environ,
            HOME=str(home),
            _INTEGRADOR_COMPLETE="bash_complete",
            COMP_WORDS="integrador restore 2025010",
            COMP_CWORD="2",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["plain,20250102T000000Z", "plain,20250101T000000Z"]


def test_make_n_before_the_first_make_prints_the_command(tmp_path: Path) -> None:
    """No tooling virtualenv yet: make -n prints the command it would run instead of failing."""
    venv = tmp_path / "venv"
    proc = subprocess.run(
        ["make", "-s", "-n", "-C", str(REPO), f"VENV={venv}", "dev", "INSTANCE=b"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{venv}/bin/integrador --make --converge=scripts/converge dev --instance=b --" in proc.stdout
    assert not venv.exists()


def doctor(*ansible_args: str) -> subprocess.CompletedProcess[str]:
    """`integrador doctor -- ARGS` through the real entry point and the real ansible-playbook."""
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run(
        [str(ENTRY), "--converge", str(playbook_bin), "doctor", "--", *ansible_args],
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_doctor_runs_the_preflight_alone_lists_the_problems_and_changes_nothing() -> None:
    """The real playbooks/doctor.yml on this machine's inventory, its Docker endpoint one where no
    engine answers and the API's port held by another program (this test): the checklist names
    both with the preflight's own messages and fixes, the run fails (exit status 1), and no task
    changed anything (issue 26's done-when)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = doctor(
            "-e",
            "integrador_docker_host=unix:///nonexistent/docker.sock",
            "-e",
            f"app_services_api_port={port}",
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert f"Port {port} on 127.0.0.1 is already taken by" in said, proc.stdout
    assert "set app_services_api_port to a free port" in said, proc.stdout
    assert "FAILED Docker engine does not answer" in proc.stdout, proc.stdout
    assert "FAILED Cannot reach the Docker engine at unix:///nonexistent/docker.sock" in proc.stdout
    assert "The preflight found" in proc.stdout and "Nothing was changed." in proc.stdout
    assert re.search(r"\bchanged=0\b.*\bfailed=1\b", proc.stdout), proc.stdout


def test_doctor_of_one_part_that_is_ready_passes() -> None:
    """`-- --tags python`: the checkout (the demo backend) and Python only; no problem, exit 0."""
    proc = doctor("--tags", "python")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Docker engine (not checked: no container in this run)" in proc.stdout
    assert "Everything the stack needs is there. Nothing was changed." in proc.stdout
