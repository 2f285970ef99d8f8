"""The PostgreSQL and Redis probes (module_utils/integrador_probe.py) at the byte level, against
a stand-in server on the loopback that answers with bytes written out here from the protocols'
documentation (PostgreSQL's frontend/backend protocol, RESP) and records what the probe sent.
The probes against real servers: test_integrador_wait.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from ansible.module_utils import integrador_probe as probe  # loaded by conftest.py from module_utils/
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_servers import (
    Server,
    error_response,
    redis_answering,
    start_postgres,
    startup_message,
    wait_received,
)


def test_trust_authentication_is_accepting_and_terminates(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00\x00\x08\x00\x00\x00\x00")  # AuthenticationOk
    assert probe.postgres("127.0.0.1", server.port, "menu", "menu_ops") == (True, "accepting connections")
    assert wait_received(server) == startup_message("menu", "menu_ops") + b"X\x00\x00\x00\x04"


def test_a_password_request_is_accepting_without_terminate(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00\x00\x0c\x00\x00\x00\x0a" + b"SCRAM-SHA-256\x00"[:4])
    assert probe.postgres("127.0.0.1", server.port) == (True, "accepting connections")
    assert wait_received(server) == startup_message("postgres", "postgres")


def test_starting_up_is_not_ready_with_the_servers_message(serve: Callable[..., Server]) -> None:
    reply = error_response(S="FATAL", C="57P03", M="the database system is starting up")
    server = start_postgres(serve, reply)
    assert probe.postgres("127.0.0.1", server.port) == (False, "the database system is starting up")


def test_starting_up_without_a_message_says_starting_up(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, error_response(S="FATAL", C="57P03"))
    assert probe.postgres("127.0.0.1", server.port) == (False, "the database system is starting up")


def test_another_error_is_an_answer_so_ready(serve: Callable[..., Server]) -> None:
    reply = error_response(S="FATAL", C="3D000", M='database "x" does not exist')
    server = start_postgres(serve, reply)
    assert probe.postgres("127.0.0.1", server.port) == (True, 'answering (database "x" does not exist)')
    server2 = start_postgres(serve, error_response(S="FATAL", C="28000"))
    assert probe.postgres("127.0.0.1", server2.port) == (True, "answering (error)")


def test_an_error_field_value_that_is_not_utf8_is_replaced(serve: Callable[..., Server]) -> None:
    payload = b"C28P01\x00M\xffbad\x00\x00"
    server = start_postgres(serve, b"E" + (len(payload) + 4).to_bytes(4, "big") + payload)
    assert probe.postgres("127.0.0.1", server.port) == (True, "answering (\ufffdbad)")


def test_another_reply_is_not_ready_naming_it(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"N\x00\x00\x00\x04")
    assert probe.postgres("127.0.0.1", server.port) == (False, "unexpected reply b'N'")


def test_a_connection_closed_before_a_reply_is_not_ready(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00")  # cut inside the length
    assert probe.postgres("127.0.0.1", server.port) == (False, "connection closed by the server")


def test_a_reply_of_exactly_its_length_is_read_whole(serve: Callable[..., Server]) -> None:
    # the whole payload arrives in pieces: the probe waits for all of it
    def script(conn: socket.socket) -> None:
        length = int.from_bytes(server.read(conn, 4), "big")
        server.read(conn, length - 4)
        for piece in (b"E", b"\x00\x00\x00", b"\x12", b"C57P03\x00", b"Mwait\x00\x00"):
            conn.sendall(piece)
            threading.Event().wait(0.02)

    server = serve(script)
    assert probe.postgres("127.0.0.1", server.port) == (False, "wait")


def test_nothing_listening_is_not_ready() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    ready, why = probe.postgres("127.0.0.1", port)
    assert ready is False and "refused" in why.lower()
    assert probe.redis("[127.0.0.1]", port)[0] is False


# --- Redis --------------------------------------------------------------------------------------


def test_ping_answered_pong_is_ready(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"+PONG\r\n"))
    assert probe.redis("127.0.0.1", server.port) == (True, "+PONG")


def test_auth_is_sent_first_as_a_resp_array(serve: Callable[..., Server]) -> None:
    seen: list[bytes] = []

    def script(conn: socket.socket) -> None:
        seen.append(conn.recv(65536))
        conn.sendall(b"+OK\r\n")
        seen.append(conn.recv(65536))
        conn.sendall(b"+PONG\r\n")

    server = serve(script)
    assert probe.redis("127.0.0.1", server.port, "s3cret wörd") == (True, "+PONG")
    raw = "s3cret wörd".encode()
    assert seen == [
        b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(raw), raw),
        b"*1\r\n$4\r\nPING\r\n",
    ]


def test_auth_refused_is_not_ready_and_says_why(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"-WRONGPASS invalid username-password pair\r\n"))
    ready, why = probe.redis("127.0.0.1", server.port, "nope")
    assert (ready, why) == (False, "AUTH refused: -WRONGPASS invalid username-password pair")
    assert "nope" not in why


def test_loading_is_not_ready(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"-LOADING Redis is loading the dataset in memory\r\n"))
    assert probe.redis("127.0.0.1", server.port) == (False, "-LOADING Redis is loading the dataset in memory")


def test_a_hang_up_is_not_ready(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"+PO"))
    assert probe.redis("127.0.0.1", server.port) == (False, "connection closed by the server")


def test_a_line_that_never_ends_is_cut_after_4096_bytes(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"+" + b"P" * 5000))
    ready, why = probe.redis("127.0.0.1", server.port)
    assert ready is False and why == "+" + "P" * 119


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_resp_is_an_array_of_bulk_strings(words: list[str]) -> None:
    expected = f"*{len(words)}\r\n".encode() + b"".join(
        b"$" + str(len(w.encode())).encode() + b"\r\n" + w.encode() + b"\r\n" for w in words
    )
    assert probe._resp(*words) == expected


# --- HTTP ---------------------------------------------------------------------------------------
@pytest.fixture
def web() -> Iterator[tuple[int, list[str]]]:
    """A local web server: 200 on /ok (and /ok?...), 503 elsewhere; the paths asked, in order."""
    import http.server

    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            paths.append(self.path)
            self.send_response(200 if self.path.split("?")[0] in ("/ok", "/") else 503)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], paths
    server.shutdown()
    server.server_close()


def test_http_get_asks_the_path_and_query_directly(
    web: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, paths = web
    with socket.create_server(("127.0.0.1", 0)) as dead:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{dead.getsockname()[1]}")
    assert probe.http_get(f"http://127.0.0.1:{port}/ok?probe=1&x=y") == (True, "HTTP 200")
    assert probe.http_get(f"http://127.0.0.1:{port}") == (True, "HTTP 200")
    assert probe.http_get(f"http://127.0.0.1:{port}/down") == (False, "HTTP 503")
    assert probe.http_get(f"http://127.0.0.1:{port}/down", (503,)) == (True, "HTTP 503")
    assert probe.http_get(f"http://127.0.0.1:{port}/ok", [404]) == (False, "HTTP 200")
    assert paths == ["/ok?probe=1&x=y", "/", "/down", "/down", "/ok"]


def test_http_get_of_https_speaks_tls(web: tuple[int, list[str]]) -> None:
    port, paths = web
    ready, why = probe.http_get(f"https://127.0.0.1:{port}/ok")  # a plain HTTP server: no TLS answer
    assert ready is False and why != "HTTP 200" and "SSL" in why.upper()


def test_http_get_of_nothing_listening_is_not_ready() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    ready, why = probe.http_get(f"http://127.0.0.1:{port}/ok")
    assert ready is False and "refused" in why.lower()


def test_auth_refused_shows_120_characters_and_an_empty_answer_says_so(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"-ERR " + b"e" * 200 + b"\r\n"))
    assert probe.redis("127.0.0.1", server.port, "pw") == (False, "AUTH refused: -ERR " + "e" * 115)
    empty = serve(redis_answering(b"\r\n"))
    assert probe.redis("127.0.0.1", empty.port) == (False, "no answer")


def test_http_get_without_a_host_asks_the_loopback(web: tuple[int, list[str]]) -> None:
    port, paths = web
    assert probe.http_get(f"http://:{port}/ok") == (True, "HTTP 200")
    assert paths == ["/ok"]


def test_a_length_past_the_cap_reads_64_kib_of_payload(serve: Callable[..., Server]) -> None:
    payload = b"C57P03\x00M" + b"x" * (65536 - 9) + b"\x00"
    assert len(payload) == 65536
    server = start_postgres(serve, b"E" + (70000).to_bytes(4, "big") + payload)
    assert probe.postgres("127.0.0.1", server.port) == (False, "x" * (65536 - 9))


def test_a_length_that_is_not_one_is_a_closed_connection(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\xff\xff\xff\xff")  # 4 GiB announced, nothing sent
    assert probe.postgres("127.0.0.1", server.port) == (False, "connection closed by the server")


def test_an_error_field_code_that_is_not_ascii_is_replaced(serve: Callable[..., Server]) -> None:
    payload = b"\xffweird\x00Mwho knows\x00\x00"
    server = start_postgres(serve, b"E" + (len(payload) + 4).to_bytes(4, "big") + payload)
    assert probe.postgres("127.0.0.1", server.port) == (True, "answering (who knows)")


def test_recv_exactly_reads_no_further_than_asked() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.sendall(b"ab")
        later = threading.Timer(0.05, lambda: right.sendall(b"cdEXTRA"))
        later.start()
        assert probe._recv_exactly(left, 4) == b"abcd"
        later.join()
        assert probe._recv_exactly(left, 5) == b"EXTRA"


def test_a_bracketed_address_is_connected_to_without_its_brackets(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00\x00\x08\x00\x00\x00\x00")
    assert probe.postgres("[127.0.0.1]", server.port) == (True, "accepting connections")


@pytest.mark.parametrize(
    ("published", "asked"),
    [
        ("0.0.0.0", "127.0.0.1"),
        (" :: ", "::1"),
        ("[::]", "::1"),
        ("localhost", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("127.0.0.2", "127.0.0.2"),
        ("[::1]", "[::1]"),
        ("192.168.1.5", "192.168.1.5"),
    ],
)
def test_a_wildcard_or_localhost_is_asked_through_loopback(published: str, asked: str) -> None:
    assert probe.loopback_for(published) == asked


def test_a_port_published_on_the_wildcard_is_probed(serve: Callable[..., Server]) -> None:
    server = start_postgres(serve, b"R\x00\x00\x00\x08\x00\x00\x00\x00")
    assert probe.postgres("0.0.0.0", server.port) == (True, "accepting connections")


# --- Addresses no socket can take -------------------------------------------------------------
# A probe's host, URL and password come from the user's settings; one that cannot even be encoded
# is a server that cannot be reached, said as such, never a traceback of the module that probed.
UNREACHABLE_HOSTS = [
    "ü" * 70,  # an IDNA label over 63 characters (UnicodeError)
    "a..b",  # an empty IDNA label (UnicodeError)
    "\udc80",  # a lone surrogate (UnicodeEncodeError)
    "host\x00name",  # a NUL byte (ValueError from getaddrinfo)
]


@pytest.mark.parametrize("host", UNREACHABLE_HOSTS)
def test_a_host_no_socket_can_take_is_not_ready_with_the_reason(host: str) -> None:
    for ready, why in (
        probe.postgres(host, 5432),
        probe.redis(host, 6379),
        probe.http_get(f"http://{host}:80/"),
    ):
        assert ready is False and why, (host, why)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://127.0.0.1:x/", "http://[::1/health"])
def test_a_url_with_an_impossible_address_is_not_ready_with_the_reason(url: str) -> None:
    ready, why = probe.http_get(url)
    assert ready is False and why, (url, why)


def test_a_password_that_cannot_be_encoded_is_not_ready_and_never_shown(serve: Callable[..., Server]) -> None:
    server = serve(redis_answering(b"+OK\r\n+PONG\r\n"))
    ready, why = probe.redis("127.0.0.1", server.port, "secret\udc80")
    assert ready is False and why and "secret" not in why, why
