"""The Docker access layer (module_utils/integrador_docker.py) against this machine's real engine:
containers started here (itest_dockerlayer_*) are inspected, their logs and execs read, and
removed; the frame decoder over generated payloads; dead endpoints give messages, not tracebacks.
The docker CLI is the independent witness of what the engine holds."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible.module_utils import integrador_docker as docker  # loaded by conftest.py from module_utils/
from ansible_adhoc import run_module
from hypothesis import HealthCheck, example, given, settings, target
from hypothesis import strategies as st

IMAGE = "integrador-test/base:trixie"  # tests/images/build.sh; has sh and base64
ENGINE = "unix:///var/run/docker.sock"


def cli(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    return docker.DockerClient(os.environ.get("DOCKER_HOST") or ENGINE)


@pytest.fixture
def container() -> Iterator[str]:
    """A running container of our own, removed afterwards whatever happens."""
    name = f"itest_dockerlayer_{uuid.uuid4().hex[:10]}"
    cli("run", "-d", "--name", name, "--label", "itest=dockerlayer", IMAGE, "sleep", "600")
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def finished(script: str, *flags: str) -> Iterator[str]:
    """A container that ran `sh -c script` to its end (docker wait: no timing involved)."""
    name = f"itest_dockerlayer_{uuid.uuid4().hex[:10]}"
    cli("run", "-d", "--name", name, *flags, IMAGE, "sh", "-c", script)
    try:
        cli("wait", name)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


# --- the real engine ------------------------------------------------------------------------
def test_ping_and_version_are_the_engines(client: docker.DockerClient) -> None:
    assert client.ping() is True
    assert client.version()["Version"] == cli("version", "--format", "{{.Server.Version}}")
    assert client.info()["DockerRootDir"] == cli("info", "--format", "{{.DockerRootDir}}")


def test_container_started_here_is_inspected_then_gone(client: docker.DockerClient, container: str) -> None:
    attrs = client.inspect_container(container)
    assert attrs is not None
    assert attrs["Id"] == cli("inspect", "--format", "{{.Id}}", container)
    assert attrs["Name"] == f"/{container}"
    assert attrs["State"]["Running"] is True
    assert attrs["Config"]["Labels"]["itest"] == "dockerlayer"
    assert client.inspect_container(attrs["Id"][:12])["Name"] == f"/{container}"
    image = client.inspect_image(IMAGE)
    assert image is not None and image["Id"] == attrs["Image"]
    listed = client.containers(filters={"label": ["itest=dockerlayer"], "name": [container]})
    assert [c["Id"] for c in listed] == [attrs["Id"]]
    cli("rm", "-f", container)
    assert client.inspect_container(container) is None
    assert client.containers(filters={"name": [container]}) == []


def test_volume_inspect_and_missing_things_are_none(client: docker.DockerClient) -> None:
    name = f"itest_dockerlayer_{uuid.uuid4().hex[:10]}"
    cli("volume", "create", name)
    try:
        assert client.inspect_volume(name)["Name"] == name
    finally:
        cli("volume", "rm", name)
    assert client.inspect_volume(name) is None
    assert client.inspect_image("itest_dockerlayer_no/such:image") is None
    assert client.inspect_container("itest_dockerlayer_no_such_container") is None


def test_logs_hold_both_streams_and_the_tail(client: docker.DockerClient) -> None:
    # 40000 characters on one line: the engine splits it into several frames. The two streams are
    # two pipes, so only the order within each is the program's; and the engine logs each pipe as
    # it reads it, so a write to the other pipe while the long line is still being read can land
    # inside it (CI saw err-2 there). The pauses keep the other pipe quiet while it is read.
    script = (
        "echo out-1; echo err-1 >&2; echo 'ünï €'; sleep 1; head -c 40000 /dev/zero | tr '\\0' x; echo;"
        " sleep 1; echo err-2 >&2"
    )
    out = ["out-1", "ünï €", "x" * 40000]
    err = ["err-1", "err-2"]
    for name in finished(script):
        assert client.logs(name, stderr=False).decode().splitlines() == out
        assert client.logs(name, stdout=False).decode().splitlines() == err
        both = client.logs(name).decode().splitlines()
        assert [line for line in both if line in out] == out
        assert [line for line in both if line in err] == err
        assert len(both) == 5
        # The docker CLI's view, as the witness.
        cli_view = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=True)
        assert (cli_view.stdout.splitlines(), cli_view.stderr.splitlines()) == (out, err)


def test_logs_tail_is_the_last_lines(client: docker.DockerClient) -> None:
    for name in finished("for i in 1 2 3 4 5; do echo line-$i; done"):
        assert client.logs(name, tail=2).decode().splitlines() == ["line-4", "line-5"]
        assert client.logs(name, tail=0) == b""


def test_logs_of_a_tty_container_are_the_raw_terminal(client: docker.DockerClient) -> None:
    for name in finished("echo one; echo two >&2", "-t"):
        assert client.logs(name).decode().splitlines() == ["one", "two"]


def test_logs_of_a_missing_container_are_not_found(client: docker.DockerClient) -> None:
    with pytest.raises(docker.DockerNotFound) as caught:
        client.logs("itest_dockerlayer_no_such_container")
    assert caught.value.status == 404
    assert "itest_dockerlayer_no_such_container" in str(caught.value)


def test_exec_separates_the_streams_and_gives_the_exit_code(
    client: docker.DockerClient, container: str
) -> None:
    assert client.exec_run(container, ["sh", "-c", "echo hi; echo oops >&2; exit 3"]) == (
        3,
        b"hi\n",
        b"oops\n",
    )


# Hypothesis keeps drawn data small (examples past 8 KiB are discarded): the large stdout is
# built from drawn parts joined and repeated to a drawn length past the engine's 32 KiB frames
# (the test asserts the size reached, so a generator that stops short fails instead of passing).
ONE_FRAME = 32 * 1024
LARGE = st.tuples(
    st.lists(st.binary(min_size=1, max_size=600), min_size=1, max_size=6).map(b"".join),
    st.integers(min_value=ONE_FRAME + 1, max_value=72000),
).map(lambda part: (part[0] * (part[1] // len(part[0]) + 1))[: part[1]])


def exec_round_trip(client: docker.DockerClient, container: str, out: bytes, err: bytes) -> None:
    # The payloads travel base64-encoded in the argv and are decoded inside the container, so the
    # bytes on the wire are arbitrary.
    script = 'printf %s "$1" | base64 -d; printf %s "$2" | base64 -d >&2'
    argv = ["sh", "-c", script, "sh", base64.b64encode(out).decode(), base64.b64encode(err).decode()]
    assert client.exec_run(container, argv) == (0, out, err)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out=st.binary(max_size=3000), err=st.binary(max_size=3000))
def test_exec_streams_carry_any_bytes_exactly(
    client: docker.DockerClient, container: str, out: bytes, err: bytes
) -> None:
    exec_round_trip(client, container, out, err)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out=LARGE, err=st.binary(max_size=3000))
@example(out=bytes(range(256)) * 280, err=b"")
def test_exec_stdout_of_several_frames_arrives_exactly(
    client: docker.DockerClient, container: str, out: bytes, err: bytes
) -> None:
    """stdout larger than one frame (the engine writes 32 KiB at most): several frames, joined."""
    assert len(out) > ONE_FRAME, "the generator must reach the multi-frame case"
    target(float(len(out)), label="stdout bytes")
    exec_round_trip(client, container, out, err)


def test_exec_in_a_stopped_container_is_the_engines_refusal(client: docker.DockerClient) -> None:
    for name in finished("true"):
        with pytest.raises(docker.DockerAPIError) as caught:
            client.exec_run(name, ["true"])
        assert caught.value.status == 409
        assert f"The Docker engine at {client.host} answered POST /containers/{name}/exec with 409" in str(
            caught.value
        )


# --- the multiplexed stream -----------------------------------------------------------------
frames = st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.binary(max_size=300)), max_size=20)


@given(frames)
def test_frames_decode_to_what_was_written(written: list[tuple[int, bytes]]) -> None:
    data = b"".join(docker.frame(stream, payload) for stream, payload in written)
    assert list(docker.iter_frames(data)) == written
    out, err = docker.demux(data)
    assert out == b"".join(p for s, p in written if s == 1)
    assert err == b"".join(p for s, p in written if s in (2, 3))
    assert docker.interleaved(data) == b"".join(p for _, p in written)


@given(frames.filter(bool), st.data())
def test_a_stream_cut_anywhere_gives_what_arrived_or_says_so(
    written: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    whole = b"".join(docker.frame(stream, payload) for stream, payload in written)
    cut = data.draw(st.integers(0, len(whole) - 1))
    try:
        payload = docker.interleaved(whole[:cut])
    except docker.DockerProtocolError as exc:
        assert "no valid frame header" in str(exc)  # cut inside a header
    else:
        assert b"".join(p for _, p in written).startswith(payload)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_the_protocol_error(data: bytes) -> None:
    try:
        docker.demux(data)
    except docker.DockerProtocolError:
        pass


# --- endpoints that do not answer --------------------------------------------------------------
def test_missing_socket_names_the_path_and_the_fix(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(docker.DockerUnreachable) as caught:
        docker.DockerClient(host, "DOCKER_HOST").ping()
    message = str(caught.value)
    assert message.startswith(
        f"Cannot reach the Docker engine at {host} (from DOCKER_HOST) (there is no socket at "
    )
    assert "docker context use <name>" in message and "integrador_docker_host" in message
    assert caught.value.endpoint == host


def test_dead_socket_is_a_refused_connection(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as left:  # a socket file left by an engine that stopped
        left.bind(str(path))
    with pytest.raises(docker.DockerUnreachable) as caught:
        docker.DockerClient(f"unix://{path}").info()
    assert f"Cannot reach the Docker engine at unix://{path} (connection refused" in str(caught.value)


def test_socket_that_hangs_up_is_unreachable_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "rude.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        with pytest.raises(docker.DockerUnreachable, match="Cannot reach the Docker engine at unix://"):
            docker.DockerClient(f"unix://{path}").info()
    finally:
        thread.join()
        server.close()


def test_something_else_than_docker_is_named(tmp_path: Path) -> None:
    path = tmp_path / "web.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<html/>\r\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with pytest.raises(docker.DockerProtocolError, match="is this endpoint a Docker engine"):
            docker.DockerClient(f"unix://{path}").info()
    finally:
        thread.join()
        server.close()


@given(st.text(max_size=60))
def test_any_docker_host_is_a_client_or_a_message(host: str) -> None:
    try:
        docker.DockerClient(host, timeout=1, environ={})
    except docker.DockerEndpointError as exc:
        assert "Set integrador_docker_host (or DOCKER_HOST)" in str(exc)


def test_context_that_does_not_exist_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(
        docker.DockerEndpointError, match="the Docker context 'gone' \\(DOCKER_CONTEXT\\) does not"
    ):
        docker.connect(None, environ={"DOCKER_CONTEXT": "gone", "DOCKER_CONFIG": str(tmp_path)})


def test_empty_host_follows_docker_host(tmp_path: Path) -> None:
    client, warnings = docker.connect("", environ={"DOCKER_HOST": f"unix://{tmp_path}/x.sock"})
    assert (client.host, client.source, warnings) == (f"unix://{tmp_path}/x.sock", "DOCKER_HOST", [])


# --- the module, run by Ansible -------------------------------------------------------------------
def run_logs_module(**args: object) -> dict:
    return run_module("integrador_container_logs", args).result


def test_logs_module_reads_the_tail_and_an_empty_list_for_no_container() -> None:
    for name in finished("echo first; echo second; echo third"):
        result = run_logs_module(name=name, tail=2)
        assert result["lines"] == ["second", "third"], result
        assert result["changed"] is False
    assert run_logs_module(name="itest_dockerlayer_no_such_container")["lines"] == []


def test_logs_module_names_a_dead_endpoint(tmp_path: Path) -> None:
    result = run_logs_module(name="x", docker_host=f"unix://{tmp_path}/no.sock")
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"Cannot read the logs of the container x: Cannot reach the Docker engine at unix://{tmp_path}/no.sock"
    )
    assert "Traceback" not in json.dumps(result)
