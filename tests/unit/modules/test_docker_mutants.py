"""The cases of the Docker access layer (module_utils/integrador_docker.py) that kill the mutants
`make mutation` found surviving: the client's timeout on every kind of endpoint (unix socket, plain
tcp, TLS), TLS without verification against a self-signed engine, what copy_file_out does with a
400, a link, a broken or stalled tar and a name with a slash, and a GET sent without a body.

The engine is a byte-level stand-in on a socket of the test's own (no Docker engine): it reads the
request's head, keeps it, answers with the bytes given (or never answers), and holds the connection
open until the test ends, HOLD seconds at most, so a client without a timeout fails instead of
hanging."""

from __future__ import annotations

import io
import socket
import ssl
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible.module_utils import integrador_docker as docker  # loaded by conftest.py from module_utils/
from test_integrador_docker_fake_engine import self_signed

HOLD = 3.0  # how long a stand-in keeps a connection open without answering
TIMEOUT = 0.2  # the client's timeout in these tests


class Peer:
    """One listener (unix or tcp); on each connection: the TLS handshake when `tls` is given, then,
    when `answer` is not None, the request's head is read (kept in `heads`) and `answer` sent. The
    connection is then held open until close() or HOLD seconds."""

    def __init__(
        self, listener: socket.socket, answer: bytes | None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.listener = listener
        self.listener.listen()
        self.listener.settimeout(0.05)
        self.answer = answer
        self.tls = tls
        self.heads: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                conn.settimeout(HOLD)
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                if self.answer is not None:
                    head = b""
                    while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
                        head += chunk
                    self.heads.append(head.split(b"\r\n\r\n")[0])
                    conn.sendall(self.answer)
                self.done.wait(HOLD)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.listener.close()


def unix_peer(tmp_path: Path, answer: bytes | None) -> tuple[Peer, str]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "peer.sock"))
    return Peer(listener, answer), f"unix://{tmp_path}/peer.sock"


