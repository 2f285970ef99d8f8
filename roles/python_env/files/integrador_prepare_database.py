"""Written into the backend's virtualenv by the Integrador provisioning (module
integrador_python_env); the REST API's service runs it before every start, in backend/,
with backend/.env loaded.

It prepares the database once per change and once per fresh database, never more:
- with --migrations CONFIG FINGERPRINT: `alembic -c CONFIG upgrade head`, only when the
  fingerprint of the migration scripts differs from the one recorded after the last
  successful upgrade of this database;
- with --seed COMMAND: the seed command, only when this database was never seeded
  (claimed before it runs: an interrupted or failed seed is never run twice, and never
  keeps the API down);
Started before PostgreSQL answers (a boot, where the user manager is up before Docker has
restarted the containers), it waits for the database instead of failing (and being restarted
every 2 s): up to INTEGRADOR_DATABASE_WAIT seconds (60 by default) while the server refuses
connections or is still starting up; any other error (a wrong password, say) ends it at once.

Both marks live in the database itself (schema integrador_provisioning, outside the
backend's own schema, so Alembic's autogenerate never sees them): they survive a
backup and restore, and go with the volume when it is purged, so a fresh database is
migrated and seeded again. A start that finds both marks current runs three short
statements and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable

SCHEMA = "integrador_provisioning"
SETUP = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.marks (name text PRIMARY KEY, value text NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT now())",
)
READ = f"SELECT name, value FROM {SCHEMA}.marks"
# The seed's mark while it runs (then the command, or "failed (exit N): command").
STARTED = "started: "
WRITE = (
    f"INSERT INTO {SCHEMA}.marks (name, value) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, recorded_at = now()"
)


def libpq_url(url: str) -> str:
    """postgresql+asyncpg://... and the like, as every driver's own connect() takes it."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        sys.exit("integrador: DATABASE_URL (backend/.env) is not a postgresql:// URL; database not prepared")
    return f"postgresql://{rest}"


# What a server that is not up yet answers (asyncpg's errors and libpq's messages): only
# these are waited out, never an error the server itself gave (authentication, a missing
# database).
NOT_UP = (
    "connection refused",
    "starting up",
    "could not connect",
    "no such file or directory",
    "is the server running",
    "connection reset",
    "server closed the connection unexpectedly",
    "shutting down",
    "connection was closed",
)


def not_up_yet(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError) or type(exc).__name__ in (
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
    ):
        return True
    return any(words in str(exc).lower() for words in NOT_UP)


def database_wait() -> float:
    """INTEGRADOR_DATABASE_WAIT in seconds (60 when unset or empty); anything else ends the
    start with a message naming it, not a traceback."""
    given = os.environ.get("INTEGRADOR_DATABASE_WAIT", "").strip()
    try:
        wait = float(given) if given else 60.0
    except ValueError:
        wait = -1.0
    if not 0 <= wait < float("inf"):
        sys.exit(
            f"integrador: INTEGRADOR_DATABASE_WAIT must be a number of seconds, 0 or more "
            f"(got {given!r}); set it so, or remove it for 60 s. Database not prepared"
        )
    return wait


def first(run: Callable[[str, tuple[str, ...]], list[tuple[str, str]]], sql: str) -> None:
    """The first statement, retried every 0.05 s while the database is not up yet."""
    wait = database_wait()
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            run(sql, ())
            return
        except Exception as exc:  # noqa: BLE001 - each driver has its own error classes
            if not not_up_yet(exc) or time.monotonic() >= deadline:
                raise
            if not said:
                print(f"integrador: waiting up to {wait:g} s for the database ({exc})", flush=True)
                said = True
            time.sleep(0.05)


def runner(url: str) -> Callable[[str, tuple[str, ...]], list[tuple[str, str]]]:
    """A function running one statement ($1-style parameters) with whichever PostgreSQL
    driver the backend's virtualenv holds."""
    try:
        import asyncpg  # type: ignore[import-not-found]

        async def run_async(sql: str, args: tuple[str, ...]) -> list[tuple[str, str]]:
            connection = await asyncpg.connect(url, timeout=10)
            try:
                if sql.startswith("SELECT"):
                    return [tuple(row) for row in await connection.fetch(sql, *args)]
                await connection.execute(sql, *args)
                return []
            finally:
                await connection.close()

        return lambda sql, args: asyncio.run(run_async(sql, args))
    except ImportError:
        pass
    try:
        import psycopg  # type: ignore[import-not-found]

        module = psycopg
    except ImportError:
        try:
            import psycopg2  # type: ignore[import-not-found]

            module = psycopg2
        except ImportError:
            sys.exit("integrador: no PostgreSQL driver (asyncpg, psycopg, psycopg2) in the virtualenv")

    def run_sync(sql: str, args: tuple[str, ...]) -> list[tuple[str, str]]:
        connection = module.connect(url, connect_timeout=10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql.replace("$1", "%s").replace("$2", "%s"), args)
                rows = cursor.fetchall() if sql.startswith("SELECT") else []
            connection.commit()
            return [tuple(row) for row in rows]
        finally:
            connection.close()

    return run_sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrations", nargs=2, metavar=("CONFIG", "FINGERPRINT"))
    parser.add_argument("--seed", metavar="COMMAND")
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("integrador: DATABASE_URL is not set (backend/.env); cannot prepare the database")
    run = runner(libpq_url(url))
    first(run, SETUP[0])
    for statement in SETUP[1:]:
        run(statement, ())
    marks = dict(run(READ, ()))

    if options.migrations:
        config, fingerprint = options.migrations
        short = fingerprint[:12]
        if marks.get("migrations") == fingerprint:
            print(f"integrador: migrations up to date (fingerprint {short}), alembic not run", flush=True)
        else:
            print(f"integrador: alembic -c {config} upgrade head (fingerprint {short})", flush=True)
            argv = [sys.executable, "-m", "alembic", "-c", config, "upgrade", "head"]
            done = subprocess.run(argv, check=False)
            if done.returncode != 0:
                sys.exit(f"integrador: alembic upgrade head failed (exit {done.returncode}); API not started")
            run(WRITE, ("migrations", fingerprint))

    if options.seed:
        seeded = marks.get("seed")
        if seeded is None:
            # Claimed before it runs: a start killed mid-seed (a restart of the service, a
            # reboot) must not run it again over rows it may have committed; many seeds are
            # not idempotent, and a seed that fails every time must not keep the API down.
            run(WRITE, ("seed", f"{STARTED}{options.seed}"))
            print(f"integrador: seeding a fresh database: {options.seed}", flush=True)
            done = subprocess.run(["/bin/sh", "-c", options.seed], check=False)
            if done.returncode == 0:
                run(WRITE, ("seed", options.seed))
            else:
                run(WRITE, ("seed", f"failed (exit {done.returncode}): {options.seed}"))
                print(
                    f"integrador: the seed command failed (exit {done.returncode}); the API starts without "
                    "demo data, and the seed is not run again on this database (make reset gives a fresh, "
                    "seeded one)",
                    file=sys.stderr,
                    flush=True,
                )
        elif seeded.startswith(STARTED) or seeded.startswith("failed"):
            print(
                f"integrador: a seed of this database did not finish ({seeded}); not run again, so no row is "
                "doubled (make reset gives a fresh, seeded database)",
                flush=True,
            )
        else:
            print("integrador: demo data already seeded in this database, seed not run", flush=True)


if __name__ == "__main__":
    main()
