"""Controller side of library/integrador_fast_path.py: the fingerprint of a run's
inputs, and the check done in-process where the stack is on this machine.

The inputs are every setting of the stack the user gives (every variable named
integrador_*, postgres_pgvector_*, redis_*, python_env_*, app_services_*, ollama_*,
preflight_*, templated, from inventory, group_vars, host_vars, the play or -e), the
tool's own files (roles with their defaults, playbooks, modules, plugins,
ansible.cfg), where the tool is, and what the roles' defaults read from outside
(DOCKER_HOST, DOCKER_CONTEXT). Every setting's value follows from those: a change
to any of them makes the next run a full converge. They are fingerprinted when the
run starts (state: checked), before any role is loaded or any task has set a fact
(dev.yml parses no role before the fast path), and that fingerprint is the one
recorded at its end.

On a local connection without become (a developer's `make dev`) the stamp, the
containers and the units are this machine's, reached as this user: the module's
own functions (loaded from library/integrador_fast_path.py, with our module_utils
under the names Ansible gives them) run in this worker process, and a converged
stack costs no module execution at all.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.errors import AnsibleUndefinedVariable
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import module_loader

# The variables that are the stack's settings.
SETTINGS = re.compile(r"^(integrador|postgres_pgvector|redis|python_env|app_services|ollama|preflight)_")
# The tool's own files, relative to the project (this file is playbooks/action_plugins/).
PROJECT = Path(__file__).resolve().parents[2]
# What the roles' defaults read from the environment (the Docker endpoint), besides settings.
ENVIRONMENT = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
TOOL_PARTS = (
    "ansible.cfg",
    "requirements.yml",
    "roles",
    "playbooks",
    "library",
    "module_utils",
    "filter_plugins",
)


@functools.cache
def tool_fingerprint() -> str:
    digest = hashlib.sha256()
    for part in TOOL_PARTS:
        top = PROJECT / part
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            digest.update(
                str(path.relative_to(PROJECT)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest()
            )
    return digest.hexdigest()


@functools.cache
def fast_path_module() -> ModuleType:
    """library/integrador_fast_path.py and the module_utils it imports, for in-process use."""
    path = module_loader.find_plugin("integrador_fast_path")
    if not path:
        raise ImportError("integrador_fast_path module not found on the module path")
    utils = Path(path).resolve().parent.parent / "module_utils"
    # Under the names Ansible packs them with; in this short-lived worker process only. Every
    # module_utils the module imports, each after those it imports itself
    # (tests/unit/modules/test_integrador_fast_path_inputs.py loads it in a fresh interpreter).
    for name in (
        "integrador_docker_context",
        "integrador_docker",
        "integrador_ports",
        "integrador_probe",
        "integrador_dotenv",
        "integrador_env_state",
        "integrador_reload_watch",
    ):
        qualified = f"ansible.module_utils.{name}"
        if qualified not in sys.modules:
            spec = importlib.util.spec_from_file_location(qualified, utils / f"{name}.py")
            assert spec and spec.loader
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[qualified] = loaded
            spec.loader.exec_module(loaded)
    spec = importlib.util.spec_from_file_location("_integrador_fast_path_module", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Unfingerprintable(Exception):
    """An input whose value cannot be known exactly before the run."""


def docker_endpoint() -> str:
    """The engine the docker CLI would talk to here, as integrador_docker_context resolves it
    (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG's currentContext and the context's endpoint): a
    `docker context use` makes the next run a full converge."""
    fast_path_module()  # loads module_utils under Ansible's names
    context = sys.modules["ansible.module_utils.integrador_docker_context"]
    try:
        endpoint = context.resolve(os.environ, os.path.expanduser("~"))
    except Exception as exc:  # noqa: BLE001 - an unresolvable context is an input as such
        return f"<{type(exc).__name__}: {exc}>"
    return json.dumps(list(endpoint), default=str)


def with_defaults(module: ModuleType, args: dict[str, Any]) -> dict[str, Any]:
    """The module's argument spec applied by hand (types are already right from the task)."""
    params = {key: args.get(key, spec.get("default")) for key, spec in module.ARGUMENT_SPEC.items()}
    params["state_dir"] = os.path.expanduser(str(params["state_dir"]))
    params["watch"] = [os.path.expanduser(str(p)) for p in params["watch"] or []]
    return params


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def settled(self, value: Any) -> Any:
        """A setting as its value will be: each leaf templated on its own. A leaf naming a role
        default (redis_port: not loaded before the fast path) is undefined now; its template
        text is then the exact input (whatever it names is a setting or a default, and both
        are fingerprinted), so it stands for itself, and its siblings are still templated. A
        leaf that fails otherwise cannot be fingerprinted: Unfingerprintable."""
        if isinstance(value, dict):
            return {str(key): self.settled(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.settled(item) for item in value]
        try:
            return self._templar.template(value)
        except AnsibleUndefinedVariable:
            return {"<template, undefined before the roles load>": str(value)}
        except Exception as exc:  # noqa: BLE001 - any other failure: no fingerprint, a full converge
            raise Unfingerprintable(f"{type(exc).__name__}: {exc}") from exc

    def inputs(self, task_vars: dict[str, Any]) -> str:
        settings: dict[str, Any] = {}
        try:
            for name in sorted(k for k in task_vars if SETTINGS.match(k)):
                settings[name] = self.settled(task_vars[name])
        except Unfingerprintable:
            # Never equal to a record: this run converges in full (and so does the next).
            return "unfingerprintable-" + os.urandom(16).hex()
        # The defaults' other inputs: the tool's place (role_path) and the environment.
        outside = {
            "project": str(PROJECT),
            "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
            "docker": docker_endpoint(),
        }
        text = json.dumps([settings, outside], sort_keys=True, default=str)
        return hashlib.sha256((tool_fingerprint() + "\0" + text).encode()).hexdigest()

    def release_lock(self, lock: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The run lock released by its own action (integrador_lock), as tasks/unlock.yml would:
        a run that ends here needs no task of its own for it."""
        task = self._task.copy()
        task.args = {"path": lock["path"], "playbook": lock.get("playbook", "?"), "state": "released"}
        action = self._shared_loader_obj.action_loader.get(
            "integrador_lock",
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return action.run(task_vars=task_vars)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        lock = args.pop("release_lock", None) or {}
        if args.get("state") == "checked":
            args["inputs"] = self.inputs(task_vars)
        here = self._connection.transport == "local" and not self._play_context.become
        if here:
            module = fast_path_module()
            answer = module.answer(with_defaults(module, args), bool(self._play_context.check_mode))
            # Done by this process: no module execution (bench/run.py counts them).
            answer["in_process"] = True
        else:
            answer = self._execute_module(
                module_name="integrador_fast_path", module_args=args, task_vars=task_vars
            )
            answer.pop("invocation", None)
        answer["inputs"] = args.get("inputs", "")
        result.update(answer)
        if args.get("state") == "checked" and not answer.get("fast") and answer.get("reason"):
            # Why this run converges in full, said on every run (one line under the task).
            result["msg"] = f"Full converge: {answer['reason']}"
            self._display.display(f"Full converge: {answer['reason']}.")
        if answer.get("fast"):
            # The run ends here: what the summary task of a full converge shows is this
            # task's message, and the run lock is released.
            started = answer.get("started") or []
            started_note = f", started: {', '.join(started)}" if started else ""
            restarted = answer.get("restarted") or []
            # A hand edit of .env that a converge keeps: said with the services that now read it.
            edit_note = (
                f"{answer['note']}: "
                + (
                    f"restarted {', '.join(restarted)} to read it"
                    if restarted
                    else "the services already read it"
                )
                if answer.get("note")
                else ""
            )
            result["msg"] = [
                *answer.get("summary", []),
                f"Fast path   {edit_note or 'as the last converge left it'}{started_note}"
                " (integrador_fast_path: false converges in full)",
            ]
            result["_ansible_verbose_always"] = True
            for key in ("summary", "reason", "inputs"):
                result.pop(key, None)
            if lock:
                released = self.release_lock(lock, task_vars)
                if released.get("failed"):
                    result.update(failed=True, msg=released.get("msg", "the run lock could not be released"))
        return result
