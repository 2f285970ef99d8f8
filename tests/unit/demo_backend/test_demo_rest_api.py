import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from integrador_settings import load_settings
from rest_api.main import create_app


def client_for(monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app(load_settings()))


def dead_urls(port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgresql+asyncpg://app@127.0.0.1:{port}/integrador",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
    }


def test_liveness_is_ok_even_with_every_dependency_down(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    client = client_for(monkeypatch, **dead_urls(closed_port))

    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "rest_api"}


def test_detailed_health_reports_both_dependencies_down(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    client = client_for(monkeypatch, **dead_urls(closed_port))

    response = client.get("/api/health/detailed")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["postgres", "redis"]
    for name in ("postgres", "redis"):
        assert body["checks"][name]["status"] == "down"
    assert "refused" in body["checks"]["postgres"]["error"].lower()
    assert "refused" in body["checks"]["redis"]["error"].lower()


def test_publish_reports_redis_down(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    client = client_for(monkeypatch, **dead_urls(closed_port))

    response = client.post("/api/publish", json={"message": "hello"})

    assert response.status_code == 503
    assert response.json()["detail"].startswith("redis unavailable: ")


def test_publish_requires_a_message(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    client = client_for(monkeypatch, **dead_urls(closed_port))

    assert client.post("/api/publish", json={"channel": "x"}).status_code == 422


def test_cors_allows_only_configured_origins(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    client = client_for(
        monkeypatch,
        ALLOWED_ORIGINS="http://localhost:5173,http://localhost:5174",
        **dead_urls(closed_port),
    )
    preflight = {"Access-Control-Request-Method": "GET"}

    allowed = client.options("/api/health", headers={"Origin": "http://localhost:5174", **preflight})
    refused = client.options("/api/health", headers={"Origin": "http://evil.example", **preflight})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5174"
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_detailed_health_names_only_postgres_when_redis_is_up(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, real_redis_url: str
) -> None:
    client = client_for(
        monkeypatch,
        DATABASE_URL=dead_urls(closed_port)["DATABASE_URL"],
        REDIS_URL=real_redis_url,
    )

    response = client.get("/api/health/detailed")

    assert response.status_code == 503
    assert response.json()["down"] == ["postgres"]
    assert response.json()["checks"]["redis"] == {"status": "ok"}


def test_detailed_health_names_only_redis_when_postgres_is_up(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, real_database_url: str
) -> None:
    client = client_for(
        monkeypatch,
        DATABASE_URL=real_database_url,
        REDIS_URL=dead_urls(closed_port)["REDIS_URL"],
    )

    response = client.get("/api/health/detailed")

    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["checks"]["postgres"] == {"status": "ok"}


def test_detailed_health_is_ok_with_real_dependencies(
    monkeypatch: pytest.MonkeyPatch, real_database_url: str, real_redis_url: str
) -> None:
    client = client_for(monkeypatch, DATABASE_URL=real_database_url, REDIS_URL=real_redis_url)

    response = client.get("/api/health/detailed")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": {"status": "ok"}, "redis": {"status": "ok"}},
        "down": [],
    }


def test_debug_reports_the_sha256_of_a_setting_and_its_source(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    value = "line one\nline $two #three \\four \"'"
    (isolated_settings / ".env").write_text("export JWT_SECRET='from the file'\n", encoding="utf-8")
    client = client_for(monkeypatch, DEBUG="true", TABLE_TOKEN_SECRET=value)

    response = client.get("/api/debug/settings/TABLE_TOKEN_SECRET/sha256")
    assert response.status_code == 200
    assert response.json() == {
        "name": "TABLE_TOKEN_SECRET",
        "sha256": hashlib.sha256(value.encode()).hexdigest(),
        "source": "environment",
    }
    assert value not in response.text
    from_file = client.get("/api/debug/settings/JWT_SECRET/sha256").json()
    assert from_file["sha256"] == hashlib.sha256(b"from the file").hexdigest()
    assert from_file["source"] == "env_file"
    assert client.get("/api/debug/settings/REDIS_URL/sha256").json()["source"] == "default"


def test_debug_answers_404_for_an_unknown_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTEGRADOR_NO_SUCH_SETTING", raising=False)
    client = client_for(monkeypatch, DEBUG="true")

    response = client.get("/api/debug/settings/INTEGRADOR_NO_SUCH_SETTING/sha256")
    assert response.status_code == 404
    assert "no setting named INTEGRADOR_NO_SUCH_SETTING" in response.text


def test_debug_route_is_absent_without_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(monkeypatch, DEBUG="false", JWT_SECRET="x")

    assert client.get("/api/debug/settings/JWT_SECRET/sha256").status_code == 404
