#!/usr/bin/python
"""The Alembic revisions a checkout's migration scripts know, read as text (nothing imported)."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_alembic import migration_locations, read_scripts

DOCUMENTATION = r"""
module: integrador_migrations
short_description: List the Alembic revisions a checkout's migration scripts know
description:
  - Reads Alembic's config (its C(script_location) and C(version_locations)) and the
    C(revision) each migration script assigns, as text. Nothing of the checkout is imported,
    so the checkout's virtualenv is not needed.
  - "The restore uses it to refuse, before anything is swapped, a backup whose database is at a
    revision this checkout does not have (taken on another branch or a newer checkout)."
  - Never changes anything.
options:
  root:
    description: The checkout (integrador_root).
    type: path
    required: true
  alembic_config:
    description: Alembic's config, relative to O(root).
    type: str
    default: backend/alembic.ini
author: Integrador developers
"""

EXAMPLES = r"""
- name: Revisions of the checkout are read
  integrador_migrations:
    root: "{{ integrador_root }}"
  register: __migrations
"""

RETURN = r"""
config:
  description: O(alembic_config) when that file exists under O(root), else "" (no migrations).
  type: str
  returned: always
locations:
  description: The folders the revisions were read from, relative to O(root).
  type: list
  elements: str
  returned: always
revisions:
  description: Every revision identifier the scripts assign, sorted.
  type: list
  elements: str
  returned: always
heads:
  description:
    - The head revisions (those no script follows), which C(alembic upgrade head) reaches.
    - Null when a script's revision or down_revision is not a plain literal (unknown).
  type: list
  elements: str
  returned: always
unreadable:
  description:
    - Scripts whose revision is not a plain string literal, or that cannot be read as UTF-8.
      Their revisions are unknown, so a caller cannot tell a revision is missing.
  type: list
  elements: str
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "alembic_config": {"type": "str", "default": "backend/alembic.ini"},
        },
        supports_check_mode=True,
    )
    root, config = module.params["root"], module.params["alembic_config"]
    path = os.path.join(root, config) if config else ""
    if not path or not os.path.isfile(path):
        module.exit_json(changed=False, config="", locations=[], revisions=[], heads=[], unreadable=[])
    revisions, heads, unreadable = read_scripts(path)
    module.exit_json(
        changed=False,
        config=config,
        locations=[os.path.relpath(folder, root) for folder in migration_locations(path)],
        revisions=revisions,
        heads=heads,
        unreadable=[os.path.relpath(script, root) for script in unreadable],
    )


if __name__ == "__main__":
    main()
