"""The one way our modules talk to Docker: the Engine API, with the standard library only.

community.docker's module_utils are private from its 5.0 on ("can have breaking changes even in
bugfix releases"), and the Docker SDK for Python would be one more requirement on every managed
host. What our modules need is a handful of GET requests, the logs and one exec, so they speak
HTTP/1.1 to the engine themselves: over its unix socket (http.client with an AF_UNIX connection)
or over tcp:// (with TLS as the docker CLI sets it up from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH).

Paths carry no API version: the engine then answers in its own current version, so no
negotiation round trip and no engine too new or too old for a pinned version.

The endpoint is resolved as the docker CLI would (module_utils/integrador_docker_context.py):
an explicit host (integrador_docker_host), else DOCKER_HOST, else the active Docker context,
else unix:///var/run/docker.sock. Every error says which endpoint, where it came from and how
to fix it; none is a traceback.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import struct
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_TIMEOUT = 60
# What to do when no engine answers, for every message that says so.
UNREACHABLE_HINTS = (
    "Start Docker (Docker Desktop, Colima, OrbStack, Rancher Desktop, or `sudo systemctl start docker`), "
    "select its context (`docker context use <name>`), or point integrador_docker_host "
    "at your engine: Docker Desktop on macOS unix://$HOME/.docker/run/docker.sock, rootless Docker "
    "unix:///run/user/$UID/docker.sock, Podman unix:///run/user/$UID/podman/podman.sock."
)
# The header of each frame of a multiplexed stream (logs and exec without a TTY): the stream
# (0 stdin, 1 stdout, 2 stderr, 3 the engine's own error), three zero bytes, the payload size.
FRAME_HEADER = struct.Struct(">BxxxL")
STREAMS = {0: "stdin", 1: "stdout", 2: "stderr", 3: "system"}


class DockerError(Exception):
    """Any failure to get an answer from the engine; the message is meant for the user."""

    def __init__(self, message: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class DockerEndpointError(DockerError):
    """The endpoint itself is not usable (an unknown scheme, a context that does not exist)."""


class DockerUnreachable(DockerError):
    """Nothing answered at the endpoint (no socket, refused, no permission, timeout)."""


class DockerAPIError(DockerError):
    """The engine answered with an error status."""

    def __init__(self, message: str, endpoint: str, status: int, explanation: str) -> None:
        super().__init__(message, endpoint)
        self.status = status
        self.explanation = explanation


class DockerNotFound(DockerAPIError):
    """404: no such container, image, volume or exec."""


class DockerProtocolError(DockerError):
    """The engine's answer could not be read (a multiplexed stream with a bad header, bad JSON)."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: the Host header says "localhost", as the docker CLI sends."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


