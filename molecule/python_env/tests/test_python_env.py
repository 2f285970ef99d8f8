"""What a developer would check after converging the python_env role (as `dev`)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_ENV_KEYS, LaptopPaths, readme_examples, run_readme_example, scenario_vars
from conftest import read_env as read_env_file
from dotenv import dotenv_values

# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("python_env"))
ROOT = PATHS.root
VENV = PATHS.venv
ENV_FILE = PATHS.env_file
REQS = PATHS.requirements


def read_env(host: Any) -> dict[str, str]:
    return read_env_file(host, ENV_FILE)


def run_ok(host: Any, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_demo_backend_imports_from_the_venv(host: Any) -> None:
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")
    run_ok(host, f"cd {ROOT} && PYTHONPATH={ROOT}/backend {VENV}/bin/python -c 'import ws_gateway.main'")


def test_env_file_has_exactly_the_keys_private_to_the_user(host: Any, test_vars: dict[str, Any]) -> None:
    env_file = host.file(ENV_FILE)
    assert env_file.user == PATHS.user
    assert env_file.mode == 0o600
    entries = read_env(host)
    assert list(entries) == DEMO_ENV_KEYS
    port, redis_port = test_vars["postgres_pgvector_port"], test_vars["redis_port"]
    # The demo backend's requirements name asyncpg: the scheme follows it, unasked.
    assert entries["DATABASE_URL"] == f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{port}/menu_ops"
    assert entries["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}"
    for key in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert len(entries[key]) >= 32
        assert all(c.isalnum() or c in "-_" for c in entries[key]), f"{key} is not URL-safe"
    assert entries["JWT_SECRET"] != entries["TABLE_TOKEN_SECRET"]


def test_no_change_run_does_not_invoke_pip(host: Any, converge: Callable[..., Any]) -> None:
    # Hide pip: a converge that ran it would fail.
    site = run_ok(
        host, f"{VENV}/bin/python -c 'import pip, os; print(os.path.dirname(pip.__path__[0]))'"
    ).strip()
    run_ok(host, f"mv {site}/pip {site}/pip.hidden")
    try:
        result = converge()
    finally:
        run_ok(host, f"mv {site}/pip.hidden {site}/pip")
    assert result.rc == 0, result
    assert result.changed == 0, result


def test_secrets_are_stable_and_never_printed(host: Any, converge: Callable[..., Any]) -> None:
    before = read_env(host)
    result = converge(None, "--diff", "-v")
    assert result.rc == 0, result
    assert read_env(host) == before
    for key in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert before[key] not in result.output, f"{key} was printed"


def test_hand_edit_survives_and_a_deleted_secret_alone_is_regenerated(
    host: Any, converge: Callable[..., Any]
) -> None:
    before = read_env(host)
    run_ok(host, f"sed -i -e 's/^DEBUG=.*/DEBUG=false/' -e '/^TABLE_TOKEN_SECRET=/d' {ENV_FILE}")
    result = converge(None, "--diff")
    assert result.rc == 0, result
    assert "Kept hand-edited DEBUG" in result.output, result
    after = read_env(host)
    assert after["DEBUG"] == "false"
    assert after["JWT_SECRET"] == before["JWT_SECRET"]
    assert after["TABLE_TOKEN_SECRET"] != before["TABLE_TOKEN_SECRET"]
    assert len(after["TABLE_TOKEN_SECRET"]) >= 32
    assert after["TABLE_TOKEN_SECRET"] not in result.output
    assert host.file(ENV_FILE).mode == 0o600
    # Deleting the hand-edited line hands it back to the role.
    run_ok(host, f"sed -i '/^DEBUG=/d' {ENV_FILE}")
    assert converge().rc == 0
    assert read_env(host)["DEBUG"] == "true"


def test_changed_setting_updates_the_url_it_wrote(host: Any, converge: Callable[..., Any]) -> None:
    # python_env_database_url_scheme overrides what the requirements name.
    result = converge({"python_env_database_url_scheme": "postgresql+psycopg"})
    assert result.rc == 0, result
    assert read_env(host)["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert converge().rc == 0
    assert read_env(host)["DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_requirement_change_installs_exactly_once(host: Any, converge: Callable[..., Any]) -> None:
    run_ok(host, f"cp {REQS} {REQS}.orig && echo 'six==1.17.0' >> {REQS}")
    try:
        first = converge()
        assert first.rc == 0, first
        assert first.changed >= 1, first
        run_ok(host, f"{VENV}/bin/python -c 'import six'")
        second = converge()
        assert second.rc == 0, second
        assert second.changed == 0, second
    finally:
        run_ok(host, f"mv {REQS}.orig {REQS}")
    assert converge().rc == 0


def test_broken_venv_is_rebuilt(host: Any, converge: Callable[..., Any]) -> None:
    # What an OS upgrade does: the interpreter the venv points at is gone.
    run_ok(host, f"ln -sfn /nonexistent/python3 {VENV}/bin/python")
    result = converge()
    assert result.rc == 0, result
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")


@pytest.mark.parametrize("minimum", ["3.99"])
def test_python_older_than_minimum_is_refused(host: Any, converge: Callable[..., Any], minimum: str) -> None:
    version = run_ok(host, "python3 -c 'import platform; print(platform.python_version())'").strip()
    result = converge({"python_env_min_version": minimum})
    assert result.rc != 0
    assert f"No Python of at least {minimum} (python_env_min_version) was found: Python {version} at" in (
        result.output
    ), result
    assert "point python_env_python at it" in result.output
    # The existing venv was not touched.
    run_ok(host, f"cd {ROOT}/backend && {VENV}/bin/python -c 'import rest_api.main'")


def test_folder_that_is_not_a_checkout_is_refused(converge: Callable[..., Any]) -> None:
    result = converge({"integrador_root": "/tmp"})
    assert result.rc != 0
    assert (
        "integrador_root /tmp is not an Integrador checkout: expected the REST API at "
        "/tmp/backend/rest_api/main.py" in result.output
    ), result


def test_too_little_free_disk_is_refused_before_pip(host: Any, converge: Callable[..., Any]) -> None:
    host.run(f"rm -rf {VENV}")
    result = converge({"python_env_min_free_mb": 10**9})
    assert result.rc != 0
    assert "MB free on the file system of" in result.output, result
    assert "the virtualenv and its requirements need about 1000000000 MB" in result.output
    assert not host.file(VENV).exists
    assert converge().rc == 0


# A developer's own .env, written by hand: comments, CR LF endings, export, spaces around =,
# quotes of each kind, a multi-line PEM key, their own JWT secret, and secrets in each syntax.
HAND_WRITTEN = (
    "# My own settings -- do not lose them\r\n"
    "\r\n"
    "export JWT_SECRET='my-own-jwt-secret-8888'\r\n"
    "export API_KEY=bare-api-key-1111\r\n"
    "DB_PASSWORD = 'single quoted pw 2222'\r\n"
    'MY_TOKEN="double \\" quoted 3333"  # rotated monthly\r\n'
    'PRIVATE_PEM="-----BEGIN PRIVATE KEY-----\r\nMIIEpem4444line\r\n-----END PRIVATE KEY-----"\r\n'
    "  export  Stripe_Secret =  'sk_live_5555'\r\n"
    "SENTRY_DSN=https://user:dsn-pass-6666@sentry.example/1\r\n"
    "DEBUG=true\r\n"
)
HAND_SECRETS = [
    "my-own-jwt-secret-8888",
    "bare-api-key-1111",
    "single quoted pw 2222",
    "quoted 3333",
    "MIIEpem4444line",
    "sk_live_5555",
    "dsn-pass-6666",
]


def write_env(host: Any, content: bytes) -> None:
    encoded = base64.b64encode(content).decode()
    run_ok(host, f"echo {encoded} | base64 -d > {ENV_FILE}")
    run_ok(host, f"chown {PATHS.user}:{PATHS.user} {ENV_FILE} && chmod 600 {ENV_FILE}")


def dotenv_read(content: bytes, tmp_path: Path) -> dict[str, str | None]:
    """What the backend's python-dotenv reads from these bytes."""
    path = tmp_path / "env"
    path.write_bytes(content)
    return dict(dotenv_values(path, interpolate=False, encoding="utf-8"))


