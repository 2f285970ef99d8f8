"""No output of a run shows a secret: not with --check --diff, not with -vvv, not in
the summary, whatever syntax the user wrote the secret in (issue 10, "Secrets never
printed")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import LaptopPaths, scenario_vars

# The laptop's .env as this scenario's vars give it (molecule/conftest.py).
ENV_FILE = LaptopPaths.of(scenario_vars("default")).env_file
PG_PASSWORD = "itest-pg-pass-Qx7"
REDIS_PASSWORD = "itest-redis-pass-Vm4"
# One hand-written secret in each syntax a .env line can take; every value is
# distinctive so finding it in the output cannot be a coincidence.
HAND_WRITTEN = {
    "export STRIPE_API_KEY=hand-key-A1": "hand-key-A1",
    "OAUTH_TOKEN = hand-token-B2": "hand-token-B2",
    "DB_PASSWORD='hand-pass-C3'": "hand-pass-C3",
    'export SESSION_SECRET="hand-secret-D4 with $dollar"': "hand-secret-D4",
    "ANALYTICS_URL=postgresql://reader:hand-urlpass-G7@db.internal:5432/x": "hand-urlpass-G7",
}
PEM = (
    'SIGNING_PRIVATE="-----BEGIN PRIVATE KEY-----\n'
    "handPEMbodyE5xyz\n"
    'handPEMbodyF6xyz\n-----END PRIVATE KEY-----"'
)
PEM_SECRETS = ["handPEMbodyE5xyz", "handPEMbodyF6xyz"]


def value_of(text: str, key: str) -> str:
    match = re.search(rf"^(?:export\s+)?{key}\s*=\s*['\"]?([^'\"\r\n]+)", text, re.MULTILINE)
    assert match, f"{key} not in .env:\n{text}"
    return match.group(1)


@pytest.fixture
def hand_written_env(host: Any) -> Iterator[str]:
    """backend/.env with the user's own secrets added and TABLE_TOKEN_SECRET deleted
    (a pending change: the next run generates it); the original file afterwards."""
    original = host.file(ENV_FILE).content_string
    lines = [line for line in original.splitlines() if not line.startswith("TABLE_TOKEN_SECRET=")]
    edited = "\n".join([*lines, *HAND_WRITTEN, PEM]) + "\n"
    host.run(f"cat > {ENV_FILE} <<'ITEST_EOF'\n{edited}ITEST_EOF")
    assert host.file(ENV_FILE).content_string == edited
    yield original
    host.run(f"cat > {ENV_FILE} <<'ITEST_EOF'\n{original}ITEST_EOF")


def assert_no_secret(output: str, secrets: list[str]) -> None:
    shown = [secret for secret in secrets if secret in output]
    assert not shown, f"output shows {shown}"


def test_no_run_prints_a_secret(host: Any, converge: Callable[..., Any], hand_written_env: str) -> None:
    known = [
        PG_PASSWORD,
        REDIS_PASSWORD,
        value_of(hand_written_env, "JWT_SECRET"),
        value_of(hand_written_env, "TABLE_TOKEN_SECRET"),
        *HAND_WRITTEN.values(),
        *PEM_SECRETS,
    ]
    dry = converge(None, "--check", "--diff", "-vvv")
    assert dry.rc == 0, dry
    assert dry.changed > 0, dry  # the deleted secret is a pending change
    assert_no_secret(dry.output, known)

    real = converge(None, "--diff", "-vvv")
    assert real.rc == 0, real
    after = host.file(ENV_FILE).content_string
    generated = value_of(after, "TABLE_TOKEN_SECRET")
    assert generated not in known
    assert_no_secret(real.output, [*known, generated])
    # Everything the user wrote is still there, byte for byte.
    for line in [*HAND_WRITTEN, PEM]:
        assert line in after


def test_a_failure_message_prints_no_secret(converge: Callable[..., Any]) -> None:
    """A run that fails (a health path the API does not serve) reports the journal's
    last lines and the answer without showing the passwords."""
    result = converge(
        {"app_services_api_health_path": "/itest/no-such-path", "app_services_health_timeout": 3}, "-vvv"
    )
    try:
        assert result.rc != 0, result
        assert_no_secret(result.output, [PG_PASSWORD, REDIS_PASSWORD])
    finally:
        assert converge().rc == 0
