#!/usr/bin/python
"""Ensure a backend virtualenv holds its requirements, re-running pip only when
the requirement files or the interpreter change."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_alembic import migration_locations
from ansible.module_utils.integrador_python import (
    checkout_problem,
    clear_virtualenv,
    dotted,
    find_interpreter,
    is_virtualenv,
    mark_virtualenv,
    parse_version,
    probe,
    too_old_message,
    venv_location,
    venv_problem,
    venv_python,
)

DOCUMENTATION = r"""
module: integrador_python_env
short_description: Backend virtualenv with its requirements, pip only when they change
description:
  - Checks that O(root) is an Integrador checkout, picks a Python of at least O(min_version),
    reuses or creates the virtualenv, and installs the requirement files into it.
  - Keeps a fingerprint of the requirement files' contents and of the interpreter inside the
    virtualenv; while it matches, pip is not run at all.
  - A virtualenv whose interpreter no longer runs (for example after an OS upgrade) is rebuilt.
  - Only a folder holding C(pyvenv.cfg) (or an empty or missing one) is ever created, rebuilt or
    installed into. A virtualenv path that is the checkout, its C(backend/) or C(ws_gateway/), a
    folder above it, the home folder, C(/), a file, a dangling symbolic link, or any other existing
    folder is refused before anything changes, in check mode too. A symbolic link to a virtualenv
    is kept and the folder it points to is rebuilt.
  - One run at a time per checkout (a lock on the O(root) folder itself, no file is written) -- a run
    started in the background (C(async), see O(run_token)) is waited for by the next.
options:
  root:
    description: The Integrador checkout (holds backend/ and ws_gateway/).
    type: path
    required: true
  python:
    description: Interpreter to build the virtualenv with; empty to pick the newest suitable one on PATH.
    type: str
    default: ""
  min_version:
    description: Lowest acceptable Python version.
    type: str
    default: "3.8"
  venv:
    description:
      - Virtualenv path, absolute or relative to O(root).
      - Empty to reuse backend/venv or backend/.venv, else create backend/.venv.
      - Must be missing, empty, or a virtualenv (holding C(pyvenv.cfg)).
    type: str
    default: ""
  requirements:
    description: Requirement files relative to O(root).
    type: list
    elements: str
    required: true
  force:
    description: Reinstall everything (pip --force-reinstall) even when the fingerprint matches.
    type: bool
    default: false
  pip_environment:
    description: Environment for pip (index, proxy, certificates).
    type: dict
    default: {}
  min_free_mb:
    description: Free space needed on the virtualenv's file system before pip runs.
    type: int
    default: 500
  database_url_scheme:
    description:
      - Scheme of C(DATABASE_URL) to report in RV(database_url_scheme). Empty to follow the
        PostgreSQL driver the requirement files name (read as pip reads them, C(-r) included
        files too) -- C(asyncpg) gives C(postgresql+asyncpg), C(psycopg) (version 3, also
        C(psycopg[binary]) and C(psycopg-binary)) C(postgresql+psycopg), C(psycopg2),
        C(psycopg2-binary) or none C(postgresql). SQLAlchemy's extras that pull a driver
        (C(sqlalchemy[postgresql-asyncpg])) count as that driver. With several, the first of
        asyncpg, psycopg, psycopg2 wins.
    type: str
    default: ""
  alembic_config:
    description:
      - Alembic's config, relative to O(root). When it exists, RV(migrations_fingerprint) is the
        digest of it and of every file under its C(script_location) and C(version_locations)
        (C(env.py), the migration scripts). Empty to ignore migrations.
    type: str
    default: backend/alembic.ini
  detect_seed:
    description:
      - Look for a conventional seed entry point (RV(seed)), in this order
        C(backend/seed.py) (C(python seed.py)), C(backend/scripts/seed.py)
        (C(python scripts/seed.py)), then at the backend's top and in its package C(app),
        C(rest_api), C(api) or C(src) a C(seed.py) module (C(python -m rest_api.seed)) or a
        C(seeds/) or C(seed/) package run through its C(runner.py)
        (C(python -m rest_api.seeds.runner)) or its C(__main__.py) (C(python -m rest_api.seeds));
        a package needs its C(__init__.py).
    type: bool
    default: true
  helper:
    description:
      - Contents of the database preparation script the API runs before it starts; written
        into the virtualenv as C(integrador_prepare_database.py) when it differs (RV(helper)).
        Empty to write none.
    type: str
    default: ""
  background_results:
    description:
      - Results file of this converge's background run (Ansible's async job file, C(results_file)
        of the async start). Removed once the background run's result is in it, after this run,
        whether it succeeds or fails -- it holds the module's arguments. Only a file named like a
        job file (C(j<digits>.<digits>)) is ever removed. Empty for none.
    type: path
    default: ""
  run_token:
    description:
      - Token of one converge. A run that installs notes it in the virtualenv; a later run with
        the same token that finds nothing to install reports that install as its own
        (RV(installed) true). So a converge starts this module in the background (C(async))
        beside other work, then runs it again in the foreground, which waits for the background
        run's lock and reports what it did. Empty (the default) for a plain run.
    type: str
    default: ""
