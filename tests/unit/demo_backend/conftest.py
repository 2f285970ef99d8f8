import os
import socket
import sys
from pathlib import Path

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


@pytest.fixture
def real_redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no real Redis to test against")
    return url


@pytest.fixture
def real_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: no real PostgreSQL with pgvector to use")
    return url
