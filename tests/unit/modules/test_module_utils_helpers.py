"""Helpers of module_utils/ (and integrador_wait's masking) that the Ansible runs of the other
tests reach only in a subprocess: called here in the test's process, each answer written out."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils import integrador_dotenv as dotenv  # loaded by conftest.py from module_utils/
from ansible.module_utils import integrador_env_state as env_state
from ansible.module_utils import integrador_ports as ports
from ansible.module_utils import integrador_python as pyenv
from dotenv import dotenv_values
from hypothesis import given
from hypothesis import strategies as st
from module_loader import ROOT, load

wait = load(ROOT / "library" / "integrador_wait.py", "integrador_wait_helpers_test")


# --- integrador_dotenv.environment: what `python -m dotenv run --override` gives the service ----
def test_environment_expands_over_the_environment_and_the_keys_before() -> None:
    text = (
        "HOST=db\n"
        "URL=postgres://${USER}@${HOST}:${PORT:-5432}/x\n"
        "EMPTY_DEFAULT=${NOPE:-}\n"
        "MISSING=${NOPE}\n"
        "LITERAL='${HOST}'\n"
        "BARE\n"
        "# a comment\n"
        "HOST=late\n"
        "AFTER=${HOST}\n"
    )
    assert dotenv.environment(text, {"USER": "me", "HOST": "outside"}) == {
        "HOST": "late",
        "URL": "postgres://me@db:5432/x",
        "EMPTY_DEFAULT": "",
        "MISSING": "",
        "LITERAL": "db",  # python-dotenv expands a single-quoted value too
        "AFTER": "late",
    }


def test_environment_key_without_value_hides_nothing_and_is_left_out() -> None:
    # BARE has no value: python-dotenv gives it None, and `run` leaves it out of the environment;
    # a later ${BARE} then reads None, which expands to nothing, not the outer value.
    assert dotenv.environment("BARE\nX=${BARE:-d}\nY=[${BARE}]\n", {"BARE": "outer"}) == {"X": "", "Y": "[]"}


_key = st.sampled_from(["A", "B", "C_1", "PATH_X"])
_word = st.text(alphabet="abc xyz-/:@", max_size=6)
_ref = st.builds(lambda k, d: "${" + k + (f":-{d}" if d is not None else "") + "}", _key, st.none() | _word)
_value = st.lists(_word | _ref, max_size=3).map("".join)


@given(st.lists(st.tuples(_key, _value), max_size=5), st.dictionaries(_key, _word, max_size=3))
def test_environment_is_what_python_dotenv_reads(lines: list[tuple[str, str]], outer: dict[str, str]) -> None:
    text = "".join(f'{key}="{value}"\n' for key, value in lines)
    saved = dict(os.environ)
    try:
        for key in ("A", "B", "C_1", "PATH_X"):
            os.environ.pop(key, None)
        os.environ.update(outer)
        expected = {k: v for k, v in dotenv_values(stream=io.StringIO(text), interpolate=True).items()}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert dotenv.environment(text, outer) == {k: v for k, v in expected.items() if v is not None}


# --- integrador_env_state.started_records: which started service read the .env's bytes --------
def test_started_records_compare_each_start_with_the_bytes(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"A=1\n")
    link = tmp_path / "link.env"
    link.symlink_to(env)
    started = tmp_path / "started"
    started.mkdir()
    now = hashlib.sha256(b"A=1\n").hexdigest()

    def record(name: str, content: Any) -> None:
        (started / name).write_text(content if isinstance(content, str) else json.dumps(content))

    record("api.json", {"env_file": str(env), "sha256": now, "pid": 1})
    record("ws.json", {"env_file": str(link), "sha256": "0" * 64})
    record("other.json", {"env_file": str(tmp_path / "other.env"), "sha256": now})
    record("broken.json", "{not json")
    record("nokey.json", {"env_file": str(env)})
    record("notes.txt", {"env_file": str(env), "sha256": now})
    assert env_state.started_records(str(started), str(env), b"A=1\n") == {
        "api": True,
        "broken": False,
        "nokey": False,
        "ws": False,
    }
    assert env_state.started_records(str(started), str(link), b"A=2\n") == {
        "api": False,
        "broken": False,
        "nokey": False,
        "ws": False,
    }
    assert env_state.started_records(str(tmp_path / "none"), str(env), b"") == {}


# --- integrador_ports: lsof's answer, and the cgroup systemd put a process in ---------------------
def fake_lsof(folder: Path, output: str, status: int = 0) -> None:
    """lsof as it answers: the -F fields, and exit status 1 when it found nothing."""
    script = folder / "lsof"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {folder}/args\nprintf '%s' '{output}'\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_owner_from_lsof_reads_the_first_process_and_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_lsof(tmp_path, "p4242\ncpostgres\nf7\np77\ncother\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ports.owner_from_lsof(5432) == (4242, "postgres (pid 4242)")
    assert (tmp_path / "args").read_text() == "-nP -iTCP:5432 -sTCP:LISTEN -Fpc\n"


def test_owner_from_lsof_without_a_process_or_without_lsof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_lsof(tmp_path, "", status=1)  # nothing listens there
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ports.owner_from_lsof(80) == (None, None)
    fake_lsof(tmp_path, "cname-only\n")
    assert ports.owner_from_lsof(80) == (None, None)
    fake_lsof(tmp_path, "p12\n")
    assert ports.owner_from_lsof(80) == (12, "None (pid 12)")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ports.owner_from_lsof(80) == (None, None)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/integrador-api.service\n",
            "/user.slice/user-1000.slice/user@1000.service/app.slice/integrador-api.service",
        ),
        (
            "12:cpu,cpuacct:/docker/x\n1:name=systemd:/system.slice/ssh.service\n0::/unified\n",
            "/system.slice/ssh.service",
        ),
        ("12:cpu:/a\n11:memory:/b\n", ""),
        ("0::/a:b:c\n", "/a:b:c"),
        ("", ""),
    ],
)
def test_systemd_cgroup_is_the_unified_or_name_systemd_line(
    content: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def fake_open(path: str, *args: Any, **kwargs: Any) -> io.StringIO:
        opened.append(path)
        return io.StringIO(content)

    monkeypatch.setattr(ports, "open", fake_open, raising=False)
    assert ports._systemd_cgroup(31337) == expected
    assert opened == ["/proc/31337/cgroup"]


def test_systemd_cgroup_of_a_process_that_is_gone_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(path: str, *args: Any, **kwargs: Any) -> io.StringIO:
        raise FileNotFoundError(path)

    monkeypatch.setattr(ports, "open", gone, raising=False)
    assert ports._systemd_cgroup(1) == ""


# --- integrador_python: the marker that makes a folder ours --------------------------------------
# These two remove files: they run from a scratch folder, so that a mutant of clear_virtualenv that
# empties the current folder (os.scandir(None)) under make mutation empties only that folder.
def test_mark_then_clear_keeps_the_folder_and_its_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "sentinel").write_text("not the venv's")
    monkeypatch.chdir(tmp_path / "cwd")
    venv = tmp_path / "a" / "venv"
    assert pyenv.is_virtualenv(str(venv)) is False
    pyenv.mark_virtualenv(str(venv))
    marker = venv / "pyvenv.cfg"
    assert (
        marker.read_text() == "# being created by integrador_python_env; python -m venv rewrites this file\n"
    )
    assert pyenv.is_virtualenv(str(venv)) is True
    marker.write_text("home = /usr/bin\n")
    pyenv.mark_virtualenv(str(venv))  # venv's own file is kept
    assert marker.read_text() == "home = /usr/bin\n"
    (venv / "bin").mkdir()
    (venv / "bin" / "python").write_text("")
    (venv / "lib").symlink_to(tmp_path)  # a link is removed, not followed
    (venv / "file").write_text("x")
    pyenv.clear_virtualenv(str(venv))
    assert sorted(p.name for p in venv.iterdir()) == ["pyvenv.cfg"]
    assert tmp_path.is_dir() and (tmp_path / "a").is_dir()
    assert sorted(p.name for p in (tmp_path / "cwd").iterdir()) == ["sentinel"]


def test_clear_refuses_a_folder_that_is_not_a_virtualenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    (tmp_path / "keep").write_text("mine")
    with pytest.raises(ValueError) as caught:
        pyenv.clear_virtualenv(str(tmp_path))
    assert str(caught.value) == f"{tmp_path} is not a virtualenv (pyvenv.cfg missing); refusing to empty it"
    assert (tmp_path / "keep").read_text() == "mine"
    (tmp_path / "pyvenv.cfg").mkdir()  # a folder of that name is no marker
    assert pyenv.is_virtualenv(str(tmp_path)) is False
    assert pyenv.is_virtualenv(str(tmp_path / "keep")) is False


# --- integrador_wait.mask: no secret in a message -------------------------------------------------
def test_mask_replaces_the_longest_secret_first_and_ignores_empty_ones() -> None:
    assert wait.mask("pass=abcdef; short=abc", ["abc", "", "abcdef"]) == "pass=********; short=********"
    assert wait.mask("nothing here", []) == "nothing here"
    assert wait.mask("x", [""]) == "x"
    # by length, not by text: "b" sorts after "abc" but is shorter
    assert wait.mask("key=abc", ["b", "abc"]) == "key=********"


@given(st.text(min_size=1, max_size=8), st.text(max_size=20), st.text(max_size=20))
def test_mask_leaves_no_secret(secret: str, before: str, after: str) -> None:
    masked = wait.mask(before + secret + after, [secret])
    assert "********" in masked
    if "*" not in secret:
        assert secret not in masked


# --- integrador_ports: which process tree a port's owner belongs to, over a made-up /proc ---------
class FakeProc:
    """/proc/<pid>/stat, cmdline and cgroup of made-up processes: pid -> (ppid, pgrp, cgroup, argv)."""

    def __init__(self, table: dict[int, tuple[int, int, str, list[str]]]) -> None:
        self.table = table

    def open(self, path: str, *args: Any, **kwargs: Any) -> Any:
        _, _, pid, what = path.split("/")
        if int(pid) not in self.table:
            raise FileNotFoundError(path)
        ppid, pgrp, cgroup, argv = self.table[int(pid)]
        if what == "stat":
            return io.StringIO(f"{pid} (py (x) y) S {ppid} {pgrp} {pgrp} 0 -1")
        if what == "cgroup":
            return io.StringIO(f"0::{cgroup}\n")
        return io.BytesIO(b"\0".join(a.encode() for a in argv) + b"\0")


@pytest.fixture
def proc(monkeypatch: pytest.MonkeyPatch) -> FakeProc:
    fake = FakeProc({})
    monkeypatch.setattr(ports, "open", fake.open, raising=False)
    return fake


def test_owned_by_a_root_its_group_its_units_cgroup_or_its_ancestry(proc: FakeProc) -> None:
    unit = "/user.slice/user@1000.service/app.slice/integrador-api.service"
    proc.table.update(
        {
            1: (0, 1, "/init.scope", ["init"]),
            100: (1, 100, unit, ["launcher"]),  # a service's main process
            101: (100, 100, unit, ["dotenv", "run"]),
            102: (101, 100, unit, ["uvicorn"]),  # its grandchild
            200: (1, 100, "/other.service/", ["orphan"]),  # left in the root's group
            300: (1, 300, unit + "/", ["reparented"]),  # parent gone, still in the unit's cgroup
            400: (1, 400, "/other.service", ["stranger"]),
            500: (2, 500, "/x", ["child of a kernel thread"]),
            2: (0, 0, "/", ["kthreadd"]),
        }
    )
    assert ports.owned_by(100, [100]) is True
    assert ports.owned_by(102, {100, 0}) is True
    assert ports.owned_by(200, [100]) is True
    assert ports.owned_by(300, [100], ["integrador-api.service"]) is True
    assert ports.owned_by(300, [100], ["integrador-ws.service"]) is False
    assert ports.owned_by(300, [100]) is False
    assert ports.owned_by(400, [100], ["integrador-api.service"]) is False
    assert ports.owned_by(500, [100]) is False
    assert ports.owned_by(999, [100]) is False  # gone
    assert ports.owned_by(None, [100]) is False
    assert ports.owned_by(0, [0]) is False
    assert ports.owned_by(102, []) is False
    assert ports.owned_by(101, ["100"]) is True


def test_supervisor_roots_are_the_daemon_and_its_programs_groups(proc: FakeProc, tmp_path: Path) -> None:
    folder = tmp_path
    conf = folder / "supervisord.conf"
    conf.write_text("")
    proc.table.update(
        {
            50: (1, 50, "/", ["/venv/bin/python", "/venv/bin/supervisord", "-c", str(conf)]),
            60: (50, 60, "/", ["uvicorn"]),  # the api program's main process: supervisord's child
            70: (1, 70, "/", ["someone else"]),  # a reused pid
        }
    )
    (folder / "supervisord.pid").write_text("50\n")
    (folder / "integrador-api.pgid").write_text("60")
    (folder / "integrador-ws.pgid").write_text("70")
    (folder / "integrador-old.pgid").write_text("80")  # its leader died: the group lives on
    (folder / "integrador-bad.pgid").write_text("x")
    (folder / "integrador-one.pgid").write_text("1")
    programs = [
        "integrador-api",
        "integrador-ws",
        "integrador-old",
        "integrador-bad",
        "integrador-one",
        "none",
    ]
    real_open = open

    def both(path: str, *args: Any, **kwargs: Any) -> Any:
        return proc.open(path) if str(path).startswith("/proc/") else real_open(path, *args, **kwargs)

    ports.open = both  # type: ignore[attr-defined]  (the proc fixture restores the module's open)
    assert ports.supervisor_roots(str(folder), programs) == {50, 60, 80}
    (folder / "supervisord.pid").write_text("70\n")
    assert ports.supervisor_roots(str(folder), programs) == set()
    (folder / "supervisord.pid").write_text("1\n")
    assert ports.supervisor_roots(str(folder), programs) == set()
    (folder / "supervisord.pid").write_text("nope\n")
    assert ports.supervisor_roots(str(folder), programs) == set()
    assert ports.supervisor_roots(str(folder / "none"), programs) == set()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/python", "/venv/bin/supervisord", "-c", "{conf}"], True),
        (["supervisord", "--configuration={conf}"], True),
        (["supervisord", "-c{conf}"], True),
        (["supervisord", "-c", "{link}"], True),
        (["supervisord", "-c", "relative.conf"], False),
        (["supervisord", "--configuration="], False),
        (["supervisord", "-c", "{other}"], False),
        (["python", "x.py", "-c", "{link}"], False),
        ([], False),
    ],
)
def test_a_supervisord_is_known_by_its_configuration(
    proc: FakeProc, tmp_path: Path, argv: list[str], expected: bool
) -> None:
    conf, other, link = tmp_path / "supervisord.conf", tmp_path / "other.conf", tmp_path / "link.conf"
    conf.write_text("")
    other.write_text("")
    link.symlink_to(conf)
    proc.table[42] = (1, 42, "/", [a.format(conf=conf, other=other, link=link) for a in argv])
    assert ports._runs_supervisord_with(42, str(conf)) is expected


def test_systemd_cgroup_of_this_process_is_read_from_proc() -> None:
    if not os.path.exists("/proc/self/cgroup"):
        pytest.skip("Linux /proc")
    with open("/proc/self/cgroup", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    # the first line of the unified hierarchy (0::path) or the name=systemd one
    fields = [line.split(":", 2) for line in lines]
    expected = next((f[2] for f in fields if len(f) == 3 and f[1] in ("", "name=systemd")), "")
    assert ports._systemd_cgroup(os.getpid()) == expected


def test_a_cgroup_line_without_its_fields_names_no_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ports, "open", lambda *a, **k: io.StringIO("garbage\n1:name=systemd:/x\n"), raising=False
    )
    assert ports._systemd_cgroup(1) == ""
