"""Shared by every scenario's testinfra tests (a helper used by two scenarios or more lives
here, not in a copy): the test settings and the laptop's paths as the scenario's vars give
them, running the scenario's converge (or any playbook) again with other variables, and real
clients of what a converge made: PostgreSQL (psycopg2), Redis, the user's systemd manager,
health URLs, the containers, a port held by another program."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import psycopg2
import pytest
import redis
import requests
import yaml

PROJECT = Path(__file__).resolve().parent.parent
PORT_EXPRESSION = re.compile(r"\{\{ (\d+) \+ itest_port_offset \| int \}\}")
SHARED_VARS = PROJECT / "molecule" / "shared" / "group_vars" / "all" / "main.yml"
# What every test host command needs to reach the developer's systemd --user manager
# (testinfra runs commands as the laptop's user, without a login session).
USER_ENV = 'XDG_RUNTIME_DIR="/run/user/$(id -u)"'
# The keys python_env writes to the demo backend's .env (examples/integrador), in order: its
# settings declare these and refuse any other.
DEMO_ENV_KEYS = [
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_ORIGINS",
    "DEBUG",
    "ENVIRONMENT",
    "JWT_SECRET",
    "TABLE_TOKEN_SECRET",
]


# --- settings and paths ---------------------------------------------------------------------------
def scenario_vars(scenario: str | None = None) -> dict[str, Any]:
    """The shared test settings, then the scenario's own vars/main.yml (when it has one), with
    the scenario's prefix and port offset filled in as Ansible does."""
    scenario = scenario or os.environ["MOLECULE_SCENARIO_NAME"]
    raw: dict[str, Any] = yaml.safe_load(SHARED_VARS.read_text())
    own = PROJECT / "molecule" / scenario / "vars" / "main.yml"
    if own.is_file():
        raw.update(yaml.safe_load(own.read_text()) or {})
    prefix = f"itest_{scenario}"
    offset = raw["itest_port_offsets"].get(scenario, 90)
    rendered: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            port = PORT_EXPRESSION.fullmatch(value)
            value = int(port.group(1)) + offset if port else value.replace("{{ itest_prefix }}", prefix)
        rendered[key] = value
    rendered.update(itest_prefix=prefix, itest_port_offset=offset)
    return rendered


@pytest.fixture(scope="session")
def test_vars() -> dict[str, Any]:
    """The scenario's rendered test settings (scenario_vars)."""
    return scenario_vars()


@dataclass(frozen=True)
class LaptopPaths:
    """Where a converge with the scenario's vars puts things on the laptop (the roles' defaults
    below integrador_root and the user's home)."""

    user: str
    home: str
    root: str  # integrador_root, the checkout
    backend: str
    venv: str  # python_env's backend/.venv
    venv_python: str
    env_file: str  # backend/.env
    requirements: str
    state_dir: str  # integrador_state_dir's default: the run lock, the restore journal
    units_dir: str  # systemd --user unit files
    backups: str  # backup.yml's default folder

    @classmethod
    def of(cls, variables: dict[str, Any]) -> LaptopPaths:
        user = variables["ansible_user"]
        home = f"/home/{user}"
        root = variables["integrador_root"].replace("~", home, 1)
        backend = f"{root}/backend"
        return cls(
            user=user,
            home=home,
            root=root,
            backend=backend,
            venv=f"{backend}/.venv",
            venv_python=f"{backend}/.venv/bin/python",
            env_file=f"{backend}/.env",
            requirements=f"{backend}/requirements.txt",
            state_dir=f"{home}/.local/state/integrador",
            units_dir=f"{home}/.config/systemd/user",
            backups=f"{home}/integrador-backups",
        )


@pytest.fixture(scope="session")
def paths(test_vars: dict[str, Any]) -> LaptopPaths:
    """The laptop's paths for this scenario (LaptopPaths)."""
    return LaptopPaths.of(test_vars)


@pytest.fixture(scope="module")
def api(test_vars: dict[str, Any]) -> str:
    """Base URL of the REST API the scenario converged."""
    return f"http://127.0.0.1:{test_vars['app_services_api_port']}"


@pytest.fixture(scope="module")
def gateway(test_vars: dict[str, Any]) -> str:
    """Base URL of the WebSocket gateway the scenario converged."""
    return f"http://127.0.0.1:{test_vars['app_services_ws_port']}"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


class ConvergeResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr

    @property
    def changed(self) -> int:
        for line in self.output.splitlines():
            if "changed=" in line and ("ok=" in line):
                return int(line.split("changed=")[1].split()[0])
        raise AssertionError(f"no PLAY RECAP in output:\n{self.output}")

    def failure(self) -> str:
        """The task that failed and its message, on one line: pytest's short summary (all that CI
        keeps of a failed run) shows the first line of an assertion's message."""
        task = ""
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                task = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith("fatal: [") or ("FAILED!" in line and line.startswith("failed: [")):
                return f", failed: {task}: {' '.join(line.split())[:400]}"
        return ""

    def __repr__(self) -> str:
        return f"ConvergeResult(rc={self.rc}{self.failure() if self.rc else ''})\n{self.output[-4000:]}"


def playbook_command(
    playbook: Path, extra_vars: dict[str, Any] | None = None, *args: str
) -> tuple[list[str], dict[str, str]]:
    """The ansible-playbook command and environment molecule would use for the scenario's instances."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_LIBRARY=str(PROJECT / "library"),
        ANSIBLE_MODULE_UTILS=str(PROJECT / "module_utils"),
        ANSIBLE_FILTER_PLUGINS=str(PROJECT / "filter_plugins"),
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", yaml.safe_dump({key: value}, default_flow_style=True).strip()]
    return cmd + list(args), env


def run_playbook(playbook: Path, extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    cmd, env = playbook_command(playbook, extra_vars, *args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
    return ConvergeResult(proc)


def scenario_converge() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"


# Scenarios whose tests run converge.yml as a developer runs make dev: dev.yml's fast path on.
# Molecule's own converge and idempotence steps keep it off (molecule/shared/group_vars), so a
# scenario's changed=0 is always the full converge's, never the fast path's answer.
DEVELOPER_RUNS = {"default", "faults"}


@pytest.fixture(scope="session")
def converge() -> Callable[..., ConvergeResult]:
    """Run the scenario's converge.yml again, with extra variables (which win)."""
    developer = os.environ.get("MOLECULE_SCENARIO_NAME") in DEVELOPER_RUNS

    def _converge(extra_vars: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
        base: dict[str, Any] = {"integrador_fast_path": True} if developer else {}
        return run_playbook(scenario_converge(), {**base, **(extra_vars or {})}, *args)

    return _converge


def listening(host: Any, port: int) -> bool:
    """Whether anything on the laptop listens on the TCP port (any address)."""
    return host.run(f"ss -Hltn 'sport = :{port}' | grep -q .").rc == 0


@contextlib.contextmanager
def occupied_port(host: Any, address: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """A port on the laptop's loopback (`127.0.0.1` or `::1`; a free one unless given), held by
    another program (a plain python3 listener, as a developer's own server would) while in use."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if not port:
        with socket.socket(family) as probe:
            probe.bind((address, 0))
            port = probe.getsockname()[1]
    # SO_REUSEADDR: a port a service just left (its connections in TIME_WAIT) is taken too.
    squatter = (
        f"import socket,time; s=socket.socket(socket.{family.name}); "
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); "
        f"s.bind(('{address}',{port})); s.listen(); time.sleep(120)"
    )
    host.run(f'nohup python3 -c "{squatter}" >/dev/null 2>&1 &')
    deadline = time.monotonic() + 10
    while not listening(host, port):
        assert time.monotonic() < deadline, f"the stand-in program did not take port {port}"
        time.sleep(0.2)
    try:
        yield port
    finally:
        # [b]: not the shell running pkill, whose command line holds the pattern too.
        host.run(f"pkill -f '[b]ind.*{address}.,{port}'")


@contextlib.contextmanager
def scratch_container(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], role: str
) -> Iterator[tuple[str, str, int]]:
    """(name, volume, free port) for a second container of a role beside the scenario's own
    (`<container name>_broken`, `<volume>_broken`); both are removed afterwards, whatever the test
    made of them."""
    name = f"{test_vars[f'{role}_container_name']}_broken"
    volume = f"{test_vars[f'{role}_volume']}_broken"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    try:
        yield name, volume, port
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(name).remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(volume).remove(force=True)


# --- the example playbooks of the roles' READMEs -------------------------------------------------
EXAMPLE_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_examples(role: str) -> list[list[dict[str, Any]]]:
    """Every example playbook in roles/<role>/README.md (its ```yaml blocks), as plays. A block
    that is only a list of role entries (no `hosts`) is a variant of the block before it, as
    the README reads it: that playbook with these roles."""
    examples: list[list[dict[str, Any]]] = []
    for block in EXAMPLE_BLOCK.findall((PROJECT / "roles" / role / "README.md").read_text()):
        parsed = yaml.safe_load(block)
        if all("hosts" in play for play in parsed):
            examples.append(parsed)
        else:
            assert examples, f"roles/{role}/README.md: a block of role entries with no playbook before it"
            examples.append([{**play, "roles": parsed} for play in examples[-1]])
    assert examples, f"roles/{role}/README.md has no example playbook"
    return examples


def run_readme_example(plays: list[dict[str, Any]], folder: Path, *args: str) -> ConvergeResult:
    """Run a README example for real on the scenario's laptop, which stands in for the developer's
    machine (`hosts: localhost` becomes the inventory's hosts). The example's own settings are
    kept; what it does not set comes from the scenario's inventory (the test images, names and
    ports of molecule/shared/group_vars) and its own vars/main.yml."""
    own: set[str] = set()
    for play in plays:
        own |= set(play.get("vars") or {})
        for entry in play.get("roles") or []:
            own |= set(entry.get("vars") or {}) if isinstance(entry, dict) else set()
    laptop_plays = [
        {**play, "hosts": "all" if play["hosts"] == "localhost" else play["hosts"]} for play in plays
    ]
    # At the checkout's root, where a user keeps such a playbook: an example's relative paths
    # (playbooks/tasks/preflight_stack.yml) resolve as they do for them.
    playbook = PROJECT / f".readme_example_{os.getpid()}_{folder.name}.yml"
    playbook.write_text(yaml.safe_dump(laptop_plays, sort_keys=False))
    extra: list[str] = []
    scenario_file = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "vars" / "main.yml"
    if scenario_file.is_file():
        settings = {
            k: v for k, v in (yaml.safe_load(scenario_file.read_text()) or {}).items() if k not in own
        }
        (folder / "scenario_vars.yml").write_text(yaml.safe_dump(settings))
        extra = ["-e", f"@{folder / 'scenario_vars.yml'}"]
    try:
        return run_playbook(playbook, None, *extra, *args)
    finally:
        playbook.unlink(missing_ok=True)


# --- the laptop: files, user units ----------------------------------------------------------------
def read_env(host: Any, path: str) -> dict[str, str]:
    """The KEY=value lines of a .env file on the laptop, in order, values as written."""
    lines = host.file(path).content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def systemctl(host: Any, *args: str) -> str:
    """systemctl --user as the developer (the test host's user), stdout stripped."""
    return host.run(f"{USER_ENV} systemctl --user {' '.join(args)}").stdout.strip()


def unit_state(host: Any, unit: str) -> tuple[str, str]:
    """(is-active, is-enabled) of a user unit."""
    return systemctl(host, "is-active", unit), systemctl(host, "is-enabled", unit)


def main_pid(host: Any, unit: str) -> int:
    """The main process of a user unit (0 when it runs none)."""
    return int(systemctl(host, "show", "--property=MainPID", "--value", unit) or 0)


def journal(host: Any, unit: str, lines: int = 40) -> str:
    """The last lines of a user unit's journal, headed, for a failure message."""
    out = host.run(f"{USER_ENV} journalctl --user --unit {unit} --lines {lines} --no-pager").stdout
    return f"\n--- journal of {unit} ---\n{out}"


# --- the services and the stores, with real clients -----------------------------------------------
def wait_healthy(url: str, timeout: float = 20) -> requests.Response | None:
    """The first 200 answer of url within timeout s (None when none came): a service that is
    (re)starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=3)
            if response.status_code == 200:
                return response
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return None


def pg_connect(
    test_vars: dict[str, Any],
    password: str = "postgres",
    host: str = "127.0.0.1",
    dbname: str = "menu_ops",
    autocommit: bool = True,
) -> psycopg2.extensions.connection:
    """A psycopg2 connection to the scenario's PostgreSQL on its published port, as the roles'
    default user (postgres) to their default database (menu_ops)."""
    connection = psycopg2.connect(
        host=host,
        port=test_vars["postgres_pgvector_port"],
        dbname=dbname,
        user="postgres",
        password=password,
        connect_timeout=5,
    )
    connection.autocommit = autocommit
    return connection


def sql(
    test_vars: dict[str, Any], query: str, dbname: str = "menu_ops", password: str = "postgres"
) -> list[tuple[Any, ...]]:
    """Run one statement on the scenario's database; its rows (none for a command)."""
    connection = pg_connect(test_vars, password=password, dbname=dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def redis_client(
    test_vars: dict[str, Any], password: str | None = None, host: str = "127.0.0.1"
) -> redis.Redis:
    """A Redis client of the scenario's Redis on its published port (strings decoded)."""
    return redis.Redis(
        host=host, port=test_vars["redis_port"], password=password, socket_timeout=5, decode_responses=True
    )


def container(docker_client: docker.DockerClient, test_vars: dict[str, Any], role: str) -> Any:
    """The container a role made, by its name in the test vars (`<role>_container_name`)."""
    return docker_client.containers.get(test_vars[f"{role}_container_name"])


# Docker's healthcheck of both containers runs every 10 s (roles/*/vars/main.yml): a container
# started a moment ago is "starting" to Docker until its first check, while it already answers.
HEALTH_INTERVAL = 10


def docker_health(docker_client: docker.DockerClient, name: str) -> str:
    """Docker's health status of a container once its healthcheck has judged it ("starting"
    ends at the first check that passes, or after three that fail): waits up to three intervals."""
    deadline = time.monotonic() + 3 * HEALTH_INTERVAL + 5
    while True:
        status = docker_client.containers.get(name).attrs["State"].get("Health", {}).get("Status", "")
        if status != "starting" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def ran_under(output: str, task: str) -> str:
    """The result lines (ok, changed, fatal) under every banner of a task; empty when skipped."""
    lines = []
    for block in output.split("TASK [")[1:]:
        if block.startswith(task):
            lines += [line for line in block.splitlines() if line.startswith(("ok:", "changed:", "fatal:"))]
    return "\n".join(lines)


# --- task names a test asserts did not run -------------------------------------------------------
def _task_names() -> set[str]:
    names: set[str] = set()

    def walk(items: Any) -> None:
        for task in items if isinstance(items, list) else []:
            if isinstance(task, dict):
                if "name" in task:
                    names.add(str(task["name"]))
                for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
                    walk(task.get(key))

    files = [*PROJECT.glob("roles/*/tasks/*.yml"), *PROJECT.glob("roles/*/handlers/*.yml")]
    files += [*PROJECT.glob("playbooks/*.yml"), *PROJECT.glob("playbooks/tasks/*.yml")]
    for path in files:
        walk(yaml.safe_load(path.read_text()))
    return names


TASK_NAMES = _task_names()


def known_task(fragment: str) -> str:
    """The fragment itself, once a task of the roles or playbooks is proven to have it in its
    name: a test that asserts a task did NOT run proves nothing when the name no longer exists
    (a renamed task would make it pass whatever happens)."""
    assert any(fragment in name for name in TASK_NAMES), f"no task of the tool is named with {fragment!r}"
    return fragment


FAST_PATH_GATE = "Stack is as the last converge left it, and answers (fast path)"
PREFLIGHT_TASK = "Docker, ports, checkout, Python, user manager and disk are ready"


def ran_tasks(output: str) -> list[str]:
    """Names of the tasks with a result other than skipping, from the default callback's output."""
    ran = []
    for block in output.split("\nTASK [")[1:]:
        name, _, body = block.partition("]")
        if re.search(r"^(ok|changed|fatal): ", body, re.MULTILINE):
            ran.append(name)
    return ran


def took_fast_path(result: ConvergeResult) -> bool:
    """Whether a dev.yml run ended after the fast path's check (no preflight, no role ran)."""
    ran = ran_tasks(result.output)
    assert known_task(FAST_PATH_GATE) in ran, result
    return not [name for name in ran if known_task(PREFLIGHT_TASK) in name]
