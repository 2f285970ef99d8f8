"""The early end of a health wait for a uvicorn --reload whose app worker exited (issue 23):
real uvicorn processes (this tooling virtualenv's), real /proc, and integrador_wait run for
real by Ansible. Nothing here is timed: a wait that ends early says so in its message (a wait
that ran to its timeout says "did not answer within")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_adhoc import run_module
from hypothesis import given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from this_machine import eventually, free_port

watch = load(ROOT / "module_utils" / "integrador_reload_watch.py", "integrador_reload_watch_under_test")

APP_OK = "async def app(scope, receive, send):\n" + textwrap.indent(
    textwrap.dedent(
        """\
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        """
    ),
    "    ",
)
# What the real checkout's settings do with a key they do not know (extra="forbid"): the
# import of the app fails, in the worker, after the reloader has started it.
APP_REFUSED = (
    'raise SystemExit("1 validation error for Settings\\nnot_a_setting: Extra inputs are not permitted")\n'
)


class Service:
    """uvicorn serving app.py from a folder, with the start record app_services' launcher writes."""

    def __init__(self, folder: Path, source: str, reload: bool = True) -> None:
        self.folder, self.port = folder, free_port()
        (folder / "app.py").write_text(source)
        argv = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(folder)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--reload", "--reload-dir", str(folder)] if reload else []
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.record = folder / "api.json"
        self.record.write_text(
            json.dumps({"env_file": str(folder / ".env"), "sha256": "0" * 64, "pid": self.proc.pid})
        )
        self.url = f"http://127.0.0.1:{self.port}/"

    def workers(self) -> list[int]:
        found = watch.workers(self.proc.pid)
        return found[0] if found else []

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Any]:
    started: list[Service] = []

    def start(source: str, reload: bool = True) -> Service:
        folder = tmp_path / f"svc{len(started)}"
        folder.mkdir()
        started.append(Service(folder, source, reload))
        return started[-1]

    yield start
    for service in started:
        service.stop()


def wait_for(service: Service, timeout: int) -> tuple[int, dict[str, Any], str]:
    target = {
        "name": "integrador-api.service",
        "kind": "http",
        "url": service.url,
        "record": str(service.record),
    }
    run = run_module("integrador_wait", {"targets": [target], "timeout": timeout})
    return run.rc, run.result, run.output


def test_the_wait_ends_when_the_worker_exited_at_start(services: Any) -> None:
    """A key the settings refuse: the reloader lives on over a worker that is gone; a wait of
    up to 300 s ends with that reason, not with its timeout."""
    service = services(APP_REFUSED)
    rc, result, output = wait_for(service, 300)
    assert rc != 0, output
    assert result.get("dead") == ["integrador-api.service"], output
    assert "will not answer" in result["msg"] and "exited" in result["msg"], output
    assert "did not answer within" not in result["msg"], output
    # The reloader it judged is still there (the manager would call the service running).
    assert service.proc.poll() is None


def test_a_worker_slow_to_start_is_waited_for_and_passes(services: Any) -> None:
    """An app whose import takes longer than the grace period (its worker alive all along)."""
    service = services("import time\ntime.sleep(6)\n" + APP_OK)
    rc, result, output = wait_for(service, 120)
    assert rc == 0, output
    assert result["answers"] == {"integrador-api.service": "HTTP 200"}, output
    assert service.workers(), "uvicorn --reload runs its app in a child of the reloader"


def test_a_worker_killed_long_after_start_is_seen_by_a_new_wait(services: Any) -> None:
    """The worker died before this wait began (no worker was ever seen by it): the resource
    tracker the first worker started, on a reloader past its start, says there was one."""
    service = services(APP_OK)
    assert eventually(service.workers), "no worker started"
    for worker in service.workers():
        os.kill(worker, signal.SIGKILL)
    assert eventually(lambda: not service.workers())
    fresh = watch.ReloadWatch(str(service.record))
    reason = eventually(fresh.dead, 120)
    assert f"pid {service.proc.pid}" in reason and "exited" in reason, reason
    assert watch.age(service.proc.pid) >= watch.STARTED


def test_a_reloader_left_with_no_child_at_all_is_seen_once_past_its_start(services: Any) -> None:
    """Its worker and the resource tracker both killed (`pkill -9 -P`, as the default scenario's
    test does): with no tracker to say a worker was started, a reloader younger than `alone`
    may still be starting its first one (keep waiting); older, it has lost it."""
    service = services(APP_OK)
    assert eventually(service.workers), "no worker started"
    children = watch.children(service.proc.pid)
    assert children and len(children) > len(service.workers()), "the tracker runs beside the worker"
    for child in children:
        os.kill(child, signal.SIGKILL)
    assert eventually(lambda: watch.workers(service.proc.pid) == ([], False))
    young = watch.ReloadWatch(str(service.record), grace=0, alone=3600)
    assert [young.dead() for _ in range(3)] == [""] * 3
    old = watch.ReloadWatch(str(service.record), grace=0, alone=watch.STARTED)
    reason = eventually(old.dead, 60)
    assert f"pid {service.proc.pid}" in reason and "exited" in reason, reason
    assert watch.ALONE > watch.STARTED


def test_no_early_end_without_reload_or_without_a_readable_record(services: Any, tmp_path: Path) -> None:
    """Only what it can tell shortens a wait: a uvicorn without --reload whose app refuses to
    start (its process is gone), a record that is missing or names no process, a pid that is
    not uvicorn --reload: each wait runs to its timeout."""
    plain = services(APP_REFUSED, reload=False)
    assert eventually(lambda: plain.proc.poll() is not None), (
        "uvicorn without --reload exits on an import error"
    )
    rc, result, output = wait_for(plain, 3)
    assert rc != 0 and "did not answer within 3 s" in result["msg"] and not result.get("dead"), output

    not_uvicorn = tmp_path / "sleep.json"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--reload"])
    try:
        not_uvicorn.write_text(json.dumps({"pid": sleeper.pid}))
        for record in (not_uvicorn, tmp_path / "missing.json"):
            seen = watch.ReloadWatch(str(record))
            assert [seen.dead() for _ in range(5)] == [""] * 5
    finally:
        sleeper.kill()
        sleeper.wait()


@settings(max_examples=60, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.builds(
            json.dumps,
            st.dictionaries(
                st.text(max_size=5),
                st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none(), st.floats()),
            ),
        ),
    )
)
def test_any_record_bytes_give_a_pid_or_zero(tmp_path_factory: pytest.TempPathFactory, content: Any) -> None:
    """The record is read at every round of a wait: whatever its bytes, a positive int or 0."""
    path = tmp_path_factory.mktemp("rec") / "api.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    pid = watch.recorded_pid(str(path))
    assert isinstance(pid, int) and not isinstance(pid, bool) and pid >= 0
    if isinstance(content, str):
        wanted = json.loads(content).get("pid")
        expected = wanted if type(wanted) is int and wanted > 0 else 0
        assert pid == expected
