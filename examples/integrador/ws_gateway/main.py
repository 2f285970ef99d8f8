import asyncio
import logging
from functools import partial

import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from integrador_deps import (
    DEFAULT_CHANNEL,
    TIMEOUT_SECONDS,
    add_debug_routes,
    check_redis,
    health_response,
)
from integrador_settings import Settings, load_settings, validate_env_file

logger = logging.getLogger(__name__)

# Liveness paths. The real gateway answers /health, not the old README's /ws/health, which
# the demo keeps too because the provisioning's scenarios and CI check it by name; a
# checkout whose gateway answers /health alone is what app_services' health fallback
# serves (its test makes one from this file by dropping /ws/health here).
HEALTH_PATHS = ("/health", "/ws/health")


def _pubsub_client(url: str) -> aioredis.Redis:
    # No socket_timeout: a subscriber legitimately sits idle between messages.
    # No retries: a client whose Redis is down should hear so at once.
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


async def _forward(pubsub: PubSub, channel: str, websocket: WebSocket) -> None:
    await pubsub.subscribe(channel)
    async for message in pubsub.listen():
        # Redis confirms the subscription in-band; only after that is a publish
        # guaranteed to reach us, so that is when the client is told to go ahead.
        if message["type"] == "subscribe":
            await websocket.send_json({"type": "subscribed", "channel": channel})
        elif message["type"] == "message":
            await websocket.send_text(message["data"])


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    # The feed is one-way: anything the client sends is ignored, but reading is
    # the only way to notice that it has gone while no messages are flowing.
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="Integrador demo WebSocket gateway", debug=settings.debug)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "ws_gateway"}

    for path in HEALTH_PATHS:
        app.add_api_route(path, health, methods=["GET"])

    # Plain `def`: the blocking redis check runs in FastAPI's threadpool.
    @app.get("/ws/health/detailed")
    def health_detailed() -> JSONResponse:
        return health_response({"redis": partial(check_redis, settings.redis_url)})

    @app.websocket("/ws/events")
    async def events(websocket: WebSocket, channel: str = DEFAULT_CHANNEL) -> None:
        await websocket.accept()
        # Leaving these blocks closes the pub/sub connection, which ends the
        # subscription on the Redis side too.
        async with (
            _pubsub_client(settings.redis_url) as client,
            client.pubsub() as pubsub,
        ):
            forward = asyncio.create_task(_forward(pubsub, channel, websocket))
            disconnect = asyncio.create_task(_wait_for_disconnect(websocket))
            done, pending = await asyncio.wait({forward, disconnect}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if forward in done:
                try:
                    forward.result()
                except WebSocketDisconnect:
                    pass  # The client went away while a message was being sent.
                except RedisError:
                    logger.warning("redis pub/sub on %r failed", channel, exc_info=True)
                    await websocket.close(code=status.WS_1011_INTERNAL_ERROR, reason="redis unavailable")

    add_debug_routes(app, settings, "/ws")
    return app


# As the real backend: an unknown key in .env stops the start, naming the key.
validate_env_file()
app = create_app()
