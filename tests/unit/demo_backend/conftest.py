import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_ROOT = Path(__file__).resolve().parents[3] / "examples" / "integrador"

# Mirror how the services run: backend/ on the path for rest_api and the shared
# modules, the example root for ws_gateway.
for path in (EXAMPLE_ROOT, EXAMPLE_ROOT / "backend"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

SETTING_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "TABLE_TOKEN_SECRET",
    "ALLOWED_ORIGINS",
    "DEBUG",
    "ENVIRONMENT",
)


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run each test in an empty directory, with no setting in the environment."""
    for key in SETTING_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on, so connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The real servers these tests need: TEST_REDIS_URL / TEST_DATABASE_URL when given, else the
# tests' own stand-in images (make images) started here on free ports for the session, so the
# tests run wherever the suite runs (they were skipped in every CI run before). Skipped, saying
# why, only where no Docker engine answers or the images were never built.
REDIS_IMAGE = "integrador-test/redis:7"
PGVECTOR_IMAGE = "integrador-test/pgvector:pg16"


def _docker() -> Any:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine to use
        pytest.skip(f"no Docker engine answers ({exc}): set TEST_REDIS_URL / TEST_DATABASE_URL")
    return client


def _started(client: Any, image: str, port: str, **options: Any) -> tuple[Any, int]:
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{image} is not built (make images), and no URL was given")
    container = client.containers.run(
        image,
        detach=True,
        remove=True,
        ports={port: ("127.0.0.1", None)},
        labels={"integrador.unit-test": "1"},
        **options,
    )
    container.reload()
    return container, int(container.attrs["NetworkSettings"]["Ports"][port][0]["HostPort"])


def _wait(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - retried until the server answers
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer within {timeout} s: {last}")


@pytest.fixture(scope="session")
def real_redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    client = _docker()
    container, port = _started(client, REDIS_IMAGE, "6379/tcp")
    try:
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        _wait(lambda: redis.Redis.from_url(url, socket_timeout=2).ping(), "the stand-in Redis")
        yield url
    finally:
        container.stop(timeout=2)


@pytest.fixture(scope="session")
def real_database_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    client = _docker()
    password = "unit-test-pg"
    container, port = _started(
        client, PGVECTOR_IMAGE, "5432/tcp", environment={"POSTGRES_PASSWORD": password}
    )
    try:
        url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        import psycopg2

        def ready() -> None:
            with psycopg2.connect(url, connect_timeout=2) as conn, conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS vector")

        _wait(ready, "the stand-in PostgreSQL")
        yield url
    finally:
        container.stop(timeout=2)
