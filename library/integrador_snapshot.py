#!/usr/bin/python
"""Snapshots of a stack's data, PostgreSQL and Redis together, each verb in one module run:
take, list, restore, drop (module_utils/integrador_snapshot.py says what a snapshot is)."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_alembic import read_scripts
from ansible.module_utils.integrador_docker import DockerError, connect
from ansible.module_utils.integrador_snapshot import (
    NAME_RULE,
    OWNER_AND_ACL_SED,
    UNTOUCHED,
    VECTOR_COLUMN_ERE,
    Redis,
    SnapshotError,
    db_name,
    db_prefix,
    decode_entries,
    dump_kind,
    dump_redis,
    encode_entries,
    git_branch,
    load_failure,
    load_redis,
    migration_snapshot_base,
    migrations_state,
    name_problem,
    newer_dump,
    read_record,
    record,
    sql_ident,
    sql_literal,
    to_drop,
)

DOCUMENTATION = r"""
module: integrador_snapshot
short_description: Take, list, restore and drop snapshots of a stack's PostgreSQL and Redis data
description:
  - C(take) copies the live database inside its own cluster (C(CREATE DATABASE ... TEMPLATE), after
    closing the sessions open on it, which clients reconnect) and DUMPs every Redis key with its time
    to live into a file of I(state_dir)/snapshots; then drops the oldest automatic snapshots beyond I(keep).
  - C(restore) copies the snapshot into a scratch database, then in one transaction renames the live
    database to an automatic snapshot named C(undo-<time>) (with the current Redis keys beside it, so
    the restore can be undone) and the scratch database to the live name; then Redis is flushed and
    given the snapshot's keys.
  - C(list) reports every snapshot of the live database; C(drop) removes one.
  - C(import) loads the dump at I(file) (what C(pg_dump) writes, plain SQL, also gzipped, or the
    custom, tar or directory format) into a scratch database with C(--no-owner --no-acl) (in plain SQL
    its ownership and privilege statements commented out), stopping at the first error; checks that
    it holds tables and every C(vector) column its schema declares, and that its Alembic revision is
    among I(known_revisions); marks it so the API's next start migrates and never seeds it; then swaps
    it in as C(restore) does, the live database kept as the automatic snapshot C(undo-<time>).
    Redis is not changed. Any failure names the file (and the first failing statement), and the live
    database is untouched.
  - C(before_migrations) compares the live database's Alembic revision with the scripts of
    I(alembic_config), read as text. Behind their heads, it takes an automatic snapshot named
    C(pre-<revision>), so that what the migrations change can be undone. At a revision the scripts do
    not have (another branch's), it fails naming both and the ways out, before the API's start would
    loop on C(alembic upgrade head). Fresh or current, it does nothing.
  - PostgreSQL is reached by running C(psql) in its container through the Docker Engine API, Redis over
    TCP; nothing of the user's virtualenv is used.
  - In check mode nothing is written; C(take), C(restore) and C(drop) report what they would do.
options:
  action:
    description: What to do.
    type: str
    choices: [take, list, restore, drop, before_migrations, import]
    required: true
  name:
    description:
      - The snapshot (1 to 30 of a-z, 0-9, '-' and '_', starting with a letter or a digit).
      - For C(take), empty gives an automatic name (the UTC time).
      - Automatic snapshots are the ones I(keep) drops.
    type: str
    default: ""
  database:
    description: The live database.
    type: str
    required: true
  user:
    description: The PostgreSQL user psql connects as (inside the container).
    type: str
    default: postgres
  container:
    description: The PostgreSQL container.
    type: str
    required: true
  docker_host:
    description: The Docker endpoint of the containers; empty as the docker CLI would choose.
    type: str
    default: ""
  redis_host:
    description: Address of Redis.
    type: str
    default: 127.0.0.1
  redis_port:
    description: Port of Redis.
    type: int
    required: true
  redis_password:
    description: Redis' password (empty for none).
    type: str
    default: ""
  state_dir:
    description: The stack's state folder; the Redis parts go to its C(snapshots) folder (mode 0700).
    type: path
    required: true
  root:
    description: The checkout, whose git branch is recorded with a snapshot.
    type: path
    default: ""
  keep:
    description: Automatic snapshots kept after C(take) and C(restore) (named ones are never dropped).
    type: int
    default: 10
  file:
    description: For C(import), the dump (a file, or a directory-format dump's folder) on the managed host.
    type: path
  known_revisions:
    description:
      - For C(restore) and C(import), the Alembic revisions of the checkout's migration scripts. A
        snapshot or dump at a revision not among them (on another branch) is refused before anything
        changes, as the API's C(alembic upgrade head) would fail on it.
      - Omitted (null), the revision is not checked (a checkout without Alembic, or scripts not read).
    type: list
    elements: str
  alembic_config:
    description:
      - For C(before_migrations), Alembic's config relative to I(root); its scripts' revisions and heads
        are read as text (nothing of the checkout is imported). Without the config there are no
        migrations and nothing to do.
      - Heads that cannot be read (a script's revision or down_revision is not a literal) count as behind.
    type: str
    default: backend/alembic.ini
"""

RETURN = r"""
snapshot:
  description: The snapshot taken, restored or dropped (name, database, taken, branch, revision, named, keys).
  type: dict
  returned: take, restore, drop
snapshots:
  description: >-
    Every snapshot, oldest first (name, taken, branch, revision, named, bytes, redis_bytes, complete).
  type: list
  returned: always
state:
  description: >-
    For C(before_migrations), the database's revision to the checkout (none: no Alembic config; not
    running: the database container is stopped or missing; fresh, current, behind).
  type: str
  returned: before_migrations
revision:
  description: For C(before_migrations), the database's Alembic revision (comma-separated heads; "" for none).
  type: str
  returned: before_migrations
undo:
  description: The automatic snapshot holding the data a restore or an import replaced.
  type: str
  returned: restore, import
imported:
  description: What C(import) loaded (kind, tables, vector_columns, revision).
  type: dict
  returned: import
dropped:
  description: Automatic snapshots dropped to keep I(keep).
  type: list
  returned: take, restore
seconds:
  description: Time the action took.
  type: float
  returned: always
"""

# CREATE DATABASE ... TEMPLATE fails while another session is on the template; a client
# reconnecting between the close and the copy is rare, so a few attempts.
ATTEMPTS = 8


class NotRunning(SnapshotError):
    """The database container is stopped or missing."""


class Stack:
    def __init__(self, params: dict[str, Any]) -> None:
        self.p = params
        self.docker, _ = connect(params["docker_host"] or None, timeout=120)
        self.folder = os.path.join(params["state_dir"], "snapshots")
        state = (self.docker.inspect_container(params["container"]) or {}).get("State") or {}
        if not state.get("Running"):
            what = "is stopped" if state else "does not exist"
            raise NotRunning(
                f"The database container {params['container']} {what}: start the stack with `make dev`, "
                "then try again. Nothing was changed."
            )

    # --- PostgreSQL, through psql in the container ----------------------------------------------

    def psql(self, *sql: str, database: str = "postgres") -> tuple[int, str, str]:
        argv = ["psql", "--no-psqlrc", "-qAtX", "-v", "ON_ERROR_STOP=1", "-U", self.p["user"], "-d", database]
        for statement in sql:
            argv += ["-c", statement]
        return self.in_container(argv)

    def in_container(self, argv: list[str]) -> tuple[int, str, str]:
        try:
            code, out, err = self.docker.exec_run(self.p["container"], argv)
        except DockerError as exc:
            raise SnapshotError(f"{argv[0]} in {self.p['container']} could not run: {exc}") from exc
        return code, out.decode(errors="replace"), err.decode(errors="replace")

    def psql_while_in_use(self, *sql: str) -> str | None:
        """psql, again while PostgreSQL says a database is being accessed by other users (a client
        reconnecting between the close and the statement); None once it succeeds, else its error."""
        last = ""
        for _ in range(ATTEMPTS):
            code, out, err = self.psql(*sql)
            if code == 0:
                return None
            last = err.strip() or out.strip()
            if "is being accessed by other users" not in last:
                break
        return last

    def sql(self, *statements: str, database: str = "postgres") -> str:
        code, out, err = self.psql(*statements, database=database)
        if code != 0:
            raise SnapshotError(f"PostgreSQL ({self.p['container']}): {err.strip() or out.strip()}")
        return out

    def copy_database(self, source: str, target: str) -> None:
        """CREATE DATABASE target TEMPLATE source, closing the sessions open on source first."""
        last = self.psql_while_in_use(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = {sql_literal(source)} AND pid <> pg_backend_pid()",
            f"CREATE DATABASE {sql_ident(target)} TEMPLATE {sql_ident(source)}",
        )
        if last is not None:
            raise SnapshotError(f"PostgreSQL could not copy database {source} ({last})")

    def revision(self, database: str = "") -> str:
        db = database or self.p["database"]
        if not self.sql("SELECT to_regclass('alembic_version') IS NOT NULL", database=db).strip() == "t":
            return ""
        rows = self.sql("SELECT version_num FROM alembic_version ORDER BY version_num", database=db)
        return ",".join(rows.split())

    def database_exists(self) -> bool:
        return (
            self.sql(
                f"SELECT count(*) FROM pg_database WHERE datname = {sql_literal(self.p['database'])}"
            ).strip()
            == "1"
        )

    def snapshots(self) -> list[dict[str, Any]]:
        prefix = db_prefix(self.p["database"])
        rows = self.sql(
            "SELECT datname, pg_database_size(oid), coalesce(shobj_description(oid, 'pg_database'), '') "
            f"FROM pg_database WHERE starts_with(datname, {sql_literal(prefix)}) ORDER BY datname"
        )
        found = []
        for line in rows.splitlines():
            datname, size, comment = line.split("|", 2)
            name = datname[len(prefix) :]
            redis_file = self.redis_file(name)
            redis_bytes = os.path.getsize(redis_file) if os.path.exists(redis_file) else None
            found.append(
                {
                    "name": name,
                    "database": datname,
                    "bytes": int(size),
                    "redis_bytes": redis_bytes,
                    "complete": redis_bytes is not None,
                    **read_record(comment),
                }
            )
        return sorted(found, key=lambda s: (s["taken"], s["name"]))

    def record(self, taken: str, named: bool) -> str:
        """The comment of a new snapshot's database: when, the checkout's branch, the live
        database's revision, named or automatic."""
        return record(taken, git_branch(self.p["root"]) if self.p["root"] else "", self.revision(), named)

    # --- Redis ------------------------------------------------------------------------------------

    def redis(self) -> Redis:
        return Redis(self.p["redis_host"], self.p["redis_port"], self.p["redis_password"])

    def redis_file(self, name: str) -> str:
        return os.path.join(self.folder, name + ".redis")

    def write_redis(self, name: str, data: bytes) -> None:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(scratch, self.redis_file(name))
        except BaseException:
            if os.path.exists(scratch):
                os.unlink(scratch)
            raise

    # --- The verbs ----------------------------------------------------------------------------

    def take(self, name: str, named: bool, taken: str) -> dict[str, Any]:
        """The live data as snapshot `name`: the database first, then Redis (if Redis fails, the
        database copy is dropped again: a snapshot is both parts or none)."""
        database = db_name(self.p["database"], name)
        self.copy_database(self.p["database"], database)
        try:
            meta = self.record(taken, named)
            self.sql(f"COMMENT ON DATABASE {sql_ident(database)} IS {sql_literal(meta)}")
            client = self.redis()
            try:
                entries = dump_redis(client)
            finally:
                client.close()
            self.write_redis(name, encode_entries(entries))
        except BaseException:
            self.drop(name)
            raise
        return {"name": name, "database": database, "taken": taken, "named": named, "keys": len(entries)}

    def drop(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {sql_ident(db_name(self.p['database'], name))} WITH (FORCE)")
        if os.path.exists(self.redis_file(name)):
            os.unlink(self.redis_file(name))

    def prune(self, keep: int, spare: str = "") -> list[str]:
        """Drops the oldest automatic snapshots beyond `keep`, never `spare` (the one just restored)."""
        dropped = to_drop([s for s in self.snapshots() if s["name"] != spare], keep - (1 if spare else 0))
        for name in dropped:
            self.drop(name)
        return dropped

    def restore(self, snapshot: dict[str, Any], undo: str, taken: str) -> int:
        """The snapshot's data in place of the live data; the live data kept as snapshot `undo`."""
        with open(self.redis_file(snapshot["name"]), "rb") as handle:
            entries = list(decode_entries(handle.read()))
        live = self.p["database"]
        scratch = db_prefix(live) + "restoring"  # not a valid snapshot name: never listed as one
        undo_db = db_name(live, undo)
        self.sql(f"DROP DATABASE IF EXISTS {sql_ident(scratch)} WITH (FORCE)")
        self.copy_database(snapshot["database"], scratch)
        # The current Redis keys first: written before anything of the live data changes.
        client = self.redis()
        swapped = False
        try:
            self.write_redis(undo, encode_entries(dump_redis(client)))
            self.swap_in(scratch, undo_db, self.record(taken, False))
            swapped = True
            return load_redis(client, entries)
        finally:
            client.close()
            if not swapped:  # the live data is untouched: no undo snapshot, no scratch copy
                if os.path.exists(self.redis_file(undo)):
                    os.unlink(self.redis_file(undo))
                self.psql(f"DROP DATABASE IF EXISTS {sql_ident(scratch)} WITH (FORCE)")

    def swap_in(self, scratch: str, undo_db: str, meta: str) -> None:
        """In one transaction, the live database becomes undo_db (a snapshot, with record meta) and
        scratch takes the live name; or, when it cannot, nothing changed (SnapshotError)."""
        live = self.p["database"]
        last = self.psql_while_in_use(
            "BEGIN; "
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = {sql_literal(live)} AND pid <> pg_backend_pid(); "
            f"ALTER DATABASE {sql_ident(live)} RENAME TO {sql_ident(undo_db)}; "
            f"ALTER DATABASE {sql_ident(scratch)} RENAME TO {sql_ident(live)}; "
            f"COMMENT ON DATABASE {sql_ident(undo_db)} IS {sql_literal(meta)}; "
            "COMMIT;"
        )
        if last is not None:
            raise SnapshotError(f"PostgreSQL could not swap the databases, nothing changed ({last})")

    # --- make import-db ---------------------------------------------------------------------------

    def import_dump(self, path: str, known: list[str] | None, undo: str, taken: str) -> dict[str, Any]:
        """The dump at path loaded into a scratch database, checked, then swapped in for the live
        database, which is kept as the automatic snapshot `undo` (with the current Redis keys, so
        restore-snapshot puts both back). Nothing live changes before the swap."""
        kind, gzipped = dump_kind(path)
        live, user = self.p["database"], self.p["user"]
        scratch = db_prefix(live) + "importing"  # not a valid snapshot name: never listed as one
        # One folder per run; an earlier run's (killed mid-way) is removed first.
        stage = f"/tmp/integrador-import-{os.getpid()}-{int(time.time())}"
        self.in_container(["sh", "-c", 'rm -rf /tmp/integrador-import-*; mkdir -p "$1"', "sh", stage])
        self.sql(f"DROP DATABASE IF EXISTS {sql_ident(scratch)} WITH (FORCE)")
        swapped = False
        try:
            try:
                self.docker.copy_in(self.p["container"], path, stage)
            except OSError as exc:
                raise SnapshotError(
                    f"{path} cannot be read ({exc.strerror or exc}): make it readable for this user. "
                    + UNTOUCHED
                ) from None
            inner = f"{stage}/{os.path.basename(path.rstrip('/')) or 'dump'}"
            if gzipped and kind != "plain":
                unzip = ["sh", "-c", 'gzip -dc "$1" > "$1.raw"', "sh", inner]
                self.check(path, self.in_container(unzip), kind)
                inner += ".raw"
            reader = 'gzip -dc "$1"' if gzipped and kind == "plain" else 'cat "$1"'
            self.sql(f"CREATE DATABASE {sql_ident(scratch)}")
            if kind == "plain":
                # bash for pipefail: a dump that breaks off (a damaged .gz) fails the load.
                load = [
                    "bash", "-c",
                    f'set -o pipefail; {reader} | sed -E "$2" | psql --no-psqlrc -X -q -v ON_ERROR_STOP=1 '
                    '--single-transaction -U "$3" -d "$4" -f -',
                    "bash", inner, OWNER_AND_ACL_SED, user, scratch,
                ]  # fmt: skip
                schema = f'{reader} | grep -cE -- "$2"; true'
            else:
                load = ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                        "-U", user, "-d", scratch, inner]  # fmt: skip
                schema = 'pg_restore --schema-only -f - "$1" | grep -cE -- "$2"; true'
            self.check(path, self.in_container(load), kind, gzipped)
            tables = int(self.sql(TABLES_SQL, database=scratch).strip() or 0)
            if tables == 0:
                raise SnapshotError(f"{path} loaded, but it holds no table. {UNTOUCHED}")
            _, counted, _ = self.in_container(["bash", "-c", schema, "bash", inner, VECTOR_COLUMN_ERE])
            expected = int((counted.split() or ["0"])[-1])
            vectors = int(self.sql(VECTOR_COLUMNS_SQL, database=scratch).strip() or 0)
            if vectors < expected:
                raise SnapshotError(
                    f"{path} declares {expected} columns of type vector, and {vectors} came through the "
                    f"load. {UNTOUCHED}"
                )
            revision = self.revision(scratch)
            unknown = unknown_revisions(revision, known)
            if unknown:
                raise SnapshotError(
                    f"{path} is at Alembic revision {', '.join(unknown)}, which the migration scripts of "
                    "this checkout do not have: the API's `alembic upgrade head` would fail on it. Check out "
                    "the branch that has it (`git log --all -S <revision>` finds it) and import again. "
                    f"{UNTOUCHED}"
                )
            # The API's next start applies this checkout's migrations to it and never seeds it (the
            # marks of python_env's integrador_prepare_database.py, docs/architecture.md#contracts).
            self.sql(*PREPARED_FOR_IMPORT, database=scratch)
            client = self.redis()
            try:
                self.write_redis(undo, encode_entries(dump_redis(client)))
            finally:
                client.close()
            self.swap_in(scratch, db_name(live, undo), self.record(taken, False))
            swapped = True
            kind_seen = kind + (" (gzipped)" if gzipped else "")
            return {"kind": kind_seen, "tables": tables, "vector_columns": vectors, "revision": revision}
        finally:
            self.in_container(["rm", "-rf", stage])
            if not swapped:  # the live data is untouched: no undo snapshot, no scratch database
                if os.path.exists(self.redis_file(undo)):
                    os.unlink(self.redis_file(undo))
                self.psql(f"DROP DATABASE IF EXISTS {sql_ident(scratch)} WITH (FORCE)")

    def check(self, path: str, ran: tuple[int, str, str], kind: str, gzipped: bool = False) -> None:
        """A load step's exit: SnapshotError naming the file, the first failing statement and why."""
        code, out, err = ran
        if code == 0:
            return
        line, error, statement = load_failure(kind, err or out)
        if newer_dump(error):
            major = self.sql("SHOW server_version_num").strip()[:-4] or "?"
            raise SnapshotError(
                f"{path} was written by a newer pg_dump than PostgreSQL {major} here reads ({error}): "
                f"dump it again with pg_dump {major}, or in plain format (--format=plain). {UNTOUCHED}"
            )
        if line:
            statement = statement_at(path, gzipped, line)
        where = f" at line {line}" if line else ""
        what = f" in `{statement}`" if statement else ""
        raise SnapshotError(f"{path} could not be loaded{where}: {error}{what}. {UNTOUCHED}")


def statement_at(path: str, gzipped: bool, line: int) -> str:
    """The text of a plain dump's line (where psql stopped), cut to 200 characters."""
    import gzip  # noqa: PLC0415

    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:  # type: ignore[operator]
            for number, text in enumerate(handle, 1):
                if number == line:
                    return text.strip()[:200]
    except (OSError, EOFError):
        pass
    return ""


TABLES_SQL = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%'"
)
VECTOR_COLUMNS_SQL = (
    "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE t.typname = 'vector' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
)
# python_env's integrador_prepare_database.py keeps its marks in the database (schema
# integrador_provisioning): an imported database gets "seed" (never seeded here) and loses
# "migrations" (the next start runs `alembic upgrade head`), whatever the dump brought.
PREPARED_FOR_IMPORT = (
    "CREATE SCHEMA IF NOT EXISTS integrador_provisioning",
    "CREATE TABLE IF NOT EXISTS integrador_provisioning.marks (name text PRIMARY KEY, value text NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT now())",
    "DELETE FROM integrador_provisioning.marks WHERE name = 'migrations'",
    "INSERT INTO integrador_provisioning.marks (name, value) VALUES ('seed', 'imported by make import-db') "
    "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, recorded_at = now()",
)


def free_name(base: str, taken: dict[str, Any]) -> str:
    """base, or base-2, base-3 ... : the first that no snapshot has (two in one second)."""
    chosen, suffix = base, 2
    while chosen in taken:
        chosen, suffix = f"{base}-{suffix}", suffix + 1
    return chosen


def branch_message(
    p: dict[str, Any],
    revision: str,
    unknown: list[str],
    heads: list[str] | None,
    snapshots: list[dict[str, Any]],
) -> str:
    """Why the API would not start on this database (migrated on another branch), and the ways out."""
    at_head = [
        s for s in snapshots if heads and sorted(s["revision"].split(",")) == sorted(heads) and s["complete"]
    ]
    ways = []
    if at_head:
        newest = at_head[-1]
        ways.append(
            "put back the newest snapshot taken at this checkout's head: "
            f"`make restore-snapshot NAME={newest['name']}`"
            f" (taken {newest['taken']}{' on ' + newest['branch'] if newest['branch'] else ''})"
        )
    same = [s for s in snapshots if s["revision"] == revision and s["branch"]]
    ways.append(
        f"check out {same[-1]['branch'] if same else 'the branch the database was migrated on'} again"
        " (`make snapshot` keeps its data), then come back with `make restore-snapshot`"
    )
    ways.append(
        "`make reset` (backs the data up first, then a fresh database this checkout migrates and seeds)"
    )
    ends = ", ".join(heads) if heads else "heads that could not be read"
    return (
        f"The database {p['database']} is at Alembic revision {', '.join(unknown)}, which the migration"
        f" scripts of this checkout do not have (they end at {ends}):"
        " the API's `alembic upgrade head` would fail on it at every start. Ways out: "
        + "; or ".join(ways)
        + ". Nothing was changed; the API was not restarted."
    )


def unknown_revisions(revision: str, known: list[str] | None) -> list[str]:
    """The snapshot's revisions (comma-separated, one per Alembic head) that known lacks; none
    when known is None (not checked)."""
    if known is None:
        return []
    return [r for r in revision.split(",") if r and r not in known]


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {
                "type": "str",
                "choices": ["take", "list", "restore", "drop", "before_migrations", "import"],
                "required": True,
            },
            "name": {"type": "str", "default": ""},
            "database": {"type": "str", "required": True},
            "user": {"type": "str", "default": "postgres"},
            "container": {"type": "str", "required": True},
            "docker_host": {"type": "str", "default": ""},
            "redis_host": {"type": "str", "default": "127.0.0.1"},
            "redis_port": {"type": "int", "required": True},
            "redis_password": {"type": "str", "default": "", "no_log": True},
            "state_dir": {"type": "path", "required": True},
            "root": {"type": "path", "default": ""},
            "keep": {"type": "int", "default": 10},
            "known_revisions": {"type": "list", "elements": "str", "default": None},
            "file": {"type": "path"},
            "alembic_config": {"type": "str", "default": "backend/alembic.ini"},
        },
        supports_check_mode=True,
    )
    p = module.params
    began = time.monotonic()
    action, name = p["action"], p["name"]
    if name and name_problem(name):
        module.fail_json(msg=f"{name_problem(name)}: give NAME=<{NAME_RULE}>.")
    if action in ("restore", "drop") and not name:
        module.fail_json(msg="Which snapshot? Give NAME=<name> (`make snapshots` lists them).")
    if p["keep"] < 1:
        module.fail_json(msg=f"integrador_snapshot_keep must be at least 1 (got {p['keep']}).")
    try:
        try:
            stack = Stack(p)
        except NotRunning:
            # Before migrations, a database that is not running (--skip-tags docker with it stopped)
            # has nothing to keep, and the API cannot migrate it either: nothing to do.
            if action != "before_migrations":
                raise
            module.exit_json(changed=False, state="not running", revision="", snapshots=[])
        snapshots = stack.snapshots()
        by_name = {s["name"]: s for s in snapshots}
        result: dict[str, Any] = {"changed": False, "snapshots": snapshots}
        now = time.gmtime()
        taken = time.strftime("%Y-%m-%dT%H:%M:%SZ", now)
        if action == "take":
            if name in by_name:
                module.fail_json(
                    msg=f"A snapshot named {name} exists (taken {by_name[name]['taken']}). Drop it first "
                    f"(`make drop-snapshot NAME={name}`) or choose another NAME.",
                    snapshots=snapshots,
                )
            chosen = name or free_name(time.strftime("%Y%m%d-%H%M%S", now), by_name)
            result["changed"] = True
            if module.check_mode:
                result["snapshot"] = {"name": chosen}
            else:
                result["snapshot"] = stack.take(chosen, bool(name), taken)
                result["dropped"] = stack.prune(p["keep"])
                result["snapshots"] = stack.snapshots()
        elif action == "before_migrations":
            config = os.path.join(p["root"], p["alembic_config"]) if p["root"] and p["alembic_config"] else ""
            if not config or not os.path.isfile(config):
                result.update(state="none", revision="")
                module.exit_json(**result)
            known, heads, unreadable = read_scripts(config)
            # A database not created yet (--check of a new postgres_pgvector_db) has nothing to keep.
            revision = stack.revision() if stack.database_exists() else ""
            # A script that could not be read may hold the database's revision: not judged unknown.
            state, unknown = migrations_state(revision, known + ([revision] if unreadable else []), heads)
            result.update(state=state, revision=revision, heads=heads)
            if state == "unknown":
                module.fail_json(
                    msg=branch_message(p, revision, unknown, heads, snapshots), snapshots=snapshots
                )
            if state == "behind":
                chosen = free_name(migration_snapshot_base(revision), by_name)
                result["changed"] = True
                if module.check_mode:
                    result["snapshot"] = {"name": chosen}
                else:
                    result["snapshot"] = stack.take(chosen, False, taken)
                    result["dropped"] = stack.prune(p["keep"], spare=chosen)
                    result["snapshots"] = stack.snapshots()
        elif action == "import":
            if not p["file"]:
                module.fail_json(
                    msg="Which dump? Give FILE=<path of what pg_dump wrote>.", snapshots=snapshots
                )
            undo = free_name("undo-" + time.strftime("%Y%m%d-%H%M%S", now), by_name)
            result.update(changed=True, undo=undo, file=p["file"])
            if module.check_mode:
                kind, gzipped = dump_kind(p["file"])
                result["imported"] = {"kind": kind + (" (gzipped)" if gzipped else "")}
            else:
                result["imported"] = stack.import_dump(p["file"], p["known_revisions"], undo, taken)
                result["dropped"] = stack.prune(p["keep"], spare=undo)
                result["snapshots"] = stack.snapshots()
        elif action in ("restore", "drop"):
            if name not in by_name:
                known = ", ".join(s["name"] for s in snapshots) or "none yet (`make snapshot` takes one)"
                module.fail_json(
                    msg=f"There is no snapshot named {name}. Snapshots: {known}.", snapshots=snapshots
                )
            snapshot = by_name[name]
            result["snapshot"] = snapshot
            result["changed"] = True
            if action == "drop":
                if not module.check_mode:
                    stack.drop(name)
                    result["snapshots"] = stack.snapshots()
            else:
                if not snapshot["complete"]:
                    module.fail_json(
                        msg=f"Snapshot {name} has no Redis part ({stack.redis_file(name)} is gone): "
                        f"it cannot be restored whole. Drop it with `make drop-snapshot NAME={name}`.",
                        snapshots=snapshots,
                    )
                unknown = unknown_revisions(snapshot["revision"], p["known_revisions"])
                if unknown:
                    branch = snapshot["branch"]
                    back = branch or "the branch it was taken on"
                    module.fail_json(
                        msg=f"Snapshot {name} was taken at Alembic revision {', '.join(unknown)} (on branch "
                        f"{branch or 'unknown'}), which the migration scripts of this checkout do not have: "
                        f"the API's `alembic upgrade head` would fail on it. Check out "
                        f"{back} and restore it again. Nothing was changed.",
                        snapshots=snapshots,
                    )
                undo = free_name("undo-" + time.strftime("%Y%m%d-%H%M%S", now), by_name)
                result["undo"] = undo
                if not module.check_mode:
                    snapshot["keys"] = stack.restore(snapshot, undo, taken)
                    result["dropped"] = stack.prune(p["keep"], spare=name)
                    result["snapshots"] = stack.snapshots()
    except (SnapshotError, DockerError, OSError) as exc:
        module.fail_json(msg=str(exc))
    result["seconds"] = round(time.monotonic() - began, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
