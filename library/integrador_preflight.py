#!/usr/bin/python
"""The stack's shared preflight: every check before a converge, in one module
run, and the current state the roles then reuse instead of asking again."""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import platform
import pwd
import re
import shutil
import stringprep
import subprocess
import unicodedata
import urllib.error
import urllib.request
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_docker import DockerClient, DockerError
from ansible.module_utils.integrador_docker_context import resolve as resolve_docker_endpoint
from ansible.module_utils.integrador_ports import (
    address_problem,
    is_loopback,
    owned_by,
    port_owner,
    port_problem,
    supervisor_roots,
)
from ansible.module_utils.integrador_probe import postgres as postgres_probe
from ansible.module_utils.integrador_probe import redis as redis_probe
from ansible.module_utils.integrador_python import (
    checkout_problem,
    find_interpreter,
    parse_version,
    probe,
    too_old_message,
    venv_problem,
    venv_python,
)

DOCUMENTATION = r"""
module: integrador_preflight
short_description: Every preflight check of the Integrador stack in one run
description:
  - Checks, for the parts given, everything a converge needs before it changes
    anything, and reports every problem at once, each naming its cause and fix
    (the variable or port to change).
  - Every port is a TCP port (1-65535) and every bind address an IP address (or
    localhost), each message naming the variable; a container published beyond
    loopback with a password still unset or the default is refused, naming the
    password variable, unless O(allow_insecure_exposure).
  - The Docker engine answers (with the usual socket locations for Docker Desktop
    on macOS, rootless Docker and Podman when it does not); each container's host
    port is free or already that container's; Docker's data root has room when an
    image or a volume must still be created.
  - Whether a PostgreSQL role's password is still the configured one (O(containers[].password)),
    from the password verifier the probe prints; the password itself never leaves the module.
  - O(root) is an Integrador checkout; a Python of at least O(min_version) exists
    (the virtualenv's own, or one to build it with).
  - A systemd user manager answers (Linux; with a hint for WSL); each service's port
    is free or held by its unit.
  - Where supervisord runs the services (O(manager=auto) without a user manager, or
    O(manager=supervisor)), each service's port is free or held by a process of the stack's own
    supervisord (read from O(units[].supervisor_dir)); Linux.
  - Returns the state it read (containers, images, volumes, units, health URLs, user
    facts), so the roles skip their own inspection on a run without changes.
  - Never changes anything.
options:
  docker_host:
    description:
      - Docker engine to check.
      - When omitted or empty and O(containers) are given, the endpoint the docker CLI would use
        on this host (C(DOCKER_HOST), else the active Docker context (C(DOCKER_CONTEXT), else
        C(currentContext) in C(~/.docker/config.json), that context's C(meta.json)), else
        C(unix:///var/run/docker.sock)). It is returned as the fact C(integrador_docker_endpoint).
      - Read through the Docker Engine API with the standard library (module_utils/integrador_docker.py).
      - The Docker checks are skipped when it is omitted and there are no O(containers).
    type: str
  containers:
    description: Containers of the stack.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Container name., type: str, required: true}
      image: {description: Image the container should run., type: str, required: true}
      volume: {description: Named data volume., type: str}
      port: {description: "Host port (checked to be 1-65535, naming O(containers[].port_var)).", type: raw}
      port_var: {description: Variable that sets the host port (named in messages)., type: str}
      container_port: {description: Port inside the container., type: int}
      bind_address: {description: Host address the port is published on., type: str, default: 127.0.0.1}
      bind_var:
        description: Variable that sets the bind address (named in messages).
        type: str
        default: integrador_bind_address
      unprotected:
        description:
          - Set when the container's password is unset or the default, saying so (V(no password),
            V(the default password)). Such a container published beyond loopback is refused.
        type: str
      password_var:
        description: Variable that sets the container's password (named in messages).
        type: str
        default: the container's password
      probe:
        description:
          - Command run inside the running container; its exit code and output are returned.
          - A line C(verifier <rolpassword> <rolname>) in its output (PostgreSQL's pg_authid) is taken
            out of the output and checked against O(containers[].password).
        type: list
        elements: str
      password:
        description:
          - Password the probe's verifier line is checked against (result C(password_current)), and
            Redis' C(AUTH) before the C(PING) of O(containers[].answers).
        type: str
      answers:
        description:
          - The protocol the container's published port speaks (V(postgres), V(redis)). A running
            container that Docker does not (yet) report healthy is then asked directly on that port
            (PostgreSQL's startup reply as C(pg_isready) judges it, Redis C(PING)), giving the
            result's C(answering). Docker's healthcheck runs only every few seconds, so a container started a
            moment ago is still "starting" to Docker while it already answers.
        type: str
        choices: [postgres, redis]
      data_mb:
        description:
          - MB the container's data still needs on Docker's data root (an Ollama's models), added to
            O(min_free_docker_mb); counted as still to be created while its volume or the container is.
        type: int
        default: 0
      data_what:
        description: What O(containers[].data_mb) is for, named in the disk message.
        type: str
      known_password:
        description:
          - The same, for a password that is no secret (an image's default, V(postgres)).
            O(containers[].password) is masked wherever it appears in the result, which would
            mangle every message that names postgres_pgvector_port.
        type: str
  min_free_docker_mb:
    description:
      - Free space Docker's data root must have when an image or a volume is still to
        be created. Checked only where the data root is on this host's file system
        (not inside Docker Desktop's VM). 0 disables the check.
    type: int
    default: 0
  root:
    description: Integrador checkout to check; skipped when omitted.
    type: path
  python:
    description: Interpreter to build the virtualenv with; empty picks the newest python3.X.
    type: str
    default: ""
  min_version:
    description: Oldest Python accepted; the Python check is skipped when empty.
    type: str
    default: ""
  venv:
    description: Existing virtualenv (absolute, or relative to O(root)) whose Python counts too.
    type: str
    default: ""
  units:
    description:
      - The services (Linux), as systemd user units (which need a user manager) or supervisord programs.
    type: list
    elements: dict
    default: []
    suboptions:
      unit: {description: systemd unit name., type: str, required: true}
      program:
        description:
          - supervisord program of the service (named in messages); default the unit's name without
            C(.service).
        type: str
      supervisor_dir:
        description:
          - Folder of the stack's supervisord (app_services_supervisor_dir; a leading C(~) is the user's
            home), where app_services keeps C(supervisord.conf), C(supervisord.pid) and each program's
            C(<program>.pgid).
          - Under supervisord, a port is the service's own when it is held by that supervisord's
            descendants (its programs and their children, such as uvicorn --reload's worker) or by a
            process left in a program's recorded process group. Without it, or when that supervisord
            does not run, no holder is the stack's.
        type: str
      port: {description: Port the service listens on (checked when given)., type: raw}
      port_var: {description: Variable that sets the port., type: str}
      bind_address: {description: Address the service binds., type: str, default: 127.0.0.1}
      bind_var: {description: Variable that sets the address., type: str, default: integrador_bind_address}
      health_url: {description: URL probed once (state only; never a failure)., type: str}
  linger:
    description: Lingering is to be enabled by the converge; a user manager then need not answer yet.
    type: bool
    default: false
  manager:
    description:
      - C(auto) takes supervisord (result C(manager=supervisor)) where no systemd user manager answers
        and lingering would not start one; C(systemd) reports that as a problem; C(supervisor) asks no
        systemd user manager.
      - Under supervisord the service ports are checked against the stack's supervisord
        (O(units[].supervisor_dir)).
    type: str
    default: systemd
    choices: [auto, systemd, supervisor]
  ports:
    description: Check that the ports are free or already the stack's (a converge binds them).
    type: bool
    default: true
  allow_insecure_exposure:
    description: Accept containers published beyond loopback without a password of their own.
    type: bool
    default: false
  fail_on_problems:
    description: Fail when a problem is found; false only warns (for reports such as status.yml).
    type: bool
    default: true
author: Integrador developers
"""