def test_hand_written_env_keeps_every_line_byte_for_byte(
    host: Any, converge: Callable[..., Any], tmp_path: Path
) -> None:
    write_env(host, HAND_WRITTEN.encode())
    result = converge()
    assert result.rc == 0, result
    content = host.file(ENV_FILE).content
    # Every line of the user's is where it was, byte for byte; ours are appended (CR LF too).
    assert content.startswith(HAND_WRITTEN.encode()), content
    assert b"\r\nDATABASE_URL=" in content and content.count(b"\n") == content.count(b"\r\n")
    values = dotenv_read(content, tmp_path)
    assert values["JWT_SECRET"] == "my-own-jwt-secret-8888"
    assert values["PRIVATE_PEM"] == "-----BEGIN PRIVATE KEY-----\nMIIEpem4444line\n-----END PRIVATE KEY-----"
    assert values["MY_TOKEN"] == 'double " quoted 3333'
    assert len(values["TABLE_TOKEN_SECRET"] or "") == 64
    assert values["DATABASE_URL"] and values["DATABASE_URL"].startswith("postgresql+asyncpg://postgres:")
    again = converge()
    assert again.rc == 0 and again.changed == 0, again
    assert host.file(ENV_FILE).content == content


def test_check_diff_and_vvv_print_no_secret(host: Any, converge: Callable[..., Any], tmp_path: Path) -> None:
    content = host.file(ENV_FILE).content
    assert content.startswith(HAND_WRITTEN.encode())
    generated = dotenv_read(content, tmp_path)["TABLE_TOKEN_SECRET"]
    # A pending change: the generated secret's line deleted, DATABASE_URL's line too.
    pending = b"".join(
        line
        for line in content.splitlines(keepends=True)
        if not line.startswith((b"TABLE_TOKEN_SECRET=", b"DATABASE_URL="))
    )
    write_env(host, pending)
    for check in (["--check"], []):
        result = converge(None, *check, "--diff", "-vvv")
        assert result.rc == 0, result
        assert "TABLE_TOKEN_SECRET=******** (new)" in result.output, result
        assert "DATABASE_URL=postgresql+asyncpg://postgres:********@" in result.output, result
        written = host.file(ENV_FILE).content
        if check:
            assert written == pending
        else:
            assert written.startswith(HAND_WRITTEN.encode())
            regenerated = dotenv_read(written, tmp_path)["TABLE_TOKEN_SECRET"]
            assert regenerated and regenerated not in result.output
        for value in [*HAND_SECRETS, str(generated), "postgres:postgres@"]:
            assert value not in result.output, f"{value!r} was printed"


