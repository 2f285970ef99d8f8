"""The health wait after a day-two restart (restart.yml, restore, restore-snapshot, import-db):
roles/day_two/tasks/restart_health.yml run by the real ansible-playbook against real HTTP servers
on the loopback. Found on the real checkout with integrador_fast_path off (no record of the path
make dev found): its gateway answers 404 on the configured /ws/health and 200 on /health, and
every restart waited out app_services_health_timeout, then failed. A 404 now means the service is
up with its health elsewhere: the fallback paths are asked, as make dev does."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = """
- name: Health after a restart
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Restarted services answer their health checks
      ansible.builtin.include_role:
        name: day_two
        tasks_from: restart_health
"""


@pytest.fixture
def serve() -> Iterator[Callable[[set[str]], int]]:
    """Starts a web server answering 200 on the given paths and 404 elsewhere; its port."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(ok: set[str]) -> int:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200 if self.path in ok else 404)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(tmp_path: Path, api_port: int, ws_port: int) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "health.yml"
    playbook.write_text(PLAYBOOK)
    extra = {
        "app_services_units": {
            "services": {
                "api": {"health_url": f"http://127.0.0.1:{api_port}/api/health"},
                "ws": {"health_url": f"http://127.0.0.1:{ws_port}/ws/health"},
            }
        },
        "app_services_health_timeout": 3,
        "app_services_health_fallback_paths": ["/ws/health", "/health", "/api/health"],
    }
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(REPO / "roles"), ANSIBLE_NOCOLOR="1")
    env["ANSIBLE_FILTER_PLUGINS"] = str(REPO / "filter_plugins")
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", json.dumps(extra), str(playbook)],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_a_gateway_answering_404_on_its_path_is_found_on_a_fallback(
    tmp_path: Path, serve: Callable[[set[str]], int]
) -> None:
    proc = run(tmp_path, serve({"/api/health"}), serve({"/health"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flat = " ".join(proc.stdout.split())
    assert "answers 404 on http://127.0.0.1:" in flat and "/ws/health and 200 on /health" in flat, flat
    assert "pin it with app_services_ws_health_path: /health" in flat, flat
    # The API answered on its own path: no fallback asked for it.
    assert "(item=api /" not in flat, flat


def test_a_service_answering_404_everywhere_fails_naming_the_setting(
    tmp_path: Path, serve: Callable[[set[str]], int]
) -> None:
    proc = run(tmp_path, serve({"/api/health"}), serve(set()))
    assert proc.returncode != 0
    flat = " ".join((proc.stdout + proc.stderr).split())
    assert "The ws service answers 404 on http://127.0.0.1:" in flat, flat
    assert "and on /ws/health, /health, /api/health: set app_services_ws_health_path" in flat, flat


def test_services_answering_on_their_paths_ask_no_fallback(
    tmp_path: Path, serve: Callable[[set[str]], int]
) -> None:
    proc = run(tmp_path, serve({"/api/health"}), serve({"/ws/health"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Fallback health paths are asked" not in proc.stdout, proc.stdout


def test_a_service_that_never_answers_still_fails(tmp_path: Path, serve: Callable[[set[str]], int]) -> None:
    # A port nothing listens on: the wait runs out (app_services_health_timeout) and fails there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    proc = run(tmp_path, serve({"/api/health"}), closed)
    assert proc.returncode != 0
    assert "Restarted services answer on their health path" in proc.stdout and "(item=ws)" in proc.stdout
    assert "Fallback health paths are asked" not in proc.stdout, proc.stdout
