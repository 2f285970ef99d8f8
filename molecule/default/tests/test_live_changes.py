"""Change on a live stack (issue 23): a running, converged stack, then one change, then `make
dev`; checked in the running processes (what they see in their environment, which restarted and
which did not), and the next run is changed=0 on the fast path.

The demo backend pins python-dotenv 1.0.1, as the real Integrador does: its `dotenv run` starts
the command as a child, which made every full converge on a running stack fail its preflight
("Port 8000 ... is already taken by python ... not by the integrador-api.service unit"). The
services now start through the tool's own launcher. Real units, real uvicorn --reload, real
PostgreSQL and Redis in the default laptop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import USER_ENV, journal, main_pid, sql
from test_fast_path import fast
from test_stack import all_green

API, WS = "integrador-api.service", "integrador-ws.service"


def environ(host: Any, pid: int) -> dict[str, str]:
    """The environment a running process was started with (/proc/<pid>/environ)."""
    raw = host.run(f"cat /proc/{pid}/environ").stdout
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def db(test_vars: dict[str, Any], query: str) -> list[tuple[Any, ...]]:
    """One statement on the stack's database, with the password of this scenario (converge.yml)."""
    return sql(test_vars, query, password="itest-pg-pass-Qx7")


def pids(host: Any) -> dict[str, int]:
    return {unit: main_pid(host, unit) for unit in (API, WS)}


def settled(host: Any, converge: Callable[..., Any], extra: dict[str, Any] | None = None) -> dict[str, int]:
    """The stack converged and recorded (a fast run with nothing to change); the services' pids.
    One run when the last test left it so, two otherwise."""
    first = converge(extra)
    assert first.rc == 0, first
    if not (first.changed == 0 and fast(first)):
        again = converge(extra)
        why = [line for line in again.output.splitlines() if "Full converge:" in line]
        assert again.rc == 0 and again.changed == 0 and fast(again), (why, again)
    return pids(host)


@pytest.fixture
def env_file(test_vars: dict[str, Any], host: Any) -> Iterator[str]:
    path = f"{test_vars['integrador_root']}/backend/.env"
    before = host.file(path).content_string
    yield path
    # The developer's file as it was (the next test converges it again).
    host.run(f"cat > {path} <<'ITEST_EOF'\n{before}ITEST_EOF")


def test_a_full_converge_of_a_running_stack_is_accepted_with_python_dotenv_1_0(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The checkout's venv has python-dotenv 1.0.1; the unit's main process is the service
    itself (the launcher execs), and the preflight of a full converge finds the ports the
    units' own. Failed on main: the preflight refused both ports."""
    venv = f"{test_vars['integrador_root']}/backend/.venv"
    assert "Version: 1.0.1" in host.run(f"{venv}/bin/python -m pip show python-dotenv").stdout
    before = settled(host, converge)
    for unit, pid in before.items():
        cmdline = host.run(f"tr '\\0' ' ' < /proc/{pid}/cmdline").stdout
        assert "uvicorn" in cmdline and "dotenv" not in cmdline, (unit, cmdline)
    full = converge({"integrador_fast_path": False})
    assert full.rc == 0 and full.changed == 0, full
    assert pids(host) == before


def test_a_hand_edit_of_env_restarts_both_services_with_it(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], env_file: str
) -> None:
    """Issue 23, 2: DEBUG changed by hand was kept ("Kept hand-edited DEBUG"), changed=0, same
    PID, the process still had DEBUG=true; the fast path then recorded the new digest, so no
    later run applied it. Failed on main at the pid and environment assertions."""
    before = settled(host, converge)
    assert all(environ(host, pid)["DEBUG"] == "true" for pid in before.values())
    host.run(f"sed -i 's/^DEBUG=true$/DEBUG=false/' {env_file}")
    result = converge()
    assert result.rc == 0 and not fast(result), result
    assert "Kept hand-edited DEBUG" in result.output, result
    assert "changed since it started" in result.output, result
    after = pids(host)
    for unit in (API, WS):
        assert after[unit] != before[unit], unit
        assert environ(host, after[unit])["DEBUG"] == "false", unit
    again = converge()
    assert again.rc == 0 and again.changed == 0 and fast(again), again
    assert pids(host) == after


