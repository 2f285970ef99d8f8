"""Change on a live stack (issue 23): a running, converged stack, then one change, then `make
dev`; checked in the running processes (what they see in their environment, which restarted and
which did not), and the next run is changed=0 on the fast path.

The demo backend pins python-dotenv 1.0.1, as the real Integrador does: its `dotenv run` starts
the command as a child, which made every full converge on a running stack fail its preflight
("Port 8000 ... is already taken by python ... not by the integrador-api.service unit"). The
services now start through the tool's own launcher. Real units, real uvicorn --reload, real
PostgreSQL and Redis in the default laptop."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
import requests
import yaml
from conftest import (
    PREFLIGHT_TASK,
    PROJECT,
    USER_ENV,
    journal,
    known_task,
    listening,
    main_pid,
    ran_tasks,
    run_playbook,
    scenario_converge,
    sql,
    wait_healthy,
)
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
    later run applied it. Failed on main at the pid and environment assertions.

    A full converge would keep the edit and restart both services: the fast path does that
    itself (bench's change arm), and a full converge afterwards finds nothing to do."""
    before = settled(host, converge)
    assert all(environ(host, pid)["DEBUG"] == "true" for pid in before.values())
    host.run(f"sed -i 's/^DEBUG=true$/DEBUG=false/' {env_file}")
    result = converge()
    assert result.rc == 0 and fast(result) and result.changed == 1, result
    assert "edited by hand (kept hand-edited DEBUG" in result.output, result
    assert f"restarted {API}, {WS} to read it" in result.output, result
    after = pids(host)
    for unit in (API, WS):
        assert after[unit] != before[unit], unit
        assert environ(host, after[unit])["DEBUG"] == "false", unit
    again = converge()
    assert again.rc == 0 and again.changed == 0 and fast(again), again
    assert pids(host) == after
    # What the fast path did is what the full converge wants: it has nothing left to do.
    full = converge({"integrador_fast_path": False})
    assert full.rc == 0 and full.changed == 0, full
    assert "Kept hand-edited DEBUG" in full.output, full
    assert pids(host) == after


def test_a_key_added_then_removed_by_hand_reaches_the_services(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], env_file: str
) -> None:
    settled(host, converge)
    host.run(f"printf 'SENTRY_DSN=added by hand\\n' >> {env_file}")
    result = converge()
    assert result.rc == 0 and fast(result), result
    assert all(environ(host, pid).get("SENTRY_DSN") == "added by hand" for pid in pids(host).values())
    host.run(f"sed -i '/^SENTRY_DSN=/d' {env_file}")
    result = converge()
    assert result.rc == 0 and fast(result), result
    assert all("SENTRY_DSN" not in environ(host, pid) for pid in pids(host).values())
    assert fast(converge())


def test_a_managed_line_deleted_by_hand_is_written_back_by_a_full_converge(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], env_file: str
) -> None:
    """The fast path takes a hand edit only when the converge would keep it: a deleted managed
    line is the converge's to write again (and the services restart with it)."""
    before = settled(host, converge)
    host.run(f"sed -i '/^ENVIRONMENT=/d' {env_file}")
    result = converge()
    assert result.rc == 0 and not fast(result), result
    assert "in a way the converge sets back" in result.output, result
    assert "ENVIRONMENT=development" in host.file(env_file).content_string
    after = pids(host)
    for unit in (API, WS):
        assert after[unit] != before[unit], unit
        assert environ(host, after[unit])["ENVIRONMENT"] == "development", unit
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
        # The data the migration changed was kept first, and the summary says how to go back.
        kept = re.search(
            r"Migrations  applied to data at revision 0001_menu_items, kept as snapshot "
            r"(pre-0001_menu_items(?:-\d+)?): make restore-snapshot NAME=\1 goes back",
            result.output,
        )
        assert kept, result
        assert fast(converge())

        # Back on a checkout without that migration (another branch): the run stops, naming the
        # database's revision, the checkout's head and the snapshot taken at it, before the API's
        # start would fail on `alembic upgrade head` at every restart.
        api = main_pid(host, API)
        host.run_test(f"mv {migration} {versions}/../0002_itest_notes.py.aside")
        refused = converge()
        said = " ".join(refused.output.split())
        assert refused.rc != 0, refused
        assert (
            "is at Alembic revision 0002_itest_notes, which the migration scripts of this checkout do not "
            "have (they end at 0001_menu_items)" in said
        ), refused
        assert f"`make restore-snapshot NAME={kept.group(1)}`" in said and "`make reset`" in said, refused
        assert main_pid(host, API) == api, "the API was restarted on another branch's database"
        # The way out it names: the snapshot, then the run converges again.
        # (with this scenario's passwords, which its converge.yml sets)
        passwords = yaml.safe_load(scenario_converge().read_text())[0]["vars"]
        back = run_playbook(
            PROJECT / "playbooks" / "snapshot.yml",
            {**passwords, "integrador_snapshot_action": "restore", "integrador_snapshot_name": kept.group(1)},
        )
        assert back.rc == 0, back
        assert db(test_vars, "SELECT to_regclass('itest_notes')") == [(None,)]
        again = converge()
        assert again.rc == 0 and "Migrations  applied" not in again.output, again
        assert db(test_vars, "SELECT version_num FROM alembic_version") == [("0001_menu_items",)]
        assert all_green(test_vars)
    finally:
        host.run(f"rm -f {migration} {versions}/../0002_itest_notes.py.aside")
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
    # The services' health waits ended on the reloader left without any child, not at their
    # timeouts (10 s for a service the run left alone, then app_services_health_timeout). (The
    # fast path's own check, before them, gives up after its 5 s.)
    assert "exited and no new one came" in result.output, result
    for timeout in {10, test_vars.get("app_services_health_timeout", 60)}:
        assert f"did not answer within {timeout} s" not in result.output, result
    assert main_pid(host, API) != reloader
    assert all_green(test_vars)
    assert fast(converge())


