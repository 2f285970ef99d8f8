"""The preflight takes only its own documented inputs (issue 14). The real ansible-playbook runs
the real preflight role and playbooks/tasks/preflight_stack.yml on this machine against the real
Docker engine: alone with no inputs; with a documented setting of another role that is not in the
play; each part alone gathers exactly its role's preflight_input; --tags / --skip-tags decide which
parts are checked, so an occupied port of a part left out is not reported. Nothing is created: the
containers named here never exist (the preflight only inspects)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = "/var/run/docker.sock"
STACK = REPO / "playbooks" / "tasks" / "preflight_stack.yml"
INPUT_FACTS = {
    "db": "postgres_pgvector_preflight_input",
    "redis": "redis_preflight_input",
    "python": "python_env_preflight_input",
    "services": "app_services_preflight_input",
}
# What the run gathered and what the preflight read, as JSON (keys and names only: no secret).
REPORT = """
    - name: What was gathered and checked is written out
      ansible.builtin.copy:
        content: >-
          {{ {'inputs': [@NAMES@] | zip([@DEFINED@]) | selectattr('1') | map(attribute='0') | list,
              'parts': (app_services_preflight_input | default({})).parts | default([]),
              'units': (app_services_preflight_input | default({})).units | default([])
                       | selectattr('port') | map(attribute='unit') | list,
              'state': preflight_state.keys() | list,
              'containers': (preflight_state.containers | default({})).keys() | sort} | to_json }}
        dest: "{{ lookup('ansible.builtin.env', 'OUT') }}"
        mode: "0600"
      tags: [always]
""".replace("@NAMES@", ", ".join(f"'{name}'" for name in INPUT_FACTS.values())).replace(
    "@DEFINED@", ", ".join(f"{name} is defined" for name in INPUT_FACTS.values())
)
STACK_PLAYBOOK = f"""
- name: Shared preflight
  hosts: localhost
  gather_facts: false
  vars:
    postgres_pgvector_container_name: itest_preflightc_unit_db
    redis_container_name: itest_preflightc_unit_redis
    preflight_min_free_docker_mb: 0
  tasks:
    - name: Preflight
      ansible.builtin.import_tasks: {STACK}
{REPORT}
"""

pytestmark = pytest.mark.skipif(not Path(ENGINE).is_socket(), reason=f"no Docker engine at {ENGINE}")


def run(tmp_path: Path, playbook: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    path = tmp_path / "playbook.yml"
    path.write_text(playbook)
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            str(path),
            "-e",
            json.dumps(
                {"ansible_python_interpreter": sys.executable, "integrador_docker_host": f"unix://{ENGINE}"}
            ),
            *args,
        ],
        cwd=REPO,
        env={**os.environ, "OUT": str(out), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return proc, json.loads(out.read_text()) if out.exists() else {}


@contextmanager
def occupied_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by this test process (no container of the stack)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_preflight_alone_with_no_inputs_checks_nothing(tmp_path: Path) -> None:
    playbook = """
- name: Preflight alone
  hosts: localhost
  gather_facts: false
  roles:
    - preflight
  tasks:
    - name: What the preflight read is written out
      ansible.builtin.copy:
        content: "{{ {'state': preflight_state} | to_json }}"
        dest: "{{ lookup('ansible.builtin.env', 'OUT') }}"
        mode: "0600"
"""
    proc, seen = run(tmp_path, playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen == {"state": {}}
    assert "Docker, ports, checkout, Python" not in proc.stdout, proc.stdout


@pytest.mark.parametrize(
    "setting",
    [
        {"python_env_min_version": "3.10"},
        {"redis_password": "itest-not-printed"},
    ],
)
def test_preflight_with_a_setting_of_a_role_not_in_the_play_never_reads_it(
    tmp_path: Path, setting: dict
) -> None:
    """The reported failure: the preflight guessed python_env was in the play from one of its
    settings, then read python_env_python ('python_env_python' is undefined)."""
    playbook = f"""
