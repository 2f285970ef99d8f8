"""integrador_backup against real servers: the PostgreSQL (pgvector) and Redis stand-in images on
this machine's Docker engine, the module run for real by Ansible (ad-hoc, local connection). What
it wrote is judged without its own code: sha256sum checks SHA256SUMS, pg_restore in the database
container lists the dump, the Docker SDK's own copy of Redis' dump.rdb is compared byte for byte."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from ansible_adhoc import run_module
from module_loader import ROOT, load
from this_machine import eventually, standin_stack

probe = load(ROOT / "module_utils" / "integrador_probe.py", "integrador_probe_for_backup")
PREFIX = "itest_unitbackup"
DB = "menu_ops"
PG_PASSWORD = "unit-Backup-pass-4471"
REDIS_PASSWORD = "unit-Backup-redis-9012"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    # With a password, as make dev's Redis beyond loopback: redis-cli reads REDISCLI_AUTH.
    with standin_stack(PREFIX, DB, PG_PASSWORD, REDIS_PASSWORD, {"REDISCLI_AUTH": REDIS_PASSWORD}) as started:
        db, rd, _, redis_port = started
        assert eventually(lambda: probe.redis("127.0.0.1", redis_port, REDIS_PASSWORD)[0]), rd.logs(tail=30)
        # Over TCP: the image's first start runs initdb's server on the socket only, then restarts.
        ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", DB]
        assert eventually(lambda: db.exec_run(ready).exit_code == 0), db.logs(tail=30)
        code, out = db.exec_run(
            ["psql", "-U", "postgres", "-d", DB, "-c", "CREATE TABLE itest_menu (id int, name text)"]
        )
        assert code == 0, out
        db.exec_run(
            ["psql", "-U", "postgres", "-d", DB, "-c", "INSERT INTO itest_menu VALUES (1, 'empanada')"]
        )
        redis_client.Redis(port=redis_port, password=REDIS_PASSWORD).set("itest:order", "mesa-7")
        yield {"db": db, "redis": rd}


def backup(dest: Path, name: str, **extra: Any) -> Any:
    args = {
        "dest": str(dest),
        "name": name,
        "database": DB,
        "postgres": {"container": f"{PREFIX}_db"},
        "redis": {"container": f"{PREFIX}_redis"},
        "scratch": f"/tmp/integrador-backup-{name}",
        **extra,
    }
    return run_module("integrador_backup", args, callback="json")


def container_file(container: Any, path: str) -> bytes:
    """The file's bytes as the Docker SDK copies it (not the module's own code)."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        assert member is not None
        handle = tar.extractfile(member)
        assert handle is not None
        return handle.read()


def test_a_backup_is_complete_checksummed_and_leaves_nothing_behind(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    """The folder holds the three files (private), sha256sum -c accepts SHA256SUMS, pg_restore reads
    the dump, dump.rdb is Redis' own snapshot taken by this run; an interrupted run's .partial-*
    folder and scratch dump are gone, and so is this run's scratch dump."""
    db, rd = stack["db"], stack["redis"]
    (tmp_path / ".partial-20260101T000000Z").mkdir()
    (tmp_path / ".partial-20260101T000000Z" / "postgres.dump").write_bytes(b"half")
    (tmp_path / "20251231T000000Z").mkdir()  # a finished backup of the user's: kept
    assert db.exec_run(["mkdir", "-p", "/tmp/integrador-backup-20260101T000000Z"]).exit_code == 0
    saves = int(
        rd.exec_run(["redis-cli", "INFO", "persistence"]).output.decode().split("rdb_saves:")[1].split()[0]
    )

    run = backup(tmp_path, "20260102T000000Z")

    assert run.rc == 0, run.output
    folder = tmp_path / "20260102T000000Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20251231T000000Z", "20260102T000000Z"]
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "dump.rdb", "postgres.dump"]
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 2, check
    assert run.result["files"]["postgres.dump"]["size"] == (folder / "postgres.dump").stat().st_size
    # pg_restore (the server's own) reads it, with the table's data in it.
    db.put_archive("/tmp", _tar("listed.dump", (folder / "postgres.dump").read_bytes()))
    listed = db.exec_run(["pg_restore", "--list", "/tmp/listed.dump"])
    assert listed.exit_code == 0 and b"TABLE DATA public itest_menu" in listed.output, listed.output
    # A snapshot taken by this run, copied byte for byte.
    info = rd.exec_run(["redis-cli", "INFO", "persistence"]).output.decode()
    assert int(info.split("rdb_saves:")[1].split()[0]) > saves, info
    assert (folder / "dump.rdb").read_bytes() == container_file(rd, "/data/dump.rdb")
    assert b"itest:order" in (folder / "dump.rdb").read_bytes()
    leftovers = db.exec_run(["sh", "-c", "ls -d /tmp/integrador-backup-* 2>/dev/null || true"]).output
    assert leftovers.strip() == b"", leftovers


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_failing_dump_leaves_no_folder_and_names_pg_dump(stack: dict[str, Any], tmp_path: Path) -> None:
    run = backup(tmp_path, "20260103T000000Z", database="no_such_db")
    assert run.rc != 0, run.output
    msg = run.result["msg"]
    assert "pg_dump" in msg and "no_such_db" in msg and "No backup folder was left" in msg, msg
    assert list(tmp_path.iterdir()) == []


def test_a_stopped_redis_leaves_no_folder_and_names_the_container(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    rd = stack["redis"]
    rd.stop(timeout=5)
    try:
        run = backup(tmp_path, "20260104T000000Z")
    finally:
        rd.start()
        assert eventually(lambda: rd.exec_run(["redis-cli", "PING"]).output.strip() == b"PONG")
    assert run.rc != 0, run.output
    assert f"{PREFIX}_redis" in run.result["msg"] and "No backup folder was left" in run.result["msg"], (
        run.result
    )
    assert list(tmp_path.iterdir()) == []


def test_a_name_that_exists_is_refused_and_the_folder_untouched(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    taken = tmp_path / "20260105T000000Z"
    taken.mkdir()
    (taken / "mine").write_text("keep")
    run = backup(tmp_path, "20260105T000000Z")
    assert run.rc != 0 and "exists already" in run.result["msg"], run.output
    assert (taken / "mine").read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == [
        taken.name
    ]


def test_check_mode_writes_nothing(stack: dict[str, Any], tmp_path: Path) -> None:
    args = {
        "dest": str(tmp_path),
        "name": "20260106T000000Z",
        "database": DB,
        "postgres": {"container": f"{PREFIX}_db"},
        "redis": {"container": f"{PREFIX}_redis"},
        "scratch": "/tmp/integrador-backup-20260106T000000Z",
    }
    run = run_module("integrador_backup", args, "--check", callback="json")
    assert run.rc == 0 and run.result.get("changed") is True, run.output
    assert list(tmp_path.iterdir()) == []
