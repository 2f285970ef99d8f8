#!/usr/bin/python
"""Tell whether a TCP port is taken on an address, and by which process."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_ports import owned_by, port_owner

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
  owners:
    description:
      - Main processes of the services that may hold the port. A holder that is one of them, one of
        their descendants, in their process group, or (systemd) in one of O(units)' cgroups is
        theirs (RV(owned)).
    type: list
    elements: int
    default: []
  units:
    description: systemd units whose cgroup counts as the owners' (see O(owners)).
    type: list
    elements: str
    default: []
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
owned:
  description: Whether the holder belongs to O(owners) or O(units) (false when the port is free).
  type: bool
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "port": {"type": "int", "required": True},
            "host": {"type": "str", "default": "127.0.0.1"},
            "owners": {"type": "list", "elements": "int", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
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
    owned = in_use and owned_by(pid, module.params["owners"], module.params["units"])
    module.exit_json(changed=False, in_use=in_use, pid=pid, process=process, owned=owned)


if __name__ == "__main__":
    main()
