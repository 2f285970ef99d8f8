#!/usr/bin/python
"""Tell whether a TCP port is taken on an address, and by which process."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_ports import port_owner

DOCUMENTATION = r"""
module: integrador_port_owner
short_description: Tell whether a TCP port is taken, and by which process
description:
  - Tries to bind the port on the address (the same test a server makes when it
    starts), then looks for the listening process in /proc (Linux) or with lsof.
  - Never changes anything.
options:
  port:
    description: TCP port.
    type: int
    required: true
  host:
    description: Address the port would be bound to.
    type: str
    default: 127.0.0.1
author: Integrador developers
"""

EXAMPLES = r"""
- name: Port 5432 is free or ours
  integrador_port_owner:
    port: 5432
  register: __port
"""

RETURN = r"""
in_use:
  description: Whether binding the port failed because it is taken.
  type: bool
  returned: always
pid:
  description: PID of the listening process, when it could be found.
  type: int
  returned: always
process:
  description: Human-readable owner, for example C(postgres (pid 812) /usr/lib/postgresql/15/bin/postgres).
  type: str
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "port": {"type": "int", "required": True},
            "host": {"type": "str", "default": "127.0.0.1"},
        },
        supports_check_mode=True,
    )
    port, host = module.params["port"], module.params["host"]
    if not 0 < port < 65536:
        module.fail_json(msg=f"port {port} is not a TCP port (1-65535)")
    try:
        in_use, pid, process = port_owner(host, port)
    except OSError as exc:
        module.fail_json(msg=f"cannot test {host}:{port}: {exc}")
    module.exit_json(changed=False, in_use=in_use, pid=pid, process=process)


if __name__ == "__main__":
    main()
