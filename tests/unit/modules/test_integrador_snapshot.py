"""integrador_snapshot against real servers: the PostgreSQL (pgvector) and Redis stand-in images
on this machine's Docker engine, the module run for real by Ansible (ad-hoc, local connection),
the data read back with psycopg2 and redis-py (independent of the module's own clients)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from ansible_adhoc import run_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from this_machine import eventually, pg_connects, pg_rows, standin_stack

snap = load(ROOT / "module_utils" / "integrador_snapshot.py", "integrador_snapshot_under_test")
probe = load(ROOT / "module_utils" / "integrador_probe.py", "integrador_probe_for_snapshot")
library = load(ROOT / "library" / "integrador_snapshot.py", "integrador_snapshot_library")
PREFIX = "itest_unitsnap"
PG_PASSWORD = "unit-Snap-pass-3310"
REDIS_PASSWORD = "unit-Snap-redis-7741"
DB = "menu_ops"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with standin_stack(PREFIX, DB, PG_PASSWORD, REDIS_PASSWORD) as (db, rd, pg_port, redis_port):
        assert eventually(lambda: probe.postgres("127.0.0.1", pg_port)[0]), db.logs(tail=30)
        assert eventually(lambda: probe.redis("127.0.0.1", redis_port, REDIS_PASSWORD)[0]), rd.logs(tail=30)
        # The ready probe answers during the image's first-start init: wait for the real server.
        assert eventually(lambda: pg_connects(pg_port, PG_PASSWORD, DB)), db.logs(tail=30)
        root = tmp_path_factory.mktemp("checkout")
        (root / ".git").mkdir()
        (root / ".git" / "HEAD").write_text("ref: refs/heads/feature/menus\n")
        yield {
            "pg_port": pg_port,
            "redis_port": redis_port,
            "state_dir": str(tmp_path_factory.mktemp("state")),
            "root": str(root),
        }


def sql(stack: dict[str, Any], query: str, db: str = DB) -> list[tuple[Any, ...]]:
    return pg_rows(stack["pg_port"], PG_PASSWORD, db, query)


def rds(stack: dict[str, Any], db: int = 0) -> redis_client.Redis:
    return redis_client.Redis(port=stack["redis_port"], password=REDIS_PASSWORD, db=db)


def run(stack: dict[str, Any], action: str, *flags: str, **extra: Any) -> Any:
    args = {
        "action": action,
        "database": DB,
        "container": f"{PREFIX}_db",
        "redis_port": stack["redis_port"],
        "redis_password": REDIS_PASSWORD,
        "state_dir": stack["state_dir"],
        "root": stack["root"],
        **extra,
    }
    return run_module("integrador_snapshot", args, *flags, callback="minimal")


def names(result: dict[str, Any]) -> list[str]:
    return [s["name"] for s in result["snapshots"]]


def set_data(stack: dict[str, Any], value: str) -> None:
    sql(stack, "CREATE EXTENSION IF NOT EXISTS vector")
    sql(stack, "CREATE TABLE IF NOT EXISTS t (id int primary key, v text, e vector(3))")
    sql(stack, "CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) primary key)")
    sql(stack, "DELETE FROM alembic_version")
    sql(stack, f"INSERT INTO alembic_version VALUES ('rev_{value}')")
    sql(
        stack, f"INSERT INTO t VALUES (1, '{value}', '[1,2,3]') ON CONFLICT (id) DO UPDATE SET v = excluded.v"
    )
    r0, r3 = rds(stack), rds(stack, 3)
    r0.flushall()
    r0.set("plain", value)
    r0.set("expiring", value, px=600_000)
    r0.hset("hash", mapping={"a": value, "b": b"\x00\xff binary"})
    r3.rpush("list-in-db3", value, "x")


def data(stack: dict[str, Any]) -> tuple[Any, ...]:
    r0, r3 = rds(stack), rds(stack, 3)
    return (
        sql(stack, "SELECT v, e::text FROM t WHERE id = 1")[0],
        r0.get("plain"),
        r0.hgetall("hash"),
        r3.lrange("list-in-db3", 0, -1),
        0 < r0.pttl("expiring") <= 600_000,
        r0.ttl("plain"),
    )


def test_take_then_restore_gives_back_both_stores_and_keeps_an_undo(stack: dict[str, Any]) -> None:
    set_data(stack, "first")
    before = data(stack)
    taken = run(stack, "take", name="before-change")
    assert taken.rc == 0, taken.output
    assert taken.result["snapshot"]["name"] == "before-change" and taken.result["snapshot"]["keys"] == 4
    listed = {s["name"]: s for s in taken.result["snapshots"]}["before-change"]
    assert listed["branch"] == "feature/menus" and listed["revision"] == "rev_first" and listed["named"]
    assert listed["complete"] and listed["bytes"] > 1_000_000  # a whole database, pgvector's included
    assert oct(os.stat(Path(stack["state_dir"]) / "snapshots").st_mode & 0o777) == "0o700"

    set_data(stack, "second")
    rds(stack).set("added-after", "x")
    changed = data(stack)
    assert changed != before

    restored = run(stack, "restore", name="before-change")
    assert restored.rc == 0, restored.output
    assert data(stack) == before
    assert rds(stack).get("added-after") is None
    undo = restored.result["undo"]
    assert undo.startswith("undo-") and undo in names(restored.result)

    # The undo snapshot holds what the restore replaced: restoring it goes back.
    back = run(stack, "restore", name=undo)
    assert back.rc == 0, back.output
    assert data(stack) == changed
    assert rds(stack).get("added-after") == b"x"


def test_a_snapshot_at_a_revision_the_checkout_lacks_is_refused_untouched(stack: dict[str, Any]) -> None:
    """known_revisions (the checkout's migration scripts): a snapshot taken at another revision is
    refused naming it and the branch, before anything changes; one the checkout has, and any
    when the revisions are not given, restores."""
    set_data(stack, "branch")
    assert run(stack, "take", name="on-branch").rc == 0
    set_data(stack, "live")
    live = data(stack)
    before = names(run(stack, "list").result)

    refused = run(stack, "restore", name="on-branch", known_revisions=["rev_live", "rev_other"])
    assert refused.rc != 0, refused.output
    assert "Snapshot on-branch was taken at Alembic revision rev_branch (on branch feature/menus)" in (
        refused.output
    ), refused.output
    assert "Check out feature/menus and restore it again. Nothing was changed." in refused.output
    assert data(stack) == live and names(run(stack, "list").result) == before

    known = run(stack, "restore", name="on-branch", known_revisions=["rev_live", "rev_branch"])
    assert known.rc == 0, known.output
    assert sql(stack, "SELECT v FROM t WHERE id = 1") == [("branch",)]


def write_scripts(root: Path, *scripts: str) -> None:
    """backend/alembic.ini and one migration script per "revision<down" ("rev" for a first one,
    "rev<?" for one whose down_revision is computed), replacing the scripts there were."""
    versions = root / "backend" / "alembic" / "versions"
    if versions.exists():
        for old in versions.glob("*.py"):
            old.unlink()
    versions.mkdir(parents=True, exist_ok=True)
    (root / "backend" / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    for script in scripts:
        revision, _, down = script.partition("<")
        follows = "pick()" if down == "?" else repr(down or None)
        (versions / f"{revision}.py").write_text(f"revision = {revision!r}\ndown_revision = {follows}\n")


def test_before_migrations_keeps_the_data_behind_and_stops_on_another_branchs(stack: dict[str, Any]) -> None:
    """The revision the database is at, to the checkout's scripts: current, nothing; behind the
    heads, snapshot pre-<revision> holding the data as it was; unknown (another branch's), the
    run fails naming both revisions and the snapshot taken at the checkout's head."""
    root = Path(stack["root"])
    set_data(stack, "old")  # alembic_version: rev_old
    before = data(stack)

    write_scripts(root, "rev_old")
    current = run(stack, "before_migrations")
    assert current.rc == 0 and current.result["state"] == "current" and not current.result["changed"]
    assert "snapshot" not in current.result

    write_scripts(root, "rev_old", "rev_new<rev_old")
    behind = run(stack, "before_migrations")
    assert behind.rc == 0 and behind.result["state"] == "behind" and behind.result["changed"], behind.output
    kept = behind.result["snapshot"]
    assert kept["name"] == "pre-rev_old" and not kept["named"]
    listed = {s["name"]: s for s in behind.result["snapshots"]}["pre-rev_old"]
    assert listed["revision"] == "rev_old" and listed["complete"]

    # Unknown heads (a computed down_revision) count as behind: a second snapshot, under a free name.
    write_scripts(root, "rev_old", "rev_new<?")
    unknown_heads = run(stack, "before_migrations", "--check")
    assert unknown_heads.rc == 0 and unknown_heads.result["snapshot"]["name"] == "pre-rev_old-2"

    # Migrated on another branch: rev_other is not in this checkout's scripts, which end at rev_old.
    write_scripts(root, "rev_old")
    set_data(stack, "other")
    other = data(stack)
    refused = run(stack, "before_migrations")
    assert refused.rc != 0
    said = " ".join(refused.output.split())
    assert (
        f"The database {DB} is at Alembic revision rev_other, which the migration scripts of this checkout "
        "do not have (they end at rev_old)" in said
    ), said
    assert "`make restore-snapshot NAME=pre-rev_old` (taken " in said and "`make reset`" in said, said
    assert data(stack) == other
    # The way out it names gives the data back.
    assert run(stack, "restore", name="pre-rev_old").rc == 0
    assert data(stack) == before

    sql(stack, "DROP TABLE alembic_version")
    fresh = run(stack, "before_migrations")
    assert fresh.rc == 0 and fresh.result["state"] == "fresh" and not fresh.result["changed"]
    # A database container that is not running (--skip-tags docker with it stopped): nothing to do.
    gone = run(stack, "before_migrations", container=f"{PREFIX}_not_there")
    assert gone.rc == 0 and gone.result["state"] == "not running" and not gone.result["changed"], gone.output
    elsewhere = run(stack, "before_migrations", database="not_created_yet")
    assert elsewhere.rc == 0 and elsewhere.result["state"] == "fresh", elsewhere.output
    shutil.rmtree(root / "backend")
    none = run(stack, "before_migrations")
    assert none.rc == 0 and none.result["state"] == "none" and not none.result["changed"]


@pytest.mark.parametrize(
    ("revision", "known", "heads", "wanted"),
    [
        ("", ["a"], ["a"], ("fresh", [])),
        ("a", ["a"], ["a"], ("current", [])),
        ("a", ["a", "b"], ["b"], ("behind", [])),
        ("a", ["a"], None, ("behind", [])),
        ("a,b", ["a", "b"], ["b", "a"], ("current", [])),
        ("a,x", ["a"], ["a"], ("unknown", ["x"])),
        ("x", [], None, ("unknown", ["x"])),
    ],
)
def test_migrations_state_follows_the_written_rule(
    revision: str, known: list[str], heads: list[str] | None, wanted: tuple[str, list[str]]
) -> None:
    assert snap.migrations_state(revision, known, heads) == wanted


@pytest.mark.parametrize(
    ("revision", "wanted"),
    [
        ("0001_menu_items", "pre-0001_menu_items"),
        ("ae1027a6acf", "pre-ae1027a6acf"),
        ("A.B", "pre-a-b"),
        ("a,b", "pre-a-b"),
        ("x" * 40, "pre-" + "x" * 23),
        ("---", "pre-unknown"),
    ],
)
def test_migration_snapshot_names_are_snapshot_names(revision: str, wanted: str) -> None:
    name = snap.migration_snapshot_base(revision)
    assert name == wanted and snap.name_problem(name) is None and snap.name_problem(name + "-10") is None


@settings(max_examples=200, deadline=None)
@given(revision=st.text(max_size=80))
def test_any_revision_gives_a_snapshot_name_with_room_for_a_suffix(revision: str) -> None:
    name = snap.migration_snapshot_base(revision)
    assert snap.name_problem(name) is None and snap.name_problem(name + "-99") is None, name


def test_unknown_revisions_of_a_snapshot() -> None:
    assert library.unknown_revisions("a,b", None) == []
    assert library.unknown_revisions("a,b", ["a"]) == ["b"]
    assert library.unknown_revisions("a", ["a", "b"]) == []
    assert library.unknown_revisions("", []) == []
    assert library.unknown_revisions("x", []) == ["x"]


def test_take_twice_with_one_name_is_refused_naming_the_fix(stack: dict[str, Any]) -> None:
    set_data(stack, "dup")
    assert run(stack, "take", name="twice").rc == 0
    again = run(stack, "take", name="twice")
    assert again.rc != 0
    assert "A snapshot named twice exists" in again.output and "make drop-snapshot NAME=twice" in again.output


def test_drop_removes_both_parts_and_unknown_names_are_named(stack: dict[str, Any]) -> None:
    set_data(stack, "drop")
    assert run(stack, "take", name="to-drop").rc == 0
    redis_part = Path(stack["state_dir"]) / "snapshots" / "to-drop.redis"
    assert redis_part.exists()
    dropped = run(stack, "drop", name="to-drop")
    assert dropped.rc == 0, dropped.output
    assert "to-drop" not in names(dropped.result) and not redis_part.exists()
    assert not sql(stack, f"SELECT 1 FROM pg_database WHERE datname = '{snap.db_name(DB, 'to-drop')}'")
    missing = run(stack, "restore", name="to-drop")
    assert missing.rc != 0 and "There is no snapshot named to-drop" in missing.output


def test_check_mode_changes_nothing(stack: dict[str, Any]) -> None:
    set_data(stack, "check")
    before = names(run(stack, "list").result)
    checked = run(stack, "take", "--check", name="checked")
    assert checked.rc == 0 and checked.result["changed"], checked.output
    assert names(run(stack, "list").result) == before


def test_keep_drops_the_oldest_automatic_snapshots_never_named_ones(stack: dict[str, Any]) -> None:
    set_data(stack, "keep")
    for existing in names(run(stack, "list").result):
        assert run(stack, "drop", name=existing).rc == 0
    assert run(stack, "take", name="mine").rc == 0
    automatic = []
    for _ in range(3):
        taken = run(stack, "take", keep=2)
        assert taken.rc == 0, taken.output
        automatic.append(taken.result["snapshot"]["name"])
    final = names(run(stack, "list").result)
    # keep=2: the named one stays, and only the newest automatic one fits beside it.
    assert "mine" in final and automatic[-1] in final
    assert automatic[0] not in final and automatic[1] not in final
    assert not (Path(stack["state_dir"]) / "snapshots" / f"{automatic[0]}.redis").exists()


def test_a_snapshot_whose_redis_part_is_gone_is_listed_and_refused(stack: dict[str, Any]) -> None:
    set_data(stack, "gone")
    assert run(stack, "take", name="half").rc == 0
    (Path(stack["state_dir"]) / "snapshots" / "half.redis").unlink()
    listed = {s["name"]: s for s in run(stack, "list").result["snapshots"]}
    assert listed["half"]["complete"] is False and listed["half"]["redis_bytes"] is None
    refused = run(stack, "restore", name="half")
    assert refused.rc != 0 and "has no Redis part" in refused.output
    assert data(stack)[0][0] == "gone"  # the live data is untouched


@pytest.mark.parametrize("bad", ["Upper", "-dash-first", "x" * 31, "with space", "semi;colon", "é"])
def test_bad_names_are_refused_before_anything_runs(stack: dict[str, Any], bad: str) -> None:
    refused = run(stack, "take", name=bad)
    assert refused.rc != 0 and "is not 1 to 30 of a-z" in refused.output


# --- The pure parts, against written-out expectations --------------------------------------


def test_redis_file_round_trips_any_entries_and_rejects_cut_files() -> None:
    entries = [(0, b"k", 0, b"payload"), (15, b"\x00\xff", 1234, b""), (3, b"", 2**40, b"x" * 70_000)]
    data = snap.encode_entries(entries)
    assert data.startswith(b"INTEGRADOR-REDIS-SNAPSHOT 1\n")
    assert list(snap.decode_entries(data)) == entries
    for cut in (len(data) - 1, len(snap.MAGIC) + 5):
        with pytest.raises(snap.SnapshotError, match=r"^the Redis snapshot is cut short$"):
            list(snap.decode_entries(data[:cut]))
    with pytest.raises(
        snap.SnapshotError, match=r"^not a Redis snapshot of this tool \(its first line is wrong\)$"
    ):
        list(snap.decode_entries(b"REDIS0011..."))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 15), st.binary(max_size=40), st.integers(0, 2**50), st.binary(max_size=200)),
        max_size=12,
    )
)
def test_redis_file_round_trips_generated_entries(entries: list[tuple[int, bytes, int, bytes]]) -> None:
    assert list(snap.decode_entries(snap.encode_entries(entries))) == entries


