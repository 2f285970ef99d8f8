#!/usr/bin/python
"""The converged-stack fast path of playbooks/dev.yml: one module run that tells
whether the stack is exactly as the last full converge left it, starts what is
merely stopped, and waits until everything answers.

A full converge that succeeds ends by recording (state: recorded) a stamp in the
stack's state folder: the fingerprint of its inputs (every setting and the tool's
own files, computed on the controller by playbooks/action_plugins/
integrador_fast_path.py), the digest of every file of the host its decisions read
(requirements, migrations, the venv's own fingerprint, .env, the units), the
containers it left (id, image) and how the services run. A later run (state:
checked) compares all of it; only when nothing differs does it do what remains
(start stopped containers and units, probe PostgreSQL, Redis and the health URLs
every 0.05 s) and answer fast=true, and the playbook ends there. Anything that
differs, or anything unexpected (a port taken, a unit that will not start), answers
fast=false with the reason, forgets the stamp, and the full converge runs, with its
checks and its clear errors.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_docker import DockerError, connect
from ansible.module_utils.integrador_docker_context import resolve as resolve_docker_context
from ansible.module_utils.integrador_env_state import leaves_as_is, started_records
from ansible.module_utils.integrador_ports import port_in_use
from ansible.module_utils.integrador_probe import docker_start, http_get, postgres, redis
from ansible.module_utils.integrador_reload_watch import ReloadWatch

DOCUMENTATION = r"""
module: integrador_fast_path
short_description: Tell whether the stack is as the last full converge left it, and start what is stopped
description:
  - With I(state=recorded), writes the stamp C(converged.json) (mode 0600) into I(state_dir), holding
    I(inputs), the digest of every I(watch) path, each container's id and image, the units
    and the summary lines. Nothing secret is written (files are kept as SHA-256 digests).
  - With I(state=checked), compares the stamp with the host. When everything matches, starts
    the stopped containers together, probes PostgreSQL and Redis every 0.05 s, starts the
    stopped units and probes the health URLs, and answers RV(fast)=true. Otherwise answers
    RV(fast)=false with RV(reason), and removes the stamp (the full converge records a new
    one).
  - With I(state=forgotten), moves the stamp aside to C(converged.forgotten.json), which no check reads
    (a day-two command that changes the stack; day two still reads the health paths it holds).
  - Never fails on a difference: a full converge follows and says what is wrong.
