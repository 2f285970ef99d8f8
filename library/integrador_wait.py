#!/usr/bin/python
"""Starts what is to be started and waits, in one module run, until every
target answers: PostgreSQL (as pg_isready judges it), Redis (PING), HTTP health
URLs. All targets are probed together every `interval` seconds (0.1), so the
run waits for the slowest one only, never for the sum, and never for Docker's
healthcheck interval."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_probe import (
    docker_logs,
    docker_start,
    http_get,
    postgres,
    redis,
)
from ansible.module_utils.integrador_reload_watch import ReloadWatch

DOCUMENTATION = r"""
module: integrador_wait
short_description: Start containers and wait until PostgreSQL, Redis and health URLs answer
description:
  - Starts the containers of the targets with I(start) (through the Docker Engine API, as
    C(docker start); only unix:// and tcp:// endpoints), then probes every target every
    I(interval) seconds until all answer or I(timeout) passes.
  - C(postgres) targets get a startup message and count as ready when the server answers
    anything but "starting up" (SQLSTATE 57P03), as C(pg_isready) does; C(redis) targets get
    C(AUTH) (when a password is set) and C(PING) and must answer C(PONG); C(http) targets
    must answer 200 (or another of their I(status)), asked directly, never through a proxy.
  - On a timeout, the message names every target that did not answer, with its last answer
    and, for a container, its last log lines with the passwords masked.
  - In check mode nothing is started or probed; it reports a change when a container would be started.
options:
  targets:
    description: What to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name used in messages (and the container's name when I(container) is not set).
        type: str
        required: true
      kind:
        description: The probe.
        type: str
        choices: [postgres, redis, http]
        required: true
      host:
        description: Address to probe (postgres, redis); an IPv6 address may be bracketed.
        type: str
        default: 127.0.0.1
      port:
        description: Port to probe (postgres, redis).
        type: int
      url:
        description: URL that must answer 200, or another of I(status) (http).
        type: str
      status:
        description: >-
          HTTP statuses that count as an answer (http): [200, 404] waits for a service that is up
          whatever its health path; the answer (C(HTTP 404)) then tells which.
        type: list
        elements: int
        default: [200]
      user:
        description: User named in the startup message (postgres).
        type: str
        default: postgres
      database:
        description: Database named in the startup message (postgres).
        type: str
        default: postgres
      password:
        description: Redis password (AUTH before PING); masked in every message.
        type: str
        default: ""
        no_log: true
      container:
        description: Container behind the target (started with I(start), its log read on a failure).
        type: str
      start:
        description: Start the container first (docker start).
        type: bool
        default: false
      docker_host:
        description: Docker endpoint of the container.
        type: str
        default: unix:///var/run/docker.sock
      timeout:
        description: Seconds this target may take; the module's I(timeout) when not set.
        type: int
      record:
        description: >-
          The start record of the service behind an http target (app_services' launcher writes
          <state>/started/<service>.json with the pid it ran). When that process is
          C(uvicorn --reload) and the app's worker it started has exited (a setting refused, an
          import error), the service cannot answer before a file changes: the wait for it ends
          then, with that reason, instead of at its timeout. Linux only (/proc); elsewhere, or
          when the record cannot be read, the wait is the timeout's.
        type: str
  timeout:
    description: Seconds to wait for every target.
    type: int
    default: 60
  interval:
    description: Seconds between two rounds of probes.
    type: float
    default: 0.1
  secrets:
    description: Other values to mask in log lines (a PostgreSQL password).
    type: list
    elements: str
    default: []
    no_log: true
author: Integrador developers
"""

EXAMPLES = r"""
- name: Both containers started and answering
  integrador_wait:
    targets:
      - {name: integrador_db, kind: postgres, port: 5432, start: true}
      - {name: integrador_redis, kind: redis, port: 6380, start: true}
"""

RETURN = r"""
started:
  description: Containers this run started.
  type: list
  elements: str
  returned: always
answers:
  description: The last answer of each target, by name.
  type: dict
  returned: always
ready:
  description: >-
    Names of the targets that answered (all of them on success; on a failure the others: with
    I(timeout=0), one round of probes that says which answer now).
  type: list
  elements: str
  returned: always
dead:
  description: Targets whose wait ended early because their uvicorn --reload worker exited (I(record)).
  type: list
  elements: str
  returned: failure
seconds:
  description: How long the wait took.
  type: float
  returned: always
"""


def probe(target: dict[str, Any]) -> tuple[bool, str]:
    if target["kind"] == "postgres":
        return postgres(target["host"], target["port"], target["user"], target["database"])
    if target["kind"] == "redis":
        return redis(target["host"], target["port"], target["password"])
    return http_get(target["url"], target["status"])


def mask(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "targets": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "kind": {"type": "str", "choices": ["postgres", "redis", "http"], "required": True},
                    "host": {"type": "str", "default": "127.0.0.1"},
                    "port": {"type": "int"},
                    "url": {"type": "str"},
                    "status": {"type": "list", "elements": "int", "default": [200]},
                    "user": {"type": "str", "default": "postgres"},
                    "database": {"type": "str", "default": "postgres"},
                    "password": {"type": "str", "default": "", "no_log": True},
                    "container": {"type": "str"},
                    "start": {"type": "bool", "default": False},
                    "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
                    "timeout": {"type": "int"},
                    "record": {"type": "str"},
                },
                "required_if": [
                    ("kind", "postgres", ["port"]),
                    ("kind", "redis", ["port"]),
                    ("kind", "http", ["url"]),
                ],
            },
            "timeout": {"type": "int", "default": 60},
            "interval": {"type": "float", "default": 0.1},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
        },
        supports_check_mode=True,
    )
    targets: list[dict[str, Any]] = module.params["targets"]
    secrets = list(module.params["secrets"]) + [t["password"] for t in targets]
    for target in targets:
        target["container"] = target["container"] or target["name"]
    to_start = [t for t in targets if t["start"]]
    if module.check_mode:
        module.exit_json(
            changed=bool(to_start),
            started=[t["container"] for t in to_start],
            answers={},
            ready=[],
            seconds=0.0,
        )

    began = time.monotonic()
    started: list[str] = []
    # Both containers at once: docker start takes a few hundred ms each.
    if to_start:
        with concurrent.futures.ThreadPoolExecutor(len(to_start)) as pool:
            results = list(pool.map(lambda t: docker_start(t["docker_host"], t["container"]), to_start))
        problems = []
        for target, (changed, problem) in zip(to_start, results, strict=True):
            if changed:
                started.append(target["container"])
            if problem:
                problems.append(mask(problem, secrets))
        if problems:
            module.fail_json(
                msg="\n".join(problems),
                started=started,
                answers={},
                ready=[],
                seconds=time.monotonic() - began,
            )

    answers: dict[str, str] = {}
    watches = {t["name"]: ReloadWatch(t["record"]) for t in targets if t["kind"] == "http" and t["record"]}
    pending = list(targets)
    while pending:
        now = time.monotonic() - began
        still = []
        dead: dict[str, str] = {}
        for target in pending:
            ready, answers[target["name"]] = probe(target)
            if not ready:
                still.append(target)
                watch = watches.get(target["name"])
                reason = watch.dead() if watch else ""
                if reason:
                    dead[target["name"]] = reason
        pending = still
        if not pending:
            break
        late = [t for t in pending if t["name"] in dead or now >= (t["timeout"] or module.params["timeout"])]
        if late:
            lines = []
            for target in late:
                limit = target["timeout"] or module.params["timeout"]
                if target["name"] in dead:
                    lines.append(
                        f"{target['name']} will not answer ({target['kind']}, last answer: "
                        f"{answers[target['name']]}): {dead[target['name']]}."
                    )
                    continue
                lines.append(
                    f"{target['name']} did not answer within {limit} s "
                    f"({target['kind']}, last answer: {answers[target['name']]})."
                )
                if target["kind"] != "http":
                    log = docker_logs(target["docker_host"], target["container"])
                    lines.append(
                        f"Last log lines of {target['container']} (docker logs {target['container']}):"
                    )
                    lines.extend(log or ["(none readable)"])
            module.fail_json(
                msg=mask("\n".join(lines), secrets),
                started=started,
                answers={k: mask(v, secrets) for k, v in answers.items()},
                ready=sorted(t["name"] for t in targets if t not in pending),
                dead=sorted(dead),
                seconds=round(time.monotonic() - began, 2),
            )
        time.sleep(module.params["interval"])
    module.exit_json(
        changed=bool(started),
        started=started,
        answers={k: mask(v, secrets) for k, v in answers.items()},
        ready=sorted(t["name"] for t in targets),
        seconds=round(time.monotonic() - began, 2),
    )


if __name__ == "__main__":
    main()
