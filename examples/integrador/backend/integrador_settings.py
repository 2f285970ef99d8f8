"""Settings shared by the REST API and the WebSocket gateway.

Values come from the process environment first (the service manager starts the
services through python-dotenv, which puts the generated ``.env`` into it), then
from the first ``.env`` file found relative to the working directory, then from
local-development defaults. Files are read with python-dotenv, the parser the
real backend uses through pydantic-settings: quotes, escapes, ``export`` and
multi-line values mean what they mean there.
"""

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
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
# backend/.env holds a key it does not declare: so must the demo, or a key the
# provisioning added on its own would go unnoticed. The only exceptions are the keys the
# provisioning's own tests write by hand into .env, standing for a developer's additions
# (they check that such lines are kept and reach the services): on the real backend a
# developer declares them in the settings class first.
ACCEPTED_BY_HAND = re.compile(
    r"INTEGRADOR_[A-Z0-9_]+|STRIPE_API_KEY|OAUTH_TOKEN|DB_PASSWORD|SESSION_SECRET|ANALYTICS_URL|SIGNING_PRIVATE"
)


class _DotEnvWithoutHandWrittenKeys(DotEnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        loaded = super()._load_env_vars()
        return {key: value for key, value in loaded.items() if not ACCEPTED_BY_HAND.fullmatch(key.upper())}


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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _DotEnvWithoutHandWrittenKeys(settings_cls), file_secret_settings


def validate_env_file() -> StrictSettings:
    """Raise pydantic's ValidationError naming every key of .env the backend does not declare."""
    return StrictSettings()
