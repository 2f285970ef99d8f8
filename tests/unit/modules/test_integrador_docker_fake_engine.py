"""The Docker access layer (module_utils/integrador_docker.py) and the Docker probes
(module_utils/integrador_probe.py) against a stand-in engine: an HTTP server on a unix socket of
the test's own that answers what the Engine API documents, and records every request. No Docker
engine is needed, so these run anywhere (and under make mutation). What a real engine does with
the same requests: test_integrador_docker.py."""

from __future__ import annotations

import io
import json
import socketserver
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ansible.module_utils import integrador_docker as docker  # loaded by conftest.py from module_utils/
from ansible.module_utils import integrador_probe as probe


def frame(stream: int, payload: bytes) -> bytes:
    """A frame of a multiplexed stream, written out: stream, three zero bytes, big-endian size."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class Engine:
    """Answers by (method, path): (status, body bytes or a JSON value); 404 for anything else.
    `requests` holds (method, path, query, body) of each request, in order."""

    def __init__(self, path: Path, tcp: bool = False) -> None:
        self.path = path
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.hosts: list[str] = []  # the Host header of each request
        self.content_types: list[str | None] = []  # and its Content-Type
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                engine.hosts.append(self.headers.get("Host", ""))
                engine.content_types.append(self.headers.get("Content-Type"))
                engine.requests.append(
                    (self.command, url.path, parse_qs(url.query), json.loads(raw) if raw else None)
                )
                status, body = engine.answers.get(
                    (self.command, url.path), (404, {"message": f"No such thing: {url.path}"})
                )
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True

        self.server = TCPServer(("127.0.0.1", 0), Handler) if tcp else Server(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    stand_in = Engine(tmp_path / "engine.sock")
    yield stand_in
    stand_in.close()


def test_logs_without_a_tty_are_the_frames_payloads_in_order(engine: Engine) -> None:
    engine.answers[("GET", "/containers/api/json")] = (200, {"Config": {"Tty": False}})
    stream = frame(1, b"out one\n") + frame(2, b"err one\n") + frame(1, b"out two\n")
    engine.answers[("GET", "/containers/api/logs")] = (200, stream)
    assert docker.DockerClient(engine.host).logs("api", tail=3) == b"out one\nerr one\nout two\n"
    method, path, query, _ = engine.requests[-1]
    assert (method, path) == ("GET", "/containers/api/logs")
    assert query == {"stdout": ["1"], "stderr": ["1"], "tail": ["3"]}


def test_logs_of_one_stream_ask_for_that_stream_only(engine: Engine) -> None:
    engine.answers[("GET", "/containers/api/json")] = (200, {"Config": {}})
    engine.answers[("GET", "/containers/api/logs")] = (200, frame(2, b"oops\n"))
    assert docker.DockerClient(engine.host).logs("api", stdout=False) == b"oops\n"
    assert engine.requests[-1][2] == {"stdout": ["0"], "stderr": ["1"], "tail": ["all"]}


def test_logs_with_a_tty_are_the_raw_bytes(engine: Engine) -> None:
    raw = b"\x1b[32mready\x1b[0m\r\n"
    engine.answers[("GET", "/containers/web/json")] = (200, {"Config": {"Tty": True}})
    engine.answers[("GET", "/containers/web/logs")] = (200, raw)
    assert docker.DockerClient(engine.host).logs("web") == raw


def test_logs_of_no_container_are_not_found(engine: Engine) -> None:
    with pytest.raises(docker.DockerNotFound) as caught:
        docker.DockerClient(engine.host).logs("gone")
    assert caught.value.status == 404
    assert caught.value.explanation == "No such thing: /containers/gone/json"
    assert str(caught.value) == (
        f"The Docker engine at {engine.host} answered GET /containers/gone/json with 404: "
        "No such thing: /containers/gone/json"
    )


def test_exec_creates_starts_and_reads_the_exit_code(engine: Engine) -> None:
    engine.answers[("POST", "/containers/db/exec")] = (201, {"Id": "e1"})
    engine.answers[("POST", "/exec/e1/start")] = (200, frame(1, b"5432\n") + frame(2, b"warn\n"))
    engine.answers[("GET", "/exec/e1/json")] = (200, {"ExitCode": 3})
    assert docker.DockerClient(engine.host).exec_run("db", ["pg_isready", "-q"]) == (3, b"5432\n", b"warn\n")
    assert [(m, p, b) for m, p, _, b in engine.requests] == [
        (
            "POST",
            "/containers/db/exec",
            {"Cmd": ["pg_isready", "-q"], "AttachStdout": True, "AttachStderr": True},
        ),
        ("POST", "/exec/e1/start", {"Detach": False, "Tty": False}),
        ("GET", "/exec/e1/json", None),
    ]


def test_exec_without_an_exit_code_gives_minus_one(engine: Engine) -> None:
    engine.answers[("POST", "/containers/db/exec")] = (201, {"Id": "e2"})
    engine.answers[("POST", "/exec/e2/start")] = (200, b"")
    engine.answers[("GET", "/exec/e2/json")] = (200, {"ExitCode": None})
    assert docker.DockerClient(engine.host).exec_run("db", ["true"]) == (-1, b"", b"")


def test_exec_exit_code_zero_is_kept(engine: Engine) -> None:
    engine.answers[("POST", "/containers/db/exec")] = (201, {"Id": "e3"})
    engine.answers[("POST", "/exec/e3/start")] = (200, frame(1, b"ok"))
    engine.answers[("GET", "/exec/e3/json")] = (200, {"ExitCode": 0})
    assert docker.DockerClient(engine.host).exec_run("db", ["true"]) == (0, b"ok", b"")


def test_containers_ask_for_all_with_the_filters_as_json(engine: Engine) -> None:
    engine.answers[("GET", "/containers/json")] = (200, [{"Id": "c1"}])
    client = docker.DockerClient(engine.host)
    assert client.containers(filters={"label": ["integrador=1"]}) == [{"Id": "c1"}]
    assert engine.requests[-1][2] == {"all": ["1"], "filters": ['{"label": ["integrador=1"]}']}
    assert client.containers(all=False) == [{"Id": "c1"}]
    assert engine.requests[-1][2] == {"all": ["0"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("inspect_container", "/containers/{}/json"),
        ("inspect_image", "/images/{}/json"),
        ("inspect_volume", "/volumes/{}"),
    ],
)
def test_inspect_gives_the_object_or_none(engine: Engine, method: str, path: str) -> None:
    engine.answers[("GET", path.format("here"))] = (200, {"Id": "x1"})
    client = docker.DockerClient(engine.host)
    assert getattr(client, method)("here") == {"Id": "x1"}
    assert getattr(client, method)("missing") is None
    assert engine.requests[-1][1] == path.format("missing")


def test_version_and_an_api_error_with_its_status(engine: Engine) -> None:
    engine.answers[("GET", "/version")] = (200, {"ApiVersion": "1.41"})
    engine.answers[("GET", "/info")] = (500, {"message": "daemon is sad"})
    client = docker.DockerClient(engine.host, "the context")
    assert client.version() == {"ApiVersion": "1.41"}
    with pytest.raises(docker.DockerAPIError) as caught:
        client.info()
    assert not isinstance(caught.value, docker.DockerNotFound)
    assert (caught.value.status, caught.value.explanation, caught.value.endpoint) == (
        500,
        "daemon is sad",
        engine.host,
    )
    assert str(caught.value) == (
        f"The Docker engine at {engine.host} (from the context) answered GET /info with 500: daemon is sad"
    )


# --- the probes that go through the layer --------------------------------------------------------
def test_docker_start_is_changed_on_204_only(engine: Engine) -> None:
    engine.answers[("POST", "/containers/db/start")] = (204, b"")
    engine.answers[("POST", "/containers/up/start")] = (304, b"")
    assert probe.docker_start(engine.host, "db") == (True, "")
    assert probe.docker_start(engine.host, "up") == (False, "")
    changed, problem = probe.docker_start(engine.host, "nope")
    assert changed is False
    assert problem.startswith(
        f"Docker could not start nope: The Docker engine at {engine.host} answered POST"
    )


def test_docker_logs_are_the_last_lines(engine: Engine, tmp_path: Path) -> None:
    engine.answers[("GET", "/containers/db/json")] = (200, {"Config": {"Tty": False}})
    engine.answers[("GET", "/containers/db/logs")] = (200, frame(1, b"a\nb\n") + frame(2, b"c\n\xff\n"))
    assert probe.docker_logs(engine.host, "db", tail=2) == ["c", "\ufffd"]
    assert engine.requests[-1][2]["tail"] == ["2"]
    assert probe.docker_logs(engine.host, "db") == ["a", "b", "c", "\ufffd"]
    assert engine.requests[-1][2]["tail"] == ["20"]
    assert probe.docker_logs(f"unix://{tmp_path}/none.sock", "db") == []


# --- TLS as the docker CLI sets it up ----------------------------------------------------------
def self_signed(folder: Path, name: str = "ca") -> None:
    """ca.pem, cert.pem and key.pem: one self-signed certificate and its key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "ca.pem").write_bytes(pem)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def test_tcp_ports_default_to_2375_plain_and_2376_with_tls(tmp_path: Path) -> None:
    assert docker.DockerClient("tcp://engine", environ={})._address == ("engine", 2375)
    assert docker.DockerClient("tcp://engine", environ={})._tls is None
    tls = docker.DockerClient("tcp://engine", environ={"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert tls._address == ("engine", 2376)
    assert docker.DockerClient(
        "https://engine:9999", environ={"DOCKER_CERT_PATH": str(tmp_path)}
    )._address == (
        "engine",
        9999,
    )


def subjects(context: Any) -> list[dict[str, str]]:
    """The trusted CAs' subjects (the system's ones too: ssl.create_default_context loads them)."""
    return [dict(part[0] for part in ca["subject"]) for ca in context.get_ca_certs()]


def test_tls_without_verify_checks_no_certificate(tmp_path: Path) -> None:
    import ssl

    self_signed(tmp_path, "integrador unused ca")
    context = docker.DockerClient(
        "tcp://engine", environ={"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    )._tls
    assert context is not None
    assert (context.check_hostname, context.verify_mode) == (False, ssl.CERT_NONE)
    assert {"commonName": "integrador unused ca"} not in subjects(context)


def test_tls_verify_trusts_the_ca_of_the_cert_path(tmp_path: Path) -> None:
    import ssl

    self_signed(tmp_path, "integrador test ca")
    context = docker.DockerClient(
        "tcp://engine", environ={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    )._tls
    assert context is not None
    assert (context.check_hostname, context.verify_mode) == (True, ssl.CERT_REQUIRED)
    assert {"commonName": "integrador test ca"} in subjects(context)


def test_tls_verify_without_the_ca_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(docker.DockerEndpointError) as caught:
        docker.DockerClient(
            "tcp://engine:2376",
            "DOCKER_HOST",
            environ={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)},
        )
    message = str(caught.value)
    assert message.startswith(
        "The TLS files for the Docker endpoint tcp://engine:2376 (from DOCKER_HOST) cannot be read ("
    )
    assert message.endswith(
        "): put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH, or unset DOCKER_TLS_VERIFY."
    )
    assert caught.value.endpoint == "tcp://engine:2376"


def test_tls_cert_path_defaults_to_the_home_docker_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".docker").mkdir()
    self_signed(tmp_path / ".docker", "home ca")
    context = docker.DockerClient("tcp://engine", environ={"DOCKER_TLS_VERIFY": "1"})._tls
    assert context is not None
    assert {"commonName": "home ca"} in subjects(context)


def test_a_client_certificate_is_loaded_only_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    environ = {"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    assert docker.DockerClient("tcp://engine", environ=environ)._tls is not None  # no key.pem: not read
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(
        docker.DockerEndpointError, match="The TLS files for the Docker endpoint tcp://engine cannot"
    ):
        docker.DockerClient("tcp://engine", environ=environ)
    (tmp_path / "cert.pem").unlink()
    assert docker.DockerClient("tcp://engine", environ=environ)._tls is not None  # no cert.pem: not read
    self_signed(tmp_path)
    assert docker.DockerClient("tcp://engine", environ=environ)._tls is not None  # a real pair loads


# --- which endpoint connect() picks ----------------------------------------------------------------
def test_connect_to_an_explicit_host_reads_no_context(tmp_path: Path) -> None:
    client, warnings = docker.connect("tcp://engine:1234", 7, environ={"DOCKER_CONTEXT": "gone"})
    assert (client.host, client.source, client.timeout, warnings) == ("tcp://engine:1234", "", 7, [])
    tls, _ = docker.connect("tcp://engine", environ={"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert tls._address == ("engine", 2376) and tls._tls is not None  # the environ given, not os.environ


def test_connect_without_a_host_follows_the_default_with_the_configs_warning(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    client, warnings = docker.connect(None, 3, environ={"HOME": str(home)})
    assert (client.host, client.source, client.timeout, warnings) == (
        "unix:///var/run/docker.sock",
        "the default socket",
        3,
        [],
    )
    (home / ".docker" / "config.json").write_text("{broken")
    client, warnings = docker.connect("", environ={}, home=str(home))
    assert client.host == "unix:///var/run/docker.sock"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{home}/.docker/config.json cannot be read (")
    assert warnings[0].endswith("); the Docker context `default` is used.")
    client, warnings = docker.connect("", environ={"HOME": str(home)}, home=str(tmp_path / "elsewhere"))
    assert len(warnings) == 1  # HOME of the environ given wins over home


def test_ping_is_true_for_the_engines_ok_only(engine: Engine) -> None:
    engine.answers[("GET", "/_ping")] = (200, b"OK\n")
    assert docker.DockerClient(engine.host).ping() is True
    assert engine.requests[-1][:2] == ("GET", "/_ping")
    engine.answers[("GET", "/_ping")] = (200, b"ok")
    assert docker.DockerClient(engine.host).ping() is False


# --- what the layer sends and reads back -----------------------------------------------------------
def test_over_the_unix_socket_the_host_header_is_localhost(engine: Engine) -> None:
    engine.answers[("GET", "/version")] = (200, {"ApiVersion": "1.41"})
    docker.DockerClient(engine.host).version()
    assert engine.hosts == ["localhost"]


def test_tcp_without_tls_speaks_plain_http(tmp_path: Path) -> None:
    plain = Engine(tmp_path / "unused", tcp=True)
    try:
        plain.answers[("GET", "/version")] = (200, {"ApiVersion": "1.41"})
        port = plain.server.server_address[1]
        assert docker.DockerClient(f"tcp://127.0.0.1:{port}", environ={}).version() == {"ApiVersion": "1.41"}
    finally:
        plain.close()


def test_an_empty_body_is_none_and_one_that_is_not_json_is_named(engine: Engine) -> None:
    engine.answers[("GET", "/version")] = (200, b"")
    engine.answers[("GET", "/info")] = (200, b"<html>" + b"x" * 100)
    client = docker.DockerClient(engine.host)
    assert client.version() is None
    with pytest.raises(docker.DockerProtocolError) as caught:
        client.info()
    shown = repr(b"<html>" + b"x" * 54)
    assert str(caught.value) == (
        f"The Docker engine at {engine.host} answered with something that is not JSON ({shown}): "
        "is this endpoint a Docker engine?"
    )
    assert caught.value.endpoint == engine.host


def test_connect_uses_this_processs_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://engine:2375")
    client, _ = docker.connect("")
    assert (client.host, client.source) == ("tcp://engine:2375", "DOCKER_HOST")


def test_connect_without_home_in_the_environ_reads_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text("{broken")
    monkeypatch.setenv("HOME", str(tmp_path))
    _, warnings = docker.connect("", environ={})
    assert len(warnings) == 1 and warnings[0].startswith(f"{tmp_path}/.docker/config.json cannot be read (")


def test_connect_to_a_missing_context_names_the_default_endpoint(tmp_path: Path) -> None:
    with pytest.raises(docker.DockerEndpointError) as caught:
        docker.connect(None, environ={"DOCKER_CONTEXT": "gone", "DOCKER_CONFIG": str(tmp_path)})
    assert caught.value.endpoint == "unix:///var/run/docker.sock"


def test_connect_through_the_environ_keeps_its_tls_settings(tmp_path: Path) -> None:
    environ = {"DOCKER_HOST": "tcp://engine", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    client, _ = docker.connect("", environ=environ)
    assert client._tls is not None and client._address == ("engine", 2376)


def test_a_json_body_is_sent_as_json(engine: Engine) -> None:
    engine.answers[("POST", "/containers/db/exec")] = (201, {"Id": "e9"})
    engine.answers[("POST", "/exec/e9/start")] = (200, b"")
    engine.answers[("GET", "/exec/e9/json")] = (200, {"ExitCode": 0})
    docker.DockerClient(engine.host).exec_run("db", ["true"])
    assert engine.content_types == ["application/json", "application/json", None]


def test_image_references_keep_their_registry_port_and_tag_in_the_path(engine: Engine) -> None:
    engine.answers[("GET", "/images/registry.local:5000/team/img:1/json")] = (200, {"Id": "sha256:1"})
    assert docker.DockerClient(engine.host).inspect_image("registry.local:5000/team/img:1") == {
        "Id": "sha256:1"
    }


@pytest.mark.parametrize(
    ("status", "body", "explanation", "shown"),
    [
        (400, {"message": "bad parameter"}, "bad parameter", "bad parameter"),
        (500, {"message": ""}, "", "Internal Server Error"),
        (500, b"  plain \xff text \n", "plain \ufffd text", "plain \ufffd text"),
        (503, b"[1, 2]", "[1, 2]", "[1, 2]"),
        (599, {"message": ""}, "", "error"),  # a status http.client has no name for
    ],
)
def test_an_error_status_is_explained_with_the_engines_words(
    engine: Engine, status: int, body: Any, explanation: str, shown: str
) -> None:
    engine.answers[("GET", "/info")] = (status, body)
    with pytest.raises(docker.DockerAPIError) as caught:
        docker.DockerClient(engine.host).info()
    assert (caught.value.status, caught.value.explanation) == (status, explanation)
    assert (
        str(caught.value) == f"The Docker engine at {engine.host} answered GET /info with {status}: {shown}"
    )


def test_a_body_cut_short_is_what_arrived(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "cut.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + frame(1, b"partial"))
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert docker.DockerClient(f"unix://{path}").request("GET", "/x") == (200, frame(1, b"partial"))
    finally:
        thread.join()
        server.close()


def test_an_error_names_the_path_without_its_query(engine: Engine) -> None:
    engine.answers[("GET", "/containers/json")] = (500, {"message": "boom"})
    with pytest.raises(docker.DockerAPIError) as caught:
        docker.DockerClient(engine.host).containers(filters={"name": ["x"]})
    assert (
        str(caught.value)
        == f"The Docker engine at {engine.host} answered GET /containers/json with 500: boom"
    )


# --- the multiplexed stream, header by header -----------------------------------------------------
def test_a_header_with_padding_or_an_unknown_stream_is_refused() -> None:
    with pytest.raises(docker.DockerProtocolError, match=r"no valid frame header at byte 13 "):
        list(docker.iter_frames(frame(1, b"hello") + b"\x01\x00\x01\x00\x00\x00\x00\x01x"))
    with pytest.raises(docker.DockerProtocolError, match=r"at byte 0 \(b'\\x07\\x00\\x00\\x00"):
        list(docker.iter_frames(b"\x07\x00\x00\x00\x00\x00\x00\x01x"))


def test_stdin_frames_count_as_output_and_system_ones_as_errors() -> None:
    assert docker.demux(frame(0, b"in") + frame(1, b"out") + frame(2, b"err") + frame(3, b"sys")) == (
        b"inout",
        b"errsys",
    )


def _tar_of(name: str, data: bytes, kind: bytes = b"0") -> bytes:
    """A one-member tar as the archive endpoint sends it (kind 0: a file, 5: a folder)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data) if kind == b"0" else 0
        tar.addfile(info, io.BytesIO(data) if kind == b"0" else None)
    return buffer.getvalue()


def test_copy_file_out_gives_the_files_bytes_in_chunks_and_asks_for_its_path(engine: Engine) -> None:
    """Bigger than one chunk (1 MiB), so the bytes come through more than one write."""
    data = bytes(range(256)) * 5000
    engine.answers[("GET", "/containers/db-1/archive")] = (200, _tar_of("postgres.dump", data))
    chunks: list[bytes] = []
    size = docker.DockerClient(engine.host).copy_file_out("db-1", "/tmp/x y/postgres.dump", chunks.append)
    assert size == len(data) and b"".join(chunks) == data and len(chunks) == 2
    method, path, query, _ = engine.requests[-1]
    assert (method, path, query) == ("GET", "/containers/db-1/archive", {"path": ["/tmp/x y/postgres.dump"]})


def test_copy_file_out_of_a_folder_a_missing_path_or_a_broken_tar_is_an_error(engine: Engine) -> None:
    client = docker.DockerClient(engine.host)
    engine.answers[("GET", "/containers/db/archive")] = (200, _tar_of("data", b"", kind=b"5"))
    with pytest.raises(docker.DockerProtocolError, match=r"^db:/data is not a regular file$"):
        client.copy_file_out("db", "/data", lambda chunk: None)
    engine.answers[("GET", "/containers/db/archive")] = (200, b"not a tar at all" * 40)
    with pytest.raises(docker.DockerProtocolError, match=r"^The copy of db:/x from the .* broke off"):
        client.copy_file_out("db", "/x", lambda chunk: None)
    engine.answers[("GET", "/containers/db/archive")] = (404, {"message": "Could not find the file /x"})
    with pytest.raises(docker.DockerNotFound, match=r"GET /containers/db/archive with 404: Could not"):
        client.copy_file_out("db", "/x", lambda chunk: None)


def test_copy_file_out_from_no_engine_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(docker.DockerUnreachable, match="there is no socket at"):
        docker.DockerClient(f"unix://{tmp_path}/none.sock").copy_file_out("db", "/x", lambda chunk: None)
