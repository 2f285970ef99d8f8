"""What a snapshot is, without any I/O: its names, its record, the Redis file's format, which
snapshots the keep setting drops, and a small Redis client (RESP2 over TCP, standard library
only) that reads and writes keys exactly (DUMP / RESTORE, binary-safe).

A snapshot of a stack is two parts taken together:
- PostgreSQL: a database of the same cluster copied from the live one (CREATE DATABASE ...
  TEMPLATE), named integrador_snap_<hash of the live name>_<snapshot name>; its record (when,
  git branch, Alembic revision, named or automatic) is the database's comment, as JSON.
- Redis: every key of every logical database, DUMPed with its time to live, in one file of
  the stack's state folder, snapshots/<snapshot name>.redis.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any

# Lower case (PostgreSQL folds unquoted names), a letter or digit first, at most 30: the database
# name stays within PostgreSQL's 63 bytes.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
NAME_RULE = "1 to 30 of a-z, 0-9, '-' and '_', starting with a letter or a digit"
MAGIC = b"INTEGRADOR-REDIS-SNAPSHOT 1\n"
# db number, key length, time to live in ms (0: none), payload length.
ENTRY = struct.Struct(">HIqI")


class SnapshotError(Exception):
    """A refusal or failure whose message is the user's."""


def name_problem(name: str) -> str | None:
    """None for a usable snapshot name, else what is wrong with it."""
    if not NAME.match(name):
        return f"snapshot name {name!r} is not {NAME_RULE}"
    return None


def migration_snapshot_base(revision: str) -> str:
    """The name of the snapshot taken before migrations, after the revision the database was at:
    pre-<revision> in snapshot-name letters (lowercase, other characters as '-', a merge's
    heads joined by '-'), cut to leave room for a -N suffix."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", revision.lower().replace(",", "-")).strip("-_") or "unknown"
    return ("pre-" + slug)[:27].rstrip("-_")


def migrations_state(revision: str, known: list[str], heads: list[str] | None) -> tuple[str, list[str]]:
    """What the database's Alembic revision (comma-separated, "" for none) is to this checkout:
    ("fresh", []) with no revision yet, ("unknown", the revisions the scripts lack) on another
    branch's, ("current", []) at the heads, else ("behind", []): migrations are to apply (also
    when the heads are unknown, None: a snapshot too many is cheap, one too few is not)."""
    revisions = [r for r in revision.split(",") if r]
    if not revisions:
        return "fresh", []
    unknown = [r for r in revisions if r not in known]
    if unknown:
        return "unknown", unknown
    if heads is not None and sorted(revisions) == sorted(heads):
        return "current", []
    return "behind", []


def db_prefix(live_db: str) -> str:
    """The prefix of the snapshot databases of one live database: stacks sharing a cluster, or a
    database renamed in the settings, never see each other's snapshots."""
    return "integrador_snap_" + hashlib.sha1(live_db.encode()).hexdigest()[:12] + "_"


def db_name(live_db: str, name: str) -> str:
    return db_prefix(live_db) + name


def record(taken: str, branch: str, revision: str, named: bool) -> str:
    """The JSON kept as the snapshot database's comment."""
    return json.dumps(
        {"taken": taken, "branch": branch, "revision": revision, "named": named}, sort_keys=True
    )


def read_record(comment: str | None) -> dict[str, Any]:
    """A comment back as a record; a missing or foreign comment gives empty fields (listed, never guessed)."""
    try:
        data = json.loads(comment or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    return {
        "taken": str(data.get("taken") or ""),
        "branch": str(data.get("branch") or ""),
        "revision": str(data.get("revision") or ""),
        "named": data.get("named") is True,
    }


def sql_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted (the live database's name comes from the settings)."""
    if "\x00" in name:
        raise SnapshotError("a NUL character cannot be in a PostgreSQL name")
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings, the default since 9.1)."""
    if "\x00" in text:
        raise SnapshotError("a NUL character cannot be stored in PostgreSQL text")
    return "'" + text.replace("'", "''") + "'"


def to_drop(snapshots: Iterable[dict[str, Any]], keep: int) -> list[str]:
    """Names of the automatic snapshots to drop so that at most `keep` remain, oldest first.
    Named snapshots are never dropped (they count towards `keep`, so more than `keep` may stay)."""
    items = list(snapshots)
    excess = len(items) - keep
    if excess <= 0:
        return []
    automatic = sorted((s for s in items if not s["named"]), key=lambda s: (s["taken"], s["name"]))
    return [s["name"] for s in automatic[:excess]]


def git_branch(root: str) -> str:
    """The checkout's branch as `git rev-parse --abbrev-ref HEAD` names it (a short commit id when
    detached), read from .git without running git; empty when the checkout is not a git work tree."""
    git = os.path.join(root, ".git")
    try:
        if os.path.isfile(git):  # a worktree or submodule: "gitdir: <path>"
            with open(git, encoding="utf-8") as handle:
                pointer = handle.read().strip()
            if not pointer.startswith("gitdir:"):
                return ""
            git = os.path.join(root, pointer[len("gitdir:") :].strip())
        with open(os.path.join(git, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except OSError:
        return ""
    if head.startswith("ref:"):
        ref = head[4:].strip()
        return ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    return head[:12]


# --- The Redis file --------------------------------------------------------------------------


def encode_entries(entries: Iterable[tuple[int, bytes, int, bytes]]) -> bytes:
    """(db, key, ttl in ms or 0, DUMP payload) entries as the snapshot file's bytes."""
    parts = [MAGIC]
    for db, key, ttl, payload in entries:
        parts.append(ENTRY.pack(db, len(key), ttl, len(payload)))
        parts.append(key)
        parts.append(payload)
    return b"".join(parts)


