"""ReloadWatch and its /proc readers (module_utils/integrador_reload_watch.py) called in the test's
own process, over real processes that stand in for uvicorn --reload: a parent whose command line
holds `uvicorn` and `--reload`, with two children, multiprocessing's resource tracker (by its
command line) and a worker. No uvicorn and no Ansible run (test_integrador_reload_watch.py runs
the real ones), so these are quick; Linux /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from module_loader import ROOT, load
from this_machine import eventually

watch = load(ROOT / "module_utils" / "integrador_reload_watch.py", "integrador_reload_watch_proc_test")

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc")

# The parent: starts the tracker and the worker, prints their pids, then waits (it never reaps
# them: a killed child stays a zombie, as an exited uvicorn worker does until the reloader reaps).
# The worker is started from a second thread, as a threaded reloader may: /proc lists a child under
# the thread that started it, and children() reads every thread's list.
PARENT = """
import subprocess, sys, threading, time
sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
tracker = subprocess.Popen(sleep + ["multiprocessing.resource_tracker"])
started = []
def start_worker():
    started.append(subprocess.Popen(sleep + ["app-worker"]))
    time.sleep(120)
threading.Thread(target=start_worker, daemon=True).start()
while not started:
    time.sleep(0.01)
print(tracker.pid, started[0].pid, flush=True)
time.sleep(120)
"""


class Reloader:
    def __init__(self, folder: Path, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PARENT, *argv], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.proc.stdout is not None
        tracker, worker = self.proc.stdout.readline().split()
        self.pid, self.tracker, self.worker = self.proc.pid, int(tracker), int(worker)
        self.record = folder / "api.json"
        self.record.write_text(json.dumps({"pid": self.pid}))

    def stop(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture
def reloader(tmp_path: Path) -> Iterator[Reloader]:
    started = Reloader(tmp_path, "uvicorn", "app:app", "--reload")
    yield started
    started.stop()


def gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_readers_see_the_reloader_its_children_and_its_state(reloader: Reloader) -> None:
    assert watch.reloads(reloader.pid) is True
    assert watch.reloads(reloader.worker) is False  # neither uvicorn nor --reload
    assert sorted(watch.children(reloader.pid) or []) == sorted([reloader.tracker, reloader.worker])
    assert watch.children(reloader.worker) == []
    assert watch.workers(reloader.pid) == ([reloader.worker], True)
    assert watch.state(reloader.pid) in ("R", "S")
    assert 0.0 < watch.age(reloader.pid) < 120.0
    assert watch._stat(reloader.pid)[0] in (b"R", b"S")
    assert watch._read(f"/proc/{reloader.pid}/cmdline").split(b"\0")[-2:] == [b"--reload", b""]


def test_a_process_that_is_gone_gives_nothing() -> None:
    pid = gone_pid()
    assert watch.state(pid) == ""
    assert watch._stat(pid) == []
    assert watch.age(pid) == 0.0
    assert watch.children(pid) is None
    assert watch.workers(pid) is None
    assert watch.reloads(pid) is False
    assert watch._read(f"/proc/{pid}/stat") == b""


def test_reload_without_uvicorn_is_not_a_reloader(tmp_path: Path) -> None:
    other = Reloader(tmp_path, "gunicorn", "--reload")
    try:
        assert watch.reloads(other.pid) is False
    finally:
        other.stop()
    plain = Reloader(tmp_path, "uvicorn", "app:app")
    try:
        assert watch.reloads(plain.pid) is False
        assert watch.ReloadWatch(str(plain.record), grace=0).dead() == ""
    finally:
        plain.stop()


def test_a_worker_that_exits_is_named_after_the_grace(reloader: Reloader) -> None:
    sentinel = watch.ReloadWatch(str(reloader.record), grace=0)
    assert (sentinel.record, sentinel.grace, sentinel.pid, sentinel.seen, sentinel.gone_since) == (
        str(reloader.record),
        0,
        0,
        False,
        None,
    )
    assert sentinel.dead() == ""  # the worker runs
    assert (sentinel.pid, sentinel.seen) == (reloader.pid, True)
    patient = watch.ReloadWatch(str(reloader.record), grace=3600)
    assert patient.dead() == ""
    os.kill(reloader.worker, signal.SIGKILL)
    assert eventually(lambda: watch.state(reloader.worker) == "Z", 30)  # not reaped: a zombie
    assert watch.workers(reloader.pid) == ([], True)
    assert sentinel.dead() == (
        f"its uvicorn --reload process (pid {reloader.pid}) is running, but the app's worker it started "
        "exited and no new one came for 0 s: uvicorn waits for a file change to try again, so the "
        "service will not answer; the reason is in its log"
    )
    assert patient.dead() == ""
    assert patient.gone_since is not None
    assert patient.dead() == ""  # still within its hour


def test_the_grace_is_counted_from_the_first_round_without_a_worker(
    reloader: Reloader, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentinel = watch.ReloadWatch(str(reloader.record), grace=5)
    assert sentinel.dead() == ""
    os.kill(reloader.worker, signal.SIGKILL)
    assert eventually(lambda: watch.state(reloader.worker) == "Z", 30)
    clock = [1000.0]
    monkeypatch.setattr(watch.time, "monotonic", lambda: clock[0])
    assert sentinel.dead() == "" and sentinel.gone_since == 1000.0
    clock[0] = 1004.9
    assert sentinel.dead() == "" and sentinel.gone_since == 1000.0
    clock[0] = 1005.0
    assert "came for 5 s:" in sentinel.dead()


def test_a_tracker_without_a_worker_on_an_old_reloader_means_one_exited(
    reloader: Reloader, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.kill(reloader.worker, signal.SIGKILL)
    assert eventually(lambda: watch.state(reloader.worker) == "Z", 30)
    ages: dict[int, float] = {reloader.pid: watch.STARTED - 0.5}
    monkeypatch.setattr(watch, "age", lambda pid: ages[pid])
    young = watch.ReloadWatch(str(reloader.record), grace=0)
    assert young.dead() == "" and young.gone_since is None  # too young to tell: keep waiting
    ages[reloader.pid] = watch.STARTED
    assert f"(pid {reloader.pid})" in young.dead()


def test_no_record_or_a_new_pid_starts_over(reloader: Reloader, tmp_path: Path) -> None:
    assert watch.ReloadWatch("", grace=0).dead() == ""
    assert watch.ReloadWatch(str(tmp_path / "none.json"), grace=0).dead() == ""
    sentinel = watch.ReloadWatch(str(reloader.record), grace=0)
    assert sentinel.dead() == "" and sentinel.seen is True
    reloader.record.write_text(json.dumps({"pid": gone_pid()}))
    assert sentinel.dead() == ""
    assert (sentinel.seen, sentinel.gone_since) == (False, None)


def test_without_proc_children_files_the_parents_are_read_from_stat(
    reloader: Reloader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel without CONFIG_PROC_CHILDREN has no /proc/<pid>/task/<tid>/children."""
    read = watch._read
    exists = os.path.exists

    def no_children_file(path: str) -> Any:
        return b"" if path.endswith("/children") else read(path)

    monkeypatch.setattr(watch, "_read", no_children_file)
    monkeypatch.setattr(watch.os.path, "exists", lambda p: False if p.endswith("/children") else exists(p))
    assert sorted(watch.children(reloader.pid) or []) == sorted([reloader.tracker, reloader.worker])
    assert watch.children(reloader.worker) == []