- name: Preflight with another role's setting
  hosts: localhost
  gather_facts: false
  vars: {json.dumps(setting)}
  roles:
    - preflight
"""
    proc, _ = run(tmp_path, playbook)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "is undefined" not in output and "No variable named" not in output, output
    assert "itest-not-printed" not in output


@pytest.mark.parametrize(
    ("parts", "inputs", "containers"),
    [
        (["db"], ["postgres_pgvector_preflight_input"], ["itest_preflightc_unit_db"]),
        (["redis"], ["redis_preflight_input"], ["itest_preflightc_unit_redis"]),
        (["python"], ["python_env_preflight_input"], []),
        (["api"], ["app_services_preflight_input"], []),
        (["ws"], ["app_services_preflight_input"], []),
        ([], [], []),
    ],
)
def test_each_part_alone_gathers_exactly_its_input(
    tmp_path: Path, parts: list[str], inputs: list[str], containers: list[str]
) -> None:
    proc, seen = run(tmp_path, STACK_PLAYBOOK, "-e", json.dumps({"preflight_stack_parts": parts}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen["inputs"] == inputs
    assert seen["containers"] == containers
    services = [part for part in parts if part in ("api", "ws")]
    assert seen["parts"] == services
    # Both units are read (the role needs their state); only the service asked for has its port checked.
    assert seen["units"] == [f"integrador-{name}.service" for name in services]
    if parts:
        assert f"user manager and disk are ready ({', '.join(parts)})" in proc.stdout, proc.stdout


@pytest.mark.parametrize(
    ("args", "inputs", "services", "containers"),
    [
        (
            [],
            list(INPUT_FACTS.values()),
            ["api", "ws"],
            ["itest_preflightc_unit_db", "itest_preflightc_unit_redis"],
        ),
        (
            ["--tags", "api"],
            list(INPUT_FACTS.values()),
            ["api"],
            ["itest_preflightc_unit_db", "itest_preflightc_unit_redis"],
        ),
        (
            ["--tags", "ws"],
            ["redis_preflight_input", "python_env_preflight_input", "app_services_preflight_input"],
            ["ws"],
            ["itest_preflightc_unit_redis"],
        ),
        (
            ["--skip-tags", "docker"],
            ["python_env_preflight_input", "app_services_preflight_input"],
            ["api", "ws"],
            [],
        ),
    ],
)
def test_tags_decide_which_parts_are_checked(
    tmp_path: Path, args: list[str], inputs: list[str], services: list[str], containers: list[str]
) -> None:
    proc, seen = run(tmp_path, STACK_PLAYBOOK, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen["inputs"] == inputs
    assert seen["parts"] == services
    assert seen["containers"] == containers


def test_occupied_port_of_a_part_left_out_is_not_reported(tmp_path: Path) -> None:
    """The same occupied ports stop the full run, each named with its variable; `--tags ws`
    reports Redis' port only, `--skip-tags docker` neither."""
    with occupied_port() as db_port, occupied_port() as redis_port:
        ports = json.dumps({"postgres_pgvector_port": db_port, "redis_port": redis_port})
        full, _ = run(tmp_path, STACK_PLAYBOOK, "-e", ports)
        ws, _ = run(tmp_path, STACK_PLAYBOOK, "-e", ports, "--tags", "ws")
        no_docker, _ = run(tmp_path, STACK_PLAYBOOK, "-e", ports, "--skip-tags", "docker")
    assert full.returncode != 0, full.stdout
    for port, var in ((db_port, "postgres_pgvector_port"), (redis_port, "redis_port")):
        assert f"Port {port} on 127.0.0.1 is already taken" in full.stdout, full.stdout
        assert f"set {var} to a free port" in full.stdout, full.stdout
    assert ws.returncode != 0, ws.stdout
    assert "Preflight found 1 problem" in ws.stdout or "set redis_port to a free port" in ws.stdout, ws.stdout
    assert f"Port {redis_port} on 127.0.0.1 is already taken" in ws.stdout, ws.stdout
    assert str(db_port) not in ws.stdout and "postgres_pgvector_port" not in ws.stdout, ws.stdout
    assert no_docker.returncode == 0, no_docker.stdout + no_docker.stderr
    assert str(db_port) not in no_docker.stdout and str(redis_port) not in no_docker.stdout, no_docker.stdout