@given(st.text(max_size=40))
def test_names_follow_the_written_rule(name: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    expected_ok = 1 <= len(name) <= 30 and set(name) <= allowed and name[0] not in "-_"
    assert (snap.name_problem(name) is None) == expected_ok
    if expected_ok:
        assert len(snap.db_name("a" * 63, name).encode()) <= 63


def test_records_read_back_and_foreign_comments_give_empty_fields() -> None:
    text = snap.record("2026-12-06T10:00:00Z", "main", "abc123", True)
    assert json.loads(text) == {
        "taken": "2026-12-06T10:00:00Z",
        "branch": "main",
        "revision": "abc123",
        "named": True,
    }
    assert snap.read_record(text)["named"] is True
    # The exact text (sorted keys), and every field read back.
    text = snap.record("2026-12-06T10:00:00Z", "feature/x", "abc123", False)
    assert (
        text
        == '{"branch": "feature/x", "named": false, "revision": "abc123", "taken": "2026-12-06T10:00:00Z"}'
    )
    assert snap.read_record(text) == {
        "taken": "2026-12-06T10:00:00Z",
        "branch": "feature/x",
        "revision": "abc123",
        "named": False,
    }
    empty = {"taken": "", "branch": "", "revision": "", "named": False}
    foreign_comments = (
        None,
        "",
        "a comment of someone's",
        "not json",
        "[1, 2]",
        "null",
        '"text"',
        '{"named": "yes"}',
    )
    for foreign in foreign_comments:
        assert snap.read_record(foreign) == empty, foreign
    # Fields of another shape are text; only a true `named` is named.
    assert snap.read_record('{"taken": 5, "branch": null, "revision": ["r"], "named": 1}') == {
        "taken": "5",
        "branch": "",
        "revision": "['r']",
        "named": False,
    }


def test_to_drop_keeps_named_and_drops_oldest_automatic() -> None:
    def s(name: str, taken: str, named: bool = False) -> dict[str, Any]:
        return {"name": name, "taken": taken, "named": named}

    items = [s("n1", "2026-01-01", True), s("a1", "2026-01-02"), s("a2", "2026-01-03"), s("a3", "2026-01-04")]
    assert snap.to_drop(items, 4) == []
    assert snap.to_drop(items, 3) == ["a1"]
    assert snap.to_drop(items, 1) == ["a1", "a2", "a3"]  # the named one stays even over keep
    assert snap.to_drop([s("n1", "1", True), s("n2", "2", True)], 1) == []


def test_sql_literal_doubles_quotes_and_refuses_nul() -> None:
    assert snap.sql_literal("it's") == "'it''s'"
    assert snap.sql_literal("") == "''"
    with pytest.raises(snap.SnapshotError, match=r"^a NUL character cannot be stored in PostgreSQL text$"):
        snap.sql_literal("a\x00b")


def test_git_branch_reads_heads_worktrees_and_detached(tmp_path: Path) -> None:
    assert snap.git_branch(str(tmp_path)) == ""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert snap.git_branch(str(tmp_path)) == "main"
    (tmp_path / ".git" / "HEAD").write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert snap.git_branch(str(tmp_path)) == "0123456789ab"
    worktree = tmp_path / "wt"
    (worktree).mkdir()
    (tmp_path / "gitdir-of-wt").mkdir()
    (tmp_path / "gitdir-of-wt" / "HEAD").write_text("ref: refs/heads/feature/x\n")
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'gitdir-of-wt'}\n")
    assert snap.git_branch(str(worktree)) == "feature/x"


