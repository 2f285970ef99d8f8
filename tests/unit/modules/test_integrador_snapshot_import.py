"""integrador_snapshot's `import` (make import-db) against real servers: the PostgreSQL (pgvector)
and Redis stand-in images on this machine's Docker engine, the module run by Ansible (ad-hoc, local
connection). The dumps are made by the real pg_dump, in each of its formats, of a database of the
same cluster that a role of its own owns (the role is dropped before the import, as production's
roles do not exist on a laptop), with a vector column. What came through is read back with
psycopg2 and redis-py, independent of the module's own clients."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from ansible_adhoc import run_module
from hypothesis import example, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from this_machine import eventually, pg_connects, pg_rows, standin_stack

snap = load(ROOT / "module_utils" / "integrador_snapshot.py", "integrador_snapshot_for_import")
probe = load(ROOT / "module_utils" / "integrador_probe.py", "integrador_probe_for_import")
PREFIX = "itest_unitimport"
PG_PASSWORD = "unit-Import-pass-5127"
REDIS_PASSWORD = "unit-Import-redis-8823"
DB = "menu_ops"
SOURCE = "staging_copy"
UNTOUCHED = "The current database was not touched."


def sql(stack: dict[str, Any], query: str, db: str = DB) -> list[tuple[Any, ...]]:
    return pg_rows(stack["pg_port"], PG_PASSWORD, db, query)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack, and the source database dumped in every format into a folder of this machine."""
    with standin_stack(PREFIX, DB, PG_PASSWORD, REDIS_PASSWORD) as (db, _rd, pg_port, redis_port):
        assert eventually(lambda: probe.postgres("127.0.0.1", pg_port)[0]), db.logs(tail=30)
        assert eventually(lambda: pg_connects(pg_port, PG_PASSWORD, DB)), db.logs(tail=30)
        here: dict[str, Any] = {
            "pg_port": pg_port,
            "redis_port": redis_port,
            "state_dir": str(tmp_path_factory.mktemp("state")),
            "container": db,
        }
        # The source: owned by a role production has and this laptop does not, with a vector column,
        # Alembic's table and a revision the checkout knows.
        sql(here, f"CREATE DATABASE {SOURCE}")
        sql(here, "CREATE ROLE prod_owner")
        for statement in (
            "CREATE EXTENSION vector",
            "CREATE TABLE menu_item (id int PRIMARY KEY, name text NOT NULL, embedding vector(3))",
            "INSERT INTO menu_item VALUES (1, 'milanesa', '[0.5,1,2]'), (2, 'empanada', NULL)",
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('rev_staging')",
            "ALTER TABLE menu_item OWNER TO prod_owner",
            "GRANT SELECT ON menu_item TO prod_owner",
            # A developer's database dumped: this tool's marks came with it (schema
            # integrador_provisioning): it was migrated and seeded there.
            "CREATE SCHEMA integrador_provisioning",
            "CREATE TABLE integrador_provisioning.marks (name text PRIMARY KEY, value text NOT NULL,"
            " recorded_at timestamptz NOT NULL DEFAULT now())",
            "INSERT INTO integrador_provisioning.marks (name, value) VALUES ('migrations', 'f00d'), "
            "('seed', 'x')",
        ):
            sql(here, statement, SOURCE)
        dumps = tmp_path_factory.mktemp("dumps")
        here["dumps"] = dumps
        for name, flags in (
            ("staging.sql", ["-Fp"]),
            ("staging.dump", ["-Fc"]),
            ("staging.tar", ["-Ft"]),
            ("staging_dir", ["-Fd"]),
        ):
            ran = db.exec_run(["pg_dump", "-U", "postgres", *flags, "-f", f"/tmp/{name}", SOURCE])
            assert ran.exit_code == 0, ran.output
            bits, _ = db.get_archive(f"/tmp/{name}")
            with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tar:
                tar.extractall(dumps, filter="data")
        for name in ("staging.sql", "staging.dump"):
            with (dumps / name).open("rb") as source, gzip.open(dumps / f"{name}.gz", "wb") as target:
                shutil.copyfileobj(source, target)
        # Production's role is not on the laptop the dump is imported on.
        sql(here, "REASSIGN OWNED BY prod_owner TO postgres", SOURCE)
        sql(here, "DROP OWNED BY prod_owner", SOURCE)
        sql(here, "DROP ROLE prod_owner")
        yield here


