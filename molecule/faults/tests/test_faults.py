"""Fault suite: break a part of the converged stack for real, let the service
manager or the next converge repair it, and check that nothing was lost."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
import redis
import requests
from conftest import (
    USER_ENV,
    LaptopPaths,
    main_pid,
    pg_connect,
    playbook_command,
    redis_client,
    scenario_converge,
    scenario_vars,
    took_fast_path,
)
from conftest import read_env as read_env_file

# The laptop's paths as this scenario's vars give them (molecule/conftest.py).
PATHS = LaptopPaths.of(scenario_vars("faults"))
ROOT = PATHS.root
ENV_FILE = PATHS.env_file
VENV = PATHS.venv


def health(test_vars: dict[str, Any]) -> dict[str, int]:
    api, ws = test_vars["app_services_api_port"], test_vars["app_services_ws_port"]
    urls = {
        "api": f"http://127.0.0.1:{api}/api/health",
        "api-detailed": f"http://127.0.0.1:{api}/api/health/detailed",
        "ws": f"http://127.0.0.1:{ws}/ws/health",
        "ws-detailed": f"http://127.0.0.1:{ws}/ws/health/detailed",
    }
    codes = {}
    for name, url in urls.items():
        try:
            codes[name] = requests.get(url, timeout=3).status_code
        except requests.RequestException:
            codes[name] = 0
    return codes


def wait_all_green(test_vars: dict[str, Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    codes: dict[str, int] = {}
    while time.monotonic() < deadline:
        codes = health(test_vars)
        if set(codes.values()) == {200}:
            return
        time.sleep(0.5)
    raise AssertionError(f"stack not green within {timeout} s: {codes}")


def settle(converge: Callable[..., Any]) -> None:
    """The stack as a no-change make dev leaves it: recorded, so the fast path would answer the
    next run (Molecule's own runs keep the fast path off and record nothing). Then a fault the
    fast path failed to see would make the repairing run end on it."""
    first = converge()
    assert first.rc == 0, first
    if not (first.changed == 0 and took_fast_path(first)):
        again = converge()
        assert again.rc == 0 and again.changed == 0 and took_fast_path(again), again


def repaired_then_fast(converge: Callable[..., Any], result: Any) -> None:
    """The user's path after a fault (these converges run with the fast path on, as make dev
    does): the run that met the fault converged in full (the fast path saw it), and the next
    run ends on the fast path with nothing changed."""
    assert result.rc == 0, result
    assert not took_fast_path(result), "the fast path answered a run that had a fault to repair"
    settled = converge()
    assert settled.rc == 0 and settled.changed == 0 and took_fast_path(settled), settled


def read_env(host: Any) -> dict[str, str]:
    return read_env_file(host, ENV_FILE)


def starts_since(host: Any, unit: str, since: int) -> int:
    out = host.run(f"journalctl --user-unit {unit} --since @{since} -o cat --no-pager")
    return sum(1 for line in out.stdout.splitlines() if line.startswith("Started "))


@pytest.fixture
def db(test_vars: dict[str, Any]) -> Iterator[Any]:
    conn = pg_connect(test_vars)
    yield conn
    conn.close()


@pytest.fixture
def kv(test_vars: dict[str, Any]) -> redis.Redis:
    return redis_client(test_vars)


@pytest.mark.parametrize("unit", ["integrador-api.service", "integrador-ws.service"])
def test_kill_9_is_repaired_by_the_service_manager(host: Any, test_vars: dict[str, Any], unit: str) -> None:
    before = main_pid(host, unit)
    assert before > 0, f"{unit} is not running"
    host.run(f"kill -9 {before}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and main_pid(host, unit) in (0, before):
        time.sleep(0.25)
    assert main_pid(host, unit) not in (0, before), host.run(f"journalctl --user-unit {unit} -n 30").stdout
    wait_all_green(test_vars, timeout=30)


def test_containers_removed_by_hand_come_back_with_their_data(
    db: Any,
    kv: redis.Redis,
    docker_client: docker.DockerClient,
    test_vars: dict[str, Any],
    converge: Callable[..., Any],
) -> None:
    with db.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS faults_probe (id int PRIMARY KEY, note text)")
        cur.execute("INSERT INTO faults_probe VALUES (1, 'kept') ON CONFLICT DO NOTHING")
    kv.set("faults:probe", "kept")
    settle(converge)
    for name in (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"]):
        docker_client.containers.get(name).remove(force=True)
    result = converge()
    repaired_then_fast(converge, result)
    wait_all_green(test_vars)
    with pg_connect(test_vars, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM faults_probe WHERE id = 1")
        assert cur.fetchone() == ("kept",)
    assert redis_client(test_vars).get("faults:probe") == "kept"


def test_redis_down_is_reported_by_name_and_recovers(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    api_pid = main_pid(host, "integrador-api.service")
    container = docker_client.containers.get(test_vars["redis_container_name"])
    container.stop(timeout=5)
    try:
        url = f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health/detailed"
        response = requests.get(url, timeout=10)
        assert response.status_code == 503, response.text
        assert response.json()["down"] == ["redis"], response.text
    finally:
        container.start()
    # The API reconnects by itself: no restart.
    wait_all_green(test_vars, timeout=40)
    assert main_pid(host, "integrador-api.service") == api_pid


def test_deleted_venv_is_rebuilt(host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]) -> None:
    settle(converge)
    host.run(f"rm -rf {VENV}")
    result = converge()
    repaired_then_fast(converge, result)
    assert host.file(f"{VENV}/bin/python").exists
    wait_all_green(test_vars)


def test_deleted_secret_alone_is_regenerated(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    settle(converge)
    before = read_env(host)
    host.run(f"sed -i '/^JWT_SECRET=/d' {ENV_FILE}")
    result = converge()
    repaired_then_fast(converge, result)
    after = read_env(host)
    assert after["TABLE_TOKEN_SECRET"] == before["TABLE_TOKEN_SECRET"]
    assert after["JWT_SECRET"] != before["JWT_SECRET"] and len(after["JWT_SECRET"]) >= 32
    wait_all_green(test_vars)


def test_each_pull_that_changes_what_pip_installs_installs_once_and_restarts_each_service_once(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """Issue 23's rows for a `git pull` that touches the Python dependencies, one after the
    other on the running stack: a requirement added (pinned), then its pin changed and moved to
    a constraints file (`-c`, which pip reads), then only that constraints file changed. Each is
    installed by the next run (the version in the venv), restarts each service exactly once,
    and the run after it is changed=0 on the fast path. The last row failed before constraints
    files were read: the file was not watched, so nothing was reinstalled."""
    reqs = PATHS.requirements
    constraints = f"{PATHS.backend}/constraints.txt"
    original = host.file(reqs).content_string
    pulls = [
        ("a requirement added", "six==1.16.0\n", None, "1.16.0"),
        ("its pin changed, in a constraints file", "six\n-c constraints.txt\n", "six==1.17.0\n", "1.17.0"),
        ("only the constraints file changed", "six\n-c constraints.txt\n", "six==1.16.0\n", "1.16.0"),
    ]
    settle(converge)
    try:
        for row, added, constrained, version in pulls:
            host.run(f"cat > {reqs} <<'ITEST_EOF'\n{original}{added}ITEST_EOF")
            if constrained:
                host.run(f"printf '{constrained}' > {constraints}")
            since = int(host.check_output("date +%s"))
            time.sleep(1)
            first = converge()
            assert first.rc == 0 and not took_fast_path(first), (row, first)
            wait_all_green(test_vars)
            installed = host.check_output(f"{VENV}/bin/python -c 'import six; print(six.__version__)'")
            assert installed == version, row
            for unit in ("integrador-api.service", "integrador-ws.service"):
                assert starts_since(host, unit, since) == 1, (row, unit, first)
            second = converge()
            assert second.rc == 0 and second.changed == 0 and took_fast_path(second), (row, second)
    finally:
        host.run(f"cat > {reqs} <<'ITEST_EOF'\n{original}ITEST_EOF")
        host.run(f"rm -f {constraints}")
    assert converge().rc == 0
    wait_all_green(test_vars)


def test_other_major_version_image_is_refused_and_the_volume_untouched(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    before = docker_client.containers.get(test_vars["postgres_pgvector_container_name"])
    major = before.exec_run(["cat", "/var/lib/postgresql/data/PG_VERSION"]).output.decode().strip()
    tag = "integrador-test/pgvector:faults-other-major"
    dockerfile = textwrap.dedent(f"""
        FROM {test_vars["postgres_pgvector_image"]}
        ENV PG_MAJOR={int(major) + 1}
    """)
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    try:
        result = converge({"postgres_pgvector_image": tag})
    finally:
        docker_client.images.remove(tag, force=True)
    assert result.rc != 0
    assert f"holds a PostgreSQL {major} cluster, but {tag} runs PostgreSQL {int(major) + 1}" in result.output
    after = docker_client.containers.get(test_vars["postgres_pgvector_container_name"])
    assert after.id == before.id and after.status == "running"
    wait_all_green(test_vars)


def test_converge_killed_half_way_is_completed_by_the_next(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    # A slow converge: the venv must be rebuilt. Kill it while pip runs.
    host.run(f"rm -rf {VENV}")
    cmd, env = playbook_command(scenario_converge())
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    seen = False
    while not seen and time.monotonic() < deadline and proc.poll() is None:
        seen = host.run(f"pgrep -u {PATHS.user} -f '{VENV}/bin/python -m pip'").succeeded
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # The case is a converge killed while pip runs: without pip seen, it was not caused.
    assert seen, "pip never ran within 120 s of the converge's start: the kill did not happen half-way"

    # [p]: the pattern must not match the shell that runs pkill (the test's own SSH session).
    host.run("pkill -9 -u dev -f 'bin/[p]ython -m pip' || true")
    result = converge()
    repaired_then_fast(converge, result)
    wait_all_green(test_vars)


def test_a_key_the_settings_refuse_fails_the_run_with_the_api_log_until_it_is_removed(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """Issue 23: a key the backend's settings refuse (extra="forbid"), added to backend/.env by
    hand, and the services restarted by hand: the API's worker dies at start while uvicorn
    --reload's reloader lives on (the manager sees the unit active). The run finds the API not
    answering, restarts it once, which does not help: it fails, naming the API, its health URL
    and the settings' error from the log of that restart. Neither wait lasts the health timeout:
    each ends once uvicorn's reloader is seen without its worker. (Such a run passed with the API down,
    seen on the real checkout.) With the key removed by hand, the next run brings it back."""
    settle(converge)
    before = host.file(ENV_FILE).content_string
    assert host.run(f"echo NOT_A_SETTING=1 >> {ENV_FILE}").succeeded
    units = "integrador-api.service integrador-ws.service"
    assert host.run(f"{USER_ENV} systemctl --user restart {units}").succeeded
    try:
        failed = converge()
    finally:
        host.run(f"cat > {ENV_FILE} <<'ITEST_EOF'\n{before}ITEST_EOF")
    assert failed.rc != 0, failed
    url = f"http://127.0.0.1:{test_vars['app_services_api_port']}/api/health"
    out = " ".join(failed.output.replace("\\n", "\n").split())
    # Not "within 60 s": each wait ended once the reloader was left without its worker.
    early = f"The Integrador REST API did not answer 200 on {url} after one restart: its app exited at start"
    assert early in out, failed
    assert "not_a_setting" in out.lower() and "Extra inputs are not permitted" in out, failed
    fixed = converge()
    assert fixed.rc == 0, fixed
    wait_all_green(test_vars)


# The Docker engine restarted under a running stack: .ci/acceptance, at the end of CI, where no
# scenario's laptop runs beside it (it ran here alone once, costing the whole scenario's time).