def decode_entries(data: bytes) -> Iterator[tuple[int, bytes, int, bytes]]:
    """The entries of a snapshot file; SnapshotError when the file is not one or is cut short."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not a Redis snapshot of this tool (its first line is wrong)")
    at = len(MAGIC)
    while at < len(data):
        if at + ENTRY.size > len(data):
            raise SnapshotError("the Redis snapshot is cut short")
        db, key_len, ttl, payload_len = ENTRY.unpack_from(data, at)
        at += ENTRY.size
        end = at + key_len + payload_len
        if end > len(data):
            raise SnapshotError("the Redis snapshot is cut short")
        yield db, data[at : at + key_len], ttl, data[at + key_len : end]
        at = end


def keyspace_dbs(info: bytes) -> list[int]:
    """The logical databases that hold keys, from INFO keyspace ("db3:keys=2,expires=0,...")."""
    return sorted(int(m.group(1)) for m in re.finditer(rb"^db(\d+):keys=[1-9]", info, re.M))


# --- RESP2 --------------------------------------------------------------------------------------


class RespError(SnapshotError):
    """An error reply of the server (its text), or a connection that broke."""


def command(*args: bytes | str | int) -> bytes:
    """One command in RESP (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Redis:
    """One connection; `call` sends a command and reads its reply; `pipeline` sends many, then
    reads every reply (RESTORE of many keys in one round trip)."""

    def __init__(self, host: str, port: int, password: str = "", timeout: float = 30.0) -> None:
        try:
            self._sock = socket.create_connection((host.strip("[]"), port), timeout=timeout)
        except OSError as exc:
            raise RespError(f"Redis on {host}:{port} does not answer ({exc})") from exc
        self._buf = b""
        if password:
            self.call("AUTH", password)

    def close(self) -> None:
        self._sock.close()

    def call(self, *args: bytes | str | int) -> Any:
        self._send(command(*args))
        return self._reply()

    def pipeline(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Every reply; the first error reply raised after all were read."""
        self._send(b"".join(command(*c) for c in commands))
        replies, first_error = [], None
        for _ in commands:
            try:
                replies.append(self._reply())
            except RespError as exc:
                first_error = first_error or exc
                replies.append(exc)
        if first_error:
            raise first_error
        return replies

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise RespError(f"the connection to Redis broke ({exc})") from exc

    def _fill(self) -> None:
        try:
            chunk = self._sock.recv(1 << 16)
        except OSError as exc:
            raise RespError(f"the connection to Redis broke ({exc})") from exc
        if not chunk:
            raise RespError("Redis closed the connection")
        self._buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            self._fill()
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self._buf) < size + 2:
            self._fill()
        data, self._buf = self._buf[:size], self._buf[size + 2 :]
        return data

    def _reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._exactly(size)
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise RespError(f"unexpected reply from Redis: {line[:40]!r}")


def dump_redis(client: Redis) -> list[tuple[int, bytes, int, bytes]]:
    """Every key of every logical database with its time to live and DUMP payload."""
    entries = []
    for db in keyspace_dbs(client.call("INFO", "keyspace")):
        client.call("SELECT", db)
        cursor = b"0"
        keys: list[bytes] = []
        while True:
            cursor, batch = client.call("SCAN", cursor, "COUNT", 1000)
            keys.extend(batch)
            if cursor == b"0":
                break
        ordered = sorted(set(keys))
        # 500 keys a round trip: a large keyspace must not cost one round trip per key.
        for start in range(0, len(ordered), 500):
            batch = ordered[start : start + 500]
            replies = client.pipeline([c for key in batch for c in (("PTTL", key), ("DUMP", key))])
            for key, ttl, payload in zip(batch, replies[0::2], replies[1::2], strict=True):
                if payload is None or ttl == -2:  # expired or deleted meanwhile
                    continue
                entries.append((db, key, max(ttl, 0), payload))
    client.call("SELECT", 0)
    return entries


def load_redis(client: Redis, entries: Iterable[tuple[int, bytes, int, bytes]]) -> int:
    """Replace everything Redis holds by the entries; the number of keys restored."""
    client.call("FLUSHALL")
    by_db: dict[int, list[tuple[bytes, int, bytes]]] = {}
    for db, key, ttl, payload in entries:
        by_db.setdefault(db, []).append((key, ttl, payload))
    count = 0
    for db, items in sorted(by_db.items()):
        client.call("SELECT", db)
        for start in range(0, len(items), 500):
            batch = items[start : start + 500]
            client.pipeline([("RESTORE", key, ttl, payload, "REPLACE") for key, ttl, payload in batch])
            count += len(batch)
    client.call("SELECT", 0)
    return count


# --- Imported dumps (make import-db) ------------------------------------------------------------
# What pg_dump writes, told by its first bytes: plain SQL (also gzipped, as `pg_dump | gzip`
# writes it), the custom format (magic PGDMP), the tar format (a tar holding toc.dat), the
# directory format (a folder holding toc.dat). A gzipped custom or tar dump is accepted too.
DUMP_KINDS = ("plain", "custom", "tar", "directory")
SQL_START = re.compile(r"^\s*(--|/\*|SET |SELECT |CREATE |BEGIN|START |\\)", re.IGNORECASE | re.MULTILINE)
# A column definition of type vector in pg_dump's CREATE TABLE (one column per line, indented,
# the type schema-qualified or not): counted in the dump's schema and compared with the columns
# of type vector the loaded database has. As grep -E reads it in the database's container.
VECTOR_COLUMN_ERE = r"^[[:space:]]+[^[:space:]]+ ([^[:space:]]+\.)?vector(\([0-9]+\))?( |,|$)"
# pg_dump's ownership and privilege statements name production's roles, which do not exist here;
# commented out of a plain dump (same line count: an error's line number stays the file's), as
# pg_restore's --no-owner --no-acl leave them out of the other formats.
OWNER_AND_ACL_SED = (
    r"s/^((ALTER [A-Z ]+ .* OWNER TO |GRANT |REVOKE |SECURITY LABEL ).*;)$/-- (import-db: skipped) \1/"
)
UNTOUCHED = "The current database was not touched."
DUMP_HELP = (
    "import-db takes what pg_dump writes: plain SQL (.sql, or .sql.gz), --format=custom (.dump), "
    "--format=tar or --format=directory"
)


def dump_kind(path: str) -> tuple[str, bool]:
    """(kind, gzipped) of the dump at path, from its first bytes; SnapshotError naming the file
    when it is none of pg_dump's formats."""
    import gzip  # noqa: PLC0415 (only this verb reads compressed files)

    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "toc.dat")):
            return "directory", False
        raise SnapshotError(
            f"{path} is a folder without toc.dat, not a directory-format dump. {DUMP_HELP}. {UNTOUCHED}"
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
        gzipped = head[:2] == b"\x1f\x8b"
        if gzipped:
            with gzip.open(path, "rb") as handle:
                head = handle.read(4096)
    except FileNotFoundError:
        raise SnapshotError(
            f"There is no file {path}: give FILE=<the path of the dump>. {UNTOUCHED}"
        ) from None
    except (OSError, EOFError) as exc:
        raise SnapshotError(f"{path} cannot be read ({exc}). {DUMP_HELP}. {UNTOUCHED}") from None
    if head.startswith(b"PGDMP"):
        return "custom", gzipped
    if head[257:262] == b"ustar" and head[:100].rstrip(b"\0") == b"toc.dat":
        return "tar", gzipped
    text = head.decode("utf-8", "ignore")
    if b"\0" not in head and SQL_START.search(text.lstrip("\ufeff")):
        return "plain", gzipped
    raise SnapshotError(f"{path} is not a dump: its first bytes are {head[:16]!r}. {DUMP_HELP}. {UNTOUCHED}")


PSQL_ERROR = re.compile(r"^psql:[^:\n]*:(\d+): (?:ERROR|FATAL):\s+(.*)$", re.MULTILINE)
RESTORE_ERROR = re.compile(r"^pg_restore: error: (.*)$", re.MULTILINE)
COMMAND_WAS = re.compile(r"^Command was: (.*)$", re.MULTILINE)


def load_failure(kind: str, stderr: str) -> tuple[int, str, str]:
    """(line, error, statement) of the first failure in psql's or pg_restore's stderr: line is the
    plain dump's line number (0 when not known), statement what pg_restore says it ran ("" for psql:
    the caller reads the line of the file)."""
    if kind == "plain":
        found = PSQL_ERROR.search(stderr)
        if found:
            return int(found.group(1)), found.group(2).strip(), ""
    else:
        found = RESTORE_ERROR.search(stderr)
        if found:
            command = COMMAND_WAS.search(stderr, found.end())
            return 0, found.group(1).strip(), command.group(1).strip() if command else ""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return 0, lines[0] if lines else "no message", ""


def newer_dump(error: str) -> bool:
    """pg_restore's words for an archive of a newer pg_dump than its own."""
    return "unsupported version" in error
