"""playbooks/backup.yml and playbooks/restore.yml: a backup gives back the data it
was taken from, and a damaged one is refused before the live data is touched."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from stack import BACKUPS, backup_name, endpoints_answer, journal, kv, play, restore, sql, wait_answering

TABLE = "itest_backup_probe"
KEY = "itest:backup:probe"


def flat(result: Any) -> str:
    """A run's output with every run of blanks (Ansible folds long messages) as one space."""
    return " ".join(result.output.split())


def set_data(test_vars: dict[str, Any], value: str) -> None:
    sql(test_vars, f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, v text, e vector(3))")
    sql(
        test_vars,
        f"INSERT INTO {TABLE} VALUES (1, '{value}', '[1,2,3]') ON CONFLICT (id) DO UPDATE SET v = '{value}'",
    )
    kv(test_vars).set(KEY, value)


def data(test_vars: dict[str, Any]) -> tuple[Any, ...]:
    return sql(test_vars, f"SELECT v, e::text FROM {TABLE} WHERE id = 1")[0] + (kv(test_vars).get(KEY),)


def leftovers(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> list[str]:
    """What a restore prepares beside the live data, if any of it is still there."""
    found = [c.name for c in docker_client.containers.list(all=True) if "__restore" in c.name]
    found += [
        v.name for v in docker_client.volumes.list() if v.name.startswith(f"{test_vars['redis_volume']}__")
    ]
    found += [
        r[0]
        for r in sql(
            test_vars,
            "SELECT datname FROM pg_database WHERE datname LIKE 'menu_ops\\_\\_%' "
            "OR datname LIKE 'integrador\\_restore\\_%'",
        )
    ]
    # The journal of a restore that did not finish.
    found += journal(docker_client)
    return found


@pytest.fixture(scope="module")
def backup(test_vars: dict[str, Any]) -> Iterator[str]:
    """A backup of the stack holding the value 'original'; yields its folder name."""
    set_data(test_vars, "original")
    # Enough data that the dump's table of contents is a small part of it.
    sql(
        test_vars,
        "CREATE TABLE IF NOT EXISTS itest_bulk AS SELECT md5(g::text) FROM generate_series(1, 20000) g",
    )
    result = play("backup")
    assert result.rc == 0, result
    match = re.search(r"-e backup=(\d{8}T\d{6}Z)", result.output)
    assert match, result
    yield match.group(1)


def test_backup_folder_is_private_and_checksummed(host: Any, backup: str) -> None:
    folder = host.file(f"{BACKUPS}/{backup}")
    assert folder.is_directory and folder.user == "dev" and folder.mode == 0o700
    assert host.file(BACKUPS).mode == 0o700
    assert sorted(folder.listdir()) == ["SHA256SUMS", "dump.rdb", "postgres.dump"]
    for name in ("postgres.dump", "dump.rdb"):
        assert host.file(f"{BACKUPS}/{backup}/{name}").mode == 0o600
    check = host.run(f"cd {BACKUPS}/{backup} && sha256sum -c SHA256SUMS")
    assert check.rc == 0 and check.stdout.split() == ["postgres.dump:", "OK", "dump.rdb:", "OK"], check.stdout


def test_restore_gives_back_the_data_of_the_backup(
    backup: str, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    set_data(test_vars, "changed")
    sql(test_vars, "CREATE TABLE itest_after_backup (x int)")
    kv(test_vars).set("itest:after-backup", "x")

    result = restore({"backup": backup})
    assert result.rc == 0, result
    assert f"Restored ~/integrador-backups/{backup}" in result.output, result

    assert data(test_vars) == ("original", "[1,2,3]", "original")
    assert sql(test_vars, "SELECT to_regclass('itest_after_backup')") == [(None,)]
    assert sql(test_vars, "SELECT extname FROM pg_extension WHERE extname = 'vector'") == [("vector",)]
    assert kv(test_vars).get("itest:after-backup") is None
    assert kv(test_vars).config_get("appendonly") == {"appendonly": "yes"}
    # The services were stopped for the swap and are back.
    endpoints_answer(test_vars)
    assert leftovers(docker_client, test_vars) == []

    # Redis loads its AOF on start: the restored keys must be in it, not only in memory.
    name = test_vars["redis_container_name"]
    docker_client.containers.get(name).restart(timeout=10)
    wait_answering(test_vars, name)
    assert kv(test_vars).get(KEY) == "original"

    # The data it replaced was backed up first: restoring that backup undoes the restore.
    kept = re.search(r"it replaced is kept as backup (\S+): `make restore BACKUP=\1` undoes", flat(result))
    assert kept, result
    assert kept.group(1) != backup and re.fullmatch(r"\d{8}T\d{6}Z(-\d{2})?", kept.group(1)), kept.group(1)
    undo = restore({"backup": kept.group(1)})
    assert undo.rc == 0, undo
    assert data(test_vars) == ("changed", "[1,2,3]", "changed")
    assert sql(test_vars, "SELECT to_regclass('itest_after_backup')::text") == [("itest_after_backup",)]
    assert kv(test_vars).get("itest:after-backup") == "x"
    endpoints_answer(test_vars)
    sql(test_vars, "DROP TABLE itest_after_backup")


def test_restore_is_refused_unless_confirmed(backup: str, test_vars: dict[str, Any]) -> None:
    """The playbook alone (make restore asks, then confirms it; tests/unit/test_makefile.py)."""
    set_data(test_vars, "unconfirmed")
    result = play("restore", {"backup": backup})
    assert result.rc != 0, result
    assert "(which asks) or pass -e integrador_restore_confirmed=true" in flat(result), result
    assert data(test_vars) == ("unconfirmed", "[1,2,3]", "unconfirmed")


def test_backup_ahead_of_the_checkouts_migrations_is_refused_before_anything_changes(
    backup: str, host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    """A backup taken at a revision this checkout does not have (another branch): refused with
    the revision and the way out, before any staging; the live data and services untouched."""
    (current,) = sql(test_vars, "SELECT version_num FROM alembic_version")[0]
    sql(test_vars, "UPDATE alembic_version SET version_num = '9f3e_other_branch'")
    try:
        taken = play("backup")
    finally:
        sql(test_vars, f"UPDATE alembic_version SET version_num = '{current}'")
    ahead = backup_name(taken)
    set_data(test_vars, "live")
    before = set(host.file(BACKUPS).listdir())

    result = restore({"backup": ahead})

    assert result.rc != 0, result
    said = flat(result)
    assert "the backup's database is at Alembic revision 9f3e_other_branch, which the migration" in said
    assert "git log --all --oneline -S '9f3e_other_branch'" in said, result
    assert "The live data was not touched." in said, result
    assert data(test_vars) == ("live", "[1,2,3]", "live")
    assert sql(test_vars, "SELECT version_num FROM alembic_version") == [(current,)]
    # Refused before the current data was backed up: no new folder.
    assert set(host.file(BACKUPS).listdir()) == before
    assert leftovers(docker_client, test_vars) == []
    endpoints_answer(test_vars)
    host.run_test(f"rm -rf {BACKUPS}/{ahead}")


def test_check_mode_verifies_the_backup_and_changes_nothing(
    backup: str, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    set_data(test_vars, "kept")
    result = play("restore", {"backup": backup}, "--check")
    assert result.rc == 0, result
    assert (
        f"Backup ~/integrador-backups/{backup} is good (checksums, pg_restore --list, redis-check-rdb)"
        in (result.output)
    ), result
    assert data(test_vars) == ("kept", "[1,2,3]", "kept")
    assert leftovers(docker_client, test_vars) == []


def test_truncated_backup_file_is_refused_and_live_data_untouched(
    backup: str, host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    damaged = f"{BACKUPS}/itest-truncated"
    host.run_test(f"rm -rf {damaged} && cp -a {BACKUPS}/{backup} {damaged}")
    host.run_test(f"truncate -s $(( $(stat -c %s {damaged}/postgres.dump) / 2 )) {damaged}/postgres.dump")
    set_data(test_vars, "live")
    redis_started = docker_client.containers.get(test_vars["redis_container_name"]).attrs["State"][
        "StartedAt"
    ]

    result = restore({"backup": "itest-truncated"})

    assert result.rc != 0, result
    assert (
        "Backup ~/integrador-backups/itest-truncated is damaged: postgres.dump does not match its checksum "
        "in SHA256SUMS (truncated, or changed since the backup). Nothing was restored." in result.output
    ), result
    assert data(test_vars) == ("live", "[1,2,3]", "live")
    assert docker_client.containers.get(test_vars["redis_container_name"]).attrs["State"]["StartedAt"] == (
        redis_started
    )
    assert leftovers(docker_client, test_vars) == []


def test_damaged_dump_with_matching_checksums_is_refused_before_the_swap(
    backup: str, host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    # Checksums recomputed after the damage, and the table of contents intact
    # (pg_restore --list passes): only restoring the data can tell.
    damaged = f"{BACKUPS}/itest-resummed"
    host.run_test(f"rm -rf {damaged} && cp -a {BACKUPS}/{backup} {damaged}")
    host.run_test(f"truncate -s $(( $(stat -c %s {damaged}/postgres.dump) - 100 )) {damaged}/postgres.dump")
    host.run_test(f"cd {damaged} && sha256sum postgres.dump dump.rdb > SHA256SUMS")
    set_data(test_vars, "live")

    result = restore({"backup": "itest-resummed"})

    assert result.rc != 0, result
    assert (
        "Backup ~/integrador-backups/itest-resummed was not restored "
        '("Dump is restored into the scratch database" failed: '
        "pg_restore: error: could not read from input file: end of file)" in result.output
    ), result
    assert "The live data was not touched." in result.output, result
    assert data(test_vars) == ("live", "[1,2,3]", "live")
    assert leftovers(docker_client, test_vars) == []
    endpoints_answer(test_vars)


def test_missing_backup_is_refused_naming_the_available_ones(backup: str) -> None:
    result = restore()
    assert result.rc != 0
    assert "Name the backup to restore: -e backup=<folder>" in result.output, result
    assert backup in result.output, result

    result = restore({"backup": "19990101T000000Z"})
    assert result.rc != 0
    assert (
        "~/integrador-backups/19990101T000000Z is not a finished backup: SHA256SUMS, postgres.dump, dump.rdb "
        "missing. Nothing was restored." in result.output
    ), result


def test_only_the_newest_backups_are_kept(backup: str, host: Any) -> None:
    old = ["20000101T000000Z", "20000102T000000Z", "20000103T000000Z"]
    for name in old:
        host.run_test(f"mkdir -p {BACKUPS}/{name} && touch {BACKUPS}/{name}/SHA256SUMS")
    # Folders of the user's own, older than every backup and holding what a backup holds:
    # not named as backup.yml names its folders, so never pruned (made here, not left to
    # earlier tests).
    mine = ["19990101-my-copy", "itest-keep-me"]
    for name in mine:
        host.run_test(
            f"mkdir -p {BACKUPS}/{name} && touch -d 1999-01-01 {BACKUPS}/{name}/SHA256SUMS {BACKUPS}/{name}"
        )

    named = re.compile(r"\d{8}T\d{6}Z(-\d{2})?")
    # The real backups so far (the fixture's, and any a restore took of the data it replaced):
    # kept, with the new one, so the other tests keep the fixture's; the three older go.
    real = sorted(n for n in host.file(BACKUPS).listdir() if named.fullmatch(n) and n not in old)
    assert backup in real

    newest = backup_name(play("backup", {"integrador_backup_keep": len(real) + 1}))

    listing = host.file(BACKUPS).listdir()
    assert sorted(n for n in listing if named.fullmatch(n)) == sorted([*real, newest])
    # Folders not named by backup.yml are never pruned.
    assert set(mine) <= set(listing), listing
    host.run_test(f"rm -rf {BACKUPS}/19990101-my-copy {BACKUPS}/itest-keep-me")


def test_a_backup_directory_the_user_cannot_write_is_named_with_the_fix(host: Any) -> None:
    """Was `[Errno 13] Permission denied: b'...'` with no fix named (issue 28, 5)."""
    host.run_test("mkdir -p /var/lib/itest-not-yours && chmod 0755 /var/lib/itest-not-yours")
    result = play("backup", {"integrador_backup_dir": "/var/lib/itest-not-yours/backups"})
    assert result.rc != 0, result
    said = flat(result)
    assert "The backup directory /var/lib/itest-not-yours/backups cannot be created or made private" in said
    assert "Point integrador_backup_dir at a folder you own" in said and "Nothing was backed up." in said
    assert not host.file("/var/lib/itest-not-yours/backups").exists
