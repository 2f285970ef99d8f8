#!/usr/bin/python
"""Read the last lines of a container's log, for failure messages."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_docker import DEFAULT_TIMEOUT, DockerError, DockerNotFound, connect

DOCUMENTATION = r"""
module: integrador_container_logs
short_description: Last lines of a container's log (docker logs --tail)
description:
  - Reads the log through the Docker Engine API (module_utils/integrador_docker.py, the standard
    library only), so the host needs neither the docker CLI nor a Python Docker library.
  - Never changes anything.
options:
  name:
    description: Container name or ID.
    type: str
    required: true
  tail:
    description: How many lines from the end.
    type: int
    default: 30
  docker_host:
    description:
      - Docker engine, as C(unix:///path/to/docker.sock) or C(tcp://host:port) (TLS from
        C(DOCKER_TLS_VERIFY) and C(DOCKER_CERT_PATH), as for the docker CLI).
      - When omitted or empty, the endpoint the docker CLI would use on the host (C(DOCKER_HOST),
        else the active Docker context, else C(unix:///var/run/docker.sock)).
    type: str
  timeout:
    description: Seconds to wait for the engine's answer.
    type: int
    default: 60
author: Integrador developers
"""

EXAMPLES = r"""
- name: Last log lines of the database container
  integrador_container_logs:
    name: integrador_db
  register: __logs
"""

RETURN = r"""
lines:
  description: The log lines (stdout and stderr as written), oldest first; empty when the container does
    not exist.
  type: list
  elements: str
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "tail": {"type": "int", "default": 30},
            "docker_host": {"type": "str"},
            "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        },
        supports_check_mode=True,
    )
    name = module.params["name"]
    try:
        client, warnings = connect(module.params["docker_host"], module.params["timeout"])
        for warning in warnings:
            module.warn(warning)
        output = client.logs(name, tail=module.params["tail"])
    except DockerNotFound:
        module.exit_json(changed=False, lines=[])
    except DockerError as exc:
        module.fail_json(msg=f"Cannot read the logs of the container {name}: {exc}")
    text = output.decode("utf-8", errors="replace")
    module.exit_json(changed=False, lines=text.splitlines())


if __name__ == "__main__":
    main()
