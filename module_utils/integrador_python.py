"""Finding and probing Python interpreters (shared by the integrador_python_env
and integrador_preflight modules)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

try:
    import pwd
except ImportError:  # Windows
    pwd = None

CANDIDATES = [f"python3.{minor}" for minor in range(14, 7, -1)] + ["python3", "python"]
PROBE = (
    "import json, os, sys; print(json.dumps([list(sys.version_info[:3]), os.path.realpath(sys.executable)]))"
)


def parse_version(text: str) -> tuple[int, ...]:
    """A version as python_env_min_version takes it: digits and dots, 3 to 3.12.1 (ValueError
    otherwise, with version_problem's message)."""
    problem = version_problem(text)
    if problem:
        raise ValueError(problem)
    return tuple(int(part) for part in str(text).strip().split("."))


def version_problem(text: object, var: str = "python_env_min_version") -> str | None:
    """None for a version such as 3.11; else what is wrong, naming the setting and the form."""
    value = str(text).strip() if isinstance(text, str) else None
    if value is not None and re.fullmatch(r"[0-9]+(\.[0-9]+){0,2}", value):
        return None
    return (
        f'{var} takes a version such as "3.11" (the lowest Python to accept, digits and dots, in '
        f"quotes), not {text!r}: no >=, no x, no range."
    )


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


# --- where the virtualenv lives, and whether we may touch it -------------------
# A rebuild replaces the folder python_env_venv names, so the folder must be one we
# can recognise as a virtualenv (Python's venv and virtualenv >= 20 write pyvenv.cfg)
# or nothing at all. Everything else is the user's and is refused before any change.
VENV_MARKER = "pyvenv.cfg"


def venv_location(root: str, venv: str) -> str:
    """Absolute path of the virtualenv python_env uses: python_env_venv (absolute, ~, or
    relative to root), else backend/venv or backend/.venv when one has a Python (the old
    start scripts' folders), else backend/.venv."""
    root = os.path.abspath(os.path.expanduser(root))
    if venv:
        return os.path.abspath(os.path.join(root, os.path.expanduser(venv)))
    for name in ("venv", ".venv"):
        candidate = os.path.join(root, "backend", name)
        if os.path.exists(venv_python(candidate)):
            return candidate
    return os.path.join(root, "backend", ".venv")


def is_virtualenv(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, VENV_MARKER))


def _home_folders() -> set[str]:
    homes = {os.path.expanduser("~")}
    if pwd is not None:
        try:
            homes.add(pwd.getpwuid(os.getuid()).pw_dir)
        except KeyError:  # a uid without a passwd entry (some containers)
            pass
    return {os.path.realpath(home) for home in homes if home and home != "~"}


def _ancestors(path: str) -> list[str]:
    found = []
    parent = os.path.dirname(path)
    while parent != path:
        found.append(parent)
        path, parent = parent, os.path.dirname(parent)
    return found


def _protected_reason(real: str, root: str) -> str | None:
    """Why real (a resolved path) is a folder no virtualenv may take, or None."""
    root_real = os.path.realpath(root)
    homes = _home_folders()
    if os.path.dirname(real) == real:
        return "the root of the file system"
    if real == root_real:
        return "the Integrador checkout itself (integrador_root)"
    for sub in ("backend", "ws_gateway"):
        if real == os.path.realpath(os.path.join(root, sub)):
            return f"the checkout's {sub}/ folder, which holds its source"
    if real in homes:
        return "your home folder"
    if any(real in _ancestors(home) for home in homes):
        return "a folder that holds your home folder"
    if real in _ancestors(root_real):
        return f"a folder that holds the Integrador checkout {root}"
    return None


def venv_problem(root: str, venv: str) -> str | None:
    """Why the virtualenv folder python_env would use (see venv_location) must not be
    created, rebuilt or installed into, or None when it may: it is absent, an empty
    folder, or a folder holding pyvenv.cfg, and none of the user's own folders (the
    checkout, its backend/ or ws_gateway/, a folder above it, the home folder, /).
    A symbolic link is judged by the folder it points to (and is kept). Shared by the
    preflight and integrador_python_env so that both refuse with the same words."""
    root = os.path.abspath(os.path.expanduser(root))
    path = venv_location(root, venv)
    real = os.path.realpath(path)
    named = (
        f"python_env_venv ({venv})"
        if venv
        else "python_env_venv (empty, so the existing backend/venv or backend/.venv)"
    )
    fix = (
        "Set python_env_venv to a folder of its own that does not exist yet (for example "
        "backend/.venv, or an absolute path such as ~/.venvs/integrador), or leave it empty."
    )
    link = f" (a symbolic link to {real})" if os.path.islink(path) else ""
    reason = _protected_reason(real, root)
    if reason is None and os.path.islink(path) and not os.path.exists(path):
        reason = "a symbolic link to nothing, and the folder it names is not created through a link"
        link = f" (-> {os.readlink(path)})"
    elif reason is None and os.path.lexists(real) and not os.path.isdir(real):
        reason = "a file, not a folder; a virtualenv is never written over it"
    elif reason is None and os.path.isdir(real) and not is_virtualenv(real):
        try:
            entries = sorted(os.listdir(real))
        except OSError as exc:
            entries = [f"(unreadable: {exc.strerror})"]
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            reason = (
                f"an existing folder that is not a virtualenv (it has no {VENV_MARKER}; it holds {shown}); "
                "rebuilding the virtualenv there would delete them"
            )
            fix += (
                " If it is an old virtualenv of yours without pyvenv.cfg, delete it yourself and run again."
            )
    if reason is None:
        return None
    return f"{named} points at {path}{link}: {reason}. Nothing was changed. {fix}"


def clear_virtualenv(path: str) -> None:
    """Empty a virtualenv folder for a rebuild, keeping the folder (a mount point or a
    symbolic link stays what it is) and its pyvenv.cfg until the new one is written, so
    that a run killed half-way leaves a folder the next run still recognises as ours."""
    if not is_virtualenv(path):
        raise ValueError(f"{path} is not a virtualenv ({VENV_MARKER} missing); refusing to empty it")
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name == VENV_MARKER:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def mark_virtualenv(path: str) -> None:
    """Create path (when missing) with a placeholder pyvenv.cfg before `python -m venv`
    fills it in: a run killed before the venv module writes its own still leaves a folder
    recognisable as ours. venv rewrites the file."""
    os.makedirs(path, exist_ok=True)
    marker = os.path.join(path, VENV_MARKER)
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write("# being created by integrador_python_env; python -m venv rewrites this file\n")