EXAMPLES = r"""
- name: Preflight checks pass
  integrador_preflight:
    docker_host: unix:///var/run/docker.sock
    containers:
      - {name: integrador_db, image: "pgvector/pgvector:pg16", volume: integrador_pgdata,
         port: 5432, port_var: postgres_pgvector_port, container_port: 5432}
    min_free_docker_mb: 1536
    root: ~/src/integrador
    min_version: "3.10"
  register: __preflight
"""

RETURN = r"""
docker:
  description:
    - Whether the engine answered, its version, data root and free space (MB, null when not visible),
      and C(runtimes), the names of its runtimes (C(nvidia) where the NVIDIA Container Toolkit is set up).
  type: dict
  returned: always
containers:
  description: Per container name, C(exists), C(running), C(health), C(labels), C(image_current) (the
    container runs the image the tag names now), C(volume_exists), C(port_ours), C(probe_rc), C(probe_output),
    C(password_current) when a password was given and the probe printed its verifier, and C(answering)
    (running, not unhealthy, and healthy to Docker or answering on its port, O(containers[].answers)).
  type: dict
  returned: always
units:
  description: Per unit, the properties C(systemctl --user show) gives (empty when no user manager answered).
  type: dict
  returned: always
health:
  description: Per health URL, the HTTP status it answered (0 for no answer).
  type: dict
  returned: always
insecure_exposure:
  description:
    - Containers published beyond loopback with the default or no password, accepted by
      O(allow_insecure_exposure) (each also a warning).
  type: list
  elements: str
  returned: always
manager:
  description: The services' manager chosen for O(units) (C(systemd) or C(supervisor)); empty without units.
  type: str
  returned: always
linger_enabled:
  description: Whether lingering is already enabled for the user (Linux).
  type: bool
  returned: always
problems:
  description: Every problem found (the module fails when there is one).
  type: list
  elements: str
  returned: always
ansible_facts:
  description:
    - C(system), C(user_id), C(user_uid), C(user_dir), as the setup module names them.
    - C(integrador_docker_endpoint), when O(docker_host) was resolved from the Docker context
      (the roles' C(*_docker_host) defaults follow it).
  type: dict
  returned: always
"""

