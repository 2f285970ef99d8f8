"""The snapshot module's own Redis client (RESP2) and its dump and load of every key, against a
real redis-server on loopback (Debian's redis-server, which .ci/run installs): no container, so
`make mutation` judges this code too. What the module wrote is read back with redis-py, which is
independent of the module's client."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_client
from module_loader import ROOT, load
from this_machine import eventually, free_port

snap = load(ROOT / "module_utils" / "integrador_snapshot.py", "integrador_snapshot_redis_under_test")
PASSWORD = "unit-Resp-pass-5512"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A redis-server of its own: a password, no persistence, its files in a temporary folder."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD]
        + ["--save", "", "--appendonly", "no", "--dir", str(folder), "--databases", "16"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        plain = redis_client.Redis(port=port, password=PASSWORD)
        assert eventually(lambda: _answers(plain)), f"redis-server on {port} did not answer"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(client: redis_client.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis_client.RedisError:
        return False


@pytest.fixture
def plain(server: int) -> Iterator[redis_client.Redis]:
    """redis-py on database 0 of an emptied server."""
    client = redis_client.Redis(port=server, password=PASSWORD)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def resp(server: int, plain: redis_client.Redis) -> Iterator[Any]:
    client = snap.Redis("127.0.0.1", server, PASSWORD, timeout=10)
    yield client
    client.close()


def test_replies_of_every_kind_are_read(resp: Any, plain: redis_client.Redis) -> None:
    # Bigger than one read (64 KiB), with the protocol's own bytes inside.
    value = b"\r\n$5\r\n*1\r\n\x00" + os.urandom(200_000)
    assert resp.call("PING") == b"PONG"
    assert resp.call("SET", "k", value) == b"OK"
    assert plain.get("k") == value
    assert resp.call("GET", "k") == value
    assert resp.call("GET", "missing") is None
    assert resp.call("INCR", "n") == 1 and resp.call("INCRBY", "n", -5) == -4
    assert resp.call("RPUSH", "l", "a", b"", 7) == 3
    assert resp.call("LRANGE", "l", 0, -1) == [b"a", b"", b"7"]
    assert resp.call("LRANGE", "missing", 0, -1) == []
    # A nil array (RESP2): a blocking pop that timed out.
    assert resp.call("BLPOP", "missing", "0.01") is None
    # Nested arrays: SCAN's cursor and keys.
    cursor, keys = resp.call("SCAN", 0, "COUNT", 1000)
    assert cursor == b"0" and sorted(keys) == [b"k", b"l", b"n"]
    with pytest.raises(snap.RespError, match="^ERR value is not an integer"):
        resp.call("INCR", "k")
    # The error reply was read whole: the next reply is the next command's.
    assert resp.call("STRLEN", "k") == len(value)


def test_a_pipeline_reads_every_reply_and_raises_the_first_error(
    resp: Any, plain: redis_client.Redis
) -> None:
    assert resp.pipeline([("SET", "a", 1), ("INCR", "a"), ("GET", "a")]) == [b"OK", 2, b"2"]
    commands: list[tuple[Any, ...]] = [
        ("SET", "s", "x"),
        ("INCR", "s"),
        ("LPUSH", "s", "y"),
        ("APPEND", "s", "z"),
    ]
    with pytest.raises(snap.RespError, match="^ERR value is not an integer") as raised:
        resp.pipeline(commands)
    assert "WRONGTYPE" not in str(raised.value)
    # Every reply was read, the commands after the errors ran: in step with the server.
    assert plain.get("s") == b"xz"
    assert resp.call("GET", "s") == b"xz"


def test_a_wrong_password_and_no_server_are_named_and_brackets_are_taken_off(server: int) -> None:
    with pytest.raises(snap.RespError, match="WRONGPASS|invalid password"):
        snap.Redis("127.0.0.1", server, "not-the-password", timeout=5)
    nobody = free_port()
    with pytest.raises(snap.RespError, match=f"^Redis on 127.0.0.1:{nobody} does not answer"):
        snap.Redis("127.0.0.1", nobody, PASSWORD, timeout=5)
    client = snap.Redis("[127.0.0.1]", server, PASSWORD, timeout=5)  # brackets as Docker writes IPv6
    assert client.call("PING") == b"PONG"
    client.close()


def test_dump_then_load_gives_back_every_key_with_its_time_to_live(
    server: int, resp: Any, plain: redis_client.Redis
) -> None:
    """Keys of every type in databases 0, 3 and 15, binary names, times to live, and more keys in
    one database than one round trip carries (500)."""
    db3 = redis_client.Redis(port=server, password=PASSWORD, db=3)
    db15 = redis_client.Redis(port=server, password=PASSWORD, db=15)
    plain.set(b"\x00bin\xffkey\r\n", b"v\r\n")
    plain.set("ttl", "x", px=600_000)
    plain.hset("h", mapping={"a": "1", "b": "2"})
    plain.rpush("list", "1", "2", "3")
    plain.sadd("set", "a", "b")
    plain.zadd("z", {"a": 1.5, "b": -2})
    plain.xadd("stream", {"f": "v"})
    with db3.pipeline() as pipe:
        for i in range(1234):
            pipe.set(f"menu:{i:04d}", f"item {i}")
        pipe.execute()
    db15.set("last", "db")
    assert snap.keyspace_dbs(resp.call("INFO", "keyspace")) == [0, 3, 15]

    entries = snap.dump_redis(resp)
    assert len(entries) == 7 + 1234 + 1
    assert {db for db, *_ in entries} == {0, 3, 15}
    by_key = {(db, key): ttl for db, key, ttl, _ in entries}
    assert 0 < by_key[(0, b"ttl")] <= 600_000 and by_key[(0, b"h")] == 0
    # The snapshot file holds them exactly.
    assert list(snap.decode_entries(snap.encode_entries(entries))) == entries

    plain.flushall()
    plain.set("stale", "goes")  # load replaces everything
    assert snap.load_redis(resp, entries) == len(entries)
    assert plain.get(b"\x00bin\xffkey\r\n") == b"v\r\n" and plain.get("stale") is None
    assert 0 < plain.pttl("ttl") <= 600_000 and plain.ttl("h") == -1
    assert plain.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert plain.lrange("list", 0, -1) == [b"1", b"2", b"3"]
    assert plain.smembers("set") == {b"a", b"b"}
    assert plain.zrange("z", 0, -1, withscores=True) == [(b"b", -2.0), (b"a", 1.5)]
    assert plain.xlen("stream") == 1
    assert db3.dbsize() == 1234 and db3.get("menu:1233") == b"item 1233"
    assert db15.get("last") == b"db"
    # Both leave the connection on database 0.
    assert resp.call("SET", "after", "x") == b"OK" and plain.get("after") == b"x"
    db3.close()
    db15.close()


def test_an_empty_redis_dumps_nothing_and_loads_empty(resp: Any, plain: redis_client.Redis) -> None:
    assert snap.keyspace_dbs(resp.call("INFO", "keyspace")) == []
    assert snap.dump_redis(resp) == []
    plain.set("x", "y")
    assert snap.load_redis(resp, []) == 0
    assert plain.dbsize() == 0


def test_keyspace_lines_with_keys_are_the_databases() -> None:
    info = (
        b"# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb2:keys=0,expires=0\r\ndb12:keys=3,expires=1\r\n"
    )
    assert snap.keyspace_dbs(info) == [0, 12]
    assert snap.keyspace_dbs(b"# Keyspace\r\n") == []


def test_a_client_without_password_sends_no_auth(server: int) -> None:
    client = snap.Redis("127.0.0.1", server)  # no AUTH at all: the server then refuses commands
    with pytest.raises(snap.RespError, match="^NOAUTH"):
        client.call("PING")
    client.close()


def test_closed_broken_and_silent_connections_are_named(server: int) -> None:
    client = snap.Redis("127.0.0.1", server, PASSWORD, timeout=5)
    assert client.call("QUIT") == b"OK"
    # The server has closed its end: the PING's bytes reach a closed socket, and the answer is
    # its end of file, or its reset when they arrive first (seen in CI): both are named.
    with pytest.raises(
        snap.RespError,
        match=r"^(Redis closed the connection|the connection to Redis broke \(.*Connection reset by peer\))$",
    ):
        client.call("PING")
    client.close()
    with pytest.raises(snap.RespError, match=r"^the connection to Redis broke \(.*Bad file descriptor"):
        client.call("PING")
    # A server that takes the connection and never answers: the timeout ends the wait.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mute = snap.Redis("127.0.0.1", silent.getsockname()[1], timeout=0.5)
        with pytest.raises(snap.RespError, match=r"^the connection to Redis broke \(timed out\)$"):
            mute.call("PING")
        mute.close()


def test_replies_the_client_does_not_speak_and_error_bytes_are_named(resp: Any) -> None:
    # HELLO 3 switches the connection to RESP3, whose map reply this RESP2 client refuses.
    with pytest.raises(snap.RespError, match=r"^unexpected reply from Redis: b'%7'$"):
        resp.call("HELLO", 3)


def test_an_error_reply_that_is_not_utf8_is_read(resp: Any) -> None:
    with pytest.raises(snap.RespError, match="^bad \ufffd byte$"):
        resp.call("EVAL", b"return redis.error_reply('bad \xff byte')", 0)


def test_dump_leaves_the_connection_on_database_0(server: int, resp: Any, plain: redis_client.Redis) -> None:
    db5 = redis_client.Redis(port=server, password=PASSWORD, db=5)
    db5.set("k", "v")
    assert [(db, key) for db, key, _, _ in snap.dump_redis(resp)] == [(5, b"k")]
    assert resp.call("SET", "on-db-0", "x") == b"OK"
    assert plain.get("on-db-0") == b"x" and db5.get("on-db-0") is None
    db5.close()


@contextlib.contextmanager
def trickle_proxy(port: int) -> Iterator[int]:
    """A loopback TCP proxy to the server that passes its replies on one byte at a time, each
    its own segment: every reply reaches the client in pieces, as over a slow network."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client, upstream:
            while not stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.05)
                for side in ready:
                    data = side.recv(1 << 16)
                    if not data:
                        return
                    if side is client:
                        upstream.sendall(data)
                        continue
                    for byte in data:
                        client.sendall(bytes([byte]))
                        time.sleep(0.0005)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_replies_that_arrive_in_pieces_are_read_whole(server: int, plain: redis_client.Redis) -> None:
    plain.set("k", b"0123456789" * 30)
    plain.rpush("l", "a", "bb", "ccc")
    with trickle_proxy(server) as port:
        client = snap.Redis("127.0.0.1", port, PASSWORD, timeout=10)
        assert client.call("GET", "k") == b"0123456789" * 30
        assert client.call("LRANGE", "l", 0, -1) == [b"a", b"bb", b"ccc"]
        assert client.call("PING") == b"PONG"
        client.close()