author: Integrador developers
"""

EXAMPLES = r"""
- name: Backend virtualenv holds its requirements
  integrador_python_env:
    root: /home/me/integrador
    requirements: [backend/requirements.txt]
"""

RETURN = r"""
venv:
  description: Absolute path of the virtualenv.
  type: str
  returned: always
python_version:
  description: Version of the virtualenv's Python.
  type: str
  returned: always
installed:
  description: >-
    Whether pip ran (or would run, in check mode), here or in this converge's background run
    (O(run_token)).
  type: bool
  returned: always
rebuilt:
  description: Whether the virtualenv was (or would be) created or rebuilt.
  type: bool
  returned: always
seconds:
  description: How long this run took (a wait for another run's lock included).
  type: float
  returned: always
install_seconds:
  description: How long pip took (with the virtualenv's creation), here or in this converge's background run.
  type: float
  returned: when installed
database_driver:
  description: The PostgreSQL driver the requirement files name (C(asyncpg), C(psycopg), C(psycopg2)), or "".
  type: str
  returned: always
database_driver_source:
  description: Where it was found (file and line), or empty.
  type: str
  returned: always
database_url_scheme:
  description: Scheme for C(DATABASE_URL) (O(database_url_scheme) when set, else the one the driver needs).
  type: str
  returned: always
alembic_config:
  description: O(alembic_config) when that file exists, else "".
  type: str
  returned: always
migrations_fingerprint:
  description: Digest of Alembic's config and scripts, "" without them.
  type: str
  returned: always
seed:
  description: The seed command found (run in backend/), or "".
  type: str
  returned: always
seed_source:
  description: The file it was found by, relative to O(root), or "".
  type: str
  returned: always
helper:
  description: Path of the database preparation script in the virtualenv, or "" when O(helper) is empty.
  type: str
  returned: always
watch:
  description: >-
    Every file and folder this run's decisions read (the requirement files, included ones too,
    the virtualenv's fingerprint, pyvenv.cfg and interpreter, Alembic's config and script
    folders, the seed entry points, the helper): when none of them changed, neither would this
    module's answer (playbooks/dev.yml's fast path records their digests).
  type: list
  elements: str
  returned: always
