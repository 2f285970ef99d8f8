"""Settings shared by the REST API and the WebSocket gateway.

Values come from the process environment first (the service manager starts the
services through python-dotenv, which puts the generated ``.env`` into it), then
from the first ``.env`` file found relative to the working directory, then from
local-development defaults. Files are read with python-dotenv, the parser the
real backend uses through pydantic-settings: quotes, escapes, ``export`` and
multi-line values mean what they mean there.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from pydantic_settings import (
    BaseSettings,
    SettingsConfigDict,
)

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
    # Every name the app can see, with its value and where it came from
    # (environment, env_file or default): what the debug endpoints report on.
    raw: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def lookup(self, name: str) -> tuple[str, str] | None:
        """The value the app sees for a setting's name, and its source; None when unset."""
        return self.raw.get(name)


def parse_env_file(path: Path) -> dict[str, str]:
    """The file's settings as python-dotenv reads them. A key without ``=`` has no
    value and is left out; a line python-dotenv cannot parse is skipped (it warns)."""
    return {key: value for key, value in dotenv_values(path, encoding="utf-8").items() if value is not None}


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

    raw: dict[str, tuple[str, str]] = {key: (value, "default") for key, value in DEFAULTS.items()}
    raw.update((key, (value, "env_file")) for key, value in file_values.items())
    raw.update((key, (value, "environment")) for key, value in environ.items())

    def get(key: str) -> str:
        return raw[key][0]

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
        raw=raw,
    )


# --- Settings that refuse keys they do not declare ------------------------------------
# The real backend's settings class (pydantic-settings, extra="forbid") stops the app when
# backend/.env holds a key it does not declare: so does the demo, with no exception, or a key
# the provisioning added on its own would go unnoticed. Besides the keys the apps read, it
# declares the optional settings a backend of this kind has (logging, a task broker, error
# reporting, payment and mail credentials, signing keys): the provisioning's tests use those
# names for a developer's own additions, as a developer would first declare a new key.


class StrictSettings(BaseSettings):
    """The keys of backend/.env, validated as the real backend does: unknown ones refused."""

    model_config = SettingsConfigDict(env_file=ENV_FILES, env_file_encoding="utf-8", extra="forbid")

    database_url: str = DEFAULTS["DATABASE_URL"]
    redis_url: str = DEFAULTS["REDIS_URL"]
    jwt_secret: str = DEFAULTS["JWT_SECRET"]
    table_token_secret: str = DEFAULTS["TABLE_TOKEN_SECRET"]
    allowed_origins: str = DEFAULTS["ALLOWED_ORIGINS"]
    debug: str = DEFAULTS["DEBUG"]
    environment: str = DEFAULTS["ENVIRONMENT"]
    # Optional settings, not read by the demo apps (see above).
    log_level: str = "info"
    celery_broker_url: str = ""
    sentry_dsn: str = ""
    stripe_api_key: str = ""
    oauth_token: str = ""
    db_password: str = ""
    session_secret: str = ""
    analytics_url: str = ""
    signing_private: str = ""
    jwt_private_key: str = ""
    smtp_password: str = ""
    export_dir: str = ""
    mail_from: str = ""
    app_label: str = ""


def validate_env_file() -> StrictSettings:
    """Raise pydantic's ValidationError naming every key of .env the backend does not declare."""
    return StrictSettings()
