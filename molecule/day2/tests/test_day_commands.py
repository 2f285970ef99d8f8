"""The commands of a developer's day, run as `make <command>` for real against the laptop's
stack: restart (one service or both), logs FOLLOW=1 (live), status FORMAT=json, reset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from conftest import main_pid, readme_examples, run_readme_example, took_fast_path
from make import describe, make, make_command, make_env
from stack import BACKUPS, UNITS, USER_ENV, endpoints_answer, sql

API, WS = UNITS


def pids(host: Any) -> tuple[int, int]:
    return main_pid(host, API), main_pid(host, WS)


def test_restart_of_one_service_changes_only_its_pid(host: Any, test_vars: dict[str, Any]) -> None:
    endpoints_answer(test_vars)
    api, ws = pids(host)
    assert api and ws
    proc = make("restart", "SERVICE=ws")
    assert proc.returncode == 0, describe(proc)
    endpoints_answer(test_vars)
    assert pids(host)[0] == api
    ws_after = pids(host)[1]
    assert ws_after not in (ws, 0)

    proc = make("restart", "SERVICE=api")
    assert proc.returncode == 0, describe(proc)
    endpoints_answer(test_vars)
    api_after, ws_unchanged = pids(host)
    assert api_after not in (api, 0) and ws_unchanged == ws_after


def test_readme_example_restarts_the_gateway(host: Any, test_vars: dict[str, Any], tmp_path: Path) -> None:
    """roles/day_two/README.md's example: a playbook of one's own restarts the gateway only."""
    endpoints_answer(test_vars)
    api, ws = pids(host)
    (example,) = readme_examples("day_two")
    result = run_readme_example(example, tmp_path)
    assert result.rc == 0, result
    endpoints_answer(test_vars)
    api_after, ws_after = pids(host)
    assert api_after == api and ws_after not in (ws, 0)


def test_logs_follow_streams_a_new_line_until_stopped(test_vars: dict[str, Any]) -> None:
    endpoints_answer(test_vars)
    marker = f"itest-follow-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        make_command("logs", "FOLLOW=1", "SERVICE=api"),
        env=make_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # Ctrl-C's default handling, whatever this test's runner ignores (a shell starts
        # background jobs with SIGINT ignored, and make, sh and docker keep it so).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen: list[str] = []
    found = threading.Event()
    following = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "Following api live" in line:
                following.set()
            if marker in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # The request is made once make follows; until the marker shows, ask again
        # (the follower may start a moment after the playbook says so).
        while not found.is_set() and proc.poll() is None:
            if following.is_set():
                requests.get(
                    f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health?{marker}", timeout=5
                )
            found.wait(1)
        assert found.is_set(), "".join(seen[-60:])
        assert proc.poll() is None, "make logs FOLLOW=1 ended by itself:\n" + "".join(seen[-60:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    # Stopped by Ctrl-C, not ended on its own.
    assert proc.returncode != 0


def status_json() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = make("status", "FORMAT=json")
    return proc, json.loads(proc.stdout)


def test_status_json_parses_and_exits_as_the_table(host: Any, test_vars: dict[str, Any]) -> None:
    endpoints_answer(test_vars)
    proc, data = status_json()
    assert proc.returncode == 0, describe(proc)
    assert data["healthy"] is True
    (laptop,) = data["hosts"].values()
    by_name = {part["name"]: part for part in laptop["parts"]}
    for name in (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"], API, WS):
        assert by_name[name]["ok"] is True, laptop["parts"]
    assert laptop["instance"] == ""

    assert host.run(f"{USER_ENV} systemctl --user stop {WS}").rc == 0
    try:
        table = make("status")
        proc, data = status_json()
        assert table.returncode == proc.returncode != 0, describe(proc)
        assert data["healthy"] is False
        (laptop,) = data["hosts"].values()
        assert [p["name"] for p in laptop["parts"] if p["ok"] is False] == [
            WS,
            f"http://127.0.0.1:{test_vars['app_services_ws_port']}/ws/health",
        ]
    finally:
        # restart starts a stopped service too.
        proc = make("restart", "SERVICE=ws")
        assert proc.returncode == 0, describe(proc)
    endpoints_answer(test_vars)


def backups(host: Any) -> set[str]:
    listing = host.run(f"ls -1 {BACKUPS}")
    return set(listing.stdout.split()) if listing.rc == 0 else set()


def test_reset_backs_up_then_gives_a_fresh_database(host: Any, test_vars: dict[str, Any]) -> None:
    endpoints_answer(test_vars)
    sql(test_vars, "CREATE TABLE IF NOT EXISTS itest_reset_probe (v text)")
    sql(test_vars, "INSERT INTO itest_reset_probe VALUES ('before the reset')")
    before = backups(host)

    # With no terminal to ask on and no YES=1, nothing happens.
    refused = make("reset")
    assert refused.returncode != 0 and "make reset YES=1" in refused.stderr
    assert sql(test_vars, "SELECT v FROM itest_reset_probe") == [("before the reset",)]

    proc = make("reset", "YES=1")
    assert proc.returncode == 0, describe(proc)
    new = backups(host) - before
    assert len(new) == 1, (before, new)
    (folder,) = new
    assert laptop_files_in(host, f"{BACKUPS}/{folder}") >= {"postgres.dump", "dump.rdb", "SHA256SUMS"}
    # The backup holds the row; the live database does not any more.
    check = "import sys; print(b'itest_reset_probe' in open(sys.argv[1], 'rb').read())"
    holds = host.run(f'python3 -c "{check}" {BACKUPS}/{folder}/postgres.dump')
    assert holds.stdout.strip() == "True", holds
    assert sql(test_vars, "SELECT to_regclass('itest_reset_probe')") == [(None,)]
    assert sql(test_vars, "SELECT extname FROM pg_extension WHERE extname = 'vector'") == [("vector",)]
    endpoints_answer(test_vars)


def laptop_files_in(host: Any, folder: str) -> set[str]:
    return set(host.run(f"ls -1 {folder}").stdout.split())


def test_make_dev_after_day_two_commands_is_fast_when_they_changed_nothing_it_watches(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The fast path where the user meets it after day two (these runs have it on, as make dev
    does): a backup or a restart leaves the stack as the last converge recorded it, so the next
    make dev ends after its one check with nothing changed; a restore makes the next one a full
    converge (it forgets the record: tests/unit/day_two), and the one after is fast again."""

    def dev() -> Any:
        return converge({"integrador_fast_path": True})

    first = dev()
    assert first.rc == 0, first
    if not (first.changed == 0 and took_fast_path(first)):
        again = dev()
        assert again.rc == 0 and again.changed == 0 and took_fast_path(again), again
    for command in (("backup",), ("restart", "SERVICE=api")):
        proc = make(*command)
        assert proc.returncode == 0, describe(proc)
        after = dev()
        assert after.rc == 0 and after.changed == 0 and took_fast_path(after), (command, after)
    endpoints_answer(test_vars)