options:
  state:
    description: What to do with the stamp.
    type: str
    choices: [checked, recorded, forgotten]
    required: true
  state_dir:
    description: The stack's state folder (integrador_state_dir); the stamp is C(converged.json) there.
    type: path
    required: true
  inputs:
    description: Fingerprint of the run's inputs (set by the action plugin; recorded, or compared).
    type: str
    default: ""
  watch:
    description: Files and folders whose contents the full converge's decisions depend on (recorded).
    type: list
    elements: path
    default: []
  containers:
    description: >-
      The containers (recorded): name, probe (an integrador_wait target without its
      password: kind, host, port, user, database; and password_env, the container's
      environment variable that holds the password the probe gives, read from the container
      at each check and never written) and timeout.
    type: list
    elements: dict
    default: []
  docker_host:
    description: Docker endpoint.
    type: str
    default: ""
  services:
    description: The services (recorded), each with unit (or program), health_url, port and timeout.
    type: list
    elements: dict
    default: []
  manager:
    description: The service manager (recorded); the fast path knows systemd and supervisor.
    type: str
    default: systemd
  supervisor_ctl:
    description: supervisorctl argv, a verb to append (manager supervisor).
    type: list
    elements: str
    default: []
  service_needs:
    description: >-
      The containers each service needs, by unit (recorded); a stopped service starts as soon
      as those answer. A unit not named here needs every container.
    type: dict
    default: {}
  env_file:
    description:
      - The backend's .env as the full converge left it (recorded; python_env_env_fast_path), with C(path),
        C(value_sha256) (the SHA-256 of each value it writes, never a value), C(secrets), C(mode)
        and C(started_dir) (where each service's launcher records the .env bytes it started with).
      - When that file is the only thing that changed, and the change is one a full converge would
        keep as it is (a value edited by hand, a key of the user's added; not a managed line
        deleted, a secret emptied, the mode changed), the check restarts the services that started
        with other bytes, waits for their health URLs and records the new digest, and the run is fast.
    type: dict
    default: {}
  summary:
    description: The summary lines of the full converge (recorded, shown by a fast run).
    type: list
    elements: str
    default: []
  release_lock:
    description: >-
      With I(state=checked), the run lock taken by C(playbooks/tasks/lock.yml) (path, playbook),
      released by the action plugin (through C(integrador_lock)) when the run ends on the fast
      path; the module itself ignores it.
    type: dict
    default: {}
author: Integrador developers
"""

RETURN = r"""
fast:
  description: Whether the stack was as recorded and now answers (the play may end).
  type: bool
  returned: state=checked
reason:
  description: Why the full converge runs (state=checked, fast=false).
  type: str
  returned: state=checked
started:
  description: Containers and services this run started.
  type: list
  elements: str
  returned: state=checked
restarted:
  description: Services this run restarted because .env changed by hand since they started.
  type: list
  elements: str
  returned: state=checked
note:
  description: What the check did beyond starting what was stopped (a hand edit of .env read), or empty.
  type: str
  returned: state=checked
summary:
  description: The recorded summary lines (the module's answer; the action plugin shows them as RV(msg)).
  type: list
  elements: str
  returned: state=checked and fast
msg:
  description: >-
    The recorded summary lines and the fast path's own line, shown by the task (the action plugin,
    state=checked and fast).
  type: list
  elements: str
  returned: state=checked and fast
"""

STAMP = "converged.json"
# Where a forgotten stamp goes (state=forgotten): never compared, only read by day two.
FORGOTTEN = "converged.forgotten.json"
# 2: a probe's password is read from its container (password_env), no longer given.
VERSION = 2


class NotFast(Exception):
    """The stack is not as recorded: the full converge runs."""


# Bigger files (an interpreter) are known by size and modification time: reading them
# on every run would cost more than the rest of the check.
BIG = 1 << 20
# Seconds a service that was already running gets to answer its health URL in the check.
RUNNING_TIMEOUT = 5.0


def file_digest(path: str) -> str:
    try:
        info = os.stat(path)
        if info.st_size > BIG:
            return f"stat:{info.st_size}:{info.st_mtime_ns}"
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def tree_digest(folder: str) -> str:
    """Every file below a folder (caches left out): relative path and contents."""
    digest = hashlib.sha256()
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(top, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0" + file_digest(path).encode())
    return digest.hexdigest()


def path_digest(path: str) -> str:
    """A file's contents, a folder's tree, or what stands there instead."""
    if os.path.isdir(path):
        return "tree:" + tree_digest(path)
    if os.path.islink(path) and not os.path.exists(path):
        return "dangling"
    return file_digest(path)


def digests(paths: list[str]) -> dict[str, str]:
    return {path: path_digest(path) for path in sorted(set(paths))}


def container_record(client: Any, name: str, password_env: str = "") -> dict[str, Any]:
    info = client.inspect_container(name)
    if info is None:
        raise NotFast(f"container {name} is gone")
    found = {
        "id": info["Id"],
        "image": info["Image"],
        "image_name": info["Config"]["Image"],
        "running": bool(info["State"].get("Running")),
    }
    if password_env:
        # The password this very container was created with (Redis' REDISCLI_AUTH, which
        # its own healthcheck uses): no setting has to be read, and none is written.
        prefix = password_env + "="
        found["password"] = next(
            (item[len(prefix) :] for item in info["Config"].get("Env") or [] if item.startswith(prefix)), ""
        )
    return found


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Set by a login session; not by `su`, cron or a container's exec (the user manager's bus).
    env.setdefault("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60, env=env)


class Units:
    """The services' state and start, through their manager."""

    def __init__(self, manager: str, ctl: list[str]) -> None:
        self.manager = manager
        self.ctl = ctl
        self.disabled: list[str] = []

    def inactive(self, names: list[str]) -> list[str]:
        if self.manager == "systemd":
            done = run(
                [
                    "systemctl",
                    "--user",
                    "show",
                    "--property=Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload",
                    *names,
                ]
            )
            if done.returncode != 0:
                raise NotFast(f"the systemd user manager did not answer ({done.stderr.strip()})")
            found = {}
            for block in done.stdout.strip().split("\n\n"):
                props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
                found[props.get("Id", "")] = props
            stopped = []
            for name in names:
                props = found.get(name, {})
                if props.get("LoadState") != "loaded" or props.get("NeedDaemonReload") == "yes":
                    raise NotFast(f"unit {name} is not loaded as written")
                # `make down` disables the units; the converge enables them again.
                if props.get("UnitFileState") not in ("enabled", "disabled"):
                    raise NotFast(f"unit {name} is {props.get('UnitFileState') or 'not installed'}")
                if props.get("UnitFileState") == "disabled":
                    self.disabled.append(name)
                if props.get("ActiveState") != "active":
                    stopped.append(name)
            return stopped
        if self.manager == "supervisor":
            done = run([*self.ctl, "status", *names])
            if done.returncode not in (0, 3):
                raise NotFast("supervisord does not answer")
            states = {}
            for line in done.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    states[parts[0]] = parts[1]
            missing = [n for n in names if n not in states]
            if missing:
                raise NotFast(f"supervisord has no program {', '.join(missing)}")
            return [n for n in names if states[n] != "RUNNING"]
        raise NotFast(f"the fast path does not drive {self.manager}")

    def start(self, names: list[str]) -> None:
        if self.manager == "systemd":
            disabled = [name for name in names if name in self.disabled]
            if disabled:
                done = run(["systemctl", "--user", "enable", *disabled])
                if done.returncode != 0:
                    raise NotFast(f"{' '.join(disabled)} could not be enabled ({done.stderr.strip()[:200]})")
            done = run(["systemctl", "--user", "start", "--no-block", *names])
        else:
            done = self.each_program("start", names)
        if done.returncode != 0:
            raise NotFast(f"{' '.join(names)} did not start ({(done.stderr or done.stdout).strip()[:200]})")

    def each_program(self, verb: str, names: list[str]) -> subprocess.CompletedProcess[str]:
        """supervisorctl VERB, one call per program, side by side: start and restart wait for
        each program's startsecs in turn, so the wait is the longest one, not their sum. The
        first failed call, or the first."""
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            runs = list(pool.map(lambda name: run([*self.ctl, verb, name]), names))
        return next((r for r in runs if r.returncode != 0), runs[0])

    def restart(self, names: list[str]) -> None:
        """Restarts running services (they read a changed .env at their next start). It returns
        once the old processes are gone (no --no-block): a health URL probed after it cannot be
        answered by the process that read the old file."""
        if self.manager == "systemd":
            done = run(["systemctl", "--user", "restart", *names])
        else:
            done = self.each_program("restart", names)
        if done.returncode != 0:
            raise NotFast(f"{' '.join(names)} did not restart ({(done.stderr or done.stdout).strip()[:200]})")


def hand_edited_env(env: dict[str, Any], services: list[dict[str, Any]]) -> tuple[list[str], list[str], str]:
    """The recorded .env changed since the last converge: NotFast unless a full converge would
    leave it as it is now (integrador_env_state.leaves_as_is, the editor's own steps), exactly
    as it would: same mode, UTF-8, no byte order mark. Answers the units to restart (each that
    started with other bytes, or left no record: as app_services decides), the managed keys kept
    as edited by hand, and the digest the stamp records."""
    # As the settings give them ("~/..." included): the watch list's paths are expanded.
    path = os.path.expanduser(env.get("path", ""))
    started_dir = os.path.expanduser(env.get("started_dir", ""))
    if not path or not started_dir:
        raise NotFast(f"{path or '.env'} changed since the last converge")
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
        with open(target, "rb") as handle:
            data = handle.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise NotFast(f"{path} changed since the last converge (and cannot be read as UTF-8)") from None
    if info.st_mode & 0o7777 != int(str(env.get("mode", "0600")), 8) or text.startswith("\ufeff"):
        raise NotFast(f"{path} changed since the last converge (its mode, or a byte order mark)")
    same, kept = leaves_as_is(text, dict(env.get("value_sha256") or {}), list(env.get("secrets") or []))
    if not same:
        raise NotFast(f"{path} changed since the last converge in a way the converge sets back")
    records = started_records(started_dir, path, data)
    stale = [s["unit"] for s in services if not records.get(s.get("name", ""), False)]
    return stale, kept, path_digest(path)


def probe(kind: str, target: dict[str, Any], password: str) -> tuple[bool, str]:
    if kind == "postgres":
        return postgres(
            target["host"],
            int(target["port"]),
            target.get("user") or "postgres",
            target.get("database") or "postgres",
        )
    if kind == "redis":
        return redis(target["host"], int(target["port"]), password)
    return http_get(target["url"])


def wait(
    targets: list[tuple[str, dict[str, Any], str, float]],
    # Half the floor's 0.1 s: a probe of a port nobody listens on yet is refused at once, and
    # each step saved is time the warm start no longer waits.
    interval: float = 0.05,
    on_ready: Callable[[set[str]], None] | None = None,
) -> None:
    """Probes every target every interval until all answer; a late one is not fast.
    on_ready is told the names that answered so far, after every round."""
    began = time.monotonic()
    pending = list(targets)
    ready_names: set[str] = set()
    # A service whose uvicorn --reload worker exited will not answer: not worth its timeout.
    watches = {id(t): ReloadWatch(t["record"]) for _, t, _, _ in targets if t.get("record")}
    while pending:
        still = []
        for kind, target, password, timeout in pending:
            ready, answer = probe(kind, target, password)
            if ready:
                ready_names.add(target.get("name", kind))
                continue
            if time.monotonic() - began >= timeout:
                raise NotFast(f"{target.get('name', kind)} did not answer within {timeout:g} s ({answer})")
            dead = watches[id(target)].dead() if id(target) in watches else ""
            if dead:
                raise NotFast(f"{target.get('name', kind)} will not answer: {dead}")
            still.append((kind, target, password, timeout))
        pending = still
        if on_ready:
            on_ready(set(ready_names))
        if pending:
            time.sleep(interval)


def check(params: dict[str, Any], stamp: dict[str, Any]) -> list[str]:
    """Raises NotFast, or brings what is stopped up and answers what it started."""
    if stamp.get("version") != VERSION:
        raise NotFast("no converge of this tool's version was recorded")
    if not params["inputs"] or stamp.get("inputs") != params["inputs"]:
        raise NotFast("settings or the tool changed since the last converge")
    now = digests(list(stamp.get("watch", {})))
    changed = [path for path, digest in stamp.get("watch", {}).items() if now.get(path) != digest]
    env = dict(stamp.get("env_file") or {})
    for key in ("path", "started_dir"):
        env[key] = os.path.expanduser(str(env.get(key) or ""))
    stale: list[str] = []
    if env["path"] and changed == [env["path"]]:
        # .env alone, edited by hand: what a full converge does then is restart the services
        # that read the old bytes; done here, as it would, with nothing else to converge.
        stale, kept, env_digest = hand_edited_env(env, stamp.get("services", []))
        stamp["watch"][env["path"]] = env_digest
        stamp["_restart"] = stale
        stamp["_note"] = f"{env['path']} edited by hand" + (
            f" (kept hand-edited {', '.join(kept)}; delete a line to have it generated again)" if kept else ""
        )
    elif changed:
        raise NotFast(f"{changed[0]} changed since the last converge")
    if stamp.get("docker_context") != docker_context():
        raise NotFast("the Docker endpoint or context (docker context use) changed since the last converge")

    containers = stamp.get("containers", [])
    docker_host = stamp.get("docker_host", "")
    services = stamp.get("services", [])
    units = Units(stamp.get("manager", ""), stamp.get("supervisor_ctl", []))
    # Everything is looked at before anything is started.
    stopped_units = units.inactive([s["unit"] for s in services]) if services else []
    for service in services:
        host = urlsplit(service["health_url"]).hostname or "127.0.0.1"
        if service["unit"] in stopped_units and port_in_use(host, int(service["port"])):
            raise NotFast(f"port {service['port']} of stopped {service['unit']} is taken")
    stopped, passwords = stopped_containers(docker_host, containers)

    started: list[str] = []
    if stopped:
        with concurrent.futures.ThreadPoolExecutor(len(stopped)) as pool:
            results = list(pool.map(lambda name: docker_start(docker_host, name), stopped))
        for name, (_, problem) in zip(stopped, results, strict=True):
            if problem:
                raise NotFast(f"container {name} did not start ({problem[:200]})")
        started += stopped

    # Each stopped service starts as soon as the containers it needs answer (the gateway
    # needs Redis only), while the others are still probed; then every health URL.
    everything = [c["name"] for c in containers]
    needs = stamp.get("service_needs", {})
    # A running service that read the old .env is restarted once what it needs answers.
    restart = [unit for unit in stale if unit not in stopped_units]
    to_start = {
        s["unit"]: set(needs.get(s["unit"], everything))
        for s in services
        if s["unit"] in stopped_units or s["unit"] in units.disabled or s["unit"] in restart
    }
    with concurrent.futures.ThreadPoolExecutor(max(1, len(to_start))) as pool:
        launched: list[concurrent.futures.Future[None]] = []

        def launch(ready: set[str]) -> None:
            due = sorted(unit for unit, wanted in to_start.items() if wanted <= ready)
            for unit in due:
                del to_start[unit]
            if [unit for unit in due if unit not in restart]:
                launched.append(pool.submit(units.start, [unit for unit in due if unit not in restart]))
            if [unit for unit in due if unit in restart]:
                launched.append(pool.submit(units.restart, [unit for unit in due if unit in restart]))

        launch(set())
        targets = [
            (
                c["probe"]["kind"],
                {**c["probe"], "name": c["name"]},
                passwords.get(c["name"], ""),
                float(c["timeout"]),
            )
            for c in containers
        ]
        wait(targets, on_ready=launch)
        launch(set(everything))
        for future in launched:
            future.result()
    started += stopped_units
    # The health URLs (the containers answered above; Docker's own healthcheck, every 10 s,
    # is what docker ps shows, and nothing waits for it).
    # A service this check started gets its whole timeout; one that was already running should
    # answer at once: one that does not within a few seconds (uvicorn --reload's reloader over a
    # dead worker) is the full converge's to repair, not worth a minute's wait here.
    targets = [
        (
            "http",
            {
                "url": s["health_url"],
                "name": s["unit"],
                "record": os.path.join(env["started_dir"], f"{s['name']}.json")
                if env["started_dir"] and s.get("name")
                else "",
            },
            "",
            float(s["timeout"])
            if s["unit"] in stopped_units or s["unit"] in restart
            else min(float(s["timeout"]), RUNNING_TIMEOUT),
        )
        for s in services
    ]
    wait(targets)
    if stale:
        # Each restarted service read the file as it is now (not an edit made meanwhile).
        with open(os.path.realpath(env["path"]), "rb") as handle:
            records = started_records(env["started_dir"], env["path"], handle.read())
        unread = [
            s["unit"] for s in services if s["unit"] in stale and not records.get(s.get("name", ""), False)
        ]
        if unread or path_digest(env["path"]) != stamp["watch"][env["path"]]:
            raise NotFast(f"{env['path']} changed again while {', '.join(unread or stale)} restarted")
    return started


def stopped_containers(
    docker_host: str, containers: list[dict[str, Any]]
) -> tuple[list[str], dict[str, str]]:
    """The recorded containers that are stopped, and the passwords their probes give (by
    name); NotFast unless each is the one recorded."""
    if not containers:
        return [], {}
    stopped = []
    passwords = {}
    try:
        client, _ = connect(docker_host, timeout=10)
        for container in containers:
            now_record = container_record(
                client, container["name"], container["probe"].get("password_env", "")
            )
            passwords[container["name"]] = now_record.get("password", "")
            if now_record["id"] != container["id"] or now_record["image"] != container["image"]:
                raise NotFast(f"container {container['name']} is not the one the last converge left")
            image = client.inspect_image(container["image_name"])
            if image is None or image["Id"] != container["image"]:
                raise NotFast(f"image {container['image_name']} changed since the last converge")
            if not now_record["running"]:
                probe_target = container["probe"]
                if port_in_use(probe_target["host"], int(probe_target["port"])):
                    raise NotFast(f"port {probe_target['port']} of stopped {container['name']} is taken")
                stopped.append(container["name"])
    except DockerError as exc:
        raise NotFast(f"Docker: {exc}") from exc
    return stopped, passwords


def docker_context() -> list[str]:
    """The engine the docker CLI would use on this host (DOCKER_HOST, DOCKER_CONTEXT, the current
    context of DOCKER_CONFIG's config.json and that context's endpoint), resolved HERE: on the
    target, where the preflight resolves it too. The action plugin's fingerprint resolves it on
    the controller, which is this host only on a local connection; a `docker context use` on a
    team VM must end that VM's fast path as well."""
    try:
        endpoint = resolve_docker_context(os.environ, os.path.expanduser("~"))
    except Exception as exc:  # noqa: BLE001 - an unresolvable context is an input as such
        return [f"{type(exc).__name__}: {exc}"]
    return [str(part) for part in endpoint]


def record(params: dict[str, Any]) -> dict[str, Any]:
    containers = []
    # The endpoint as resolved now (a Docker context may name it): the check starts containers there.
    docker_host = params["docker_host"]
    if params["containers"]:
        try:
            client, _ = connect(params["docker_host"], timeout=10)
            docker_host = client.host
            for container in params["containers"]:
                found = container_record(client, container["name"])
                containers.append(
                    {
                        "name": container["name"],
                        "id": found["id"],
                        "image": found["image"],
                        "image_name": found["image_name"],
                        # The password stays out of the file: the check reads it from the
                        # container (password_env).
                        "probe": {k: v for k, v in container["probe"].items() if k != "password"},
                        "timeout": container.get("timeout", 60),
                    }
                )
        except (DockerError, NotFast) as exc:
            raise NotFast(f"Docker: {exc}") from exc
    return {
        "version": VERSION,
        "inputs": params["inputs"],
        "docker_context": docker_context(),
        "watch": digests(params["watch"]),
        "docker_host": docker_host,
        "containers": containers,
        "manager": params["manager"],
        "supervisor_ctl": params["supervisor_ctl"],
        "services": params["services"],
        "service_needs": params["service_needs"],
        "env_file": params["env_file"],
        "summary": params["summary"],
    }


def read_stamp(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            stamp = json.load(handle)
    except FileNotFoundError:
        raise NotFast("no converge was recorded") from None
    except (OSError, ValueError):
        raise NotFast("the record of the last converge is unreadable") from None
    if not isinstance(stamp, dict):
        raise NotFast("the record of the last converge is unreadable")
    return stamp


def write_stamp(path: str, stamp: dict[str, Any]) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".converged.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(stamp, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def forget(path: str) -> bool:
    """The stamp moves aside to FORGOTTEN: no check reads it again, but day two still learns
    from it which health paths the last converge found (app_services' tasks/describe.yml)."""
    try:
        os.replace(path, os.path.join(os.path.dirname(path), FORGOTTEN))
        return True
    except OSError:
        # Missing, or not ours to move: the next check compares it again anyway.
        return False


ARGUMENT_SPEC: dict[str, Any] = {
    "state": {"type": "str", "choices": ["checked", "recorded", "forgotten"], "required": True},
    "state_dir": {"type": "path", "required": True},
    "inputs": {"type": "str", "default": ""},
    "watch": {"type": "list", "elements": "path", "default": []},
    "containers": {"type": "list", "elements": "dict", "default": []},
    "docker_host": {"type": "str", "default": ""},
    "services": {"type": "list", "elements": "dict", "default": []},
    "manager": {"type": "str", "default": "systemd"},
    "supervisor_ctl": {"type": "list", "elements": "str", "default": []},
    "service_needs": {"type": "dict", "default": {}},
    "env_file": {"type": "dict", "default": {}},
    "summary": {"type": "list", "elements": "str", "default": []},
    # Handled by the action plugin (playbooks/action_plugins/integrador_fast_path.py).
    "release_lock": {"type": "dict", "default": {}},
}


def answer(params: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """The module's result for validated params (also called in-process by the action plugin
    on a local connection, where it costs no module run)."""
    path = os.path.join(os.path.expanduser(params["state_dir"]), STAMP)
    if params["state"] == "forgotten":
        changed = os.path.exists(path)
        if not check_mode:
            forget(path)
        return {"changed": changed, "path": path}
    if params["state"] == "recorded":
        if check_mode:
            return {"changed": False, "path": path, "recorded": False}
        try:
            stamp = record(params)
        except (NotFast, OSError) as exc:
            # Nothing recorded: the next run converges in full, as this one did.
            forget(path)
            return {"changed": False, "path": path, "recorded": False, "reason": str(exc)}
        write_stamp(path, stamp)
        return {"changed": False, "path": path, "recorded": True}

    if check_mode:
        return {
            "changed": False,
            "fast": False,
            "reason": "check mode: the full converge reports",
            "started": [],
        }
    began = time.monotonic()
    try:
        stamp = read_stamp(path)
        started = check(params, stamp)
    except NotFast as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - the fast path never stops a run: the full converge reports
        reason = f"the check itself failed ({type(exc).__name__}: {exc})"
    else:
        restarted = stamp.pop("_restart", [])
        note = stamp.pop("_note", "")
        if restarted or note:
            # The hand-edited .env is now what the services run with: recorded as such.
            write_stamp(path, stamp)
        return {
            "changed": bool(started or restarted),
            "fast": True,
            "reason": "",
            "started": started,
            "restarted": restarted,
            "note": note,
            "summary": stamp.get("summary", []),
            "seconds": round(time.monotonic() - began, 2),
        }
    forget(path)
    return {
        "changed": False,
        "fast": False,
        "reason": reason,
        "started": [],
        "seconds": round(time.monotonic() - began, 2),
    }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**answer(module.params, module.check_mode))


if __name__ == "__main__":
    main()