def test_more_keys_than_one_round_trip_holds_come_back_exactly(stack: dict[str, Any]) -> None:
    """1,234 keys (the module DUMPs and RESTOREs 500 a round trip), values read back with redis-py."""
    set_data(stack, "many")
    r5 = rds(stack, 5)
    r5.mset({f"k{i}": f"v{i}" for i in range(1234)})
    assert run(stack, "take", name="many-keys").rc == 0
    r5.flushdb()
    r5.set("not-in-the-snapshot", 1)
    restored = run(stack, "restore", name="many-keys")
    assert restored.rc == 0, restored.output
    assert r5.dbsize() == 1234 and r5.get("k0") == b"v0" and r5.get("k1233") == b"v1233"


def test_identifiers_and_literals_are_quoted_for_postgresql() -> None:
    assert snap.sql_ident('menu"ops') == '"menu""ops"'
    assert snap.sql_ident("Menu Ops") == '"Menu Ops"'
    with pytest.raises(snap.SnapshotError, match=r"^a NUL character cannot be in a PostgreSQL name$"):
        snap.sql_ident("a\x00")


def test_a_stopped_or_missing_database_container_is_named_with_the_way_back(stack: dict[str, Any]) -> None:
    refused = run(stack, "take", name="nothing", container=f"{PREFIX}_no_such_db")
    assert refused.rc != 0
    assert f"The database container {PREFIX}_no_such_db does not exist: start the stack with `make dev`" in (
        refused.output
    )