# --- the multiplexed stream ---------------------------------------------------------------
def iter_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (stream, payload) frames of a multiplexed stream, in order.

    A last frame cut short (the engine closed the stream mid-frame) gives what arrived. A header
    that is not one (non-zero padding, unknown stream) raises DockerProtocolError, never an
    IndexError: the caller then has no valid stream, and says so.
    """
    offset = 0
    while offset < len(data):
        header = data[offset : offset + FRAME_HEADER.size]
        if len(header) < FRAME_HEADER.size or header[1:4] != b"\0\0\0" or header[0] not in STREAMS:
            raise DockerProtocolError(
                f"the engine's stream has no valid frame header at byte {offset} ({header[:8]!r})"
            )
        stream, size = FRAME_HEADER.unpack(header)
        start = offset + FRAME_HEADER.size
        yield stream, data[start : start + size]
        offset = start + size


def demux(data: bytes) -> tuple[bytes, bytes]:
    """stdout and stderr of a multiplexed stream (the engine's own errors count as stderr)."""
    out, err = bytearray(), bytearray()
    for stream, payload in iter_frames(data):
        (out if stream in (0, 1) else err).extend(payload)
    return bytes(out), bytes(err)


def interleaved(data: bytes) -> bytes:
    """Every frame's payload in the order written, as `docker logs` shows them in a terminal."""
    return b"".join(payload for _, payload in iter_frames(data))


def frame(stream: int, payload: bytes) -> bytes:
    """One frame as the engine writes it (used by the tests, and documents the format)."""
    return FRAME_HEADER.pack(stream, len(payload)) + payload


# --- the client ---------------------------------------------------------------------------
class DockerClient:
    """The Engine API at one endpoint. `source` says where the endpoint came from, for messages."""

    def __init__(
        self,
        host: str,
        source: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.source = source
        self.timeout = timeout
        environ = os.environ if environ is None else environ
        self._where = f"{host} (from {source})" if source else host
        try:
            url = urlsplit(host)
        except ValueError as exc:  # "tcp://[::1" and the like
            raise DockerEndpointError(self._bad_endpoint(str(exc)), host) from None
        self._socket_path = ""
        self._tls: ssl.SSLContext | None = None
        if url.scheme == "unix":
            # unix:///path: urlsplit puts the path in .path; unix://path (relative) in netloc.
            self._socket_path = (url.netloc + url.path) or "/var/run/docker.sock"
        elif url.scheme in ("tcp", "http", "https"):
            if not url.hostname:
                raise DockerEndpointError(self._bad_endpoint("it names no host"), host)
            tls = url.scheme == "https" or bool(environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_TLS"))
            try:
                port = url.port or (2376 if tls else 2375)
            except ValueError as exc:
                raise DockerEndpointError(self._bad_endpoint(str(exc)), host) from None
            self._address = (url.hostname, port)
            if tls:
                self._tls = self._tls_context(environ)
        else:
            raise DockerEndpointError(
                self._bad_endpoint(
                    f"the scheme {url.scheme or '(none)'}:// is not supported here (only unix:// and tcp://)"
                    + (
                        "; for an engine over SSH, forward its socket (`ssh -nNT -L /tmp/docker.sock:"
                        "/var/run/docker.sock host`) and use unix:///tmp/docker.sock"
                        if url.scheme == "ssh"
                        else ""
                    )
                ),
                host,
            )

    def _bad_endpoint(self, why: str) -> str:
        return (
            f"The Docker endpoint {self._where} cannot be used: {why}. Set integrador_docker_host "
            "(or DOCKER_HOST) to unix:///path/to/docker.sock or tcp://host:port."
        )

    def _tls_context(self, environ: Mapping[str, str]) -> ssl.SSLContext:
        """TLS as the docker CLI does it: DOCKER_TLS_VERIFY checks the engine against
        $DOCKER_CERT_PATH/ca.pem; a client certificate there (cert.pem, key.pem) is presented."""
        cert_path = environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
        context = ssl.create_default_context()
        try:
            if environ.get("DOCKER_TLS_VERIFY"):
                context.load_verify_locations(os.path.join(cert_path, "ca.pem"))
            else:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            cert, key = os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")
            if os.path.exists(cert) and os.path.exists(key):
                context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise DockerEndpointError(
                f"The TLS files for the Docker endpoint {self._where} cannot be read ({exc}): put ca.pem, "
                "cert.pem and key.pem in DOCKER_CERT_PATH, or unset DOCKER_TLS_VERIFY.",
                self.host,
            ) from None
        return context

    def _connection(self) -> http.client.HTTPConnection:
        if self._socket_path:
            return UnixHTTPConnection(self._socket_path, self.timeout)
        if self._tls is not None:
            return http.client.HTTPSConnection(*self._address, timeout=self.timeout, context=self._tls)
        return http.client.HTTPConnection(*self._address, timeout=self.timeout)

    def _unreachable(self, exc: BaseException) -> DockerUnreachable:
        if isinstance(exc, FileNotFoundError):
            reason = f"there is no socket at {self._socket_path}"
        elif isinstance(exc, PermissionError):
            reason = (
                f"permission denied on {self._socket_path}: add your user to the docker group "
                "(`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker"
            )
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused: nothing listens there, the engine is stopped"
        elif isinstance(exc, (socket.timeout, TimeoutError)):
            reason = f"no answer within {self.timeout:g} s"
        else:
            reason = str(exc) or type(exc).__name__
        return DockerUnreachable(
            f"Cannot reach the Docker engine at {self._where} ({reason}). {UNREACHABLE_HINTS}", self.host
        )

    def request(
        self,
        method: str,
        path: str,
        *args: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes]:
        """Send one request; `path` holds {0}, {1} ... for args (quoted). Returns the status and the
        whole body; an error status raises DockerNotFound (404) or DockerAPIError."""
        url = path.format(*(quote(arg, safe="/:") for arg in args))
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, url, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except http.client.IncompleteRead as exc:
            # The engine closed a stream without a length mid-way: what arrived is the answer.
            status, data = response.status, exc.partial
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # ValueError: a socket path with a NUL byte, a host name IDNA cannot encode.
            raise self._unreachable(exc) from None
        else:
            status = response.status
        finally:
            conn.close()
        if status >= 400:
            raise self._error(method, url, status, data)
        return status, data

    def _error(self, method: str, url: str, status: int, data: bytes) -> DockerAPIError:
        try:
            explanation = json.loads(data).get("message") or ""
        except (ValueError, AttributeError):
            explanation = data.decode("utf-8", "replace").strip()
        kind = DockerNotFound if status == 404 else DockerAPIError
        return kind(
            f"The Docker engine at {self._where} answered {method} {url.split('?')[0]} with "
            f"{status}: {explanation or http.client.responses.get(status, 'error')}",
            self.host,
            status,
            explanation,
        )

    def get_json(self, path: str, *args: str, query: Mapping[str, Any] | None = None) -> Any:
        _, data = self.request("GET", path, *args, query=query)
        return self._json(data)

    def _json(self, data: bytes) -> Any:
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise DockerProtocolError(
                f"The Docker engine at {self._where} answered with something that is not JSON "
                f"({data[:60]!r}): is this endpoint a Docker engine?",
                self.host,
            ) from None

    def _inspect(self, path: str, name: str) -> dict[str, Any] | None:
        try:
            return self.get_json(path, name)
        except DockerNotFound:
            return None

    # --- what our modules ask ---------------------------------------------------------------
    def ping(self) -> bool:
        """True when the engine answers /_ping (raises DockerUnreachable otherwise)."""
        _, data = self.request("GET", "/_ping")
        return data.strip() == b"OK"

    def version(self) -> dict[str, Any]:
        return self.get_json("/version")

    def info(self) -> dict[str, Any]:
        return self.get_json("/info")

    def inspect_container(self, name: str) -> dict[str, Any] | None:
        """`docker inspect` of a container, None when there is none of that name or ID."""
        return self._inspect("/containers/{0}/json", name)

    def inspect_image(self, name: str) -> dict[str, Any] | None:
        return self._inspect("/images/{0}/json", name)

    def inspect_volume(self, name: str) -> dict[str, Any] | None:
        return self._inspect("/volumes/{0}", name)

    def containers(self, all: bool = True, filters: Mapping[str, list[str]] | None = None) -> list[dict]:  # noqa: A002
        query: dict[str, Any] = {"all": int(all)}
        if filters:
            query["filters"] = json.dumps(dict(filters))
        return self.get_json("/containers/json", query=query)

    def logs(self, name: str, tail: int | str = "all", stdout: bool = True, stderr: bool = True) -> bytes:
        """The container's log, the last `tail` lines (stdout and stderr interleaved in the order
        the engine logged them). Raises DockerNotFound when there is no such container."""
        attrs = self.get_json("/containers/{0}/json", name)
        query = {"stdout": int(stdout), "stderr": int(stderr), "tail": tail}
        _, data = self.request("GET", "/containers/{0}/logs", name, query=query)
        # With a TTY the engine sends the terminal's bytes as they are, without frames.
        if (attrs.get("Config") or {}).get("Tty"):
            return data
        return interleaved(data)

    def copy_file_out(self, name: str, path: str, write: Any) -> int:
        """`docker cp name:path` of one regular file, streamed: the engine's tar of it is read as
        it arrives and the file's bytes are given to write(chunk) (never the whole file in
        memory). Returns its size. Raises DockerProtocolError when path is not a regular file."""
        url = "/containers/{}/archive?{}".format(quote(name, safe=""), urlencode({"path": path}))
        conn = self._connection()
        try:
            try:
                conn.request("GET", url)
                response = conn.getresponse()
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from None
            if response.status >= 400:
                raise self._error("GET", url, response.status, response.read())
            # What write() raises (a full disk) is the caller's; a broken stream is the engine's.
            try:
                with tarfile.open(fileobj=response, mode="r|") as tar:
                    member = tar.next()
                    source = tar.extractfile(member) if member is not None and member.isfile() else None
                    if source is None:
                        raise DockerProtocolError(f"{name}:{path} is not a regular file", self.host)
                    size = 0
                    while chunk := source.read(1 << 20):
                        write(chunk)
                        size += len(chunk)
                    return size
            except (tarfile.TarError, http.client.HTTPException) as exc:
                raise DockerProtocolError(
                    f"The copy of {name}:{path} from the Docker engine at {self._where} broke off ({exc})",
                    self.host,
                ) from None
            except (ConnectionError, TimeoutError) as exc:
                raise self._unreachable(exc) from None
        finally:
            conn.close()

    def copy_in(self, name: str, source: str, folder: str) -> None:
        """`docker cp source name:folder/`: a file or a directory (with what it holds) into an
        existing folder of the container, under its own name. The tar is written to a temporary
        file first and sent with its length, so memory holds a block of it, never the whole."""
        url = "/containers/{}/archive?{}".format(quote(name, safe=""), urlencode({"path": folder}))
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                tar.add(source, arcname=os.path.basename(source.rstrip("/")) or "dump")
            size = archive.tell()
            archive.seek(0)
            conn = self._connection()
            try:
                try:
                    conn.request(
                        "PUT",
                        url,
                        body=archive,
                        headers={"Content-Type": "application/x-tar", "Content-Length": str(size)},
                    )
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    raise self._unreachable(exc) from None
                if response.status >= 400:
                    raise self._error("PUT", url, response.status, data)
            finally:
                conn.close()

    def exec_run(self, name: str, argv: list[str]) -> tuple[int, bytes, bytes]:
        """Run argv in the running container (no TTY); its exit code, stdout and stderr."""
        _, data = self.request(
            "POST",
            "/containers/{0}/exec",
            name,
            body={"Cmd": list(argv), "AttachStdout": True, "AttachStderr": True},
        )
        exec_id = self._json(data)["Id"]
        _, stream = self.request("POST", "/exec/{0}/start", exec_id, body={"Detach": False, "Tty": False})
        stdout, stderr = demux(stream)
        code = self.get_json("/exec/{0}/json", exec_id).get("ExitCode")
        return (code if code is not None else -1), stdout, stderr


def connect(
    docker_host: str | None,
    timeout: float = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    home: str | None = None,
) -> tuple[DockerClient, list[str]]:
    """A client for docker_host, or, when it is empty, for the endpoint the docker CLI would use
    (DOCKER_HOST, the Docker context, the default socket). Returns the client and warnings to show
    (an unreadable ~/.docker/config.json); raises DockerEndpointError for a context that does not
    exist. Never talks to the engine: the first request does."""
    # Imported here, not at the top: the unit tests load module_utils one file at a time, in
    # name order, and integrador_docker comes before integrador_docker_context. (Ansible finds
    # an import anywhere in the file when it packs the module.)
    from ansible.module_utils.integrador_docker_context import resolve

    environ = os.environ if environ is None else environ
    if docker_host:
        return DockerClient(docker_host, "", timeout, environ), []
    endpoint = resolve(environ, environ.get("HOME") or home or os.path.expanduser("~"))
    if endpoint.problem:
        raise DockerEndpointError(endpoint.problem, endpoint.host)
    return DockerClient(endpoint.host, endpoint.source, timeout, environ), list(endpoint.warnings)
