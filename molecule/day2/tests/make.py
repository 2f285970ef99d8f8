"""`make <command>` for real, from this repository's Makefile, against the scenario's laptop:
CONVERGE (the Makefile's playbook runner) is ansible-playbook with the scenario's inventory and
environment, exactly as molecule runs it, instead of scripts/converge with the local inventory."""

from __future__ import annotations

import shlex
import stat
import subprocess
import tempfile
from pathlib import Path

from conftest import PROJECT, playbook_command

_RUNNER: list[Path] = []


def runner() -> Path:
    """A script standing for scripts/converge: ansible-playbook -i <the scenario's inventory>."""
    if not _RUNNER:
        cmd, _ = playbook_command(Path("unused"))
        inventory = cmd[cmd.index("-i") + 1]
        script = Path(tempfile.mkdtemp(prefix="itest-day2-make-")) / "converge"
        script.write_text(f'#!/bin/sh\nexec ansible-playbook -i {shlex.quote(inventory)} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        _RUNNER.append(script)
    return _RUNNER[0]


def make_env() -> dict[str, str]:
    _, env = playbook_command(Path("unused"))
    return env


def make_command(*args: str) -> list[str]:
    # -o: the tooling virtualenv is the one running these tests; make must not reinstall it.
    return ["make", "-s", "-C", str(PROJECT), "-o", ".venv/.requirements.txt", f"CONVERGE={runner()}", *args]


def make(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        make_command(*args),
        env=make_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    return f"rc={proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
