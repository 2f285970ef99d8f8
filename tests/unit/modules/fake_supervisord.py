"""A process that looks to /proc like a supervisord of one config with one program: its comm is
"supervisord" (started as `supervisord -c SCRIPT --configuration=CONF` with this Python as the
executable) and it starts a program in a group of its own, whose pid it prints. What
integrador_ports.supervisor_roots reads, without supervisord itself."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SCRIPT = """
import os, subprocess, time
# A program: a group of its own whose parent is this supervisord (named so, sys.executable
# is empty).
python = os.readlink("/proc/self/exe")
program = subprocess.Popen([python, "-c", "import time; time.sleep(60)"], process_group=0)
print(program.pid, flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def running(conf: Path) -> Iterator[tuple[int, int]]:
    """The daemon of `conf` and its program running: their pids. Both killed after (the program
    is in a group of its own: the daemon's end would leave it running)."""
    daemon = subprocess.Popen(
        ["supervisord", "-c", SCRIPT, f"--configuration={conf}"],
        executable=sys.executable,
        stdout=subprocess.PIPE,
        text=True,
    )
    program = 0
    try:
        program = int(daemon.stdout.readline())  # type: ignore[union-attr]
        yield daemon.pid, program
    finally:
        for pid in (daemon.pid, program):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        daemon.wait()