def run(stack: dict[str, Any], file: str | Path, *flags: str, **extra: Any) -> Any:
    args = {
        "action": "import",
        "file": str(file),
        "database": DB,
        "container": f"{PREFIX}_db",
        "redis_port": stack["redis_port"],
        "redis_password": REDIS_PASSWORD,
        "state_dir": stack["state_dir"],
        "known_revisions": ["rev_staging", "rev_live"],
        **extra,
    }
    return run_module("integrador_snapshot", args, *flags)


def live_marker(stack: dict[str, Any], value: str) -> None:
    """The live database's own data, which a refused import must leave as it is."""
    sql(stack, "DROP TABLE IF EXISTS menu_item, alembic_version")
    sql(stack, "CREATE TABLE IF NOT EXISTS live_marker (v text)")
    sql(stack, "DELETE FROM live_marker")
    sql(stack, f"INSERT INTO live_marker VALUES ('{value}')")


def scratch_databases(stack: dict[str, Any]) -> list[str]:
    rows = sql(stack, "SELECT datname FROM pg_database WHERE datname LIKE '%importing%'")
    return [row[0] for row in rows]


def leftovers_in_container(stack: dict[str, Any]) -> bytes:
    return (
        stack["container"].exec_run(["sh", "-c", "ls -d /tmp/integrador-import-* 2>/dev/null; true"]).output
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("staging.sql", "plain"),
        ("staging.sql.gz", "plain (gzipped)"),
        ("staging.dump", "custom"),
        ("staging.dump.gz", "custom (gzipped)"),
        ("staging.tar", "tar"),
        ("staging_dir", "directory"),
    ],
)
def test_each_format_pg_dump_writes_is_imported_whole(stack: dict[str, Any], name: str, kind: str) -> None:
    live_marker(stack, f"before {name}")
    rds = redis_client.Redis(port=stack["redis_port"], password=REDIS_PASSWORD)
    rds.set("session", name)

    done = run(stack, stack["dumps"] / name)

    assert done.rc == 0, done.output
    imported = done.result["imported"]
    assert imported == {"kind": kind, "tables": 3, "vector_columns": 1, "revision": "rev_staging"}, imported
    rows = sql(stack, "SELECT id, name, embedding::text FROM menu_item ORDER BY id")
    assert rows == [(1, "milanesa", "[0.5,1,2]"), (2, "empanada", None)]
    assert sql(
        stack, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'embedding'"
    ) == [("vector(3)",)]
    # Owned here by the user the stack connects as, not by production's role.
    assert sql(stack, "SELECT tableowner FROM pg_tables WHERE tablename = 'menu_item'") == [("postgres",)]
    # The API's next start migrates it and never seeds it (python_env's prepare-database marks).
    marks = dict(sql(stack, "SELECT name, value FROM integrador_provisioning.marks"))
    assert "migrations" not in marks and marks["seed"] == "imported by make import-db", marks
    # The data it replaced is the undo snapshot, Redis untouched.
    undo = done.result["undo"]
    assert undo.startswith("undo-") and undo in [s["name"] for s in done.result["snapshots"]]
    undo_db = next(s["database"] for s in done.result["snapshots"] if s["name"] == undo)
    assert sql(stack, "SELECT v FROM live_marker", undo_db) == [(f"before {name}",)]
    assert rds.get("session") == name.encode()
    assert scratch_databases(stack) == [] and leftovers_in_container(stack) == b""


def refused(stack: dict[str, Any], file: Path, *words: str) -> str:
    """An import of file refused with words in its message, the live data as it was."""
    live_marker(stack, "kept")
    before = sql(stack, "SELECT datname FROM pg_database ORDER BY datname")
    done = run(stack, file)
    assert done.rc != 0, done.output
    message = done.result["msg"]
    for word in (str(file), *words, UNTOUCHED):
        assert word in message, (word, message)
    assert sql(stack, "SELECT v FROM live_marker") == [("kept",)]
    assert sql(stack, "SELECT datname FROM pg_database ORDER BY datname") == before
    assert leftovers_in_container(stack) == b""
    return message


