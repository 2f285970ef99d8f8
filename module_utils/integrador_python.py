"""Finding and probing Python interpreters (shared by the integrador_python_env
and integrador_preflight modules)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

CANDIDATES = [f"python3.{minor}" for minor in range(14, 7, -1)] + ["python3", "python"]
PROBE = (
    "import json, os, sys; print(json.dumps([list(sys.version_info[:3]), os.path.realpath(sys.executable)]))"
)


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def probe(python: str) -> tuple[tuple[int, ...], str] | None:
    """Version and real executable of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=30, check=True)
        version, executable = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return tuple(version), executable


def venv_python(venv: str) -> str:
    if os.name == "nt":
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def checkout_problem(root: str) -> str | None:
    """Why root is not an Integrador checkout, or None when it is one."""
    api = os.path.join(root, "backend", "rest_api", "main.py")
    if os.path.isfile(api):
        return None
    return (
        f"integrador_root {root} is not an Integrador checkout: expected the REST API at {api} and "
        f"the gateway in {os.path.join(root, 'ws_gateway')}. Set integrador_root to the folder that "
        "holds backend/ and ws_gateway/."
    )


def find_interpreter(wanted: str, minimum: tuple[int, ...]) -> tuple[str | None, tuple[int, ...], str]:
    """(path, version, real executable) of the first Python of at least minimum:
    wanted when given, else the newest python3.X on PATH. path is None when none
    qualifies, and the last item then says what was found instead."""
    names = [wanted] if wanted else CANDIDATES
    found = []
    for name in names:
        path = shutil.which(name) or (name if os.path.isfile(name) else None)
        info = probe(path) if path else None
        if info is None:
            continue
        version, executable = info
        if version >= minimum:
            return path, version, executable
        found.append(f"Python {dotted(version)} at {path}")
    what = "; ".join(found) if found else (f"no working {wanted}" if wanted else "no Python on PATH")
    return None, (), what


def too_old_message(min_version: str, what: str) -> str:
    return (
        f"No Python of at least {min_version} (python_env_min_version) was found: {what}. Install a "
        "newer Python and point python_env_python at it (for example python_env_python: /usr/bin/python3.12)."
    )
