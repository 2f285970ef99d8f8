#!/usr/bin/python
"""Write a dotenv file whose generated secrets stay stable and whose hand edits survive."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_env_file
short_description: Dotenv file with stable generated secrets that keeps hand edits
description:
  - Writes O(values) and O(secrets) as KEY=VALUE lines, in that order.
  - A key in O(secrets) keeps whatever value the file has; a missing or empty one gets a new
    random URL-safe value (64 characters).
  - A key in O(values) is updated when the file still holds the value this module last wrote
    (it remembers a hash of each on a comment line); a value edited by hand is kept and
    reported in RV(kept).
  - Keys the module does not manage are kept and reported in RV(unknown).
  - Secret values never appear in the output or in the diff.
options:
  path:
    description: The dotenv file.
    type: path
    required: true
  values:
    description: Managed keys and the values they should have.
    type: dict
    default: {}
  secrets:
    description: Keys whose values are generated once and then kept.
    type: list
    elements: str
    default: []
  mode:
    description: File mode.
    type: str
    default: "0600"
author: Integrador developers
"""

EXAMPLES = r"""
- name: Backend .env has its settings and secrets
  integrador_env_file:
    path: /home/me/integrador/backend/.env
    values:
      REDIS_URL: redis://127.0.0.1:6380
    secrets: [JWT_SECRET]
"""

RETURN = r"""
generated:
  description: Secret keys that got a new value.
  type: list
  elements: str
  returned: always
kept:
  description: Managed keys whose hand-edited value was kept instead of the generated one.
  type: list
  elements: str
  returned: always
unknown:
  description: Keys in the file that are not managed; kept as they are.
  type: list
  elements: str
  returned: always
"""

STATE_PREFIX = "# integrador-state: "
HEADER = (
    "# Written by the Integrador provisioning (Ansible role python_env).\n"
    "# Hand edits are kept on later runs; delete a line to have it generated again.\n"
)
MASK = "********"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def parse(text: str) -> tuple[dict[str, str], dict[str, str]]:
    entries: dict[str, str] = {}
    state: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(STATE_PREFIX):
            try:
                state = json.loads(line[len(STATE_PREFIX) :])
            except ValueError:
                state = {}
            continue
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        entries[key] = value
    return entries, state


def render(entries: dict[str, str], state: dict[str, str]) -> str:
    lines = [HEADER + STATE_PREFIX + json.dumps(state, sort_keys=True)]
    lines += [f"{key}={value}" for key, value in entries.items()]
    return "\n".join(lines) + "\n"


def merge(
    current: dict[str, str], state: dict[str, str], values: dict[str, str], secret_keys: list[str]
) -> tuple[dict[str, str], dict[str, str], list[str], list[str], list[str]]:
    wanted: dict[str, str] = {}
    new_state: dict[str, str] = {}
    generated: list[str] = []
    kept: list[str] = []
    for key, value in values.items():
        have = current.get(key)
        if have is None or have == value or state.get(key) == digest(have):
            wanted[key] = value
            new_state[key] = digest(value)
        else:
            wanted[key] = have
            kept.append(key)
            if key in state:
                new_state[key] = state[key]
    for key in secret_keys:
        if current.get(key):
            wanted[key] = current[key]
        else:
            wanted[key] = secrets.token_urlsafe(48)
            generated.append(key)
    unknown = [key for key in current if key not in wanted]
    for key in unknown:
        wanted[key] = current[key]
    return wanted, new_state, generated, kept, unknown


def masked(text: str, secret_keys: list[str], sensitive: list[str]) -> str:
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        out.append(f"{key}={MASK}" if "=" in line and key in secret_keys + sensitive else line)
    return "\n".join(out) + ("\n" if out else "")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "values": {"type": "dict", "default": {}, "no_log": True},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "mode": {"type": "str", "default": "0600"},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    values = {key: str(value) for key, value in module.params["values"].items()}
    secret_keys = module.params["secrets"]

    before = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    current, state = parse(before)
    wanted, new_state, generated, kept, unknown = merge(current, state, values, secret_keys)
    after = render(wanted, new_state)
    changed = after != before

    result: dict[str, object] = {"changed": changed, "generated": generated, "kept": kept, "unknown": unknown}
    # URLs carry passwords: mask them in the diff too.
    sensitive = [key for key in values if key.endswith("_URL")]
    if module._diff and changed:
        result["diff"] = {
            "before": masked(before, secret_keys, sensitive),
            "after": masked(after, secret_keys, sensitive),
            "before_header": path,
            "after_header": path,
        }
    if changed and not module.check_mode:
        directory = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".env.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(after)
        os.chmod(tmp, int(module.params["mode"], 8))
        module.atomic_move(tmp, path)
    file_args = module.load_file_common_arguments({"path": path, "mode": module.params["mode"]})
    if os.path.exists(path):
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
