"""Cases of module_utils/integrador_snapshot.py that kill mutants `make mutation` (mutmut) found
surviving: the keys dump_redis leaves out when they expire or appear between PTTL and DUMP, the
client's words on a reply it does not speak, its default timeout and host brackets, git_branch's
reading of HEAD, and the migration snapshot name of a merge. Redis is a small stand-in speaking
RESP2 on the loopback (wire_servers.Server, as the probe's tests use), answering as each test says."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from c_locale import ascii_locale
from module_loader import ROOT, load
from wire_servers import Server

snap = load(ROOT / "module_utils" / "integrador_snapshot.py", "integrador_snapshot_mutants_under_test")


def _read_command(conn: socket.socket, buf: bytearray) -> list[bytes]:
    """One RESP array of bulk strings from the client (what snap.command writes)."""

    def line() -> bytes:
        while b"\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("the client closed")
            buf.extend(chunk)
        end = buf.index(b"\r\n")
        text = bytes(buf[:end])
        del buf[: end + 2]
        return text

    count = int(line()[1:])
    args = []
    for _ in range(count):
        size = int(line()[1:])
        while len(buf) < size + 2:
            buf.extend(conn.recv(65536))
        args.append(bytes(buf[:size]))
        del buf[: size + 2]
    return args


def fake_redis(answer: Callable[[list[bytes]], bytes], commands: int) -> Callable[[socket.socket], None]:
    """A Redis stand-in for `commands` commands: each gets the reply answer(its arguments) gives,
    the command's name upper-cased (Redis reads names in any case)."""

    def script(conn: socket.socket) -> None:
        buf = bytearray()
        for _ in range(commands):
            args = _read_command(conn, buf)
            conn.sendall(answer([args[0].upper(), *args[1:]]))

    return script


def bulk(data: bytes | None) -> bytes:
    return b"$-1\r\n" if data is None else b"$%d\r\n%s\r\n" % (len(data), data)


def keyspace_of(keys: dict[bytes, tuple[int, bytes | None]]) -> Callable[[list[bytes]], bytes]:
    """Database 0 holding `keys`, each answered to PTTL and DUMP as given (ttl, payload): what a
    server shows when keys expire or appear between the SCAN and the PTTL and DUMP that follow."""
    info = b"# Keyspace\r\ndb0:keys=%d,expires=0,avg_ttl=0\r\n" % len(keys)

    def answer(args: list[bytes]) -> bytes:
        name = args[0]
        if name == b"INFO":
            return bulk(info)
        if name == b"SELECT":
            return b"+OK\r\n"
        if name == b"SCAN":
            return b"*2\r\n" + bulk(b"0") + b"*%d\r\n" % len(keys) + b"".join(bulk(k) for k in keys)
        if name == b"PTTL":
            return b":%d\r\n" % keys[args[1]][0]
        if name == b"DUMP":
            return bulk(keys[args[1]][1])
        return b"-ERR unknown command\r\n"

    return answer


@pytest.fixture
def redis_of(serve: Callable[..., Server]) -> Iterator[Callable[..., object]]:
    """Connects the module's client to a stand-in serving `keys` for one dump_redis."""
    clients = []

    def connect(keys: dict[bytes, tuple[int, bytes | None]]) -> object:
        # INFO, SELECT db, SCAN, a PTTL and a DUMP per key, SELECT 0.
        server = serve(fake_redis(keyspace_of(keys), 4 + 2 * len(keys)))
        clients.append(snap.Redis("127.0.0.1", server.port, timeout=5))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()


def test_a_key_that_expired_before_its_dump_is_left_out_and_the_keys_after_it_kept(
    redis_of: Callable[..., object],
) -> None:
    """PTTL still saw `a` (5 s to live), DUMP no longer did: `a` is not in the snapshot (no payload
    to restore), the keys sorted after it are, and a key with 2 ms to live keeps them."""
    client = redis_of({b"a": (5000, None), b"b": (-1, b"payload-b"), b"c": (2, b"payload-c")})
    assert snap.dump_redis(client) == [(0, b"b", 0, b"payload-b"), (0, b"c", 2, b"payload-c")]


def test_a_key_gone_at_pttl_is_left_out_even_when_dump_then_finds_one(
    redis_of: Callable[..., object],
) -> None:
    """PTTL answered -2 (no such key), then the key was written before DUMP: it is left out, as
    the comment says (deleted meanwhile), not kept with a time to live of 0."""
    client = redis_of({b"a": (-2, b"payload-a"), b"b": (-1, b"payload-b")})
    assert snap.dump_redis(client) == [(0, b"b", 0, b"payload-b")]


def test_an_unexpected_reply_is_named_by_its_first_40_bytes(serve: Callable[..., Server]) -> None:
    line = b"~" + b"0123456789" * 6  # a RESP3 set header this RESP2 client does not speak
    server = serve(fake_redis(lambda args: line + b"\r\n", 1))
    client = snap.Redis("127.0.0.1", server.port, timeout=5)
    with pytest.raises(snap.RespError) as raised:
        client.call("PING")
    client.close()
    assert str(raised.value) == f"unexpected reply from Redis: {line[:40]!r}"


def test_a_client_waits_30_seconds_for_a_silent_redis_by_default() -> None:
    """The module opens its connection without a timeout: a silent server is given 30 s."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = snap.Redis("127.0.0.1", listener.getsockname()[1])
        try:
            assert client._sock.gettimeout() == 30.0
        finally:
            client.close()


def test_only_the_brackets_are_taken_off_the_host() -> None:
    """Brackets around an IPv6 literal go (Docker writes them); any other character stays, so a
    host that is not a name is refused, not turned into another host that answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(snap.RespError, match=rf"^Redis on X\[127\.0\.0\.1\]X:{port} does not answer"):
            snap.Redis("X[127.0.0.1]X", port, timeout=5)


def test_git_branch_reads_a_ref_without_a_space_after_ref(tmp_path: Path) -> None:
    """git reads "ref:refs/heads/x" (no blank after the colon) as branch x: so does git_branch."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref:refs/heads/main\n")
    assert snap.git_branch(str(tmp_path)) == "main"


def test_git_branch_reads_utf8_names_whatever_the_locale(tmp_path: Path) -> None:
    """Git writes HEAD and the gitdir pointer in UTF-8: a branch or a worktree path with non-ASCII
    letters is read right under a locale whose encoding is not UTF-8 (here ASCII, the C locale)."""
    plain = tmp_path / "plain"
    (plain / ".git").mkdir(parents=True)
    (plain / ".git" / "HEAD").write_text("ref: refs/heads/menú-café\n", encoding="utf-8")
    (tmp_path / "módulos" / "sub").mkdir(parents=True)
    (tmp_path / "módulos" / "sub" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: ../módulos/sub\n", encoding="utf-8")
    with ascii_locale():
        branch, of_worktree = snap.git_branch(str(plain)), snap.git_branch(str(worktree))
    assert (branch, of_worktree) == ("menú-café", "main")


def test_a_merge_revision_has_each_head_made_a_name_then_joined_by_a_dash() -> None:
    """Heads "ab." and "cd": "ab." becomes "ab-", joined by "-" to "cd": two dashes, not one."""
    assert snap.migration_snapshot_base("ab.,cd") == "pre-ab--cd"
