"""roles/day_two/files/http_probe.py (the status playbook's health probe), run as
status.yml runs it, against real local HTTP servers, with a dead proxy in
http_proxy/HTTP_PROXY as on a corporate laptop: the stack's own addresses never go
through the proxy. IPv4 and IPv6 loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from this_machine import has_ipv6_loopback

PROBE = Path(__file__).resolve().parents[3] / "roles" / "day_two" / "files" / "http_probe.py"
DEAD_PROXY = "http://127.0.0.1:9"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200 if self.path == "/api/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(params=["127.0.0.1", "::1"])
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    host = request.param
    if ":" in host and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    server = (_Server6 if ":" in host else ThreadingHTTPServer)((host, 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def probe(*urls: str) -> list[dict[str, object]]:
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    env |= {
        "http_proxy": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "all_proxy": DEAD_PROXY,
    }
    proc = subprocess.run(
        [sys.executable, str(PROBE), *urls], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    result: list[dict[str, object]] = json.loads(proc.stdout)
    return result


def test_probe_bypasses_a_dead_proxy(base_url: str) -> None:
    ok, down = probe(base_url + "/api/health", base_url + "/api/health/detailed")
    assert (ok["status"], ok["error"]) == (200, "")
    assert down["status"] == 503


def test_dead_proxy_would_fail_a_probe_that_used_it(base_url: str) -> None:
    """The same request through the proxy from the environment fails: the test above can fail."""
    code = (
        "import sys, urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen(sys.argv[1], timeout=5)\n"
        "except OSError as error:\n"
        "    print(type(error).__name__)\n"
    )
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    env |= {"http_proxy": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY}
    proc = subprocess.run(
        [sys.executable, "-c", code, base_url + "/api/health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "URLError", proc


def test_nothing_listening_is_status_0_with_the_reason() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (result,) = probe(f"http://127.0.0.1:{port}/api/health")
    assert result["status"] == 0
    assert "refused" in str(result["error"]).lower()