def test_age_is_the_time_since_the_start(tmp_path: Path) -> None:
    before = time.monotonic()
    young = Reloader(tmp_path, "x")
    try:
        assert 0.0 < watch.age(young.pid) <= time.monotonic() - before + 1.0
    finally:
        young.stop()


def test_age_is_uptime_less_the_start_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [b"S"] + [b"0"] * 18 + [str(100 * ticks).encode()]  # field 22 of stat: the start, in ticks
    monkeypatch.setattr(watch, "_stat", lambda pid: fields)
    monkeypatch.setattr(watch, "_read", lambda path: b"100.25 7.00\n" if path == "/proc/uptime" else b"")
    assert watch.age(1234) == 0.25
    monkeypatch.setattr(watch, "_read", lambda path: b"99.00 7.00\n")
    assert watch.age(1234) == 0.0  # a clock that disagrees: never negative


def test_workers_skip_children_gone_or_dead_and_tell_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    states = {1: "S", 2: "S", 3: "", 4: "X", 5: "Z", 6: "R"}
    lines = {
        1: b"python\0app-worker\0",
        2: b"python\0app-worker\0",
        6: b"python\0multiprocessing.resource_tracker\0",
    }
    monkeypatch.setattr(watch, "state", lambda pid: states[pid])
    monkeypatch.setattr(watch, "_read", lambda path: lines.get(int(path.split("/")[2]), b""))
    monkeypatch.setattr(watch, "children", lambda pid: [1, 2, 3, 4, 5])
    assert watch.workers(99) == ([1, 2], False)  # no tracker among them
    monkeypatch.setattr(watch, "children", lambda pid: [3, 4, 5, 6])
    assert watch.workers(99) == ([], True)


def test_a_state_letter_that_is_not_ascii_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "_stat", lambda pid: [b"\xff", b"1"])
    assert watch.state(1) == "\ufffd"


def test_a_process_without_reload_is_never_named_even_when_its_worker_exits(tmp_path: Path) -> None:
    plain = Reloader(tmp_path, "uvicorn", "app:app")
    try:
        sentinel = watch.ReloadWatch(str(plain.record), grace=0)
        assert sentinel.dead() == ""
        os.kill(plain.worker, signal.SIGKILL)
        assert eventually(lambda: watch.state(plain.worker) == "Z", 30)
        assert sentinel.dead() == "" and sentinel.dead() == ""
    finally:
        plain.stop()


def test_nothing_is_said_when_proc_cannot_tell(reloader: Reloader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "workers", lambda pid: None)
    assert watch.ReloadWatch(str(reloader.record), grace=0).dead() == ""


def test_a_command_name_with_parentheses_is_skipped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "_read", lambda path: b"4242 (we (i)rd) name) S 1 4242 4242 0")
    assert watch._stat(4242) == [b"S", b"1", b"4242", b"4242", b"0"]
    assert watch.state(4242) == "S"


def test_the_recorded_pid_is_a_positive_integer_or_zero(tmp_path: Path) -> None:
    record = tmp_path / "api.json"
    assert watch.recorded_pid(str(record)) == 0  # no record
    for content, pid in [
        ('{"pid": 5}', 5),
        ('{"pid": 1}', 1),
        ('{"pid": 0}', 0),
        ('{"pid": -3}', 0),
        ('{"pid": true}', 0),
        ('{"pid": "5"}', 0),
        ('{"pid": 5.0}', 0),
        ("{}", 0),
        ("[5]", 0),
        ("{not json", 0),
    ]:
        record.write_text(content)
        assert watch.recorded_pid(str(record)) == pid, content
