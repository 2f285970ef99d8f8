"""Readiness probes at the protocol level, standard library only (they run on
the managed host's Python): PostgreSQL as pg_isready judges it, Redis PING
(AUTH first when a password is set), an HTTP GET that never goes through a
proxy, and starting a container through our Docker layer (integrador_docker).

Each probe returns (ready, what it saw); it never raises for a server that is
down, starting or answering something else: that is what "not ready" means."""

from __future__ import annotations

import http.client
import socket
import struct
import urllib.parse

from ansible.module_utils.integrador_docker import DockerClient, DockerError

# A probe that hangs would hold every other target back: one round stays short.
PROBE_TIMEOUT = 1.0


# A port published on a wildcard (or "localhost") is asked through loopback, as a client on this
# machine reaches it.
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1", "localhost": "127.0.0.1", "": "127.0.0.1"}


def loopback_for(host: str) -> str:
    """Where a probe connects for a published address: loopback for a wildcard, else the address."""
    host = host.strip()
    return LOOPBACK.get(host, host)


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((loopback_for(host).strip("[]"), port), timeout=PROBE_TIMEOUT)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        data += chunk
    return data


def postgres(host: str, port: int, user: str = "postgres", database: str = "postgres") -> tuple[bool, str]:
    """pg_isready's answer: a startup message, then the server's first reply.

    An authentication request (R) means the server accepts connections; an
    error means it answered too, unless it is SQLSTATE 57P03 (starting up,
    shutting down or in recovery). A connection Docker's proxy accepts and then
    closes (the container is not listening yet) is not ready."""
    params = b"".join(
        key.encode() + b"\0" + value.encode() + b"\0"
        for key, value in (("user", user), ("database", database))
    )
    body = struct.pack("!I", 196608) + params + b"\0"
    try:
        with _connect(host, port) as sock:
            sock.sendall(struct.pack("!I", len(body) + 4) + body)
            kind = _recv_exactly(sock, 1)
            length = struct.unpack("!I", _recv_exactly(sock, 4))[0]
            payload = _recv_exactly(sock, min(max(length - 4, 0), 65536))
            if kind == b"R":
                # Terminate, so the server logs no broken connection when it let us in.
                if payload[:4] == b"\0\0\0\0":
                    sock.sendall(b"X\0\0\0\4")
                return True, "accepting connections"
            if kind == b"E":
                fields = {
                    part[:1].decode("ascii", "replace"): part[1:].decode("utf-8", "replace")
                    for part in payload.split(b"\0")
                    if part
                }
                if fields.get("C") == "57P03":
                    return False, fields.get("M", "the database system is starting up")
                return True, f"answering ({fields.get('M', 'error')})"
            return False, f"unexpected reply {kind!r}"
    except (OSError, ValueError, struct.error) as exc:
        return False, str(exc) or type(exc).__name__


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        raw = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def _resp_line(sock: socket.socket) -> str:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        line += chunk
        if len(line) > 4096:
            break
    return line.decode("utf-8", "replace").strip()


def redis(host: str, port: int, password: str = "") -> tuple[bool, str]:
    """PING (after AUTH when a password is set) answered +PONG. A Redis still
    loading its AOF answers -LOADING: not ready. The password goes in a RESP
    array, so any character in it arrives as it is; it is never returned."""
    try:
        auth = _resp("AUTH", password) if password else b""
    except UnicodeError:
        return False, "the password cannot be sent: it is not text UTF-8 can encode"
    try:
        with _connect(host, port) as sock:
            if auth:
                sock.sendall(auth)
                answer = _resp_line(sock)
                if not answer.startswith("+"):
                    return False, f"AUTH refused: {answer[:120]}"
            sock.sendall(_resp("PING"))
            answer = _resp_line(sock)
            return answer == "+PONG", answer[:120] or "no answer"
    except (OSError, ValueError) as exc:  # ValueError: a host no socket can take (UnicodeError, NUL)
        return False, str(exc) or type(exc).__name__


def http_get(url: str, accept: tuple[int, ...] | list[int] = (200,)) -> tuple[bool, str]:
    """An accepted status (200) from url, asked directly (never through http_proxy: the
    services are local)."""
    conn = None
    try:
        # A URL whose port or host no socket can take (port 99999, an unclosed "[") raises
        # ValueError here or at the connect (UnicodeError is one): not ready, with the reason.
        parts = urllib.parse.urlsplit(url)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=PROBE_TIMEOUT)
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        response.read()
        return response.status in accept, f"HTTP {response.status}"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, str(exc) or type(exc).__name__
    finally:
        if conn is not None:
            conn.close()


# The engine is reached through our one Docker access layer (module_utils/integrador_docker).
def _client(docker_host: str, timeout: float) -> DockerClient:
    return DockerClient(docker_host, "", timeout)


def docker_start(docker_host: str, name: str) -> tuple[bool, str]:
    """docker start: (changed, problem). 304 is "already running"."""
    try:
        status, _ = _client(docker_host, 30.0).request("POST", "/containers/{0}/start", name)
    except DockerError as exc:
        return False, f"Docker could not start {name}: {exc}"
    return status == 204, ""


def docker_logs(docker_host: str, name: str, tail: int = 20) -> list[str]:
    """The last lines of a container's log (both streams, interleaved); empty when unreadable."""
    try:
        raw = _client(docker_host, 10.0).logs(name, tail=tail)
    except DockerError:
        return []
    return raw.decode("utf-8", "replace").splitlines()[-tail:]
