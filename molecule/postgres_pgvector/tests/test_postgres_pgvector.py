"""What a developer would check after converging the postgres_pgvector role."""

from __future__ import annotations

import contextlib
import io
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg2
import pytest
from conftest import container as shared_container
from conftest import (
    docker_health,
    known_task,
    occupied_port,
    pg_connect,
    ran_under,
    readme_examples,
    redis_client,
    run_readme_example,
    scratch_container,
)

PROBE_TABLE = "itest_survivors"


def connect(test_vars: dict[str, Any]) -> psycopg2.extensions.connection:
    return pg_connect(test_vars, autocommit=False)


@pytest.fixture
def db(test_vars: dict[str, Any]) -> Iterator[psycopg2.extensions.connection]:
    conn = pg_connect(test_vars)
    yield conn
    conn.close()


def container(client: docker.DockerClient, test_vars: dict[str, Any]) -> Any:
    return shared_container(client, test_vars, "postgres_pgvector")


def test_container_is_healthy_with_restart_policy_and_loopback_port(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    c = container(docker_client, test_vars)
    assert docker_health(docker_client, c.name) == "healthy", c.logs(tail=30).decode()
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    bindings = c.attrs["HostConfig"]["PortBindings"]["5432/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(test_vars["postgres_pgvector_port"])}]
    mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert mounts["/var/lib/postgresql/data"]["Name"] == test_vars["postgres_pgvector_volume"]
    assert "pg_isready" in " ".join(c.attrs["Config"]["Healthcheck"]["Test"])


def test_vector_extension_and_distance_query(db: psycopg2.extensions.connection) -> None:
    with db.cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone() is not None, "vector extension missing in menu_ops"
        cur.execute("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector")
        assert cur.fetchone()[0] == pytest.approx(2.0)


def test_data_survives_recreation_after_a_changed_setting(
    db: psycopg2.extensions.connection,
    docker_client: docker.DockerClient,
    test_vars: dict[str, Any],
    converge: Callable[..., Any],
) -> None:
    with db.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (id int PRIMARY KEY, v vector(3))")
        cur.execute(f"INSERT INTO {PROBE_TABLE} VALUES (1, '[1,1,1]') ON CONFLICT DO NOTHING")
    db.close()
    before = container(docker_client, test_vars).id

    # A different timeout changes the healthcheck's start period: a changed setting.
    result = converge({"postgres_pgvector_healthy_timeout": 61})
    assert result.rc == 0, result
    assert result.changed >= 1, result
    assert container(docker_client, test_vars).id != before, "container was not recreated"

    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT v::text FROM {PROBE_TABLE} WHERE id = 1")
        assert cur.fetchone() == ("[1,1,1]",)
    # Back to the converged settings, so the scenario ends as it started.
    assert converge().rc == 0


def test_removed_container_is_recreated_with_its_data(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    container(docker_client, test_vars).remove(force=True)
    result = converge()
    assert result.rc == 0, result
    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {PROBE_TABLE}")
        assert cur.fetchone() == (1,)


def test_dropped_extension_is_created_again(test_vars: dict[str, Any], converge: Callable[..., Any]) -> None:
    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {PROBE_TABLE}; DROP EXTENSION vector")
    result = converge()
    assert result.rc == 0, result
    assert result.changed == 1, result
    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone() == (1,)


def test_other_major_version_over_the_volume_is_refused_untouched(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    before = container(docker_client, test_vars)
    major = before.exec_run(["cat", "/var/lib/postgresql/data/PG_VERSION"]).output.decode().strip()
    other = str(int(major) - 1)
    dockerfile = textwrap.dedent(f"""
        FROM {test_vars["postgres_pgvector_image"]}
        ENV PG_MAJOR={other}
    """)
    tag = f"integrador-test/pgvector:other-major-{other}"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    try:
        result = converge({"postgres_pgvector_image": tag})
    finally:
        docker_client.images.remove(tag, force=True)
    assert result.rc != 0, result
    assert (
        f"The volume {test_vars['postgres_pgvector_volume']} holds a PostgreSQL {major} cluster, "
        f"but {tag} runs PostgreSQL {other}. Nothing was changed." in result.output
    ), result
    after = container(docker_client, test_vars)
    assert after.id == before.id and after.status == "running"


def test_port_taken_by_another_program_is_named(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    # The squatter runs on the laptop, as the developer's own program would.
    with occupied_port(host) as port:
        result = converge(
            {"postgres_pgvector_port": port, "postgres_pgvector_container_name": "itest_db_port"}
        )
    assert result.rc != 0, result
    assert f"Port {port} on 127.0.0.1 is already taken by python3 (pid" in result.output, result
    assert "Stop that program, or set postgres_pgvector_port to a free port" in result.output


def test_unreachable_docker_engine_is_explained(converge: Callable[..., Any]) -> None:
    result = converge({"integrador_docker_host": "unix:///nonexistent/docker.sock"})
    assert result.rc != 0
    assert "Cannot reach the Docker engine at unix:///nonexistent/docker.sock" in result.output, result
    assert "or point integrador_docker_host at your engine" in result.output, result


def test_wrong_type_fails_before_any_task_naming_the_variable(converge: Callable[..., Any]) -> None:
    result = converge({"postgres_pgvector_port": "five"})
    assert result.rc != 0
    assert "postgres_pgvector_port" in result.output, result
    # The role stopped at its argument check: not even the container path's first task ran.
    assert known_task("Data volume exists") not in result.output, result


# --- issue 10: exposure, passwords, secrets, bad input -----------------------------------------

NEW_PASSWORD = "itest-Pg-pass-Zq81x"  # never the default: masked and set in the cluster


def login(
    test_vars: dict[str, Any], password: str, host: str = "127.0.0.1"
) -> psycopg2.extensions.connection:
    return pg_connect(test_vars, password, host, autocommit=False)


def task_output(output: str, name: str) -> str:
    """What the run printed under one task (empty when it did not run)."""
    sections = [part for part in output.split("TASK [") if part.startswith(f"postgres_pgvector : {name}]")]
    return "".join(sections)


def assert_login_refused(test_vars: dict[str, Any], password: str) -> None:
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        login(test_vars, password).close()


def test_changed_password_is_set_in_the_cluster_never_printed(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The image applies POSTGRES_PASSWORD only at first init: the role must set
    a changed password in the existing cluster, keep the data, and print it nowhere."""
    with login(test_vars, "postgres") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS itest_password_kept (v text)")
        cur.execute("TRUNCATE itest_password_kept; INSERT INTO itest_password_kept VALUES ('kept')")
    try:
        # A running container: the preflight's probe finds the old password.
        result = converge({"postgres_pgvector_password": NEW_PASSWORD}, "-vvv")
        assert result.rc == 0, result
        assert NEW_PASSWORD not in result.output, "the password was printed"
        assert "changed: [" in task_output(
            result.output, "Role's password is set to postgres_pgvector_password"
        )
        with login(test_vars, NEW_PASSWORD) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM itest_password_kept")
            assert cur.fetchall() == [("kept",)]
        assert_login_refused(test_vars, "postgres")

        # Nothing to do the second time: no ALTER, no module beyond the no-change path's.
        again = converge({"postgres_pgvector_password": NEW_PASSWORD})
        assert again.rc == 0 and again.changed == 0, again
        assert "ok: [" not in task_output(
            again.output, known_task("Role's password is compared with postgres_pgvector_password")
        )

        # A stopped container: the preflight cannot ask it, the role asks after starting it.
        container(docker_client, test_vars).stop()
        result = converge({"postgres_pgvector_password": "postgres"}, "-vvv")
        assert result.rc == 0, result
        assert NEW_PASSWORD not in result.output, "the old password was printed"
        assert "ok: [" in task_output(
            result.output, "Role's password is compared with postgres_pgvector_password"
        )
        assert "changed: [" in task_output(
            result.output, "Role's password is set to postgres_pgvector_password"
        )
        with login(test_vars, "postgres") as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM itest_password_kept")
            assert cur.fetchall() == [("kept",)]
        assert_login_refused(test_vars, NEW_PASSWORD)
    finally:
        assert converge().rc == 0
    with login(test_vars, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT v FROM itest_password_kept")
        assert cur.fetchall() == [("kept",)]
    assert_login_refused(test_vars, NEW_PASSWORD)


def test_default_password_beyond_loopback_is_refused_untouched(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    before = container(docker_client, test_vars)
    result = converge({"integrador_bind_address": "0.0.0.0"})
    assert result.rc != 0, result
    assert (
        "postgres_pgvector_bind_address (integrador_bind_address) is 0.0.0.0: the "
        f"{test_vars['postgres_pgvector_container_name']} container would be reachable from the network with "
        "the default password. Set postgres_pgvector_password"
    ) in result.output, result
    assert "integrador_allow_insecure_exposure: true" in result.output, result
    after = container(docker_client, test_vars)
    assert after.id == before.id
    assert after.attrs["HostConfig"]["PortBindings"]["5432/tcp"][0]["HostIp"] == "127.0.0.1"

    # The override, and a password of its own, let it through (in check mode: nothing is
    # published beyond this machine by the test).
    allowed = converge(
        {"integrador_bind_address": "0.0.0.0", "integrador_allow_insecure_exposure": True}, "--check"
    )
    assert allowed.rc == 0, allowed
    assert "beyond this machine, with the default password" in allowed.output, allowed
    own = converge(
        {"integrador_bind_address": "0.0.0.0", "postgres_pgvector_password": NEW_PASSWORD}, "--check"
    )
    assert own.rc == 0, own
    assert NEW_PASSWORD not in own.output
    assert container(docker_client, test_vars).id == before.id


def test_container_failure_message_never_shows_the_password(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """A container that never becomes healthy (an image without PostgreSQL): the
    message gives state and log tail; -vvv shows no password anywhere."""
    with scratch_container(docker_client, test_vars, "postgres_pgvector") as (name, volume, port):
        result = converge(
            {
                "postgres_pgvector_container_name": name,
                "postgres_pgvector_volume": volume,
                "postgres_pgvector_port": port,
                "postgres_pgvector_image": "integrador-test/redis:7",
                "postgres_pgvector_healthy_timeout": 5,
                "postgres_pgvector_password": NEW_PASSWORD,
            },
            "-vvv",
        )
    assert result.rc != 0, result
    assert f"The {name} container did not become healthy within 5 s." in result.output, result
    assert "Last log lines:" in result.output, result
    assert NEW_PASSWORD not in result.output, "the password was printed"


def test_ipv6_bind_address_is_published_bracketed_and_probed(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    try:
        result = converge({"postgres_pgvector_bind_address": "::1"})
        assert result.rc == 0, result
        bindings = container(docker_client, test_vars).attrs["HostConfig"]["PortBindings"]["5432/tcp"]
        assert bindings == [{"HostIp": "::1", "HostPort": str(test_vars["postgres_pgvector_port"])}]
        with login(test_vars, "postgres", host="::1") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        again = converge({"postgres_pgvector_bind_address": "[::1]"})
        assert again.rc == 0 and again.changed == 0, again

        # The preflight's port probe on an IPv6 address: a program holding the port on ::1.
        with occupied_port(host, "::1") as port:
            taken = converge(
                {
                    "postgres_pgvector_bind_address": "::1",
                    "postgres_pgvector_port": port,
                    "postgres_pgvector_container_name": test_vars["postgres_pgvector_container_name"]
                    + "_port6",
                }
            )
        assert taken.rc != 0, taken
        assert f"Port {port} on ::1 is already taken by python3 (pid" in taken.output, taken
    finally:
        assert converge().rc == 0


def test_port_outside_the_range_is_a_message_not_a_traceback(converge: Callable[..., Any]) -> None:
    for port in (70000, 0, -1):
        result = converge({"postgres_pgvector_port": port})
        assert result.rc != 0
        assert f"postgres_pgvector_port must be 1-65535 (got {port})" in result.output, result
        assert "Traceback" not in result.output and "OverflowError" not in result.output, result


def test_stopped_container_is_started_without_docker_container_and_ends_healthy(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The shared container path (roles/container_service): a stopped container as
    configured is started by integrador_wait (docker start, PostgreSQL probed every
    0.1 s); the role alone ends with the database there, and Docker's healthcheck (every
    10 s) agrees."""
    before = container(docker_client, test_vars)
    before.stop(timeout=10)
    result = converge()
    assert result.rc == 0 and result.changed >= 1, result
    assert "changed: [" in ran_under(result.output, "container_service : Container answers"), result
    assert not ran_under(result.output, "container_service : Container is created or changed"), result
    after = container(docker_client, test_vars)
    assert after.id == before.id, "a stopped container as configured must be started, not recreated"
    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone() == ("vector",)
    again = converge()
    assert again.rc == 0 and again.changed == 0, again
    assert docker_health(docker_client, after.name) == "healthy", after.logs(tail=30).decode()


def test_readme_example_runs_as_written(test_vars: dict[str, Any], tmp_path: Path) -> None:
    """roles/postgres_pgvector/README.md's example playbook, on this laptop: its port is this
    scenario's (15432), so it finds the database converged and changes nothing."""
    for example in readme_examples("postgres_pgvector"):
        result = run_readme_example(example, tmp_path)
        assert result.rc == 0 and result.changed == 0, result
    with connect(test_vars) as conn, conn.cursor() as cur:
        cur.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone() == ("vector",)


def test_preflight_readme_example_runs_as_written(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], tmp_path: Path
) -> None:
    """roles/preflight/README.md's examples: the shared preflight, then both container roles (this
    scenario's database is there, its Redis is made by the example and removed afterwards); the
    role alone with inputs of its own, no other role in the play."""
    stack, alone = readme_examples("preflight")
    try:
        result = run_readme_example(stack, tmp_path)
        assert result.rc == 0, result
        assert redis_client(test_vars).ping() is True
        # The example leaves the endpoint to the docker CLI's rules (DOCKER_HOST, the context,
        # /var/run/docker.sock); this laptop has the engine's socket at another path.
        result = run_readme_example(
            alone, tmp_path, "-e", f"preflight_docker_host={test_vars['integrador_docker_host']}"
        )
        assert result.rc == 0 and result.changed == 0, result
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(test_vars["redis_container_name"]).remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(test_vars["redis_volume"]).remove(force=True)
