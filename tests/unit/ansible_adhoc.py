"""Running one of our modules (library/) for real, as Ansible runs it: `ansible localhost -m ...`
on a local connection, with this repository's library/ and module_utils/. One helper for every
unit test that needs a module's real run (its argument spec, check mode, diff, messages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).with_name("ansible")


@dataclass
class ModuleRun:
    """What one ad-hoc run gave: its exit status, everything it printed, and the module's result
    (as the json callback reports it, or the JSON the minimal callback prints; {} when none)."""

    rc: int
    output: str
    result: dict[str, Any] = field(default_factory=dict)


def _result(stdout: str, output: str, callback: str) -> dict[str, Any]:
    if callback == "json":
        try:
            # The JSON document, then the timer callback's line (ansible.cfg).
            document, _ = json.JSONDecoder().raw_decode(stdout)
            return document["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, LookupError):
            return {}
    body = output[output.find("{") : output.rfind("}") + 1] if "{" in output else "{}"
    try:
        return json.loads(body)
    except ValueError:
        return {}


def repo_env(**more: str) -> dict[str, str]:
    """This process' environment with this repository's library/ and module_utils/, no colour
    and no localhost warning (and `more`): what an ansible or ansible-playbook run here needs."""
    return dict(
        os.environ,
        ANSIBLE_LIBRARY=str(REPO / "library"),
        ANSIBLE_MODULE_UTILS=str(REPO / "module_utils"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        **more,
    )


def run_module(
    module: str,
    args: dict[str, Any],
    *flags: str,
    callback: str = "json",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = 300,
) -> ModuleRun:
    """`ansible localhost -m module -a args` with flags (`--check`, `--diff`, `-vvv`).

    callback: `json` (the result, structured) or `minimal` (what a user sees from an ad-hoc run:
    `localhost | CHANGED => {...}`, diffs as text). env: more environment variables.
    """
    environ = repo_env(
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK=f"ansible.builtin.{callback}",
    )
    environ.update(env or {})
    command = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local"]
    command += ["-e", f"ansible_python_interpreter={sys.executable}", "-m", module, "-a", json.dumps(args)]
    proc = subprocess.run(
        [*command, *flags], env=environ, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )
    output = proc.stdout + proc.stderr
    return ModuleRun(proc.returncode, output, _result(proc.stdout, output, callback))