def test_ipv6_bind_address_is_bracketed_in_the_urls(
    host: Any, converge: Callable[..., Any], tmp_path: Path
) -> None:
    result = converge({"python_env_bind_address": "::"})
    assert result.rc == 0, result
    values = dotenv_read(host.file(ENV_FILE).content, tmp_path)
    assert "@[::1]:" in str(values["DATABASE_URL"]), "DATABASE_URL has no [::1]"
    assert str(values["REDIS_URL"]).startswith("redis://[::1]:"), values["REDIS_URL"]
    # Back to the default: the URLs we wrote follow; then a fresh .env for the tests after.
    assert converge().rc == 0
    assert "@127.0.0.1:" in str(dotenv_read(host.file(ENV_FILE).content, tmp_path)["DATABASE_URL"])
    run_ok(host, f"rm {ENV_FILE}")
    assert converge().rc == 0


def test_scheme_follows_the_driver_the_requirements_include(host: Any, converge: Callable[..., Any]) -> None:
    """A checkout whose requirements.txt includes (-r) a file naming psycopg 3 with extras, a
    marker gets postgresql+psycopg, and the run says why; the demo's own asyncpg
    comes back with the file. An included file's change also reinstalls (the fingerprint)."""
    include = f"{ROOT}/backend/requirements-db.txt"
    run_ok(host, f"cp {REQS} {REQS}.orig")
    included = '# psycopg 3, binary build\npsycopg[binary]==3.2.13 ; python_version >= "3.8"\n'
    run_ok(host, f"cat > {include} <<'ITEST_EOF'\n{included}ITEST_EOF")
    run_ok(host, f"sed -i '/^asyncpg==/d' {REQS}")
    run_ok(host, f"echo '-r requirements-db.txt  # the database driver' >> {REQS}")
    try:
        result = converge()
        assert result.rc == 0, result
        assert read_env(host)["DATABASE_URL"].startswith("postgresql+psycopg://"), read_env(host)
        assert "the requirements name psycopg (backend/requirements-db.txt:2)" in result.output, result
        run_ok(host, f"{VENV}/bin/python -c 'import psycopg'")
        assert converge().changed == 0
    finally:
        run_ok(host, f"mv {REQS}.orig {REQS} && rm -f {include}")
    result = converge()
    assert result.rc == 0, result
    assert read_env(host)["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "the requirements name asyncpg (backend/requirements.txt:" in result.output, result


def test_readme_example_runs_as_written(host: Any, tmp_path: Path) -> None:
    """roles/python_env/README.md's example, on this laptop: its integrador_root
    (~/src/integrador) is this scenario's checkout, linked there. It runs, a second run changes
    nothing, and the secrets of the .env stay what they were."""
    before = read_env(host)
    run_ok(host, f"mkdir -p {PATHS.home}/src && ln -sfn {ROOT} {PATHS.home}/src/integrador")
    try:
        for example in readme_examples("python_env"):
            result = run_readme_example(example, tmp_path)
            assert result.rc == 0, result
            again = run_readme_example(example, tmp_path)
            assert again.rc == 0 and again.changed == 0, again
    finally:
        run_ok(host, f"rm -f {PATHS.home}/src/integrador && rmdir {PATHS.home}/src")
    after = read_env(host)
    for key in ("JWT_SECRET", "TABLE_TOKEN_SECRET"):
        assert after[key] == before[key], f"{key} changed"