UNIT_PROPERTIES = ",".join(
    [
        *("Id", "LoadState", "ActiveState", "SubState", "MainPID", "UnitFileState"),
        *("NeedDaemonReload", "FragmentPath", "Environment", "ExecStart"),
    ]
)
MB = 1024 * 1024
VERIFIER_PREFIX = "verifier "


def saslprep(password: str) -> bytes:
    """The password as PostgreSQL hashes it (RFC 4013 SASLprep; the raw bytes
    when it is not a valid SASLprep string, as PostgreSQL falls back too)."""
    raw = password.encode("utf-8")
    if password.isascii() and password.isprintable():
        return raw
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c)
    )
    normal = unicodedata.normalize("NFKC", mapped)
    prohibited = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    if not normal or any(test(c) for c in normal for test in prohibited):
        return raw
    if any(stringprep.in_table_d1(c) for c in normal) and (
        any(stringprep.in_table_d2(c) for c in normal)
        or not (stringprep.in_table_d1(normal[0]) and stringprep.in_table_d1(normal[-1]))
    ):
        return raw
    return normal.encode("utf-8")


def password_matches(password: str, verifier: str, role: str) -> bool:
    """Whether a login with this password succeeds against pg_authid.rolpassword
    (SCRAM-SHA-256 or md5; a NULL or unknown verifier does not match)."""
    try:
        if verifier.startswith("SCRAM-SHA-256$"):
            iterations_salt, keys = verifier[len("SCRAM-SHA-256$") :].split("$")
            iterations, salt = iterations_salt.split(":")
            stored_key = keys.split(":")[0]
            salted = hashlib.pbkdf2_hmac(
                "sha256", saslprep(password), base64.b64decode(salt, validate=True), int(iterations)
            )
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            stored = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
            return hmac.compare_digest(stored, stored_key)
        if verifier.startswith("md5") and len(verifier) == 35:
            digest = hashlib.md5((password + role).encode(), usedforsecurity=False).hexdigest()
            return hmac.compare_digest("md5" + digest, verifier)
    except (ValueError, TypeError):  # a verifier this code does not know: ask for the password to be set
        return False
    return False