"""

FINGERPRINT = ".integrador-requirements.sha256"
# Which converge (its run_token) last installed: the run that started pip in the
# background and then runs this module again reports that install as its own.
RUN_MARK = ".integrador-installed-by"
HELPER = "integrador_prepare_database.py"


# Conventional seed entry points: (file relative to the checkout, files that must exist
# with it, command run in backend/).
# A seed module (seed.py) or package (seeds/ or seed/, run through its runner.py or its
# __main__.py, as FastAPI projects lay them out: `python -m rest_api.seeds.runner`), at the
# backend's top or inside its application package; the first found wins.
def _seed_entry_points() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    points: list[tuple[str, tuple[str, ...], str]] = [
        ("backend/seed.py", (), "python seed.py"),
        ("backend/scripts/seed.py", (), "python scripts/seed.py"),
    ]
    for package in ("", "app", "rest_api", "api", "src"):
        folder = f"backend/{package}/" if package else "backend/"
        needs = (f"{folder}__init__.py",) if package else ()
        dotted = f"{package}." if package else ""
        if package:
            points.append((f"{folder}seed.py", needs, f"python -m {dotted}seed"))
        for name in ("seeds", "seed"):
            init = f"{folder}{name}/__init__.py"
            points.append((f"{folder}{name}/runner.py", (*needs, init), f"python -m {dotted}{name}.runner"))
            points.append((f"{folder}{name}/__main__.py", (*needs, init), f"python -m {dotted}{name}"))
    return tuple(points)


SEED_ENTRY_POINTS = _seed_entry_points()

# --- Reading requirement files as pip does ---------------------------------------------
# PostgreSQL drivers, by canonical distribution name, in the order they win when a
# backend names several (an async app that also lists psycopg2 for scripts uses asyncpg).
DRIVERS = {
    "asyncpg": "asyncpg",
    "psycopg": "psycopg",
    "psycopg-binary": "psycopg",
    "psycopg-c": "psycopg",
    "psycopg2": "psycopg2",
    "psycopg2-binary": "psycopg2",
}
DRIVER_ORDER = ("asyncpg", "psycopg", "psycopg2")
SCHEMES = {
    "asyncpg": "postgresql+asyncpg",
    "psycopg": "postgresql+psycopg",
    "psycopg2": "postgresql",
    "": "postgresql",
}
# SQLAlchemy's extras that install a driver (canonical names).
SQLALCHEMY_EXTRAS = {
    "postgresql-asyncpg": "asyncpg",
    "postgresql-psycopg": "psycopg",
    "postgresql-psycopgbinary": "psycopg",
    "postgresql-psycopg2binary": "psycopg2",
    "postgresql": "psycopg2",
}
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*=\s*|\s+|(?=\S))(?P<path>\S+)")
# A constraints file (-c): pip reads its pins, so its bytes are part of what is installed.
_CONSTRAINT = re.compile(r"^(?:-c|--constraint)(?:\s*=\s*|\s+|(?=\S))(?P<path>\S+)")
_COMMENT = re.compile(r"(^|\s+)#.*$")
# A PEP 508 name, its extras, and the rest (version, URL, marker), for hosts without packaging.
_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[(?P<extras>[^\]]*)\])?")


def canonical(name: str) -> str:
    """PEP 503 normalised name (packaging.utils.canonicalize_name)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's lines: comments dropped, backslash continuations joined, with the first line number."""
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        pending += line
        if pending.strip():
            lines.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def parse_requirement(
    line: str, python_version: tuple[int, ...] | None = None
) -> tuple[str, set[str]] | None:
    """The canonical name and extras of one requirement line (PEP 508, read with packaging's
    Requirement), or None for an option line (-e, -c, -i, ...), a bare path or URL, or a
    requirement whose environment marker excludes the virtualenv's Python. Without packaging on
    the host, the name and extras are read by pattern and markers are not evaluated."""
    # Per-requirement options (--hash=..., --config-settings ...) follow the requirement.
    line = re.split(r"\s+--?[A-Za-z]", " " + line, maxsplit=1)[0].strip()
    if not line or line.startswith("-"):
        return None
    try:
        from packaging.markers import default_environment
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        match = _NAME.match(line)
        return (canonical(match.group("name")), _extras(match.group("extras"))) if match else None
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return None  # a path or URL without a name: pip decides; no driver from it
    if requirement.marker is not None:
        environment = dict(default_environment())
        if python_version:
            environment["python_version"] = ".".join(str(part) for part in python_version[:2])
            environment["python_full_version"] = ".".join(str(part) for part in python_version)
        try:
            if not requirement.marker.evaluate(environment):
                return None
        except Exception:  # noqa: BLE001 - an undefined marker variable: pip would refuse the line
            return None
    return str(canonicalize_name(requirement.name)), {
        str(canonicalize_name(extra)) for extra in requirement.extras
    }


def _extras(text: str | None) -> set[str]:
    return {canonical(part.strip()) for part in (text or "").split(",") if part.strip()}