def test_snapshot_databases_of_a_live_database_share_a_prefix_of_its_own() -> None:
    # sha1("menu_ops") begins eef0f3bdead8a: twelve hex digits of it.
    assert snap.db_prefix("menu_ops") == "integrador_snap_eef0f3bdead8_"
    assert snap.db_name("menu_ops", "before-demo") == "integrador_snap_eef0f3bdead8_before-demo"
    assert snap.db_prefix("menu_ops_2") != snap.db_prefix("menu_ops")


def test_a_migration_snapshot_name_cut_at_a_dash_does_not_end_with_it() -> None:
    # "pre-" and 22 letters, then a dash at the 27th character where the name is cut.
    assert snap.migration_snapshot_base("a" * 22 + "-bcdef") == "pre-" + "a" * 22
    assert snap.migration_snapshot_base("A1,B2") == "pre-a1-b2"


def test_git_branch_of_other_pointers_and_refs(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".git").write_text("not a pointer\n")
    assert snap.git_branch(str(checkout)) == ""
    # A relative gitdir is relative to the checkout (git worktree add writes absolute ones,
    # submodules relative ones).
    (tmp_path / "modules" / "sub").mkdir(parents=True)
    (tmp_path / "modules" / "sub" / "HEAD").write_text("ref: refs/heads/sub-branch\n")
    (checkout / ".git").write_text("gitdir: ../modules/sub\n")
    assert snap.git_branch(str(checkout)) == "sub-branch"
    # A symbolic HEAD outside refs/heads/ is named whole.
    (tmp_path / "modules" / "sub" / "HEAD").write_text("ref: refs/remotes/origin/main\n")
    assert snap.git_branch(str(checkout)) == "refs/remotes/origin/main"
