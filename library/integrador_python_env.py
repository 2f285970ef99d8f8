#!/usr/bin/python
"""Ensure a backend virtualenv holds its requirements, re-running pip only when
the requirement files or the interpreter change."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

from ansible.module_utils.basic import AnsibleModule
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
  description: Whether pip ran (or would run, in check mode).
  type: bool
  returned: always
rebuilt:
  description: Whether the virtualenv was (or would be) created or rebuilt.
  type: bool
  returned: always
"""

FINGERPRINT = ".integrador-requirements.sha256"


class PythonEnv:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.root = os.path.abspath(os.path.expanduser(self.params["root"]))
        self.minimum = parse_version(self.params["min_version"])

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
        digest = hashlib.sha256()
        digest.update(json.dumps([list(venv_info[0]), venv_info[1]]).encode())
        for path in files:
            with open(path, "rb") as handle:
                digest.update(path.encode() + b"\0" + hashlib.sha256(handle.read()).digest())
        return digest.hexdigest()

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
        if self.module.check_mode or not install:
            result["python_version"] = dotted(current[0]) if current else ""
            return result

        self.check_free_space(venv)
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
        result["python_version"] = dotted(current[0])
        return result


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
        },
        supports_check_mode=True,
    )
    try:
        parse_version(module.params["min_version"])
    except ValueError:
        got = module.params["min_version"]
        module.fail_json(msg=f"python_env_min_version must look like 3.8 (got {got!r})")
    result = PythonEnv(module).ensure()
    module.exit_json(changed=bool(result["installed"]), **result)


if __name__ == "__main__":
    main()
