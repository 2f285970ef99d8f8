#!/usr/bin/python
"""Read the last lines of a container's log, for failure messages."""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.community.docker.plugins.module_utils.common_api import (
    AnsibleDockerClient,
    RequestException,
)
from ansible_collections.community.docker.plugins.module_utils._api.errors import (
    DockerException,
)

DOCUMENTATION = r"""
module: integrador_container_logs
short_description: Last lines of a container's log (docker logs --tail)
description:
  - Reads the log through the Docker API, so no docker CLI is needed on the host.
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
extends_documentation_fragment:
  - community.docker.docker.api_documentation
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
  description: The log lines, oldest first; empty when the container does not exist.
  type: list
  elements: str
  returned: always
"""


def main() -> None:
    client = AnsibleDockerClient(
        argument_spec={
            "name": {"type": "str", "required": True},
            "tail": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    name = client.module.params["name"]
    try:
        config = client.get_json("/containers/{0}/json", name)
    except DockerException:
        client.module.exit_json(changed=False, lines=[])
    try:
        params = {"stdout": 1, "stderr": 1, "timestamps": 0, "tail": client.module.params["tail"]}
        res = client._get(client._url("/containers/{0}/logs", name), params=params)
        output = client._get_result_tty(False, res, config["Config"]["Tty"])
    except (DockerException, RequestException) as exc:
        client.fail(f"cannot read the logs of {name}: {to_native(exc)}")
    text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
    client.module.exit_json(changed=False, lines=text.splitlines())


if __name__ == "__main__":
    main()
