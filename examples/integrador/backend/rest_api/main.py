from functools import partial

import redis
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from integrador_deps import (
    DEFAULT_CHANNEL,
    add_debug_routes,
    async_url,
    check_postgres,
    check_redis,
    create_engine_for,
    describe,
    health_response_async,
    redis_client,
)
from integrador_settings import Settings, load_settings, validate_env_file


class PublishRequest(BaseModel):
    channel: str = DEFAULT_CHANNEL
    message: str


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="Integrador demo REST API", debug=settings.debug)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "rest_api"}

    # PostgreSQL through SQLAlchemy's async engine (asyncpg), as the real backend; the
    # blocking redis client in the threadpool, so it does not stall the event loop.
    engine = create_engine_for(async_url(settings.database_url))

    @app.get("/api/health/detailed")
    async def health_detailed() -> JSONResponse:
        return await health_response_async(
            {
                "postgres": partial(check_postgres, engine),
                "redis": partial(run_in_threadpool, check_redis, settings.redis_url),
            }
        )

    # The rows the migration's table holds (the seed's demo menu).
    @app.get("/api/menu")
    async def menu() -> list[dict[str, str | int]]:
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT name, price_cents FROM menu_items ORDER BY id"))
                return [{"name": name, "price_cents": price} for name, price in rows]
        except Exception as error:
            raise HTTPException(status_code=503, detail=f"database unavailable: {describe(error)}") from error

    @app.post("/api/publish")
    def publish(request: PublishRequest) -> dict[str, str | int]:
        try:
            with redis_client(settings.redis_url) as client:
                receivers = client.publish(request.channel, request.message)
        except redis.RedisError as error:
            raise HTTPException(status_code=503, detail=f"redis unavailable: {describe(error)}") from error
        return {"channel": request.channel, "receivers": receivers}

    add_debug_routes(app, settings, "/api")
    return app


# As the real backend: an unknown key in .env stops the start, naming the key.
validate_env_file()
app = create_app()
