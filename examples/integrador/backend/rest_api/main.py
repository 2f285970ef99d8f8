from functools import partial

import redis
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from integrador_deps import (
    DEFAULT_CHANNEL,
    add_debug_routes,
    check_postgres,
    check_redis,
    describe,
    health_response,
    redis_client,
)
from integrador_settings import Settings, load_settings


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

    # Plain `def` endpoints: FastAPI runs them in its threadpool, so the
    # blocking psycopg2 and redis calls do not stall the event loop.
    @app.get("/api/health/detailed")
    def health_detailed() -> JSONResponse:
        return health_response(
            {
                "postgres": partial(check_postgres, settings.database_url),
                "redis": partial(check_redis, settings.redis_url),
            }
        )

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


app = create_app()
