#!/usr/bin/python
"""One backup of a stack's data, PostgreSQL and Redis together, written in one module run
(roles/day_two/tasks/backup_write.yml), where 17 tasks did it before."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_docker import DockerClient, DockerError, connect

DOCUMENTATION = r"""
module: integrador_backup
short_description: Write one backup of a stack's PostgreSQL and Redis data into a folder
description:
  - Writes I(dest)/.partial-I(name) (mode 0700) with C(postgres.dump) (C(pg_dump --format=custom), run
    inside the database container over its local socket, so the dump matches the server's version and
    the host needs no PostgreSQL client), C(dump.rdb) (Redis' snapshot, C(BGSAVE SCHEDULE) in its
    container, waited for, then copied out of C(/data)) and C(SHA256SUMS) (the format of C(sha256sum),
    written last), then renames the folder to I(dest)/I(name). A run killed half-way (a signal, whose
    cleanup never runs) leaves only a C(.partial-*) folder, which no listing, pruning or C(latest) counts
    and which the next run removes, with the scratch dumps such a run left in the database container.
  - Files come out of the containers through the Docker Engine API's archive endpoint, streamed to
    disk (a large dump is never held in memory); nothing of the user's virtualenv is used.
  - Any failure removes the partial folder; the message names the step and what it said.
  - In check mode nothing is written.
options:
  dest:
    description: The backup directory (it exists, mode 0700).
    type: path
    required: true
  name:
    description: The new backup's folder name, free (the caller chose it among the folders of this second).
    type: str
    required: true
  database:
    description: The database to dump.
    type: str
    required: true
  user:
    description: The PostgreSQL user pg_dump connects as (inside the container).
    type: str
    default: postgres
  postgres:
    description: The PostgreSQL container (C(container)) and its Docker endpoint (C(docker_host)).
    type: dict
    required: true
  redis:
    description: >-
      The Redis container (C(container)) and its Docker endpoint (C(docker_host)); Redis' data is in C(/data).
    type: dict
    required: true
  scratch:
    description: The folder in the database container that holds the dump until it is copied out.
    type: str
    required: true
  timeout:
    description: Seconds the dump, the Redis snapshot and each copy may take.
    type: int
    default: 3600
"""

RETURN = r"""
path:
  description: The finished backup's folder.
  type: str
  returned: success
files:
  description: Each file of the backup (postgres.dump, dump.rdb) with its C(size) in bytes and C(sha256).
  type: dict
  returned: success
"""

PARTIAL = ".partial-"
FILES = ("postgres.dump", "dump.rdb")
# Scratch dumps of earlier runs in the database container (the run lock excludes a running one).
SCRATCH_GLOB = "/tmp/integrador-backup-*"


class BackupError(Exception):
    """A step failed; the message names it."""


def redis_info(text: str) -> dict[str, str]:
    """INFO's `key:value` lines as a dict (sections and blank lines skipped)."""
    pairs = (line.strip().split(":", 1) for line in text.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2 and not pair[0].startswith("#")}


def sha256sums(files: dict[str, dict[str, Any]]) -> str:
    """The SHA256SUMS text of sha256sum's format (`sha256sum -c SHA256SUMS` checks it by hand)."""
    return "".join(f"{files[name]['sha256']}  {name}\n" for name in FILES)


def remove_partials(dest: str) -> list[str]:
    """Removes the unfinished folders of interrupted runs; their names."""
    removed = []
    for entry in sorted(os.listdir(dest)):
        path = os.path.join(dest, entry)
        if entry.startswith(PARTIAL) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(entry)
    return removed


def run(client: DockerClient, container: str, argv: list[str], step: str) -> str:
    """argv in the container; its stdout, or BackupError naming the step and what it printed."""
    code, out, err = client.exec_run(container, argv)
    if code != 0:
        said = (err or out).decode("utf-8", "replace").strip()[-1200:]
        raise BackupError(f"{step} failed in container {container} (exit {code}): {said or 'no output'}")
    return out.decode("utf-8", "replace")


def copy_out(client: DockerClient, container: str, path: str, dest: str) -> dict[str, Any]:
    """The file at path in the container, written to dest (mode 0600); its size and SHA-256."""
    digest = hashlib.sha256()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:

        def write(chunk: bytes) -> None:
            out.write(chunk)
            digest.update(chunk)

        size = client.copy_file_out(container, path, write)
        out.flush()
        os.fsync(out.fileno())
    return {"size": size, "sha256": digest.hexdigest()}