def read_requirements(
    paths: list[str], python_version: tuple[int, ...] | None = None
) -> tuple[list[str], list[tuple[str, set[str], str]]]:
    """Every file read (the given ones, those they include with -r and the constraints files
    they name with -c, once each) and every requirement in them (not the constraints' pins):
    (canonical name, extras, "file:line")."""
    files: list[str] = []
    found: list[tuple[str, set[str], str]] = []
    # (path, whether its lines are requirements: a constraints file's are only pins)
    todo: list[tuple[str, bool]] = [(path, True) for path in paths]
    while todo:
        raw, requirements = todo.pop(0)
        path = os.path.normpath(raw)
        if path in files or not os.path.isfile(path):
            continue
        files.append(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        for number, line in logical_lines(text):
            include = _INCLUDE.match(line)
            constraint = _CONSTRAINT.match(line)
            if include or constraint:
                named = (include or constraint).group("path")  # type: ignore[union-attr]
                todo.append(
                    (
                        os.path.join(os.path.dirname(path), os.path.expanduser(named)),
                        bool(include) and requirements,
                    )
                )
                continue
            if not requirements:
                continue
            parsed = parse_requirement(line, python_version)
            if parsed:
                found.append((parsed[0], parsed[1], f"{path}:{number}"))
    return files, found


def detect_driver(requirements: list[tuple[str, set[str], str]]) -> tuple[str, str]:
    """The PostgreSQL driver the requirements name, and where: ("", "") for none."""
    named: dict[str, str] = {}
    for name, extras, where in requirements:
        drivers = [DRIVERS[name]] if name in DRIVERS else []
        if name == "sqlalchemy":
            drivers += [SQLALCHEMY_EXTRAS[extra] for extra in sorted(extras) if extra in SQLALCHEMY_EXTRAS]
        for driver in drivers:
            named.setdefault(driver, where)
    for driver in DRIVER_ORDER:
        if driver in named:
            return driver, named[driver]
    return "", ""


class PythonEnv:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.root = os.path.abspath(os.path.expanduser(self.params["root"]))
        self.minimum = parse_version(self.params["min_version"])
        self.helper_path = ""

    def fail(self, msg: str, **kwargs: object) -> None:
        self.module.fail_json(msg=msg, **kwargs)

    def check_root(self) -> None:
        problem = checkout_problem(self.root)
        if problem:
            self.fail(problem)

    def requirement_files(self) -> list[str]:
        files = [os.path.join(self.root, name) for name in self.params["requirements"]]
        missing = [path for path in files if not os.path.isfile(path)]
        if missing:
            self.fail(
                f"requirement file(s) not found: {', '.join(missing)}. Fix python_env_requirements "
                f"(paths relative to integrador_root {self.root})."
            )
        return files

    def venv_path(self) -> str:
        """The virtualenv's folder, refused (before anything changes) unless it is ours to
        touch: the preflight reports the same problem in the same words."""
        problem = venv_problem(self.root, self.params["venv"])
        if problem:
            self.fail(problem)
        return venv_location(self.root, self.params["venv"])

    def pick_interpreter(self) -> tuple[str, tuple[int, ...], str]:
        path, version, found = find_interpreter(self.params["python"], self.minimum)
        if path is None:
            self.fail(too_old_message(self.params["min_version"], found))
            raise AssertionError  # fail_json exits
        return path, version, found

    def fingerprint(self, venv_info: tuple[tuple[int, ...], str], files: list[str]) -> str:
        return fingerprint(venv_info, read_requirements(files)[0])

    def database(self, files: list[str], python_version: tuple[int, ...] | None) -> dict[str, str]:
        driver, where = detect_driver(read_requirements(files, python_version)[1])
        where = os.path.relpath(where, self.root) if where else ""
        return {
            "database_driver": driver,
            "database_driver_source": where,
            "database_url_scheme": self.params["database_url_scheme"] or SCHEMES[driver],
        }

    def checkout(self) -> dict[str, str]:
        """Alembic's fingerprint and the seed entry point, read from the checkout."""
        info = {"alembic_config": "", "migrations_fingerprint": "", "seed": "", "seed_source": ""}
        config = self.params["alembic_config"]
        path = os.path.join(self.root, config) if config else ""
        if path and os.path.isfile(path):
            info["alembic_config"] = config
            info["migrations_fingerprint"] = files_fingerprint(self.root, migration_files(path))
        if self.params["detect_seed"]:
            info["seed"], info["seed_source"] = detect_seed(self.root)
        return info

    def write_helper(self, venv: str, dry: bool) -> bool:
        """The database preparation script in the virtualenv: (would be) written when it differs."""
        content = self.params["helper"]
        self.helper_path = os.path.join(venv, HELPER) if content else ""
        if not content:
            return False
        try:
            with open(self.helper_path, encoding="utf-8") as handle:
                if handle.read() == content:
                    return False
        except (OSError, UnicodeDecodeError):
            pass
        if dry or not os.path.isdir(venv):
            return True
        with open(self.helper_path, "w", encoding="utf-8") as handle:
            handle.write(content)
        return True

    def watch(self, venv: str) -> list[str]:
        """What ensure() read (its answer changes only when one of these does)."""
        paths = read_requirements(self.requirement_files())[0]
        paths += [os.path.join(venv, FINGERPRINT), os.path.join(venv, "pyvenv.cfg")]
        python = venv_python(venv)
        paths.append(os.path.realpath(python) if os.path.exists(python) else python)
        config = self.params["alembic_config"]
        path = os.path.join(self.root, config) if config else ""
        if path:
            paths.append(path)
            if os.path.isfile(path):
                paths += migration_locations(path)
        if self.params["detect_seed"]:
            for entry, needs, _ in SEED_ENTRY_POINTS:
                paths += [os.path.join(self.root, name) for name in (entry, *needs)]
        if self.helper_path:
            paths.append(self.helper_path)
        return paths

    def check_free_space(self, venv: str) -> None:
        existing = venv
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        free_mb = shutil.disk_usage(existing).free // (1024 * 1024)
        if free_mb < self.params["min_free_mb"]:
            self.fail(
                f"only {free_mb} MB free on the file system of {existing}; the virtualenv and its "
                f"requirements need about {self.params['min_free_mb']} MB. Free some space (for example "
                "`docker system prune` for unused images), or point python_env_venv elsewhere."
            )

    @staticmethod
    def installed_by(venv: str) -> dict[str, object]:
        try:
            with open(os.path.join(venv, RUN_MARK), encoding="utf-8") as handle:
                mark = json.load(handle)
        except (OSError, ValueError):
            return {}
        return mark if isinstance(mark, dict) else {}

    def run(self, cmd: list[str], what: str) -> None:
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.update({key: str(value) for key, value in self.params["pip_environment"].items()})
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            self.fail(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")

    def ensure(self) -> dict[str, object]:
        self.check_root()
        files = self.requirement_files()
        venv = self.venv_path()
        current = probe(venv_python(venv)) if os.path.exists(venv_python(venv)) else None

        rebuild = current is None or current[0] < self.minimum
        if self.params["python"] and current is not None:
            _, _, executable = self.pick_interpreter()
            base = probe_base(venv_python(venv))
            rebuild = rebuild or base != executable
        interpreter = None
        if rebuild:
            interpreter, _, _ = self.pick_interpreter()

        stamp = os.path.join(venv, FINGERPRINT)
        stored = None
        if not rebuild and os.path.isfile(stamp):
            with open(stamp, encoding="ascii") as handle:
                stored = handle.read().strip()
        wanted = self.fingerprint(current, files) if current and not rebuild else None
        install = rebuild or self.params["force"] or stored != wanted

        result: dict[str, object] = {"venv": venv, "rebuilt": rebuild, "installed": install}
        result.update(self.database(files, current[0] if current else None))
        result.update(self.checkout())
        if self.module.check_mode or not install:
            by = self.installed_by(venv) if self.params["run_token"] and not self.module.check_mode else {}
            if by.get("token") == self.params["run_token"]:
                result.update(
                    installed=True, rebuilt=bool(by.get("rebuilt")), install_seconds=by.get("seconds", 0.0)
                )
            result["python_version"] = dotted(current[0]) if current else ""
            result["helper_written"] = self.write_helper(venv, dry=self.module.check_mode)
            return result

        self.check_free_space(venv)
        began = time.monotonic()
        if rebuild:
            # Asked again right before the only removal this module makes.
            problem = venv_problem(self.root, self.params["venv"])
            if problem:
                self.fail(problem)
            # Python's venv refuses a symbolic link: the folder it points to is rebuilt, the link kept.
            folder = os.path.realpath(venv)
            try:
                if is_virtualenv(folder):
                    clear_virtualenv(folder)
                mark_virtualenv(folder)
            except OSError as exc:
                self.fail(
                    f"cannot prepare the virtualenv folder {folder} ({exc}). Check its permissions, or set "
                    "python_env_venv to a folder you can write."
                )
            self.run([interpreter, "-m", "venv", folder], "creating the virtualenv")
            current = probe(venv_python(venv))
            if current is None:
                self.fail(f"the new virtualenv at {venv} does not run its Python")
        cmd = [venv_python(venv), "-m", "pip", "install", "--quiet"]
        if self.params["force"]:
            cmd.append("--force-reinstall")
        for path in files:
            cmd += ["-r", path]
        self.run(cmd, "pip install")
        with open(stamp, "w", encoding="ascii") as handle:
            handle.write(self.fingerprint(current, files) + "\n")
        result["install_seconds"] = round(time.monotonic() - began, 2)
        with open(os.path.join(venv, RUN_MARK), "w", encoding="utf-8") as handle:
            json.dump(
                {"token": self.params["run_token"], "rebuilt": rebuild, "seconds": result["install_seconds"]},
                handle,
            )
        result["python_version"] = dotted(current[0])
        result["helper_written"] = self.write_helper(venv, dry=False)
        return result


def fingerprint(venv_info: tuple[tuple[int, ...], str], files: list[str]) -> str:
    """Digest of the interpreter and of every requirement file pip reads (included ones too):
    pip runs again when any byte of them changes."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(venv_info[0]), venv_info[1]]).encode())
    for path in files:
        with open(path, "rb") as handle:
            digest.update(path.encode() + b"\0" + hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def migration_files(config: str) -> list[str]:
    """Alembic's config and every file of its script location(s) (env.py, script.py.mako, the
    versions), sorted; caches left out."""
    files = {os.path.abspath(config)}
    for folder in migration_locations(config):
        for top, dirs, names in os.walk(folder):
            dirs[:] = sorted(name for name in dirs if name != "__pycache__")
            files.update(os.path.join(top, name) for name in names if not name.endswith((".pyc", ".pyo")))
    return sorted(files)


def files_fingerprint(root: str, files: list[str]) -> str:
    """Digest of the files' paths (relative to root) and contents."""
    digest = hashlib.sha256()
    for path in files:
        try:
            with open(path, "rb") as handle:
                content = hashlib.sha256(handle.read()).digest()
        except OSError:
            content = b"unreadable"
        digest.update(os.path.relpath(path, root).encode() + b"\0" + content)
    return digest.hexdigest()


def detect_seed(root: str) -> tuple[str, str]:
    """The first conventional seed entry point of the checkout: (command, file) or ("", "")."""
    for entry, needs, command in SEED_ENTRY_POINTS:
        if os.path.isfile(os.path.join(root, entry)) and all(
            os.path.isfile(os.path.join(root, n)) for n in needs
        ):
            return command, entry
    return "", ""


# An Ansible async job's results file: ~/.ansible_async/j<digits>.<digits>.
JOB_FILE = re.compile(r"^j\d+\.\d+$")


def remove_job_file(path: str, patience: float = 5.0) -> None:
    """Removes the results file of this converge's background run (it holds the module's
    arguments) once Ansible's async wrapper has written the run's result into it: the wrapper
    writes {"started": ...} first and the module's own result (no "started") when it ends,
    right after the run's lock was released. Anything not named like a job file is left alone;
    a file still unfinished after `patience` seconds too."""
    if not JOB_FILE.match(os.path.basename(path)):
        return
    deadline = time.monotonic() + patience
    while True:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            data = {"started": True}
        if not isinstance(data, dict) or "started" not in data:
            with contextlib.suppress(OSError):
                os.unlink(path)
            return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def probe_base(python: str) -> str | None:
    """Real path of the interpreter a virtualenv was made from."""
    code = "import os, sys; print(os.path.realpath(getattr(sys, '_base_executable', sys.executable)))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "python": {"type": "str", "default": ""},
            "min_version": {"type": "str", "default": "3.8"},
            "venv": {"type": "str", "default": ""},
            "requirements": {"type": "list", "elements": "str", "required": True},
            "force": {"type": "bool", "default": False},
            "pip_environment": {"type": "dict", "default": {}},
            "min_free_mb": {"type": "int", "default": 500},
            "database_url_scheme": {"type": "str", "default": ""},
            "alembic_config": {"type": "str", "default": "backend/alembic.ini"},
            "detect_seed": {"type": "bool", "default": True},
            "helper": {"type": "str", "default": "", "no_log": False},
            "run_token": {"type": "str", "default": ""},
            "background_results": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        parse_version(module.params["min_version"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    began = time.monotonic()
    env = PythonEnv(module)
    root = module.params["root"]
    with contextlib.ExitStack() as held:
        if module.params["background_results"]:
            # Last out (after the lock is released, on a failure too): the job file goes.
            held.callback(remove_job_file, module.params["background_results"])
        if not module.check_mode and os.path.isdir(root):
            # flock on the folder's own descriptor (Linux, macOS): waits for another run's pip.
            folder = os.open(root, os.O_RDONLY)
            held.callback(os.close, folder)
            fcntl.flock(folder, fcntl.LOCK_EX)
        result = env.ensure()
    result["seconds"] = round(time.monotonic() - began, 2)
    result["helper"] = env.helper_path
    result["watch"] = env.watch(str(result["venv"]))
    module.exit_json(changed=bool(result["installed"] or result["helper_written"]), **result)


if __name__ == "__main__":
    main()
