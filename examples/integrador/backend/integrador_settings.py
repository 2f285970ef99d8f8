"""Settings shared by the REST API and the WebSocket gateway.

Values come from the process environment first (the service manager loads the
generated ``.env`` into it), then from the first ``.env`` file found relative to
the working directory, then from local-development defaults.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The REST API runs from backend/ and the gateway from the checkout root, so
# each finds the same file through one of these.
ENV_FILES: tuple[Path, ...] = (Path(".env"), Path("backend/.env"))

DEFAULTS: dict[str, str] = {
    "DATABASE_URL": "postgresql://localhost:5432/integrador",
    "REDIS_URL": "redis://localhost:6379/0",
    "JWT_SECRET": "",
    "TABLE_TOKEN_SECRET": "",
    "ALLOWED_ORIGINS": "",
    "DEBUG": "false",
    "ENVIRONMENT": "development",
}

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    jwt_secret: str
    table_token_secret: str
    allowed_origins: tuple[str, ...]
    debug: bool
    environment: str


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; a malformed line is an error, not silently skipped."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def normalise_database_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (``+asyncpg``, ``+psycopg2``) libpq rejects."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith("postgresql+"):
        return f"postgresql://{rest}"
    return url


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_files: Sequence[Path] = ENV_FILES,
) -> Settings:
    environ = os.environ if environ is None else environ
    file_values = next((parse_env_file(path) for path in env_files if path.is_file()), {})

    def get(key: str) -> str:
        if key in environ:
            return environ[key]
        return file_values.get(key, DEFAULTS[key])

    return Settings(
        database_url=normalise_database_url(get("DATABASE_URL")),
        redis_url=get("REDIS_URL"),
        jwt_secret=get("JWT_SECRET"),
        table_token_secret=get("TABLE_TOKEN_SECRET"),
        allowed_origins=tuple(
            origin.strip() for origin in get("ALLOWED_ORIGINS").split(",") if origin.strip()
        ),
        debug=get("DEBUG").strip().lower() in _TRUE_WORDS,
        environment=get("ENVIRONMENT"),
    )