def redis_snapshot(client: DockerClient, container: str, timeout: float) -> None:
    """A new dump.rdb in Redis' /data: BGSAVE SCHEDULE (after an AOF rewrite in progress, instead
    of failing), waited for until Redis counts one more snapshot saved, which must have succeeded.
    REDISCLI_AUTH is in the container's environment when Redis has a password."""
    info = ["redis-cli", "INFO", "persistence"]
    counters = redis_info(run(client, container, info, "Reading Redis' persistence counters"))
    before = int(counters.get("rdb_saves", "0"))
    answer = run(client, container, ["redis-cli", "BGSAVE", "SCHEDULE"], "Starting Redis' snapshot (BGSAVE)")
    if "ERR" in answer:
        raise BackupError(f"Redis refused to start its snapshot (BGSAVE SCHEDULE): {answer.strip()}")
    deadline = time.monotonic() + timeout
    while True:
        now = redis_info(run(client, container, info, "Waiting for Redis' snapshot"))
        if now.get("rdb_bgsave_in_progress") == "0" and int(now.get("rdb_saves", "0")) > before:
            break
        if time.monotonic() > deadline:
            raise BackupError(f"Redis' snapshot (BGSAVE) did not finish within {timeout:g} s")
        time.sleep(0.1)
    if now.get("rdb_last_bgsave_status") != "ok":
        raise BackupError(
            "Redis could not write its snapshot (rdb_last_bgsave_status is not ok): see its log "
            "(`make logs SERVICE=redis`)"
        )


def write_backup(params: dict[str, Any], postgres: DockerClient, redis: DockerClient) -> dict[str, Any]:
    """The steps, in order, into the partial folder; then the rename. Returns the files."""
    dest, name = params["dest"], params["name"]
    partial, final = os.path.join(dest, PARTIAL + name), os.path.join(dest, name)
    if os.path.lexists(final):
        raise BackupError(f"{final} exists already: choose another name")
    os.mkdir(partial, 0o700)
    try:
        scratch = params["scratch"]
        db = params["postgres"]["container"]
        try:
            run(
                postgres,
                db,
                [
                    "sh",
                    "-c",
                    f'rm -rf {SCRATCH_GLOB} && mkdir -p "$1" && exec pg_dump --format=custom '
                    '--username="$2" --dbname="$3" --file="$1/postgres.dump"',
                    "sh",
                    scratch,
                    params["user"],
                    params["database"],
                ],
                "The database dump (pg_dump)",
            )
            dump = copy_out(postgres, db, f"{scratch}/postgres.dump", f"{partial}/postgres.dump")
            files = {"postgres.dump": dump}
        finally:
            # The scratch dump goes whatever happened (a killed run's, the next run removes).
            try:
                postgres.exec_run(db, ["rm", "-rf", scratch])
            except DockerError:
                pass
        rd = params["redis"]["container"]
        redis_snapshot(redis, rd, params["timeout"])
        files["dump.rdb"] = copy_out(redis, rd, "/data/dump.rdb", f"{partial}/dump.rdb")
        # Written last: a folder without it is an unfinished backup.
        fd = os.open(f"{partial}/SHA256SUMS", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(sha256sums(files))
            out.flush()
            os.fsync(out.fileno())
        # The rename makes it a backup: complete and checksummed, or not there at all.
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return files


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "name": {"type": "str", "required": True},
            "database": {"type": "str", "required": True},
            "user": {"type": "str", "default": "postgres"},
            "postgres": {"type": "dict", "required": True},
            "redis": {"type": "dict", "required": True},
            "scratch": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    params = module.params
    final = os.path.join(params["dest"], params["name"])
    if module.check_mode:
        module.exit_json(changed=True, path=final, files={})
    step = "removing the unfinished folders of interrupted backups"
    try:
        removed = remove_partials(params["dest"])
        step = "connecting to the Docker engine"
        clients = {}
        for part in ("postgres", "redis"):
            client, warnings = connect(params[part].get("docker_host") or "", params["timeout"])
            for warning in warnings:
                module.warn(warning)
            clients[part] = client
        step = "writing the backup"
        files = write_backup(params, clients["postgres"], clients["redis"])
    except (BackupError, DockerError) as exc:
        module.fail_json(msg=f"The backup into {final} failed: {exc}. No backup folder was left.")
    except OSError as exc:
        module.fail_json(
            msg=f"The backup into {final} failed while {step}: {exc.strerror or exc} "
            f"({exc.filename or params['dest']}). Free some disk space or point integrador_backup_dir at a "
            "folder you can write. No backup folder was left."
        )
    module.exit_json(changed=True, path=final, files=files, removed_partials=removed)


if __name__ == "__main__":
    main()