def tcp_peer(answer: bytes | None, tls: ssl.SSLContext | None = None) -> tuple[Peer, str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return Peer(listener, answer, tls), f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    started: list[Peer] = []
    yield started
    for peer in started:
        peer.close()


def http_answer(status: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return f"HTTP/1.1 {status}\r\nContent-Length: {size}\r\n\r\n".encode() + body


def one_member_tar(info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


# --- the timeout holds on every kind of endpoint ------------------------------------------------
@pytest.mark.parametrize("kind", ["unix", "tcp", "tls"])
def test_an_engine_that_never_answers_is_unreachable_after_the_clients_timeout(
    kind: str, tmp_path: Path, peers: list[Peer]
) -> None:
    """The client's timeout bounds the wait on a unix socket, over plain tcp and during the TLS
    handshake: the message says so, not a hang nor a hang-up once the engine gives up."""
    peer, host = unix_peer(tmp_path, None) if kind == "unix" else tcp_peer(None)
    peers.append(peer)
    environ = {"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)} if kind == "tls" else {}
    client = docker.DockerClient(host, timeout=TIMEOUT, environ=environ)
    with pytest.raises(docker.DockerUnreachable) as caught:
        client.ping()
    assert f"Cannot reach the Docker engine at {host} (no answer within {TIMEOUT:g} s)" in str(caught.value)


def test_tls_without_verify_talks_to_an_engine_with_a_self_signed_certificate(
    tmp_path: Path, peers: list[Peer]
) -> None:
    """DOCKER_TLS without DOCKER_TLS_VERIFY: the connection uses the client's TLS context (no check
    of the engine's certificate), so an engine with a self-signed one answers."""
    self_signed(tmp_path, "integrador self-signed engine")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    peer, host = tcp_peer(http_answer("200 OK", b"OK"), tls=server)
    peers.append(peer)
    empty = tmp_path / "no-client-certificate"
    empty.mkdir()
    client = docker.DockerClient(
        host, timeout=HOLD, environ={"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(empty)}
    )
    assert client.ping() is True
    assert peer.heads[0].startswith(b"GET /_ping HTTP/1.1\r\n")


# --- what a request puts on the wire -------------------------------------------------------------
def test_a_get_is_sent_without_a_body_or_a_content_length(tmp_path: Path, peers: list[Peer]) -> None:
    """Only a request with a JSON body says Content-Type and Content-Length; a GET has neither."""
    peer, host = unix_peer(tmp_path, http_answer("200 OK", b"OK"))
    peers.append(peer)
    assert docker.DockerClient(host).ping() is True
    head = peer.heads[0].lower()
    assert head.startswith(b"get /_ping http/1.1\r\n")
    assert b"content-length" not in head and b"content-type" not in head


# --- copy_file_out ---------------------------------------------------------------------------------
def test_copy_file_out_of_a_400_is_the_engines_error(tmp_path: Path, peers: list[Peer]) -> None:
    """400 is an error status like any above it: the engine's words, not a tar read from them."""
    peer, host = unix_peer(tmp_path, http_answer("400 Bad Request", b'{"message": "bad parameter"}'))
    peers.append(peer)
    with pytest.raises(docker.DockerAPIError) as caught:
        docker.DockerClient(host).copy_file_out("db", "/x", lambda chunk: None)
    assert (caught.value.status, caught.value.explanation) == (400, "bad parameter")
    assert str(caught.value).endswith("answered GET /containers/db/archive with 400: bad parameter")


def test_copy_file_out_of_a_link_is_not_a_regular_file_of_that_engine(
    tmp_path: Path, peers: list[Peer]
) -> None:
    """`docker cp` of a symlink gives the link itself: it is refused as not a regular file (not
    followed, not a broken stream), and the error names the endpoint."""
    link = tarfile.TarInfo("dump")
    link.type, link.linkname = tarfile.SYMTYPE, "/elsewhere/dump"
    peer, host = unix_peer(tmp_path, http_answer("200 OK", one_member_tar(link)))
    peers.append(peer)
    with pytest.raises(docker.DockerProtocolError) as caught:
        docker.DockerClient(host).copy_file_out("db", "/dump", lambda chunk: None)
    assert str(caught.value) == "db:/dump is not a regular file"
    assert caught.value.endpoint == host


def test_copy_file_out_of_a_broken_tar_names_the_endpoint(tmp_path: Path, peers: list[Peer]) -> None:
    peer, host = unix_peer(tmp_path, http_answer("200 OK", b"not a tar at all" * 40))
    peers.append(peer)
    with pytest.raises(docker.DockerProtocolError, match="broke off") as caught:
        docker.DockerClient(host).copy_file_out("db", "/x", lambda chunk: None)
    assert caught.value.endpoint == host


def test_copy_file_out_that_stalls_mid_stream_says_the_engine_stopped_answering(
    tmp_path: Path, peers: list[Peer]
) -> None:
    """The engine sends its answer's head and then nothing: after the timeout the message says
    there was no answer within it."""
    peer, host = unix_peer(tmp_path, http_answer("200 OK", b"", length=10240))
    peers.append(peer)
    with pytest.raises(docker.DockerUnreachable) as caught:
        docker.DockerClient(host, timeout=TIMEOUT).copy_file_out("db", "/x", lambda chunk: None)
    assert f"Cannot reach the Docker engine at {host} (no answer within {TIMEOUT:g} s)" in str(caught.value)


def test_copy_file_out_keeps_a_container_name_one_path_segment(tmp_path: Path, peers: list[Peer]) -> None:
    """A slash in the name is escaped: the request stays on that container's archive endpoint."""
    data = b"dump bytes"
    member = tarfile.TarInfo("dump")
    member.size = len(data)
    peer, host = unix_peer(tmp_path, http_answer("200 OK", one_member_tar(member, data)))
    peers.append(peer)
    chunks: list[bytes] = []
    assert docker.DockerClient(host).copy_file_out("../images/db", "/dump", chunks.append) == len(data)
    assert b"".join(chunks) == data
    assert peer.heads[0].startswith(b"GET /containers/..%2Fimages%2Fdb/archive?path=%2Fdump HTTP/1.1\r\n")