def test_a_failing_statement_is_named_with_its_line(stack: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "broken.sql"
    bad.write_text(
        "SET client_encoding = 'UTF8';\nCREATE TABLE ok (id int);\n"
        "INSERT INTO missing_table VALUES (1);\nCREATE TABLE never (id int);\n"
    )
    message = refused(stack, bad, "at line 3", 'relation "missing_table" does not exist')
    assert "`INSERT INTO missing_table VALUES (1);`" in message, message


def test_a_truncated_custom_dump_is_refused_with_pg_restores_reason(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    whole = (stack["dumps"] / "staging.dump").read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    refused(stack, cut, "could not be loaded: ")


def test_a_dump_of_a_newer_pg_dump_names_the_version_to_dump_with(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    # The custom format's header: PGDMP, then the archive version (major, minor, revision bytes).
    newer = tmp_path / "newer.dump"
    data = bytearray((stack["dumps"] / "staging.dump").read_bytes())
    data[6] = 99  # an archive minor version no pg_restore of today knows
    newer.write_bytes(bytes(data))
    # The stand-in image's PostgreSQL major (Debian's, which may not be 16), asked of the server.
    major = int(sql(stack, "SHOW server_version_num")[0][0]) // 10000
    refused(stack, newer, "newer pg_dump", f"PostgreSQL {major} here", f"pg_dump {major},", "--format=plain")


def test_a_file_that_is_no_dump_is_refused_before_anything_runs(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    photo = tmp_path / "menu.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    refused(stack, photo, "is not a dump", "--format=custom")


def test_a_missing_file_and_an_empty_dump_are_refused(stack: dict[str, Any], tmp_path: Path) -> None:
    refused(stack, tmp_path / "nowhere.dump", "There is no file")
    empty = tmp_path / "empty.sql"
    empty.write_text("-- nothing but a comment\nSELECT 1;\n")
    refused(stack, empty, "holds no table")


def test_a_dump_at_a_revision_this_checkout_lacks_is_refused(stack: dict[str, Any]) -> None:
    live_marker(stack, "kept")
    done = run(stack, stack["dumps"] / "staging.dump", known_revisions=["rev_other"])
    assert done.rc != 0 and "revision rev_staging" in done.result["msg"], done.output
    assert "git log --all -S" in done.result["msg"] and UNTOUCHED in done.result["msg"]
    assert sql(stack, "SELECT v FROM live_marker") == [("kept",)] and scratch_databases(stack) == []


def test_check_mode_names_the_format_and_changes_nothing(stack: dict[str, Any]) -> None:
    live_marker(stack, "kept")
    done = run(stack, stack["dumps"] / "staging.tar", "--check")
    assert done.rc == 0 and done.result["imported"] == {"kind": "tar"}, done.output
    assert sql(stack, "SELECT v FROM live_marker") == [("kept",)]


# --- The format, read off the first bytes (no server) ------------------------------------------
@settings(max_examples=300, deadline=None)
@given(head=st.binary(max_size=700))
@example(head=b"PGDMP\x01\x0f\x00")
@example(head=b"\x1f\x8b")  # a gzip header cut short
@example(head=b"-- PostgreSQL database dump\n")
@example(head=b"\xef\xbb\xbfSET statement_timeout = 0;\n")
def test_any_file_is_a_kind_or_a_refusal_naming_it(
    tmp_path_factory: pytest.TempPathFactory, head: bytes
) -> None:
    """Whatever a file holds, the answer is one of pg_dump's formats or a SnapshotError that names
    the file: never another exception. The written-out cases: the custom magic, plain SQL with and
    without a byte-order mark, a broken gzip stream."""
    path = tmp_path_factory.mktemp("kinds") / "some file"
    path.write_bytes(head)
    try:
        kind, gzipped = snap.dump_kind(str(path))
    except snap.SnapshotError as exc:
        assert str(path) in str(exc)
        return
    assert kind in snap.DUMP_KINDS and gzipped is False
    if head.startswith(b"PGDMP"):
        assert kind == "custom"
    else:
        assert kind == "plain" and b"\0" not in head
