"""Stand-in PostgreSQL and Redis servers on the loopback, for the probes' byte-level tests
(test_integrador_probe.py) and the preflight's `answering` (test_integrador_preflight.py): each
answers with bytes written out from the protocols' documentation and records what the client sent.
The `serve` fixture (conftest.py) starts them and closes them after the test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class Server:
    """One loopback listener; each connection is handled by `script(conn)`, then closed for
    writing, and everything the client sent until it closed is kept in `received` (one bytes per
    connection)."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.script = script
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                self.script(conn)
                conn.shutdown(socket.SHUT_WR)  # the server has said all it says: the client sees the end
                data = b""
                try:
                    while chunk := conn.recv(65536):
                        data += chunk
                except OSError:
                    pass
                self.received.append(self._before + data)
                self._before = b""

    _before = b""

    def read(self, conn: socket.socket, size: int) -> bytes:
        """Read exactly size bytes of the client's (kept in received too)."""
        data = b""
        while len(data) < size:
            data += conn.recv(size - len(data))
        self._before += data
        return data

    def close(self) -> None:
        self.listener.close()


def startup_message(user: str, database: str) -> bytes:
    """The StartupMessage pg_isready sends: length, protocol 3.0, user and database, a final NUL."""
    body = (
        b"\x00\x03\x00\x00"
        + b"user\x00"
        + user.encode()
        + b"\x00database\x00"
        + database.encode()
        + b"\x00\x00"
    )
    return (len(body) + 4).to_bytes(4, "big") + body


def postgres_answering(reply: bytes) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        length = int.from_bytes(server_of[0].read(conn, 4), "big")
        server_of[0].read(conn, length - 4)
        conn.sendall(reply)

    server_of: list[Server] = []
    script.server_of = server_of  # type: ignore[attr-defined]
    return script


def start_postgres(serve: Callable[..., Server], reply: bytes) -> Server:
    script = postgres_answering(reply)
    server = serve(script)
    script.server_of.append(server)  # type: ignore[attr-defined]
    return server


def error_response(**fields: str) -> bytes:
    payload = b"".join(key.encode() + value.encode() + b"\x00" for key, value in fields.items()) + b"\x00"
    return b"E" + (len(payload) + 4).to_bytes(4, "big") + payload


def wait_received(server: Server) -> bytes:
    for _ in range(200):
        if server.received:
            return server.received[0]
        threading.Event().wait(0.01)
    raise AssertionError("the server saw no connection end")


def redis_answering(*lines: bytes) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        for line in lines:
            conn.recv(65536)
            conn.sendall(line)

    return script
