"""A checkout shaped like the real backend, converged with integrador_root alone (issue 13,
"Read the checkout, not the user"): its requirements name asyncpg, it has Alembic migrations
and a seed entry point, its settings refuse unknown .env keys, and its gateway answers
/health, not /ws/health. The test's copy of the demo backend is all of it (molecule's
prepare copies only the demo's sources), with the gateway's /ws/health route dropped.

Runs last in this scenario (its units then point at that checkout) and converges the
scenario's own checkout back at the end."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from conftest import (
    DEMO_ENV_KEYS,
    USER_ENV,
    LaptopPaths,
    journal,
    main_pid,
    scenario_vars,
    sql,
    systemctl,
    wait_healthy,
)
from dotenv import dotenv_values

PROJECT = Path(__file__).resolve().parents[3]
DEMO = PROJECT / "examples" / "integrador"
# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("app_services"))
CHECKOUT = f"{PATHS.home}/realshape"
API_UNIT = "integrador-api.service"
SKIPPED = {".venv", "venv", "__pycache__", ".env"}
SEEDED_NAMES = ["Milanesa napolitana", "Empanadas de carne", "Flan con dulce de leche"]


def tar_of_demo() -> bytes:
    """The demo backend as a developer's checkout: every file, owned by dev."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        # Every folder too, owned by dev (docker would create missing ones as root).
        folders = [DEMO, *(path for path in DEMO.rglob("*") if path.is_dir())]
        for path in sorted(folders):
            relative = path.relative_to(DEMO)
            if SKIPPED & set(relative.parts):
                continue
            info = tarfile.TarInfo(f"realshape/{relative}".rstrip("/.") or "realshape")
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, 1000, 1000
            tar.addfile(info)
        for path in sorted(DEMO.rglob("*")):
            relative = path.relative_to(DEMO)
            if SKIPPED & set(relative.parts) or not path.is_file():
                continue
            content = path.read_bytes()
            if relative == Path("ws_gateway/main.py"):
                # The real gateway's shape: /health only.
                content = content.replace(
                    b'HEALTH_PATHS = ("/health", "/ws/health")', b'HEALTH_PATHS = ("/health",)'
                )
                assert b'HEALTH_PATHS = ("/health",)' in content, "the demo gateway's HEALTH_PATHS moved"
            info = tarfile.TarInfo(f"realshape/{relative}")
            info.size, info.mode, info.uid, info.gid = len(content), 0o644, 1000, 1000
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def journal_since(host: Any, cursor: str) -> str:
    return host.run(
        f"{USER_ENV} journalctl --user --unit {API_UNIT} --after-cursor '{cursor}' --no-pager -o cat"
    ).stdout


def journal_showing(host: Any, cursor: str, *phrases: str, seconds: float = 30) -> str:
    """The unit's journal since cursor, read again until every phrase is in it (or the limit:
    the assertions after it then show what was there). A start's lines can reach the journal
    after the API already answers: a CI run read it once and missed the launcher's lines."""
    deadline = time.monotonic() + seconds
    while True:
        seen = journal_since(host, cursor)
        if all(phrase in seen for phrase in phrases) or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def journal_cursor(host: Any) -> str:
    out = host.run(
        f"{USER_ENV} journalctl --user --unit {API_UNIT} --lines 1 --show-cursor --no-pager -o cat"
    ).stdout
    return out.rsplit("-- cursor: ", 1)[1].strip()


def drop_what_the_checkout_made(test_vars: dict[str, Any]) -> None:
    """What a purge of the volume would take: the checkout's tables and our marks."""
    sql(test_vars, "DROP SCHEMA IF EXISTS integrador_provisioning CASCADE")
    sql(test_vars, "DROP TABLE IF EXISTS menu_items, alembic_version")


def restart_api(host: Any, api: str) -> None:
    assert host.run(f"{USER_ENV} systemctl --user restart {API_UNIT}").rc == 0
    assert systemctl(host, "is-active", API_UNIT) == "active", journal(host, API_UNIT)
    assert wait_healthy(f"{api}/api/health", timeout=60), "the API did not answer after its restart"


@pytest.fixture(scope="module")
def real_shaped(
    host: Any, docker_client: docker.DockerClient, converge: Callable[..., Any], test_vars: dict[str, Any]
) -> Iterator[Any]:
    laptop = docker_client.containers.get(host.backend.hostname)
    assert laptop.put_archive(PATHS.home, tar_of_demo())
    drop_what_the_checkout_made(test_vars)
    result = converge({"integrador_root": CHECKOUT})
    yield result
    # The scenario's own checkout back, and the database as the scenario left it.
    drop_what_the_checkout_made(test_vars)
    assert converge().rc == 0
    host.run(f"rm -rf {CHECKOUT}")


def test_async_driver_gives_an_asyncpg_url_and_the_summary_says_why(
    real_shaped: Any, host: Any, api: str
) -> None:
    assert real_shaped.rc == 0, real_shaped
    env = dotenv_values(stream=io.StringIO(host.file(f"{CHECKOUT}/backend/.env").content_string))
    assert str(env["DATABASE_URL"]).startswith("postgresql+asyncpg://postgres:"), env["DATABASE_URL"]
    # Only the keys the backend declares: its settings (extra="forbid") started the API.
    assert set(env) == set(DEMO_ENV_KEYS)
    assert (
        "DATABASE_URL    postgresql+asyncpg:// (the requirements name asyncpg, backend/requirements.txt:"
        in (real_shaped.output)
    ), real_shaped
    # The async engine answers for the database.
    detailed = requests.get(f"{api}/api/health/detailed", timeout=10)
    assert detailed.status_code == 200, detailed.text