def test_a_key_added_then_removed_by_hand_reaches_the_services(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], env_file: str
) -> None:
    settled(host, converge)
    host.run(f"printf 'SENTRY_DSN=added by hand\\n' >> {env_file}")
    result = converge()
    assert result.rc == 0, result
    assert all(environ(host, pid).get("SENTRY_DSN") == "added by hand" for pid in pids(host).values())
    host.run(f"sed -i '/^SENTRY_DSN=/d' {env_file}")
    result = converge()
    assert result.rc == 0, result
    assert all("SENTRY_DSN" not in environ(host, pid) for pid in pids(host).values())
    assert fast(converge())


def test_a_templated_env_extra_setting_is_seen_and_removed_when_dropped(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], env_file: str
) -> None:
    """Issue 23, 3(a) and 5: an env_extra value naming a role default was fingerprinted as the
    exception's name (an edit of it or of a sibling never seen); a key dropped from env_extra
    stayed in .env for ever (a strict backend then cannot start)."""
    broker = "redis://127.0.0.1:{{ redis_port }}/2"
    first = {"python_env_env_extra": {"CELERY_BROKER_URL": broker, "LOG_LEVEL": "debug"}}
    settled(host, converge, first)
    port = test_vars["redis_port"]
    assert environ(host, main_pid(host, API))["CELERY_BROKER_URL"] == f"redis://127.0.0.1:{port}/2"
    sibling = {"python_env_env_extra": {"CELERY_BROKER_URL": broker, "LOG_LEVEL": "info"}}
    result = converge(sibling)
    assert result.rc == 0 and not fast(result), result
    assert environ(host, main_pid(host, API))["LOG_LEVEL"] == "info"
    assert fast(converge(sibling))
    dropped = converge()
    assert dropped.rc == 0, dropped
    assert "Removed CELERY_BROKER_URL, LOG_LEVEL from" in dropped.output, dropped
    text = host.file(env_file).content_string
    assert "CELERY_BROKER_URL" not in text and "LOG_LEVEL" not in text
    assert "LOG_LEVEL" not in environ(host, main_pid(host, API))
    assert fast(converge())


def test_a_migration_added_by_a_pull_is_applied_once(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    versions = f"{test_vars['integrador_root']}/backend/migrations/versions"
    migration = f"{versions}/0002_itest_notes.py"
    settled(host, converge)
    host.run(
        f"cat > {migration} <<'EOF'\n"
        'revision = "0002_itest_notes"\ndown_revision = "0001_menu_items"\n'
        "branch_labels = None\ndepends_on = None\n"
        "from alembic import op\n\n\ndef upgrade():\n"
        '    op.execute("CREATE TABLE itest_notes (id serial PRIMARY KEY)")\n\n\n'
        "def downgrade():\n"
        '    op.execute("DROP TABLE itest_notes")\nEOF'
    )
    try:
        result = converge()
        assert result.rc == 0 and not fast(result), result
        assert all_green(test_vars), f"{result}{journal(host, API)}"
        assert db(test_vars, "SELECT version_num FROM alembic_version") == [("0002_itest_notes",)]
        assert db(test_vars, "SELECT to_regclass('itest_notes')::text") == [("itest_notes",)]
        assert fast(converge())
    finally:
        host.run(f"rm -f {migration}")
        db(test_vars, "DROP TABLE IF EXISTS itest_notes")
        db(test_vars, "UPDATE alembic_version SET version_num = '0001_menu_items'")


def test_a_service_whose_reload_worker_died_is_restarted_once_by_the_next_run(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """Issue 23, 4: under uvicorn --reload the reloader lives on over a dead worker; systemd
    sees the unit active, nothing answers, and every run failed with an old traceback. Now the
    next run restarts such a unit once."""
    before = settled(host, converge)
    reloader = before[API]
    workers = host.run(f"pgrep -P {reloader}").stdout.split()
    assert workers, "uvicorn --reload runs its server in a child"
    for worker in workers:
        host.run(f"kill -9 {worker}")
    time.sleep(1)
    assert host.run(f"{USER_ENV} systemctl --user is-active {API}").stdout.strip() == "active"
    result = converge()
    assert result.rc == 0, f"{result}{journal(host, API)}"
    assert "Service that does not answer is restarted once" in result.output, result
    assert main_pid(host, API) != reloader
    assert all_green(test_vars)
    assert fast(converge())
