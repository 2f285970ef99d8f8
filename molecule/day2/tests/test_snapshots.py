"""Snapshots as a developer uses them, `make <command>` for real against the laptop's stack:
snapshot, snapshots FORMAT=json, restore-snapshot (and its undo), drop-snapshot; a snapshot
the checkout's migrations do not know is refused before anything changes."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from conftest import main_pid
from make import describe, make
from stack import STATE, UNITS, endpoints_answer, kv, sql

API, _ = UNITS


def listed(name: str) -> dict[str, Any] | None:
    proc = make("snapshots", "FORMAT=json")
    assert proc.returncode == 0, describe(proc)
    (host,) = json.loads(proc.stdout)["hosts"].values()
    return {s["name"]: s for s in host["snapshots"]}.get(name)


def put(test_vars: dict[str, Any], value: str) -> None:
    sql(test_vars, "CREATE TABLE IF NOT EXISTS itest_snap_probe (id int primary key, v text)")
    sql(
        test_vars,
        f"INSERT INTO itest_snap_probe VALUES (1, '{value}') ON CONFLICT (id) DO UPDATE SET v = excluded.v",
    )
    kv(test_vars).set("itest-snap", value)


def got(test_vars: dict[str, Any]) -> tuple[Any, Any]:
    return sql(test_vars, "SELECT v FROM itest_snap_probe WHERE id = 1")[0][0], kv(test_vars).get(
        "itest-snap"
    )


# The real checkout's gateway answers 404 on the configured /ws/health and 200 on /health:
# make dev finds /health and records it, and day two (restore-snapshot's restart here) must
# probe the recorded path, not the setting. Here: the record says /health (the demo's gateway
# answers both paths), and the setting names a path that answers 404.
ODD_HEALTH = "ARGS=-e app_services_ws_health_path=/itest-answers-404"


def record_says_the_gateway_answers_on(host: Any, path: str) -> None:
    """The last converge's record, as make dev writes it after finding `path` answering."""
    edit = (
        "import json, sys, urllib.parse as u; p = sys.argv[1]; r = json.load(open(p)); "
        "[s.update(health_url=u.urlsplit(s['health_url'])._replace(path=sys.argv[2]).geturl()) "
        "for s in r['services'] if s['name'] == 'ws']; json.dump(r, open(p, 'w'))"
    )
    host.run_test(f'python3 -c "{edit}" {STATE}/converged.json {path}')


def test_snapshot_then_restore_gives_back_both_stores_and_the_undo_goes_back(
    host: Any, test_vars: dict[str, Any]
) -> None:
    try:
        # A converge with the fast path on, as make dev: it writes the record.
        converged = make("dev", "ARGS=-e integrador_fast_path=true")
        assert converged.returncode == 0, describe(converged)
        record_says_the_gateway_answers_on(host, "/health")
        endpoints_answer(test_vars)
        put(test_vars, "before")
        kv(test_vars).delete("itest-snap-added")
        revision = sql(test_vars, "SELECT version_num FROM alembic_version")[0][0]

        began = time.monotonic()
        taken = make("snapshot", "NAME=itest-before")
        took = time.monotonic() - began
        assert taken.returncode == 0, describe(taken)
        assert (
            "Took snapshot itest-before" in taken.stdout
            and "make restore-snapshot NAME=itest-before" in taken.stdout
        )
        entry = listed("itest-before")
        assert entry and entry["named"] and entry["complete"] and entry["revision"] == revision, entry

        put(test_vars, "after")
        kv(test_vars).set("itest-snap-added", "x")
        api = main_pid(host, API)

        began = time.monotonic()
        restored = make("restore-snapshot", "NAME=itest-before", ODD_HEALTH)
        took_restore = time.monotonic() - began
        assert restored.returncode == 0, describe(restored)
        assert got(test_vars) == ("before", "before")
        assert kv(test_vars).get("itest-snap-added") is None
        endpoints_answer(test_vars)
        # Restarted, so nothing the services held in memory outlives the restore.
        assert main_pid(host, API) not in (api, 0)
        (undo,) = re.findall(r"make restore-snapshot NAME=(undo-[0-9-]+)", restored.stdout)

        back = make("restore-snapshot", f"NAME={undo}", ODD_HEALTH)
        assert back.returncode == 0, describe(back)
        assert got(test_vars) == ("after", "after") and kv(test_vars).get("itest-snap-added") == "x"
        endpoints_answer(test_vars)

        for name in ("itest-before", undo):
            dropped = make("drop-snapshot", f"NAME={name}")
            assert dropped.returncode == 0, describe(dropped)
            assert listed(name) is None
        # What a run costs through the docker connection (the suite's log shows it; no timed assertion).
        print(f"make snapshot {took:.1f} s, make restore-snapshot {took_restore:.1f} s")
    finally:
        # The record this test made (the scenario's converges write none) and its edit leave
        # with it: the tests after this one read the health paths of the settings.
        host.run_test(f"rm -f {STATE}/converged.json {STATE}/converged.forgotten.json")


def test_a_snapshot_at_a_revision_the_checkout_does_not_have_is_refused_untouched(
    test_vars: dict[str, Any],
) -> None:
    """As a snapshot taken on another branch: its Alembic revision is not among the checkout's
    migration scripts, so the API's `alembic upgrade head` would fail on it."""
    endpoints_answer(test_vars)
    put(test_vars, "other-branch")
    (revision,) = sql(test_vars, "SELECT version_num FROM alembic_version")[0]
    sql(test_vars, "UPDATE alembic_version SET version_num = 'itest_elsewhere_01'")
    try:
        taken = make("snapshot", "NAME=itest-elsewhere")
    finally:
        sql(test_vars, f"UPDATE alembic_version SET version_num = '{revision}'")
    assert taken.returncode == 0, describe(taken)
    put(test_vars, "current")

    refused = make("restore-snapshot", "NAME=itest-elsewhere")
    assert refused.returncode != 0
    # Ansible prints a failure on stdout or stderr depending on its display settings (CI's
    # environment sends it to stderr): both are read.
    said = refused.stdout + refused.stderr
    assert "itest_elsewhere_01" in said and "Nothing was changed" in said, describe(refused)
    assert got(test_vars) == ("current", "current")
    assert make("drop-snapshot", "NAME=itest-elsewhere").returncode == 0

    unknown = make("restore-snapshot", "NAME=itest-nothing")
    said = unknown.stdout + unknown.stderr
    assert unknown.returncode != 0 and "There is no snapshot named itest-nothing" in said, describe(unknown)