def test_no_role_reads_preflight_state_and_the_preflight_reads_no_other_role() -> None:
    """The contract (issue 14), on the files: the roles take what the preflight read as their own
    documented inputs; the preflight role names no variable of another role (its code: tasks,
    vars, defaults; the documentation may name them)."""
    others = ("postgres_pgvector", "redis", "python_env", "app_services", "ollama")
    code = [
        p
        for part in ("tasks", "vars", "defaults", "handlers")
        for p in (REPO / "roles").glob(f"*/{part}/*.yml")
    ]
    assert code
    for path in code:
        # Comments may say where a value comes from; the code may not read it.
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        if path.is_relative_to(REPO / "roles" / "preflight"):
            for role in others:
                assert f"{role}_" not in text, f"{path} reads a variable of {role}"
        else:
            assert "preflight_state" not in text, f"{path} reads preflight_state"


def test_env_extra_values_that_are_not_text_are_refused_before_anything_changes(tmp_path: Path) -> None:
    """Issue 23, 5: YAML's null, false, 1.10 and a list reached .env as None, False, 1.1 and
    ['a', 'b']. Each is now named with the quoting to use; text (a quoted "1.10", a template
    that renders text) passes. The real preflight, as dev.yml runs it."""
    extra = (
        "{python_env_env_extra: {SENTRY_DSN: , FEATURE_X: false, VERSION: 1.10, HOSTS: [a, b],"
        ' GOOD: "1.10", BROKER: "redis://127.0.0.1:{{ 6380 }}/2"}}'
    )
    proc, _ = run(tmp_path, STACK_PLAYBOOK, "-e", extra, "--tags", "python")
    assert proc.returncode != 0, proc.stdout
    for key, why in (
        ("SENTRY_DSN", "is empty"),
        ("FEATURE_X", "is a boolean"),
        ("VERSION", "is a number"),
        ("HOSTS", "is a list or a mapping"),
    ):
        assert f"python_env_env_extra.{key} {why}" in proc.stdout, proc.stdout
    assert "GOOD" not in proc.stdout and "BROKER" not in proc.stdout, proc.stdout
    assert 'VERSION: "1.10"' in proc.stdout and 'FEATURE_X: "false"' in proc.stdout, proc.stdout
    fine, _ = run(
        tmp_path, STACK_PLAYBOOK, "-e", '{python_env_env_extra: {GOOD: "1.10"}}', "--tags", "python"
    )
    assert "Values written into files are text" in fine.stdout and "python_env_env_extra." not in fine.stdout


@pytest.mark.parametrize("version", [">=3.11", "3.x", "3.11+", "three"])
def test_a_min_version_in_another_form_is_named_with_the_form_it_takes(tmp_path: Path, version: str) -> None:
    """Issue 23, 5: `python_env_min_version: ">=3.11"` stopped the preflight with
    "invalid literal for int() with base 10: '>=3'"."""
    proc, _ = run(
        tmp_path, STACK_PLAYBOOK, "-e", json.dumps({"python_env_min_version": version}), "--tags", "python"
    )
    assert proc.returncode != 0
    assert 'python_env_min_version takes a version such as \\"3.11\\"' in proc.stdout or (
        'python_env_min_version takes a version such as "3.11"' in proc.stdout
    ), proc.stdout
    assert "invalid literal" not in proc.stdout + proc.stderr
