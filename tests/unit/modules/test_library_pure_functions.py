"""Pure functions of library/ and module_utils/ pinned on written-out vectors: SASLprep as RFC 4013
and PostgreSQL define it and the verifiers PostgreSQL stores (integrador_preflight), the first
.env an editor writes (integrador_env_file.render), the Docker layer's unreachable-engine reasons,
loopback addresses, one RESP line read off a socket, and integrador_backup's INFO reader, SHA256SUMS
lines and removal of unfinished folders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from pathlib import Path

import pytest
from ansible.module_utils import integrador_docker as docker  # loaded by conftest.py from module_utils/
from ansible.module_utils import integrador_ports as ports
from ansible.module_utils import integrador_probe as probe
from module_loader import ROOT, load

preflight = load(ROOT / "library" / "integrador_preflight.py", "integrador_preflight_vectors_test")
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file_vectors_test")


# --- SASLprep (RFC 4013) -------------------------------------------------------------------------
def test_saslprep_maps_removes_and_normalises() -> None:
    assert preflight.saslprep("") == b""
    assert preflight.saslprep("user") == b"user"
    assert preflight.saslprep("I\u00adX") == b"IX"  # soft hyphen: mapped to nothing (B.1)
    assert preflight.saslprep("\u2168") == b"IX"  # ROMAN NUMERAL NINE: NFKC
    assert preflight.saslprep("a\u1680b") == b"a b"  # OGHAM SPACE MARK (C.1.2, no NFKC form): SPACE
    assert preflight.saslprep("\u0627\u2460\u0627") == "\u06271\u0627".encode()  # RandAL first and last


def test_saslprep_falls_back_to_the_raw_bytes_as_postgresql_does() -> None:
    for password in (
        "\u00ad",  # nothing left after the mapping
        "\u2168\u0007",  # a control character (C.2.1)
        "\u0627\u2460",  # RandAL first but not last
        "\u0627\u2168",  # RandAL with L characters
    ):
        assert preflight.saslprep(password) == password.encode("utf-8"), password


# --- verifiers as PostgreSQL stores them ---------------------------------------------------------
def scram(password: bytes, salt: bytes, iterations: int = 4096) -> str:
    """SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (RFC 5802, RFC 7677)."""
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    stored = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    encoded_salt, encoded_server = base64.b64encode(salt).decode(), base64.b64encode(server_key).decode()
    return f"SCRAM-SHA-256${iterations}:{encoded_salt}${stored}:{encoded_server}"


def test_scram_verifiers_match_the_saslprepped_password() -> None:
    verifier = scram(b"IX", b"0123456789abcdef")
    assert preflight.password_matches("\u2168", verifier, "menu") is True
    assert preflight.password_matches("IX", verifier, "other role") is True
    assert preflight.password_matches("IY", verifier, "menu") is False
    salt = base64.b64encode(b"0123456789abcdef").decode()
    damaged = verifier.replace(salt, salt[:4] + "!" + salt[4:])  # not base64: PostgreSQL would not use it
    assert preflight.password_matches("IX", damaged, "menu") is False


def test_md5_verifiers_are_md5_of_password_and_role() -> None:
    verifier = "md5" + hashlib.md5(b"s3cretmenu").hexdigest()
    assert preflight.password_matches("s3cret", verifier, "menu") is True
    assert preflight.password_matches("s3cret", verifier, "menux") is False
    assert preflight.password_matches("s3cret", verifier[:-1], "menu") is False


def test_unknown_or_empty_verifiers_never_match() -> None:
    for verifier in ("", "s3cret", "SCRAM-SHA-256$", "SCRAM-SHA-256$x:y$z:w", "plain" + "x" * 30):
        assert preflight.password_matches("s3cret", verifier, "menu") is False, verifier


# --- the first .env -------------------------------------------------------------------------------
def test_render_writes_the_header_the_sorted_state_and_each_key() -> None:
    text = env_file.render({"B_KEY": "two words", "A_KEY": None, "C": "1"}, {"z": "1", "a": "2"})
    assert text == (
        "# Written by the Integrador provisioning (Ansible role python_env).\n"
        "# Hand edits are kept on later runs; delete a line to have it generated again.\n"
        + env_file.STATE_PREFIX
        + '{"a": "2", "z": "1"}\n'
        "B_KEY='two words'\n"
        "A_KEY=\n"
        "C=1\n"
    )


# --- the Docker layer's reasons ---------------------------------------------------------------------
def test_unreachable_names_each_cause(tmp_path: object) -> None:
    client = docker.DockerClient("unix:///run/x/docker.sock", timeout=2.5)

    def reason(exc: BaseException) -> str:
        message = str(client._unreachable(exc))
        prefix = "Cannot reach the Docker engine at unix:///run/x/docker.sock ("
        assert message.startswith(prefix) and message.endswith(f"). {docker.UNREACHABLE_HINTS}")
        return message[len(prefix) : -len(f"). {docker.UNREACHABLE_HINTS}")]

    assert reason(PermissionError(13, "denied")) == (
        "permission denied on /run/x/docker.sock: add your user to the docker group "
        "(`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker"
    )
    assert reason(TimeoutError()) == "no answer within 2.5 s"
    assert reason(TimeoutError("timed out")) == "no answer within 2.5 s"
    assert reason(OSError("bad things")) == "bad things"
    assert reason(OSError()) == "OSError"


# --- loopback -------------------------------------------------------------------------------------
def test_loopback_addresses_with_a_zone() -> None:
    assert ports.is_loopback("127.0.0.1%eth0") is True
    assert ports.is_loopback("127.0.0.1%a%b") is True
    assert ports.is_loopback("10.0.0.1%eth0") is False


# --- one RESP line --------------------------------------------------------------------------------
def test_a_resp_line_is_read_to_its_crlf_and_no_further() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.sendall(b"+OK\r\n+PONG\r\n")
        assert probe._resp_line(left) == "+OK"
        assert probe._resp_line(left) == "+PONG"
        right.sendall(b"+\xffPONG\r\n")
        assert probe._resp_line(left) == "+\ufffdPONG"
        right.sendall(b"+" + b"P" * 5000)
        assert len(probe._resp_line(left)) == 4097  # a line that never ends is cut past 4096 bytes


def test_a_docker_error_without_an_endpoint_names_none() -> None:
    assert docker.DockerError("no engine").endpoint == ""


def test_a_host_that_is_no_url_is_refused_naming_it() -> None:
    try:
        docker.DockerClient("tcp://[::1")
    except docker.DockerEndpointError as exc:
        assert str(exc) == (
            "The Docker endpoint tcp://[::1 cannot be used: Invalid IPv6 URL. Set integrador_docker_host "
            "(or DOCKER_HOST) to unix:///path/to/docker.sock or tcp://host:port."
        )
        assert exc.endpoint == "tcp://[::1"
    else:
        raise AssertionError("no error")


def test_without_an_environ_this_processs_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.setenv("DOCKER_TLS", "1")
    assert docker.DockerClient("tcp://engine")._address == ("engine", 2376)


FIX = "Set integrador_docker_host (or DOCKER_HOST) to unix:///path/to/docker.sock or tcp://host:port."
SSH = (
    "; for an engine over SSH, forward its socket (`ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock host`) "
    "and use unix:///tmp/docker.sock"
)


@pytest.mark.parametrize(
    ("host", "socket_path", "address"),
    [
        ("unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock", None),
        ("unix://relative/docker.sock", "relative/docker.sock", None),
        ("unix://", "/var/run/docker.sock", None),
        ("tcp://engine", "", ("engine", 2375)),
        ("http://engine:80", "", ("engine", 80)),
        ("tcp://[::1]:2375", "", ("::1", 2375)),
    ],
)
def test_each_endpoint_is_a_socket_or_an_address(host: str, socket_path: str, address: tuple | None) -> None:
    client = docker.DockerClient(host, environ={})
    assert client._socket_path == socket_path
    assert getattr(client, "_address", None) == address
    assert client._tls is None


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("tcp://", "it names no host"),
        ("tcp://:2375", "it names no host"),
        ("tcp://engine:99999", "Port out of range 0-65535"),
        (
            "npipe:////./pipe/docker_engine",
            "the scheme npipe:// is not supported here (only unix:// and tcp://)",
        ),
        ("/var/run/docker.sock", "the scheme (none):// is not supported here (only unix:// and tcp://)"),
        ("ssh://me@host", "the scheme ssh:// is not supported here (only unix:// and tcp://)" + SSH),
    ],
)
def test_an_endpoint_that_cannot_be_used_says_why(host: str, why: str) -> None:
    with pytest.raises(docker.DockerEndpointError) as caught:
        docker.DockerClient(host, "DOCKER_HOST", environ={})
    assert str(caught.value) == f"The Docker endpoint {host} (from DOCKER_HOST) cannot be used: {why}. {FIX}"
    assert caught.value.endpoint == host


def test_https_speaks_tls_without_any_setting(tmp_path: object) -> None:
    client = docker.DockerClient("https://engine", environ={"DOCKER_CERT_PATH": str(tmp_path)})
    assert client._tls is not None and client._address == ("engine", 2376)
    assert docker.DockerClient("http://engine", environ={})._tls is None


# --- integrador_backup ---------------------------------------------------------------------------
backup = load(ROOT / "library" / "integrador_backup.py", "integrador_backup_vectors_test")


def test_redis_info_reads_key_value_lines_and_skips_sections() -> None:
    text = (
        "# Persistence\r\nloading:0\r\nrdb_saves:12\r\nrdb_last_bgsave_status:ok\r\n\r\n# x:y\r\nbad line\r\n"
    )
    assert backup.redis_info(text) == {"loading": "0", "rdb_saves": "12", "rdb_last_bgsave_status": "ok"}
    assert backup.redis_info("a:b:c\n") == {"a": "b:c"}


def test_sha256sums_are_sha256sums_lines_in_a_fixed_order() -> None:
    files = {"dump.rdb": {"sha256": "b" * 64}, "postgres.dump": {"sha256": "a" * 64}}
    assert backup.sha256sums(files) == f"{'a' * 64}  postgres.dump\n{'b' * 64}  dump.rdb\n"


def test_only_unfinished_folders_are_removed(tmp_path: Path) -> None:
    for name in (".partial-20260101T000000Z", ".partial-x", "20260101T000000Z", ".partialnot"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "postgres.dump").write_bytes(b"x")
    (tmp_path / ".partial-file").write_bytes(b"a file, not a folder")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep").write_bytes(b"x")
    (tmp_path / ".partial-link").symlink_to(outside)
    assert backup.remove_partials(str(tmp_path)) == [".partial-20260101T000000Z", ".partial-x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".partial-file",
        ".partial-link",
        ".partialnot",
        "20260101T000000Z",
        "elsewhere",
    ]
    assert (outside / "keep").exists()
