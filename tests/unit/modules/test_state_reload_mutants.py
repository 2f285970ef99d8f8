"""Cases of module_utils/integrador_env_state.py and module_utils/integrador_reload_watch.py that kill
mutants `make mutation` (mutmut) found surviving: where find_state looks for the state line and what
it makes of JSON that is not an object, which hand-edited values leaves_as_is counts as adopted,
start records and launcher records read as UTF-8 whatever the locale, children() trusting the
kernel's children files and reading a cut-short stat line, and a watch with no record following no
process. The /proc cases run over real processes or over /proc readers faked the way
test_integrador_reload_watch_proc.py fakes them; Linux only."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from c_locale import ascii_locale
from module_loader import ROOT, load

load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
env_state = load(
    ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state"
)
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file")
watch = load(ROOT / "module_utils" / "integrador_reload_watch.py", "integrador_reload_watch_mutants_test")

linux_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc")


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- find_state ----------------------------------------------------------------------------------


def test_a_state_line_on_the_first_line_or_after_a_key_is_found() -> None:
    """The state line is read where it stands, not from the statement after it: first in the
    file, or right after a KEY=VALUE line (no comment before it)."""
    first = '# integrador-state: {"A": "abc"}\nA=1\n'
    assert env_state.find_state(first, env_state.parse(first)) == ({"A": "abc"}, (20, 32))
    after_key = 'A=1\n# integrador-state: {"A": "abc"}\n'
    assert env_state.find_state(after_key, env_state.parse(after_key)) == ({"A": "abc"}, (24, 36))


@pytest.mark.parametrize("written", ["[1]", '"abc"', "null", "7"])
def test_a_state_line_whose_json_is_not_an_object_remembers_nothing(written: str) -> None:
    """JSON that parses but is no object gives an empty state (its span is still the line's)."""
    text = f"# integrador-state: {written}\nA=1\n"
    assert env_state.find_state(text, env_state.parse(text)) == ({}, (20, 20 + len(written)))


# --- leaves_as_is: adopted values ------------------------------------------------------------------


def test_a_hand_set_secret_not_in_the_state_is_adopted_and_rewritten() -> None:
    """A secret the state does not know is adopted: the value asked for replaces it, so the file
    changes (as the editor itself says)."""
    text = "JWT_SECRET=old\n"
    values = {"JWT_SECRET": "new"}
    assert env_state.leaves_as_is(text, {"JWT_SECRET": sha("new")}, ["JWT_SECRET"]) == (False, [])
    assert env_file.edit(text, values, ["JWT_SECRET"])[0] != text


def test_a_hand_set_value_that_is_no_secret_and_not_in_the_state_is_kept() -> None:
    """A value that is not a secret and that the state does not know was set by hand: it is kept
    and the file is left as it is (as the editor itself says)."""
    text = "DEBUG=true\n"
    values = {"DEBUG": "false"}
    assert env_state.leaves_as_is(text, {"DEBUG": sha("false")}, []) == (True, ["DEBUG"])
    new, result = env_file.edit(text, values, [])
    assert (new, list(result["kept"])) == (text, ["DEBUG"])


def test_a_hand_edited_secret_the_state_knows_is_kept() -> None:
    """A secret the state remembers under another hash was edited by hand after the converge: it
    is kept, not adopted, and the file is left as it is."""
    text = '# integrador-state: {"JWT_SECRET": "0000000000000000"}\nJWT_SECRET=mine\n'
    values = {"JWT_SECRET": "asked"}
    leaves = env_state.leaves_as_is(text, {"JWT_SECRET": sha("asked")}, ["JWT_SECRET"])
    assert leaves == (True, ["JWT_SECRET"])
    assert env_file.edit(text, values, ["JWT_SECRET"])[0] == text


# --- started_records and recorded_pid: UTF-8 records ------------------------------------------------


def test_start_records_naming_a_non_ascii_path_are_read_under_an_ascii_locale(tmp_path: Path) -> None:
    """The launcher's record is UTF-8 JSON; a .env in a folder with non-ASCII letters still matches
    under the C locale."""
    folder = tmp_path / "módulos"
    folder.mkdir()
    env = folder / ".env"
    data = b"A=1\n"
    env.write_bytes(data)
    started = tmp_path / "started"
    started.mkdir()
    record = {"env_file": str(env), "sha256": hashlib.sha256(data).hexdigest(), "pid": 5}
    (started / "api.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    with ascii_locale():
        found = env_state.started_records(str(started), str(env), data)
    assert found == {"api": True}


def test_the_recorded_pid_is_read_from_a_utf8_record_under_an_ascii_locale(tmp_path: Path) -> None:
    record = tmp_path / "api.json"
    content = {"env_file": "/srv/módulos/.env", "sha256": "0" * 64, "pid": 4321}
    record.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    with ascii_locale():
        pid = watch.recorded_pid(str(record))
    assert pid == 4321


# --- children() ----------------------------------------------------------------------------------


@linux_proc
def test_with_children_files_a_childless_process_costs_no_scan_of_proc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a kernel with /proc/<pid>/task/<tid>/children, an empty list there is the answer: every
    process's stat is not read to look for children (a scan of /proc at each round of a wait)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        read, exists, listdir = watch._read, os.path.exists, os.listdir
        listed: list[str] = []

        def listing(path: Any) -> list[str]:
            listed.append(str(path))
            return listdir(path)

        # The kernel's children file, present and empty (the process has no child).
        monkeypatch.setattr(watch, "_read", lambda path: b"" if path.endswith("/children") else read(path))
        monkeypatch.setattr(watch.os.path, "exists", lambda p: True if p.endswith("/children") else exists(p))
        monkeypatch.setattr(watch.os, "listdir", listing)
        assert watch.children(proc.pid) == []
        assert listed == [f"/proc/{proc.pid}/task"]
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_stat_line_cut_short_is_read_as_far_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without children files, the parents come from stat lines: one that ends after the parent
    field still names it, one that ends after the state names none (and raises nothing)."""
    stats = {"77": b"77 (short) S", "78": b"78 (cut) S 42", "79": b"79 (other) S 1 79 79 0"}
    monkeypatch.setattr(
        watch, "_read", lambda path: stats.get(path.split("/")[2], b"") if "stat" in path else b""
    )
    monkeypatch.setattr(watch.os.path, "exists", lambda p: False)
    monkeypatch.setattr(
        watch.os, "listdir", lambda p: ["42"] if p == "/proc/42/task" else ["self", "77", "78", "79"]
    )
    assert watch.children(42) == [78]


# --- ReloadWatch ---------------------------------------------------------------------------------


def test_a_watch_without_a_record_follows_no_process() -> None:
    """No record: the watch answers nothing and follows no pid (not 1, init)."""
    sentinel = watch.ReloadWatch("", grace=0)
    assert sentinel.dead() == ""
    assert (sentinel.pid, sentinel.seen, sentinel.gone_since) == (0, False, None)
