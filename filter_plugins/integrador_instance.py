"""The port offset of an Integrador instance: one implementation for every role's default ports.

Several stacks can run side by side on one machine (`integrador_instance`, docs/day2.md). Each
role's default ports add the instance's offset, so two stacks never publish the same port:

    postgres_pgvector_port: "{{ 5432 + integrador_instance | default('', true)
                                | integrador_instance_port_offset(integrador_port_offset | default(none)) }}"

- the default stack (an empty or unset instance) keeps today's ports: offset 0;
- a named instance takes 10-990, in steps of 10, from the MD5 of its name (stable across runs
  and machines: the same name always gives the same ports);
- an explicit `integrador_port_offset` wins (playbooks/tasks/instance.yml checks it is 0-57000).

Found through ansible.cfg's `filter_plugins` (and ANSIBLE_FILTER_PLUGINS where another
ansible.cfg is in use, as under Molecule).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ansible.module_utils.common.text.converters import to_bytes

#: Offsets of named instances: OFFSET_STEP * (hash % OFFSET_SLOTS) + OFFSET_STEP, i.e. 10-990.
OFFSET_STEP = 10
OFFSET_SLOTS = 99


def _as_int(value: Any) -> int:
    """What Jinja's `int` filter gives (0 for what is not a number), as the old expression did."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


def instance_port_offset(instance: Any, explicit: Any = None) -> int:
    """The offset added to every default port of the stack named `instance`.

    `explicit` is `integrador_port_offset` (None when unset); it wins when given.
    """
    if explicit is not None:
        return _as_int(explicit)
    if not instance:
        return 0
    digest = hashlib.md5(to_bytes(instance, errors="surrogate_or_strict"), usedforsecurity=False).hexdigest()
    return int(digest[:4], 16) % OFFSET_SLOTS * OFFSET_STEP + OFFSET_STEP


class FilterModule:
    """integrador_instance_port_offset."""

    def filters(self) -> dict[str, Any]:
        return {"integrador_instance_port_offset": instance_port_offset}
