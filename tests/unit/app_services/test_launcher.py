"""The services' launcher (roles/app_services/files/launcher/integrador_run.py), run for real.

Issue 23, 1: the units started `python -m dotenv ... run`, taken from the checkout's virtualenv.
python-dotenv 1.0.x (the real Integrador pins 1.0.1) starts the command as a child, so the unit's
main process was not the one holding the port and every full converge on a running stack was
refused. The launcher is the tool's own: it gives the command what `dotenv run --override` gives
(the oracle below is the real python-dotenv CLI, with the same environment), then replaces
itself with the command, and records the .env bytes it read."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_services_render import ROLE
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from this_machine import alive, free_port

LAUNCHER = ROLE / "files" / "launcher" / "integrador_run.py"
PRINT = "import json, os; print(json.dumps({'pid': os.getpid(), 'env': dict(os.environ)}))"

# Values that exercise python-dotenv's expansion: ${NAME}, ${NAME:-default}, $NAME (not
# expanded), names defined before, after, in the environment only, or nowhere.
_NAMES = st.sampled_from(["T_A", "T_B", "T_ENV", "T_NONE"])
_PIECE = st.one_of(
    st.text(st.sampled_from(list("ab $#:-{}\\'\"")), max_size=4),
    _NAMES.map(lambda name: "${" + name + "}"),
    st.tuples(_NAMES, st.text(st.sampled_from(list("xy -:")), max_size=3)).map(
        lambda pair: "${" + pair[0] + ":-" + pair[1] + "}"
    ),
    _NAMES.map(lambda name: "$" + name),
)
_LINE = st.tuples(
    st.sampled_from(["T_A", "T_B", "T_C"]),
    st.sampled_from(["", "'", '"']),
    st.lists(_PIECE, max_size=4).map("".join),
).map(
    lambda parts: f"{parts[0]}={parts[1]}{parts[2].replace(parts[1], '') if parts[1] else parts[2]}{parts[1]}"
)


def launch(env_file: Path, environ: dict[str, str], *extra: str) -> dict[str, object]:
    argv = [sys.executable, str(LAUNCHER), "--env-file", str(env_file), *extra, "--"]
    proc = subprocess.run(
        [*argv, sys.executable, "-c", PRINT], env=environ, capture_output=True, text=True, check=True
    )
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def real(env_file: Path, environ: dict[str, str]) -> dict[str, str]:
    argv = [sys.executable, "-m", "dotenv", "--file", str(env_file), "run", "--override", "--"]
    proc = subprocess.run(
        [*argv, sys.executable, "-c", PRINT], env=environ, capture_output=True, text=True, check=True
    )
    env: dict[str, str] = json.loads(proc.stdout)["env"]
    return env


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, max_size=4), in_environment=st.booleans())
@example(lines=["T_A=${T_B:-fallback}", "T_B=${T_ENV}/x", "T_C='${T_A}' $T_B"], in_environment=True)
@example(lines=["T_A=${T_C}", "T_C=later"], in_environment=False)
def test_expansion_matches_python_dotenv_run(tmp_path: Path, lines: list[str], in_environment: bool) -> None:
    env_file = tmp_path / "gen.env"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    environ = {**os.environ, "T_C": "from the environment"}
    if in_environment:
        environ["T_ENV"] = "env value"
    else:
        environ.pop("T_ENV", None)
    assert launch(env_file, environ)["env"] == real(env_file, environ)


def test_the_launcher_becomes_the_command_and_records_what_it_read(tmp_path: Path) -> None:
    """One process from start to service: the pid the manager started (the launcher's, which it
    records) is the pid of the command, whatever python-dotenv the checkout pins."""
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"DEBUG=true\r\nexport NAME='x y'\n")
    record = tmp_path / "started" / "api.json"
    out = launch(env_file, dict(os.environ), "--record", str(record))
    written = json.loads(record.read_text())
    assert written == {
        "env_file": str(env_file),
        "sha256": hashlib.sha256(env_file.read_bytes()).hexdigest(),
        "pid": out["pid"],
    }
    env = out["env"]
    assert isinstance(env, dict) and env["DEBUG"] == "true" and env["NAME"] == "x y"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"KEY=\xff\n", "is not UTF-8 text (line 1)"),
    ],
)
def test_an_unreadable_env_file_stops_the_start_naming_it(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    env_file = tmp_path / ".env"
    if content is not None:
        env_file.write_bytes(content)
    argv = [sys.executable, str(LAUNCHER), "--env-file", str(env_file), "--", "true"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and str(env_file) in proc.stderr


def test_the_launcher_needs_nothing_from_the_virtualenv(tmp_path: Path) -> None:
    """Run with -S (no site-packages at all): standard library and its own dotenv port only."""
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\n")
    argv = [sys.executable, "-S", str(LAUNCHER), "--env-file", str(env_file), "--"]
    proc = subprocess.run(
        [*argv, sys.executable, "-S", "-c", "import os; print(os.environ['A'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "1"


# A service as uvicorn --reload runs it: the main process (the reloader) binds the port, starts a
# worker that inherits the socket and serves on it, and waits. Both in one process group.
RELOADER = """
import os, socket, subprocess, sys, time
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1]))); server.listen()
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], pass_fds=[server.fileno()])
print(worker.pid, flush=True)
time.sleep(300)
"""
BIND = "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); print('bound')"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_start_stops_the_group_its_killed_predecessor_left_holding_the_port(tmp_path: Path) -> None:
    """Issue 23, 1 (supervisord): kill -9 of the reloader left its worker holding the port; the
    manager's restart could not bind, while the orphan answered health with the old code."""
    env_file, record, port = tmp_path / ".env", tmp_path / "started" / "api.json", free_port()
    env_file.write_text("A=1\n")
    first = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--env-file", str(env_file), "--record", str(record), "--"]
        + [sys.executable, "-c", RELOADER, str(port)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as supervisord and systemd give it
    )
    assert first.stdout is not None
    worker = int(first.stdout.readline())
    assert json.loads(record.read_text())["pid"] == first.pid
    first.kill()
    first.wait()
    assert alive(worker), "the orphaned worker should outlive its reloader (as uvicorn's does)"

    again = subprocess.run(
        [sys.executable, str(LAUNCHER), "--env-file", str(env_file), "--record", str(record), "--"]
        + [sys.executable, "-c", BIND, str(port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert again.returncode == 0 and again.stdout.strip() == "bound", again.stderr
    assert f"stopping what the previous start (pid {first.pid}) left running" in again.stderr
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_a_live_predecessor_is_never_touched(tmp_path: Path) -> None:
    """The record names a live process (a second start beside a running one, or a reused pid)."""
    env_file, record = tmp_path / ".env", tmp_path / "api.json"
    env_file.write_text("A=1\n")
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        record.write_text(json.dumps({"pid": bystander.pid, "sha256": "", "env_file": str(env_file)}))
        proc = subprocess.run(
            [
                sys.executable,
                str(LAUNCHER),
                "--env-file",
                str(env_file),
                "--record",
                str(record),
                "--",
                "true",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and "stopping" not in proc.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
