"""What a developer would check after converging the postgres_pgvector role."""

from __future__ import annotations

import io
import socket
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import docker
import psycopg2
import pytest

PROBE_TABLE = "itest_survivors"


def connect(test_vars: dict[str, Any]) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host="127.0.0.1",
        port=test_vars["postgres_pgvector_port"],
        dbname="menu_ops",
        user="postgres",
        password="postgres",
        connect_timeout=5,
    )


@pytest.fixture
def db(test_vars: dict[str, Any]) -> Iterator[psycopg2.extensions.connection]:
    conn = connect(test_vars)
    conn.autocommit = True
    yield conn
    conn.close()


def container(client: docker.DockerClient, test_vars: dict[str, Any]) -> Any:
    return client.containers.get(test_vars["postgres_pgvector_container_name"])


def test_container_is_healthy_with_restart_policy_and_loopback_port(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    c = container(docker_client, test_vars)
    assert c.attrs["State"]["Health"]["Status"] == "healthy", c.logs(tail=30).decode()
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The squatter runs on the laptop, as the developer's own program would.
    squatter = (
        f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(60)"
    )
    host.run(f'nohup python3 -c "{squatter}" >/dev/null 2>&1 &')
    try:
        result = converge(
            {"postgres_pgvector_port": port, "postgres_pgvector_container_name": "itest_db_port"}
        )
    finally:
        host.run(f"pkill -f 'bind..127.0.0.1.,{port}'")
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
    assert "Current database container is inspected" not in result.output, result
