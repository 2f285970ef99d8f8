"""The .env module run for real by Ansible (ad-hoc, local connection) on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_adhoc import run_module
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[3]
SECRETS = ["JWT_SECRET", "TABLE_TOKEN_SECRET"]


def run(path: Path, values: dict[str, str], *flags: str, secrets: list[str] | None = None) -> tuple[int, str]:
    """ansible localhost -m integrador_env_file, as the role calls it; (rc, all output)."""
    args = {"path": str(path), "values": values, "secrets": SECRETS if secrets is None else secrets}
    done = run_module("integrador_env_file", args, *flags, callback="minimal")
    return done.rc, done.output


def read(path: Path) -> dict[str, str | None]:
    return dict(dotenv_values(path, interpolate=False, encoding="utf-8"))


def test_symlinked_env_is_edited_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "secrets" / "backend.env"
    real.parent.mkdir()
    real.write_bytes(b"# mine\nexport OWN='kept as is'\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    rc, output = run(link, {"DEBUG": "true"})
    assert rc == 0, output
    assert link.is_symlink() and link.resolve() == real
    assert real.read_bytes().startswith(b"# mine\nexport OWN='kept as is'\n")
    assert read(link)["DEBUG"] == "true" and len(read(link)["JWT_SECRET"] or "") == 64
    assert oct(real.stat().st_mode & 0o777) == "0o600"
    before = real.read_bytes()
    rc, output = run(link, {"DEBUG": "true"})
    assert rc == 0 and "SUCCESS" in output, output
    assert real.read_bytes() == before and link.is_symlink()


def test_file_that_is_not_utf8_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    content = "# réglages\nPASSWORD=s\xe9same\n".encode("latin-1")
    path.write_bytes(content)
    os.chmod(path, 0o644)
    rc, output = run(path, {"DEBUG": "true"})
    assert rc != 0
    assert f"{path} is not UTF-8 text (line 1)" in output, output
    assert "Traceback" not in output
    assert path.read_bytes() == content and oct(path.stat().st_mode & 0o777) == "0o644"


def test_value_that_cannot_be_written_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\n")
    rc, output = run(path, {"DEBUG": "true", "GREETING": "hello ${USER}"})
    assert rc != 0
    assert "The value for GREETING cannot be written" in output and "${...}" in output, output
    assert "hello" not in output
    assert path.read_bytes() == b"A=1\n"


def test_secret_set_in_env_extra_is_honoured_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert run(path, {"DEBUG": "true"})[0] == 0
    generated = read(path)["JWT_SECRET"]
    given = "my own JWT secret, with spaces & a 'quote'"
    rc, output = run(path, {"DEBUG": "true", "JWT_SECRET": given}, "--diff")
    assert rc == 0 and "CHANGED" in output, output
    assert read(path)["JWT_SECRET"] == given
    assert given not in output and str(generated) not in output
    for _ in range(2):
        rc, output = run(path, {"DEBUG": "true", "JWT_SECRET": given})
        assert rc == 0 and "SUCCESS" in output and '"changed": false' in output, output
        assert '"kept": []' in output, output
    assert read(path)["JWT_SECRET"] == given


HAND_WRITTEN = (
    "# my settings\r\n"
    "export API_KEY=bare-api-key-1111\r\n"
    "DB_PASSWORD = 'single quoted pw 2222'\r\n"
    'MY_TOKEN="double \\" quoted 3333"\r\n'
    'PRIVATE_PEM="-----BEGIN KEY-----\r\nMIIEpem4444line\r\n-----END KEY-----"\r\n'
    "  export  Stripe_Secret =  'sk_live_5555'  # live\r\n"
    "SENTRY_DSN=https://user:dsn-pass-6666@sentry.example/1\r\n"
)
HAND_SECRETS = [
    "bare-api-key-1111",
    "single quoted pw 2222",
    "quoted 3333",
    "MIIEpem4444line",
    "sk_live_5555",
    "dsn-pass-6666",
]


@pytest.mark.parametrize("flags", [("--check", "--diff", "-vvv"), ("--diff", "-vvv")])
def test_no_secret_is_printed_in_any_syntax(tmp_path: Path, flags: tuple[str, ...]) -> None:
    path = tmp_path / ".env"
    path.write_bytes(HAND_WRITTEN.encode())
    values = {"DATABASE_URL": "postgresql://postgres:pg-pw-7777@127.0.0.1:5432/menu_ops", "DEBUG": "true"}
    rc, output = run(path, values, *flags)
    assert rc == 0 and "CHANGED" in output, output
    # The diff says what changes, without the values.
    assert "+JWT_SECRET=******** (new)" in output, output
    assert "+DATABASE_URL=postgresql://postgres:********@127.0.0.1:5432/menu_ops" in output, output
    for value in [*HAND_SECRETS, "pg-pw-7777"]:
        assert value not in output, value
    if "--check" in flags:
        assert path.read_bytes() == HAND_WRITTEN.encode()
    else:
        assert path.read_bytes().startswith(HAND_WRITTEN.encode())
        for key in SECRETS:
            assert str(read(path)[key]) not in output


def test_bom_and_crlf_file_is_kept_and_the_bom_reported(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    content = "\ufeffOWN=1\r\nPEM='a\r\nb'\r\n".encode()
    path.write_bytes(content)
    rc, output = run(path, {"DEBUG": "true"})
    assert rc == 0, output
    assert "byte order mark" in output, output
    assert path.read_bytes().startswith(content)
    assert b"\r\nDEBUG=true\r\n" in path.read_bytes() and path.read_bytes().count(
        b"\n"
    ) == path.read_bytes().count(b"\r\n")


def test_a_key_no_longer_asked_for_is_removed_unless_edited_by_hand(tmp_path: Path) -> None:
    """Issue 23, 5: a key dropped from python_env_env_extra stayed in .env for ever, and a backend
    whose settings refuse unknown keys then could not start. The real module, twice."""
    path = tmp_path / ".env"
    path.write_bytes(b"# mine\nOWN=1\n")
    assert run(path, {"DEBUG": "true", "LOG_LEVEL": "debug", "SENTRY_DSN": "x"})[0] == 0
    text = path.read_text()
    # A hand edit of one of them since.
    path.write_text(text.replace("SENTRY_DSN=x", "SENTRY_DSN=mine"))
    rc, output = run(path, {"DEBUG": "true"})
    assert rc == 0, output
    values = read(path)
    assert "LOG_LEVEL" not in values and values["SENTRY_DSN"] == "mine" and values["OWN"] == "1"
    assert path.read_bytes().startswith(b"# mine\nOWN=1\n")
    assert values["JWT_SECRET"] and values["DEBUG"] == "true"
    # The next run changes nothing; the hand-edited key is now the user's own.
    before = path.read_bytes()
    rc, output = run(path, {"DEBUG": "true"})
    assert rc == 0 and "SUCCESS" in output and path.read_bytes() == before, output


def test_a_secret_set_in_env_extra_and_then_dropped_is_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert run(path, {"DEBUG": "true", "JWT_SECRET": "chosen-by-me"})[0] == 0
    assert run(path, {"DEBUG": "true"})[0] == 0
    assert read(path)["JWT_SECRET"] == "chosen-by-me"


@pytest.mark.parametrize("value", [None, False, 1.1, ["first-host", "second-host"], 5])
def test_a_value_that_is_not_text_is_refused_untouched(tmp_path: Path, value: object) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\n")
    rc, output = run(path, {"DEBUG": "true", "SENTRY_DSN": value})  # type: ignore[dict-item]
    assert rc != 0 and "the values of SENTRY_DSN are not text" in output, output
    assert path.read_bytes() == b"A=1\n"


def test_started_records_are_compared_with_the_file_as_it_is_left(tmp_path: Path) -> None:
    """Issue 23, 2: a hand edit of .env never reached the services. Each service's launcher
    records the bytes it read; the module says which started with other bytes."""
    import hashlib
    import json

    from ansible_adhoc import run_module

    path = tmp_path / ".env"
    assert run(path, {"DEBUG": "true"})[0] == 0
    started = tmp_path / "started"
    started.mkdir()
    now = hashlib.sha256(path.read_bytes()).hexdigest()
    (started / "api.json").write_text(json.dumps({"env_file": str(path), "sha256": now, "pid": 1}))
    (started / "ws.json").write_text(json.dumps({"env_file": str(path), "sha256": "0" * 64, "pid": 2}))
    (started / "other.json").write_text(json.dumps({"env_file": "/elsewhere/.env", "sha256": now}))
    (started / "broken.json").write_text("{")
    args = {"path": str(path), "values": {"DEBUG": "true"}, "secrets": SECRETS, "started_dir": str(started)}
    done = run_module("integrador_env_file", args, callback="json")
    assert done.rc == 0, done.output
    assert '"api": "current"' in done.output and '"ws": "stale"' in done.output, done.output
    assert '"broken": "stale"' in done.output and '"other"' not in done.output, done.output
