"""TEST DOUBLE of Ollama's HTTP API, for the tests of roles/ollama only.

Serves what the role uses:
- GET /api/version -> {"version": "0.0.0-double"}
- GET /api/tags -> {"models": [{"name": "x:latest", "model": "x:latest", ...}]}
- POST /api/pull {"model": "x"} -> JSON lines like Ollama's ("pulling manifest", ..., "success"),
  or, for a model in the namespace unreachable/ (unreachable/any-name), the {"error": ...} line
  Ollama streams when the model library cannot be reached.
Pulled models are files under OLLAMA_MODELS (default /root/.ollama/models), so they survive a
recreation of the container on its volume. Every pull is appended to pulls.log there, so the
tests can count them. Listens on OLLAMA_HOST (default 0.0.0.0:11434).
"""

from __future__ import annotations

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODELS = Path(os.environ.get("OLLAMA_MODELS", "/root/.ollama/models"))
FAILING = "unreachable/"


def full_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def file_of(name: str) -> Path:
    return MODELS / full_name(name).replace("/", "%2F")


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/api/version":
            self.reply(200, {"version": "0.0.0-double"})
        elif self.path == "/api/tags":
            models = sorted(p.name.replace("%2F", "/") for p in MODELS.glob("*") if p.name != "pulls.log")
            listed = [{"name": m, "model": m, "size": 1, "digest": "0" * 64} for m in models]
            self.reply(200, {"models": listed})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/api/pull":
            self.reply(404, {"error": "not found"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        name = body.get("model") or body.get("name") or ""
        if not name:
            self.reply(400, {"error": "model is required"})
            return
        MODELS.mkdir(parents=True, exist_ok=True)
        with (MODELS / "pulls.log").open("a") as log:
            log.write(full_name(name) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        lines = [{"status": "pulling manifest"}]
        if name.startswith(FAILING):
            lines.append(
                {
                    "error": f'pull model manifest: Get "https://models.invalid/v2/{full_name(name)}": '
                    "dial tcp: lookup models.invalid: no such host"
                }
            )
        else:
            lines += [
                {"status": "pulling 0000", "digest": "sha256:" + "0" * 64, "total": 2, "completed": 1},
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
            file_of(name).write_text(name + "\n")
        for line in lines:
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
            time.sleep(0.01)

    def log_message(self, fmt: str, *args: object) -> None:
        print(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)


def main() -> None:
    host, _, port = os.environ.get("OLLAMA_HOST", "0.0.0.0:11434").rpartition(":")
    print(f"ollama test double listening on {host}:{port}", flush=True)
    ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
