"""Clients for, and health checks of, the backing services both apps share."""

import os
from collections.abc import Awaitable, Callable, Mapping
from hashlib import sha256

import redis
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

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


def async_url(database_url: str | None = None) -> str:
    """DATABASE_URL for SQLAlchemy's asyncpg dialect, whatever driver suffix it was written with
    (the settings drop it for libpq; the scripts read it from the environment .env was loaded into)."""
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL", "")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ValueError("DATABASE_URL is not a postgresql:// URL")
    return f"postgresql+asyncpg://{rest}"


def create_engine_for(url: str) -> AsyncEngine:
    # No pool: each check opens its own connection, so a restarted database is seen at
    # once and a wedged one cannot hold a pooled connection.
    return create_async_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "timeout": TIMEOUT_SECONDS,
            "command_timeout": TIMEOUT_SECONDS,
            # A server that accepts connections but is wedged must not hang the check.
            "server_settings": {"statement_timeout": str(TIMEOUT_SECONDS * 1000)},
        },
    )


async def check_postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        found = await connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))
        if found.first() is None:
            raise RuntimeError("vector extension not installed")


def describe(error: Exception) -> str:
    # Server messages run over several lines of hints; the first names the problem. A
    # socket error says only "Connect call failed": its class says it was refused.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {first}" if first else type(error).__name__
    return first or type(error).__name__


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


async def health_response_async(checks: Mapping[str, Callable[[], Awaitable[None]]]) -> JSONResponse:
    """health_response for checks that are coroutines (the async database engine)."""
    results: dict[str, dict[str, str]] = {}
    down: list[str] = []
    for name, check in checks.items():
        try:
            await check()
        except Exception as error:
            results[name] = {"status": "down", "error": describe(error)}
            down.append(name)
        else:
            results[name] = {"status": "ok"}
    return JSONResponse(
        status_code=503 if down else 200,
        content={"status": "degraded" if down else "ok", "checks": results, "down": down},
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
