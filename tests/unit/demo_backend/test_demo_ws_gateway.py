import hashlib
import time
import uuid
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from integrador_settings import load_settings
from rest_api.main import create_app as create_rest_app
from ws_gateway.main import create_app


def client_for(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> TestClient:
    monkeypatch.setenv("REDIS_URL", redis_url)
    return TestClient(create_app(load_settings()))


def numsub(redis_url: str, channel: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return dict(client.pubsub_numsub(channel))[channel.encode()]


def test_liveness_is_ok_with_redis_down(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    client = client_for(monkeypatch, f"redis://127.0.0.1:{closed_port}/0")

    response = client.get("/ws/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "ws_gateway"}


def test_detailed_health_reports_redis_down(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    client = client_for(monkeypatch, f"redis://127.0.0.1:{closed_port}/0")

    response = client.get("/ws/health/detailed")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "down"
    assert "refused" in body["checks"]["redis"]["error"].lower()


def test_websocket_is_closed_with_1011_when_redis_is_down(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    client = client_for(monkeypatch, f"redis://127.0.0.1:{closed_port}/0")

    with (
        client.websocket_connect("/ws/events") as websocket,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        websocket.receive_text()

    assert closed.value.code == 1011
    assert closed.value.reason == "redis unavailable"


def test_detailed_health_is_ok_with_real_redis(monkeypatch: pytest.MonkeyPatch, real_redis_url: str) -> None:
    response = client_for(monkeypatch, real_redis_url).get("/ws/health/detailed")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"redis": {"status": "ok"}},
        "down": [],
    }


def test_published_messages_reach_the_websocket_and_unsubscribe_on_close(
    monkeypatch: pytest.MonkeyPatch, real_redis_url: str
) -> None:
    channel = f"integrador:test:{uuid.uuid4().hex}"
    gateway = client_for(monkeypatch, real_redis_url)
    rest_api = TestClient(create_rest_app(load_settings()))

    with gateway.websocket_connect(f"/ws/events?channel={channel}") as websocket:
        assert websocket.receive_json() == {"type": "subscribed", "channel": channel}
        for text in ("first", '{"type": "order.created"}'):
            published = rest_api.post("/api/publish", json={"channel": channel, "message": text})
            assert published.json() == {"channel": channel, "receivers": 1}
            assert websocket.receive_text() == text

    # Redis drops the subscription when it notices the closed connection.
    deadline = time.monotonic() + 2
    while numsub(real_redis_url, channel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert numsub(real_redis_url, channel) == 0


def test_gateway_debug_reports_the_sha256_of_a_setting(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path, closed_port: int
) -> None:
    """The gateway runs from the checkout root and finds backend/.env, as in the services."""
    (isolated_settings / "backend").mkdir()
    (isolated_settings / "backend" / ".env").write_text('JWT_SECRET="a\\\\b$c"\n', encoding="utf-8")
    monkeypatch.setenv("DEBUG", "1")
    client = client_for(monkeypatch, f"redis://127.0.0.1:{closed_port}/0")

    body = client.get("/ws/debug/settings/JWT_SECRET/sha256").json()
    expected = hashlib.sha256(b"a\\b$c").hexdigest()
    assert body == {"name": "JWT_SECRET", "sha256": expected, "source": "env_file"}
    assert client.get("/ws/debug/settings/INTEGRADOR_NO_SUCH_SETTING/sha256").status_code == 404
