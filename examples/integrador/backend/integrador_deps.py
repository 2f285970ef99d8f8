"""Clients for, and health checks of, the backing services both apps share."""

from collections.abc import Callable, Mapping
from contextlib import closing
from hashlib import sha256

import psycopg2
import redis
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from redis.backoff import NoBackoff
from redis.retry import Retry

from integrador_settings import Settings

DEFAULT_CHANNEL = "integrador:events"
TIMEOUT_SECONDS = 2


def redis_client(url: str) -> redis.Redis:
    # redis-py 6 retries failed calls with backoff by default; a health check
    # or a manual publish should fail within TIMEOUT_SECONDS instead.
    return redis.Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def check_redis(url: str) -> None:
    with redis_client(url) as client:
        client.ping()


def check_postgres(database_url: str) -> None:
    connection = psycopg2.connect(
        database_url,
        connect_timeout=TIMEOUT_SECONDS,
        # A server that accepts connections but is wedged must not hang the check.
        options=f"-c statement_timeout={TIMEOUT_SECONDS * 1000}",
    )
    with closing(connection), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone() is None:
            raise RuntimeError("vector extension not installed")


def describe(error: Exception) -> str:
    # libpq messages run over several lines of hints; the first names the problem.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def health_response(checks: Mapping[str, Callable[[], None]]) -> JSONResponse:
    """Run every check (each raises on failure) and report 200 or 503."""
    results: dict[str, dict[str, str]] = {}
    down: list[str] = []
    for name, check in checks.items():
        try:
            check()
        except Exception as error:
            results[name] = {"status": "down", "error": describe(error)}
            down.append(name)
        else:
            results[name] = {"status": "ok"}
    return JSONResponse(
        status_code=503 if down else 200,
        content={
            "status": "degraded" if down else "ok",
            "checks": results,
            "down": down,
        },
    )


def add_debug_routes(app: FastAPI, settings: Settings, prefix: str) -> None:
    """With DEBUG on, ``GET {prefix}/debug/settings/{name}/sha256`` tells which value
    the app sees for a setting (the sha256 of its UTF-8 bytes, never the value) and
    where it came from, so a test can check what the service manager handed over."""
    if not settings.debug:
        return

    @app.get(prefix + "/debug/settings/{name}/sha256")
    async def setting_sha256(name: str) -> dict[str, str]:
        found = settings.lookup(name)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no setting named {name}")
        value, source = found
        return {"name": name, "sha256": sha256(value.encode("utf-8")).hexdigest(), "source": source}
