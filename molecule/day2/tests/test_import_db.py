"""make import-db as a developer uses it, for real against the laptop's stack: a dump that the
pg_dump of another PostgreSQL container wrote (staging's database: a role of its own owns a table
with a vector column, and it is behind the checkout's migrations) is loaded in place of the
database; the API's start migrates it and does not seed it; the undo snapshot puts the previous
database back. A dump the laptop's PostgreSQL refuses leaves everything as it was."""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from conftest import main_pid
from make import describe, make
from stack import LAPTOP, PATHS, UNITS, endpoints_answer, sql

API, _ = UNITS
STAGING = "itest_day2_staging"
DUMP = f"{PATHS.home}/staging.dump"
BROKEN = f"{PATHS.home}/broken.sql"


def in_staging(container: Any, *argv: str) -> str:
    ran = container.exec_run(list(argv))
    assert ran.exit_code == 0, (argv, ran.output)
    return ran.output.decode()


def put_on_laptop(docker_client: docker.DockerClient, path: str, data: bytes) -> None:
    """A file of the laptop's user, as a developer's download is."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(path.rsplit("/", 1)[1])
        info.size, info.uid, info.gid, info.mode = len(data), 1000, 1000, 0o644
        tar.addfile(info, io.BytesIO(data))
    assert docker_client.containers.get(LAPTOP).put_archive(path.rsplit("/", 1)[0], archive.getvalue())


@pytest.fixture(scope="module")
def staging_dump(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> Iterator[bytes]:
    """Staging's database in another container: the stack's database copied there by that
    container's pg_dump (over TCP), then made to look like production's: a role that the laptop
    does not have owns a new table with a vector column, it is one migration behind (the
    checkout's menu_items table and its Alembic row are not there), and it has none of this
    tool's marks. Its custom-format dump."""
    for old in docker_client.containers.list(all=True, filters={"name": STAGING}):
        old.remove(force=True)
    staging = docker_client.containers.run(
        "integrador-test/pgvector:pg16",
        name=STAGING,
        detach=True,
        network_mode="host",  # reaches the stack's published port; listens on a port of its own
        environment={"POSTGRES_PASSWORD": "staging", "POSTGRES_DB": "staging", "PGPORT": "15999"},
    )
    try:
        deadline = time.monotonic() + 90
        while staging.exec_run(["psql", "-U", "postgres", "-d", "staging", "-c", "SELECT 1"]).exit_code != 0:
            assert time.monotonic() < deadline, staging.logs(tail=30)
            time.sleep(0.5)
        live = f"postgresql://postgres:postgres@127.0.0.1:{test_vars['postgres_pgvector_port']}/menu_ops"
        in_staging(
            staging, "sh", "-c", f"pg_dump '{live}' | psql -q -v ON_ERROR_STOP=1 -U postgres -d staging"
        )
        for statement in (
            "CREATE ROLE staging_owner",
            # Production's database never had this tool's marks (schema integrador_provisioning):
            # without the marks the import sets, the API's start would seed it.
            "DROP SCHEMA integrador_provisioning CASCADE",
            "DROP TABLE menu_items",
            "DELETE FROM alembic_version",
            "CREATE TABLE itest_staging (id int PRIMARY KEY, v text, e vector(3))",
            "INSERT INTO itest_staging VALUES (1, 'from staging', '[1,2,3]')",
            "ALTER TABLE itest_staging OWNER TO staging_owner",
        ):
            in_staging(
                staging,
                "psql",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
                "-d",
                "staging",
                "-c",
                statement,
            )
        dump = staging.exec_run(["pg_dump", "-U", "postgres", "-Fc", "staging"])
        assert dump.exit_code == 0 and dump.output.startswith(b"PGDMP"), dump.output[:200]
        yield dump.output
    finally:
        staging.remove(force=True)


def test_import_db_loads_staging_and_the_api_migrates_it_without_seeding(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], staging_dump: bytes
) -> None:
    endpoints_answer(test_vars)
    put_on_laptop(docker_client, DUMP, staging_dump)
    seeded = sql(test_vars, "SELECT count(*) FROM menu_items")[0][0]
    assert seeded > 0  # the laptop's database, seeded by its converge
    api = main_pid(host, API)

    imported = make("import-db", f"FILE={DUMP}")

    assert imported.returncode == 0, describe(imported)
    assert f"Imported {DUMP} (custom: " in imported.stdout, describe(imported)
    assert sql(test_vars, "SELECT v, e::text FROM itest_staging") == [("from staging", "[1,2,3]")]
    # Owned here by the stack's user: production's role does not exist on the laptop.
    assert sql(test_vars, "SELECT tableowner FROM pg_tables WHERE tablename = 'itest_staging'") == [
        ("postgres",)
    ]
    # The API was restarted, and its start applied the checkout's migration the dump lacked ...
    assert main_pid(host, API) not in (api, 0)
    endpoints_answer(test_vars)
    assert sql(test_vars, "SELECT version_num FROM alembic_version") == [("0001_menu_items",)]
    # ... and did not seed it: the menu stays as staging had it (none).
    assert sql(test_vars, "SELECT count(*) FROM menu_items") == [(0,)]
    (undo,) = re.findall(r"make restore-snapshot NAME=(undo-[0-9-]+)", imported.stdout)

    back = make("restore-snapshot", f"NAME={undo}")
    assert back.returncode == 0, describe(back)
    assert sql(test_vars, "SELECT count(*) FROM menu_items") == [(seeded,)]
    assert sql(test_vars, "SELECT to_regclass('itest_staging') IS NULL") == [(True,)]
    endpoints_answer(test_vars)


def test_a_dump_with_a_failing_statement_names_it_and_changes_nothing(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    put_on_laptop(
        docker_client, BROKEN, b"CREATE TABLE itest_never (id int);\nINSERT INTO nowhere VALUES (1);\n"
    )
    before = sql(test_vars, "SELECT count(*) FROM menu_items")
    api = main_pid(host, API)

    refused = make("import-db", f"FILE={BROKEN}")

    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, describe(refused)
    assert f"{BROKEN} could not be loaded at line 2" in said and "INSERT INTO nowhere" in said, describe(
        refused
    )
    assert "The current database was not touched." in said
    assert sql(test_vars, "SELECT count(*) FROM menu_items") == before
    assert sql(test_vars, "SELECT to_regclass('itest_never') IS NULL") == [(True,)]
    assert main_pid(host, API) == api  # not restarted
