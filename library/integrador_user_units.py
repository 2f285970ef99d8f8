#!/usr/bin/python
"""Write systemd --user unit files, reload the user manager once, and start the
stopped units: what the template, daemon-reload and systemd_service tasks of
each unit did in five to seven module runs, in one."""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_user_units
short_description: Write systemd user unit files and start the stopped units, in one run
description:
  - Writes each unit given with I(content) whose file differs (atomically, mode 0644,
    creating I(folder) with mode 0755 when missing), runs C(systemctl --user daemon-reload)
    once when a file was written or I(daemon_reload) is set, then enables and starts the units
    marked I(start) with one C(systemctl --user enable) and one C(systemctl --user start --no-block)
    (whether they come up is for the caller's health check to tell).
  - Used by the app_services role for both services at once (a cold converge's two units cost
    seven module runs before, about 3 s). Supports check mode and diff mode.
options:
  folder:
    description: Folder of the user's unit files (C(~/.config/systemd/user)).
    type: path
    required: true
  units:
    description: The units this run touches.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unit name, also the file's name in I(folder) (C(integrador-api.service)).
        type: str
        required: true
      content:
        description: The unit file's text. Omitted or null leaves the file as it is.
        type: str
      start:
        description: Enable and start the unit (it is stopped, failed or not enabled).
        type: bool
        default: false
  daemon_reload:
    description: Reload the user manager even if no file is written (a loaded unit is stale).
    type: bool
    default: false
author: Integrador developers
"""

EXAMPLES = r"""
- name: Units are current, and the stopped ones started
  integrador_user_units:
    folder: ~/.config/systemd/user
    units:
      - name: integrador-api.service
        content: "{{ lookup('ansible.builtin.template', 'systemd/integrador.service.j2') }}"
        start: true
"""

RETURN = r"""
written:
  description: Units whose file was written (or would be, in check mode).
  type: list
  elements: str
  returned: always
reloaded:
  description: Whether the user manager was reloaded (or would be).
  type: bool
  returned: always
started:
  description: Units enabled and started (or that would be).
  type: list
  elements: str
  returned: always
"""


def systemctl(module: AnsibleModule, *args: str) -> None:
    env = dict(os.environ)
    # Set by a login session; not by `su`, cron or a container's exec (the user manager's bus).
    env.setdefault("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    try:
        done = subprocess.run(
            ["systemctl", "--user", *args], capture_output=True, text=True, check=False, timeout=120, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        module.fail_json(msg=f"systemctl --user {' '.join(args)} could not run: {exc}")
    if done.returncode != 0:
        module.fail_json(
            msg=f"systemctl --user {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[:500]}",
            rc=done.returncode,
        )


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(folder: str, name: str, content: str) -> None:
    """Atomically: a crash leaves the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "folder": {"type": "path", "required": True},
            "units": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "content": {"type": "str"},
                    "start": {"type": "bool", "default": False},
                },
            },
            "daemon_reload": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    folder, units = module.params["folder"], module.params["units"]
    for unit in units:
        if os.sep in unit["name"] or unit["name"] in ("", ".", ".."):
            module.fail_json(msg=f"unit name {unit['name']!r} is not a file name")

    changes = []
    for unit in units:
        if unit["content"] is None:
            continue
        before = read(os.path.join(folder, unit["name"]))
        if before != unit["content"]:
            changes.append((unit, before))
    written = [unit["name"] for unit, _ in changes]
    started = [unit["name"] for unit in units if unit["start"]]
    reloaded = bool(written) or module.params["daemon_reload"]

    if not module.check_mode:
        if changes:
            os.makedirs(folder, mode=0o755, exist_ok=True)
        for unit, _ in changes:
            write(folder, unit["name"], unit["content"])
        if reloaded:
            systemctl(module, "daemon-reload")
        if started:
            systemctl(module, "enable", *started)
            systemctl(module, "start", "--no-block", *started)

    result: dict[str, Any] = {
        "changed": bool(written or started or reloaded),
        "written": written,
        "reloaded": reloaded,
        "started": started,
    }
    if module._diff:
        result["diff"] = [
            {
                "before_header": os.path.join(folder, unit["name"]),
                "after_header": os.path.join(folder, unit["name"]),
                "before": before or "",
                "after": unit["content"],
            }
            for unit, before in changes
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
