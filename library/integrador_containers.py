#!/usr/bin/python
"""Inspect several containers in one module run (the day-two verbs' inspection)."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_docker import DEFAULT_TIMEOUT, DockerError, connect

DOCUMENTATION = r"""
module: integrador_containers
short_description: C(docker inspect) of several containers in one module run
description:
  - Inspects each container through the Docker Engine API (module_utils/integrador_docker.py, the
    standard library only), one connection per engine, and returns one result per container in
    the shape a loop of C(community.docker.docker_container_info) registers (C(item), C(exists),
    C(container)), so what reads such results reads these.
  - The list is returned as C(inspected), not C(results), for C(no_log) to hide it - Ansible
    keeps a result's C(results) key through C(no_log), taking it for a loop's.
  - One module run instead of one per container, and no Docker SDK to import. Every day-two verb
    inspects the containers (playbooks/backup.yml, restore.yml, down.yml, status.yml).
  - Fails when an engine does not answer, naming it; the results are returned then too, each
    container of that engine with C(failed) and C(msg) (status.yml shows them as rows).
  - Never changes anything; runs in check mode.
options:
  containers:
    description:
      - The containers, each a dict with C(name) (name or ID) and C(docker_host) (the engine, as
        C(unix:///path/to/docker.sock) or C(tcp://host:port); empty for the endpoint the docker CLI
        would use, C(DOCKER_HOST) or else the active Docker context). Other keys are kept and returned
        in C(item).
    type: list
    elements: dict
    required: true
  timeout:
    description: Seconds to wait for each engine's answer.
    type: int
    default: 60
author: Integrador developers
"""

EXAMPLES = r"""
- name: Containers are inspected
  integrador_containers:
    containers:
      - {name: integrador_db, docker_host: "unix:///var/run/docker.sock"}
      - {name: integrador_redis, docker_host: ""}
  register: __containers
  # Each result carries the container's environment and command line (passwords).
  no_log: true
# __containers.inspected[0].container.State.Running, ...
"""

RETURN = r"""
inspected:
  description:
    - One per entry of I(containers), in order. C(item) is the entry as given. C(exists) and
      C(container) (the inspection, or null when there is no such container) are there when its
      engine answered; C(failed) (true) and C(msg) when it did not.
  type: list
  elements: dict
  returned: always
"""


def inspect_all(containers: list[dict[str, Any]], timeout: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The results, in the order given, and the warnings of the endpoints' resolution. One client
    per distinct docker_host; an engine that fails once is not asked again for its other containers."""
    results: list[dict[str, Any]] = []
    warnings: list[str] = []
    clients: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for item in containers:
        host = str(item.get("docker_host") or "")
        result: dict[str, Any] = {"item": item}
        try:
            if host in broken:
                raise DockerError(broken[host])
            if host not in clients:
                clients[host], found = connect(host or None, timeout)
                warnings += found
            container = clients[host].inspect_container(str(item["name"]))
            result.update(exists=container is not None, container=container)
        except DockerError as exc:
            broken.setdefault(host, str(exc))
            result.update(failed=True, msg=str(exc))
        results.append(result)
    return results, warnings


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "containers": {"type": "list", "elements": "dict", "required": True},
            "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        },
        supports_check_mode=True,
    )
    unnamed = [i for i, item in enumerate(module.params["containers"]) if not item.get("name")]
    if unnamed:
        module.fail_json(msg=f"Each entry of containers needs a name (entries {unnamed} have none).")
    results, warnings = inspect_all(module.params["containers"], module.params["timeout"])
    for warning in warnings:
        module.warn(warning)
    failed = [r for r in results if r.get("failed")]
    if failed:
        first = failed[0]
        module.fail_json(
            msg=f"Cannot inspect the container {first['item']['name']}: {first['msg']}", inspected=results
        )
    module.exit_json(changed=False, inspected=results)


if __name__ == "__main__":
    main()