def test_migrations_ran_once_and_the_seed_once(
    real_shaped: Any, host: Any, api: str, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    assert real_shaped.rc == 0, real_shaped
    assert "Migrations      alembic upgrade head before the API starts" in real_shaped.output, real_shaped
    assert (
        "Seed            `python -m rest_api.seeds.runner` once per fresh database "
        "(found backend/rest_api/seeds/runner.py)" in real_shaped.output
    )
    assert sql(test_vars, "SELECT version_num FROM alembic_version") == [("0001_menu_items",)]
    menu = requests.get(f"{api}/api/menu", timeout=10)
    assert menu.status_code == 200, menu.text
    assert [item["name"] for item in menu.json()] == SEEDED_NAMES
    marks = dict(sql(test_vars, "SELECT name, recorded_at FROM integrador_provisioning.marks"))
    assert set(marks) == {"migrations", "seed"}

    # A second converge changes nothing and starts nothing: no alembic, no seed.
    cursor = journal_cursor(host)
    pid = main_pid(host, API_UNIT)
    again = converge({"integrador_root": CHECKOUT})
    assert again.rc == 0 and again.changed == 0, again
    assert main_pid(host, API_UNIT) == pid
    assert "integrador:" not in journal_since(host, cursor)

    # A restart (a crash, a reboot) finds both marks current: one query, nothing run.
    cursor = journal_cursor(host)
    restart_api(host, api)
    seen = journal_showing(
        host,
        cursor,
        "migrations up to date",
        "alembic not run",
        "already seeded in this database, seed not run",
    )
    assert "migrations up to date" in seen and "alembic not run" in seen, seen
    assert "already seeded in this database, seed not run" in seen, seen
    assert "upgrade head (fingerprint" not in seen and "seeding a fresh database" not in seen, seen
    assert [row["name"] for row in requests.get(f"{api}/api/menu", timeout=10).json()] == SEEDED_NAMES
    assert dict(sql(test_vars, "SELECT name, recorded_at FROM integrador_provisioning.marks")) == marks


def test_changed_migrations_are_applied_by_the_next_converge(
    real_shaped: Any, host: Any, api: str, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    script = f"{CHECKOUT}/backend/migrations/versions/0002_menu_item_notes.py"
    content = (
        '"""Notes on menu items."""\n\nfrom alembic import op\n\nrevision = "0002_menu_item_notes"\n'
        'down_revision = "0001_menu_items"\nbranch_labels = None\ndepends_on = None\n\n\n'
        'def upgrade() -> None:\n    op.execute("ALTER TABLE menu_items ADD COLUMN note text")\n\n\n'
        'def downgrade() -> None:\n    op.execute("ALTER TABLE menu_items DROP COLUMN note")\n'
    )
    host.run(f"cat > {script} <<'ITEST_EOF'\n{content}ITEST_EOF")
    cursor = journal_cursor(host)
    result = converge({"integrador_root": CHECKOUT})
    assert result.rc == 0 and result.changed > 0, result
    seen = journal_since(host, cursor)
    assert "upgrade head (fingerprint" in seen, seen
    assert "seeding a fresh database" not in seen, seen
    assert sql(test_vars, "SELECT version_num FROM alembic_version") == [("0002_menu_item_notes",)]
    assert len(requests.get(f"{api}/api/menu", timeout=10).json()) == len(SEEDED_NAMES)


def test_a_fresh_database_is_migrated_and_seeded_again(
    real_shaped: Any, host: Any, api: str, test_vars: dict[str, Any]
) -> None:
    """The marks live in the database: what a purged volume loses, the next start redoes."""
    drop_what_the_checkout_made(test_vars)
    cursor = journal_cursor(host)
    restart_api(host, api)
    seen = journal_showing(host, cursor, "upgrade head (fingerprint", "seeding a fresh database")
    assert "upgrade head (fingerprint" in seen and "seeding a fresh database" in seen, seen
    assert [row["name"] for row in requests.get(f"{api}/api/menu", timeout=10).json()] == SEEDED_NAMES


def test_gateway_health_falls_back_to_health_and_says_how_to_pin_it(real_shaped: Any, gateway: str) -> None:
    assert real_shaped.rc == 0, real_shaped
    assert requests.get(f"{gateway}/ws/health", timeout=5).status_code == 404
    assert requests.get(f"{gateway}/health", timeout=5).status_code == 200
    out = real_shaped.output
    assert "answers 404 on /ws/health" in out and "200 on /health: that path was used" in out, out
    assert "Pin it with app_services_ws_health_path: /health" in out, out
    assert "gateway /health (/ws/health answered 404; pin with app_services_ws_health_path)" in out, out


def test_unknown_env_key_stops_the_real_shaped_backend(real_shaped: Any, host: Any) -> None:
    """The settings refuse keys they do not declare: what python_env must never add. The
    generated .env passes them (the API runs); the same file with one key more does not."""
    backend = f"{CHECKOUT}/backend"
    code = "import integrador_settings as s; s.validate_env_file()"
    strict = f"PYTHONPATH={backend} {backend}/.venv/bin/python -c '{code}'"
    assert host.run(f"cd {backend} && {strict}").rc == 0
    check = host.run(
        f"rm -rf /tmp/unknown-key && mkdir /tmp/unknown-key && cd /tmp/unknown-key && cp {backend}/.env .env"
        f" && echo API_PORT=8000 >> .env && {strict}"
    )
    assert check.rc != 0, check
    assert "api_port" in check.stderr and "Extra inputs are not permitted" in check.stderr, check.stderr