class Preflight:
    def __init__(self, module: AnsibleModule) -> None:
        self.manager = ""
        self.module = module
        self.params = module.params
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Containers published beyond loopback without a password, accepted by the override.
        self.exposed: list[str] = []
        self.user = pwd.getpwuid(os.getuid()) if hasattr(os, "getuid") else None
        # The endpoint resolved from DOCKER_HOST or the Docker context (docker_host not given).
        self.docker_endpoint: str | None = None

    # --- settings ------------------------------------------------------------
    def settings(self) -> None:
        """Ports and addresses before anything uses them: a bad one is a message,
        and its checks are skipped (spec["valid"] false)."""
        for spec in [*self.params["containers"], *self.params["units"]]:
            found = []
            if spec.get("port") is not None:
                found.append(port_problem(spec["port"], spec.get("port_var")))
            found.append(address_problem(spec["bind_address"], spec.get("bind_var")))
            found = [problem for problem in found if problem]
            self.problems.extend(problem for problem in found if problem not in self.problems)
            spec["valid"] = not found
            if spec["valid"] and spec.get("port") is not None:
                spec["port"] = int(spec["port"])
        for spec in self.params["containers"]:
            if not spec["valid"] or not spec.get("unprotected") or is_loopback(spec["bind_address"]):
                continue
            if self.params["allow_insecure_exposure"]:
                self.exposed.append(spec["name"])
                self.warnings.append(
                    f"The {spec['name']} container is published on {spec['bind_address']}, beyond this "
                    f"machine, with {spec['unprotected']} ({spec['password_var']}; "
                    "integrador_allow_insecure_exposure: true)."
                )
                continue
            self.problems.append(
                f"{spec['bind_var']} is {spec['bind_address']}: the {spec['name']} container would be "
                f"reachable from the network with {spec['unprotected']}. Set {spec['password_var']} (in "
                "inventory/group_vars/all/local.yml, or with ansible-vault), keep the address on loopback "
                "(127.0.0.1), or set integrador_allow_insecure_exposure: true to accept the exposure."
            )

    # --- Docker -----------------------------------------------------------
    def docker(self) -> tuple[dict[str, Any], dict[str, Any]]:
        host = self.params["docker_host"]
        containers = self.params["containers"]
        info: dict[str, Any] = {"reachable": False}
        states: dict[str, Any] = {}
        source = ""
        if not host and not containers:
            return info, states
        if not host:
            # As the docker CLI would on this host: Docker Desktop, Colima, OrbStack and
            # Rancher Desktop need no setting.
            home = self.user.pw_dir if self.user else os.path.expanduser("~")
            endpoint = resolve_docker_endpoint(os.environ, os.environ.get("HOME") or home)
            host, source = endpoint.host, endpoint.source
            self.docker_endpoint = host
            info["host_source"] = endpoint.source
            self.warnings.extend(endpoint.warnings)
            if endpoint.problem:
                self.problems.append(endpoint.problem)
                return info, states
        info["host"] = host
        try:
            # Each message names the endpoint, where it came from and what to do.
            client = DockerClient(host, source, timeout=10)
            engine = client.info()
        except DockerError as exc:
            self.problems.append(str(exc))
            return info, states
        info.update(
            reachable=True,
            version=engine.get("ServerVersion"),
            data_root=engine.get("DockerRootDir"),
            runtimes=sorted(engine.get("Runtimes") or {}),
        )
        to_create = []
        data_mb = sum(spec.get("data_mb") or 0 for spec in containers)
        for spec in containers:
            try:
                state = self.container(client, spec)
            except DockerError as exc:  # the engine went away, or refused a request: said, not a traceback
                self.problems.append(str(exc))
                return info, states
            states[spec["name"]] = state
            if not state["image_present"]:
                to_create.append(f"image {spec['image']}")
            if spec.get("volume") and not state["volume_exists"]:
                to_create.append(f"volume {spec['volume']}")
            if spec.get("data_mb") and not (state["exists"] and state.get("volume_exists", True)):
                what = spec.get("data_what") or f"the data of {spec['name']}"
                to_create.append(f"{what} ({spec['data_mb']} MB)")
        info["free_mb"] = self.docker_space(host, info["data_root"], to_create, data_mb)
        return info, states

    def container(self, client: DockerClient, spec: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {
            "exists": False,
            "running": False,
            "health": "",
            "answering": False,
            "labels": {},
            "port_ours": False,
        }
        attrs = client.inspect_container(spec["name"])
        image = client.inspect_image(spec["image"])
        image_id = image["Id"] if image else None
        state["image_present"] = image_id is not None
        if spec.get("volume"):
            state["volume_exists"] = client.inspect_volume(spec["volume"]) is not None
        if attrs:
            running = attrs["State"].get("Running", False)
            bindings = (attrs["HostConfig"].get("PortBindings") or {}).get(
                f"{spec.get('container_port')}/tcp"
            ) or []
            state.update(
                exists=True,
                running=running,
                status=attrs["State"].get("Status"),
                health=(attrs["State"].get("Health") or {}).get("Status", ""),
                labels=attrs["Config"].get("Labels") or {},
                image=attrs["Config"].get("Image"),
                image_current=attrs.get("Image") == image_id,
                port_ours=running and any(str(b.get("HostPort")) == str(spec.get("port")) for b in bindings),
            )
            state["answering"] = running and self.answering(spec, state["health"], state["port_ours"])
            if running and spec.get("probe"):
                state["probe_rc"], output = self.exec_probe(client, spec["name"], spec["probe"])
                # The verifier is a hash of the password: checked here, never returned.
                lines = output.splitlines()
                verifiers = [line for line in lines if line.startswith(VERIFIER_PREFIX)]
                state["probe_output"] = "\n".join(line for line in lines if line not in verifiers)
                password = spec.get("password") or spec.get("known_password")
                if verifiers and password:
                    _, verifier, role = (verifiers[0] + "  ").split(" ", 2)
                    state["password_current"] = password_matches(password, verifier, role.strip())
        if spec.get("valid", True) and not state["port_ours"]:
            self.port_free(
                spec["port"], spec["bind_address"], spec.get("port_var"), f"the {spec['name']} container"
            )
        return state

    @staticmethod
    def answering(spec: dict[str, Any], health: str, port_ours: bool) -> bool:
        """Healthy to Docker, or (still "starting" to it) answering on its own published port."""
        if health == "healthy":
            return True
        if health == "unhealthy" or not spec.get("answers") or not port_ours:
            return False
        # The probes reach a wildcard bind address through loopback (integrador_probe.loopback_for).
        host = spec["bind_address"]
        try:
            port = int(spec["port"])
        except (TypeError, ValueError):
            return False
        if spec["answers"] == "postgres":
            return postgres_probe(host, port)[0]
        return redis_probe(host, port, spec.get("password") or "")[0]

    @staticmethod
    def exec_probe(client: DockerClient, name: str, argv: list[str]) -> tuple[int, str]:
        try:
            rc, stdout, stderr = client.exec_run(name, argv)
        except DockerError as exc:
            return -1, str(exc)
        return rc, (stdout + stderr).decode(errors="replace").strip()

    def docker_space(
        self, host: str, data_root: str | None, to_create: list[str], data_mb: int = 0
    ) -> int | None:
        base = self.params["min_free_docker_mb"]
        # The containers' own data (models) comes on top of the threshold; 0 still turns it off.
        wanted = base + data_mb if base else 0
        asks = f"{wanted} MB" if not data_mb else f"{base} MB plus {data_mb} MB for the containers' data"
        # Only a local engine's data root is this host's file system (not Docker Desktop's VM).
        if not wanted or not data_root or not host.startswith("unix://") or not os.path.isdir(data_root):
            return None
        free_mb = shutil.disk_usage(data_root).free // MB
        if free_mb >= wanted:
            return free_mb
        if to_create:
            self.problems.append(
                f"Only {free_mb} MB are free for Docker's data root {data_root}, and this converge still "
                f"has to create {', '.join(to_create)}; integrador_min_free_docker_mb asks for {asks}. "
                "Free some space (`docker system prune` removes unused images and build cache), or lower "
                "integrador_min_free_docker_mb."
            )
        else:
            self.warnings.append(
                f"Only {free_mb} MB are free for Docker's data root {data_root} "
                f"(integrador_min_free_docker_mb: {asks}): PostgreSQL and Redis stop writing when the "
                "disk fills up."
            )
        return free_mb

    # --- ports --------------------------------------------------------------
    def port_free(
        self,
        port: int | None,
        host: str,
        var: str | None,
        whose: str,
        ours: set[int] | None = None,
        units: list[str] | None = None,
    ) -> None:
        if not port or not self.params["ports"]:
            return
        try:
            in_use, pid, process = port_owner(host, port)
        except (OSError, ValueError) as exc:
            self.problems.append(
                f"Port {port} on {host} cannot be tested ({exc}): check integrador_bind_address."
            )
            return
        # Whatever in a unit's process tree holds the port (its main process, a child such as
        # python-dotenv 1.0's `run` child or uvicorn's reload worker) is the unit's own.
        if in_use and not owned_by(pid, ours or set(), units):
            fix = f"set {var} to a free port" if var else "choose another port"
            self.problems.append(
                f"Port {port} on {host} is already taken by {process or 'another program'}, not by {whose}. "
                f"Stop that program, or {fix}."
            )

    # --- checkout and Python --------------------------------------------------
    def checkout(self) -> None:
        root = self.params["root"]
        if not root:
            return
        problem = checkout_problem(os.path.abspath(root))
        if problem:
            self.problems.append(problem)
            return
        # The folder python_env would rebuild must be a virtualenv (or absent): the same
        # refusal, in the same words, as integrador_python_env, before anything changes.
        problem = venv_problem(root, self.params["venv"])
        if problem:
            self.problems.append(problem)
        if not self.params["min_version"]:
            return
        try:
            minimum = parse_version(self.params["min_version"])
        except ValueError as exc:
            self.problems.append(str(exc))
            return
        venv = self.params["venv"]
        candidates = (
            [os.path.join(root, os.path.expanduser(venv))]
            if venv
            else [os.path.join(root, "backend", n) for n in ("venv", ".venv")]
        )
        for path in candidates:
            current = probe(venv_python(path)) if os.path.exists(venv_python(path)) else None
            if current and current[0] >= minimum and not self.params["python"]:
                return  # the virtualenv's Python will do; no interpreter is needed to build one
        found, _, what = find_interpreter(self.params["python"], minimum)
        if found is None:
            self.problems.append(too_old_message(self.params["min_version"], what))

    # --- service manager ------------------------------------------------------
    def units(self) -> tuple[dict[str, Any], bool]:
        specs = self.params["units"]
        linger = bool(self.user and os.path.exists(f"/var/lib/systemd/linger/{self.user.pw_name}"))
        states: dict[str, Any] = {}
        auto = self.params.get("manager") == "auto"
        supervisor = self.params.get("manager") == "supervisor"
        self.manager = "" if not specs else "supervisor" if auto or supervisor else "systemd"
        if not specs or platform.system() != "Linux":
            return states, linger
        if supervisor:
            self.supervisor_ports(specs)
            return states, linger
        self.manager = "systemd"
        env = dict(os.environ)
        # Set by a login session; not by `su`, cron or a container's exec.
        env.setdefault("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
        try:
            proc = subprocess.run(
                ["systemctl", "--user", "show", f"--property={UNIT_PROPERTIES}", *[s["unit"] for s in specs]],
                capture_output=True,
                text=True,
                env=env,
                timeout=15,
                check=False,
            )
            answer, rc = (proc.stderr or proc.stdout).strip(), proc.returncode
        except (OSError, subprocess.SubprocessError) as exc:
            answer, rc = str(exc), -1
        if rc != 0:
            # Enabling lingering starts the manager, where systemd is the init system.
            starts = self.params["linger"] and not linger and os.path.isdir("/run/systemd/system")
            if auto and not starts:
                # No user manager here (a container, WSL without systemd): supervisord runs
                # the services, and their ports are checked against it.
                self.manager = "supervisor"
                self.supervisor_ports(specs)
            elif not (self.params["linger"] and not linger):
                self.problems.append(self.no_user_manager(answer))
            return states, linger
        for block in proc.stdout.strip().split("\n\n"):
            props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if "Id" in props:
                states[props["Id"]] = props
        ours = {int(p.get("MainPID", "0")) for p in states.values()} - {0}
        for spec in specs:
            if spec.get("valid", True):
                self.port_free(
                    spec["port"],
                    spec["bind_address"],
                    spec.get("port_var"),
                    f"the {spec['unit']} unit",
                    ours,
                    [s["unit"] for s in specs],
                )
        return states, linger

    def supervisor_ports(self, specs: list[dict[str, Any]]) -> None:
        """Each service's port is free or held by the stack's own supervisord: one of its programs,
        their children (uvicorn --reload serves from a child of the program's main process), or
        what is left in a program's recorded process group. A supervisord that does not run holds
        nothing: a listener is then another program's (app_services would fail to start there)."""
        home = self.user.pw_dir if self.user else os.path.expanduser("~")
        programs = {
            spec["unit"]: spec.get("program") or re.sub(r"\.service$", "", spec["unit"]) for spec in specs
        }
        ours: set[int] = set()
        for folder in {spec.get("supervisor_dir") or "" for spec in specs} - {""}:
            # As app_services reads app_services_supervisor_dir: a leading ~ is the user's home.
            if folder == "~" or folder.startswith("~/"):
                folder = home + folder[1:]
            ours |= supervisor_roots(folder.rstrip("/") or "/", list(programs.values()))
        for spec in specs:
            if spec.get("valid", True):
                self.port_free(
                    spec.get("port"),
                    spec["bind_address"],
                    spec.get("port_var"),
                    f"supervisord's {programs[spec['unit']]} program",
                    ours,
                )

    def no_user_manager(self, answer: str) -> str:
        name = self.user.pw_name if self.user else getpass.getuser()
        try:
            with open("/proc/sys/kernel/osrelease", encoding="ascii") as handle:
                wsl = "microsoft" in handle.read().lower()
        except OSError:
            wsl = False
        hints = [
            'on WSL, enable systemd: put "[boot]" and "systemd=true" in /etc/wsl.conf, run `wsl --shutdown` '
            "in Windows, and open the distribution again" + (" (this is WSL)" if wsl else ""),
            "over SSH or without a login session, enable lingering (app_services_linger: true, or "
            f"`sudo loginctl enable-linger {name}`), which also starts the services at boot",
            "where systemd is not the init system at all, let supervisord run them: app_services_manager: "
            "auto (the default) or supervisor",
        ]
        return (
            f"No systemd user session is reachable for {name}: `systemctl --user` says "
            f"{answer or 'nothing'}. The services run as systemd --user units, so a user manager must be "
            "running:\n  - " + ";\n  - ".join(hints) + "."
        )

    def health(self) -> dict[str, int]:
        statuses = {}
        # The stack's own addresses never go through the user's http_proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for spec in self.params["units"]:
            url = spec.get("health_url")
            if not url:
                continue
            try:
                with opener.open(url, timeout=2) as response:  # noqa: S310 - our own http URL
                    statuses[url] = response.status
            except urllib.error.HTTPError as exc:
                statuses[url] = exc.code
            except (OSError, ValueError):
                statuses[url] = 0
        return statuses

    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"system": platform.system()}
        if self.user:
            facts.update(user_id=self.user.pw_name, user_uid=self.user.pw_uid, user_dir=self.user.pw_dir)
        if self.docker_endpoint:
            facts["integrador_docker_endpoint"] = self.docker_endpoint
        return facts


def main() -> None:
    container_spec = {
        "name": {"type": "str", "required": True},
        "image": {"type": "str", "required": True},
        "volume": {"type": "str"},
        # raw: a bad port gets the message naming its variable, from settings().
        "port": {"type": "raw"},
        "port_var": {"type": "str"},
        "container_port": {"type": "int"},
        "bind_address": {"type": "str", "default": "127.0.0.1"},
        "bind_var": {"type": "str", "default": "integrador_bind_address"},
        "unprotected": {"type": "str"},
        "password_var": {"type": "str", "default": "the container's password"},
        "probe": {"type": "list", "elements": "str"},
        "password": {"type": "str", "no_log": True},
        "known_password": {"type": "str"},
        "answers": {"type": "str", "choices": ["postgres", "redis"]},
        "data_mb": {"type": "int", "default": 0},
        "data_what": {"type": "str"},
    }
    unit_spec = {
        "unit": {"type": "str", "required": True},
        "program": {"type": "str"},
        "supervisor_dir": {"type": "str"},
        "port": {"type": "raw"},
        "port_var": {"type": "str"},
        "bind_address": {"type": "str", "default": "127.0.0.1"},
        "bind_var": {"type": "str", "default": "integrador_bind_address"},
        "health_url": {"type": "str"},
    }
    module = AnsibleModule(
        argument_spec={
            "docker_host": {"type": "str"},
            "containers": {"type": "list", "elements": "dict", "default": [], "options": container_spec},
            "min_free_docker_mb": {"type": "int", "default": 0},
            "root": {"type": "path"},
            "python": {"type": "str", "default": ""},
            "min_version": {"type": "str", "default": ""},
            "venv": {"type": "str", "default": ""},
            "units": {"type": "list", "elements": "dict", "default": [], "options": unit_spec},
            "linger": {"type": "bool", "default": False},
            "manager": {"type": "str", "default": "systemd", "choices": ["auto", "systemd", "supervisor"]},
            "ports": {"type": "bool", "default": True},
            "allow_insecure_exposure": {"type": "bool", "default": False},
            "fail_on_problems": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    check = Preflight(module)
    check.settings()
    docker, containers = check.docker()
    check.checkout()
    units, linger = check.units()
    result = {
        "changed": False,
        "docker": docker,
        "containers": containers,
        "units": units,
        "linger_enabled": linger,
        "manager": check.manager,
        "insecure_exposure": check.exposed,
        "health": check.health() if units else {},
        "problems": check.problems,
        "ansible_facts": check.facts(),
    }
    for warning in check.warnings:
        module.warn(warning)
    if check.problems and not module.params["fail_on_problems"]:
        for problem in check.problems:
            module.warn(problem)
    elif check.problems:
        count = len(check.problems)
        module.fail_json(
            msg=f"Preflight found {count} problem{'s' if count > 1 else ''}; nothing was changed:\n"
            + "\n".join(f"- {problem}" for problem in check.problems),
            # Only the problems: the state read is of no use once the run stops.
            problems=check.problems,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