def test_a_port_setting_changed_moves_the_service_and_frees_the_old_port(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """A setting changed on the running stack (app_services_api_port): the API answers on the
    new port, nothing listens on the old one any more, and the next run with the new setting
    is changed=0 on the fast path; going back does the same."""
    old = test_vars["app_services_api_port"]
    new = old + 7  # inside this scenario's port block (molecule/shared/group_vars)
    settled(host, converge)
    moved = {"app_services_api_port": new}
    result = converge(moved)
    assert result.rc == 0 and not fast(result), result
    assert wait_healthy(f"http://127.0.0.1:{new}/api/health"), f"{result}{journal(host, API)}"
    assert not listening(host, old), f"port {old} still held after the API moved to {new}"
    again = converge(moved)
    assert again.rc == 0 and again.changed == 0 and fast(again), again
    settled(host, converge)
    assert wait_healthy(f"http://127.0.0.1:{old}/api/health")
    assert not listening(host, new)


OLLAMA = {
    "integrador_ollama": True,
    "ollama_image": "integrador-test/ollama-double:latest",  # the tests' double of Ollama's API
    "ollama_models": ["all-minilm:22m"],
    "ollama_model_sizes_mb": {"all-minilm:22m": 50},
}


def test_ollama_switched_on_then_off_never_restarts_the_services_nor_deletes_its_models(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any], docker_client: docker.DockerClient
) -> None:
    """Ollama switched on for the running stack: its container answers with the model, the API
    and gateway keep running (Ollama is not in their .env). Switched off again: the next runs are
    changed=0, the fast path answers again, and the container with its pulled models is left
    as it is (a setting never deletes data; `make down PURGE=1` with it on removes them)."""
    name, volume = f"{test_vars['itest_prefix']}_ollama", f"{test_vars['itest_prefix']}_models"
    port = 21434 + test_vars["itest_port_offset"]
    on = {**OLLAMA, "ollama_container_name": name, "ollama_volume": volume, "ollama_port": port}
    before = settled(host, converge)
    try:
        result = converge(on)
        # With Ollama on every run converges in full (dev.yml): the fast path's check is skipped.
        ran = ran_tasks(result.output)
        assert result.rc == 0 and any(known_task(PREFLIGHT_TASK) in name for name in ran), result
        assert f"Ollama      http://127.0.0.1:{port}" in result.output, result
        tags = requests.get(f"http://127.0.0.1:{port}/api/tags", timeout=5).json()
        assert "all-minilm:22m" in [model["name"] for model in tags["models"]], tags
        assert pids(host) == before
        assert converge(on).changed == 0
        assert settled(host, converge) == before
        assert docker_client.containers.get(name).status == "running"
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(name).remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(volume).remove(force=True)


def use_context(host: Any, name: str, endpoint: str) -> None:
    """What `docker context create NAME --docker host=ENDPOINT && docker context use NAME` leave
    in ~/.docker (the laptop has no docker CLI; the tool reads these files itself)."""
    meta = f"~/.docker/contexts/meta/{hashlib.sha256(name.encode()).hexdigest()}"
    document = {
        "Name": name,
        "Metadata": {},
        "Endpoints": {"docker": {"Host": endpoint, "SkipTLSVerify": False}},
    }
    host.run(f"mkdir -p {meta} && echo '{json.dumps(document)}' > {meta}/meta.json")
    host.run(f"echo '{json.dumps({'currentContext': name})}' > ~/.docker/config.json")


def test_docker_context_use_sends_the_next_run_to_that_engine(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """`docker context use other` on a running stack (nothing else set: integrador_docker_host
    empty, as for a user who never set it). The next run goes to the engine that context names:
    here a socket with no engine behind it, so the run stops naming the context and the socket,
    and changes nothing. Before, currentContext was not part of the fast path's fingerprint: the
    fast path answered ok on the old engine while the CLI pointed at the new one."""
    unset = {"integrador_docker_host": ""}
    engine = test_vars["integrador_docker_host"]
    try:
        use_context(host, "itest-engine", engine)
        before = settled(host, converge, unset)
        use_context(host, "itest-gone", "unix:///run/itest-gone.sock")
        result = converge(unset)
        assert result.rc != 0 and not fast(result), result
        assert "itest-gone" in result.output and "/run/itest-gone.sock" in result.output, result
        assert pids(host) == before
        use_context(host, "itest-engine", engine)
        back = converge(unset)
        assert back.rc == 0 and back.changed == 0, back
        assert pids(host) == before and all_green(test_vars)
    finally:
        host.run("rm -rf ~/.docker")
    settled(host, converge)
