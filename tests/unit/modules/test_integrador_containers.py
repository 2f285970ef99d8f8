"""library/integrador_containers.py, run as Ansible runs it, against this machine's real engine:
containers started here (itest_containers_*) are inspected in one module run; the docker CLI's
`docker inspect` is the witness of what the engine holds. The results have the shape the day-two
filters read (item, exists, container; failed and msg for an engine that does not answer)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_adhoc import repo_env, run_module

IMAGE = "integrador-test/base:trixie"  # tests/images/build.sh
ENGINE = "unix:///var/run/docker.sock"
SECRET = "itest-containers-secret-7Qw"


def cli(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def running() -> Iterator[str]:
    name = f"itest_containers_{uuid.uuid4().hex[:10]}"
    cli("run", "-d", "--name", name, "-e", f"ITEST_SECRET={SECRET}", IMAGE, "sleep", "600")
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@pytest.fixture
def stopped() -> Iterator[str]:
    name = f"itest_containers_{uuid.uuid4().hex[:10]}"
    cli("create", "--name", name, IMAGE, "true")
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_each_container_is_inspected_in_order_as_the_engine_holds_it(running: str, stopped: str) -> None:
    missing = f"itest_containers_none_{uuid.uuid4().hex[:10]}"
    wanted = [
        {"name": running, "docker_host": ENGINE, "holds": "kept as given"},
        {"name": missing, "docker_host": ENGINE},
        {"name": stopped, "docker_host": ""},  # the endpoint the docker CLI would use
    ]
    run = run_module("integrador_containers", {"containers": wanted}, "--check")
    assert run.rc == 0, run.output
    result = run.result
    assert result["changed"] is False
    first, second, third = result["inspected"]
    assert [r["item"] for r in result["inspected"]] == wanted
    witness = json.loads(cli("inspect", running))[0]
    assert first["exists"] is True
    assert first["container"]["Id"] == witness["Id"]
    assert first["container"]["State"]["Running"] is True
    assert first["container"]["Config"]["Env"] == witness["Config"]["Env"]
    assert second["exists"] is False and second["container"] is None
    assert third["exists"] is True
    assert third["container"]["Id"] == json.loads(cli("inspect", stopped))[0]["Id"]
    assert third["container"]["State"]["Running"] is False
    assert not any("failed" in r for r in result["inspected"])


def test_an_engine_that_does_not_answer_fails_naming_it_and_gives_each_its_result(
    running: str, tmp_path: Path
) -> None:
    dead = f"unix://{tmp_path}/no.sock"
    wanted = [
        {"name": "a", "docker_host": dead},
        {"name": running, "docker_host": ENGINE},
        {"name": "b", "docker_host": dead},
    ]
    run = run_module("integrador_containers", {"containers": wanted})
    assert run.rc != 0
    result = run.result
    assert result["failed"] is True
    assert (
        f"Cannot inspect the container a: Cannot reach the Docker engine at {dead} (there is no socket"
        in (result["msg"])
    ), result
    one, two, three = result["inspected"]
    assert one["failed"] is True and three["failed"] is True and one["msg"] == three["msg"]
    assert "exists" not in one and "exists" not in three
    # The engine that answers is still read.
    assert two["exists"] is True and "failed" not in two


def test_an_entry_without_a_name_is_refused() -> None:
    run = run_module("integrador_containers", {"containers": [{"docker_host": ENGINE}, {"name": ""}]})
    assert run.rc != 0
    assert "Each entry of containers needs a name (entries [0, 1] have none)." in run.result["msg"], (
        run.result
    )


def test_no_log_hides_the_inspection_even_with_vvv(running: str, tmp_path: Path) -> None:
    """The inspection holds the container's environment (POSTGRES_PASSWORD, --requirepass): the
    day-two verbs register it with no_log. Ansible keeps a result's `results` key through no_log
    (a loop's), so the module must not return the list under that name."""
    playbook = tmp_path / "inspect.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Containers are inspected\n      integrador_containers:\n"
        f"        containers: [{{name: {running}, docker_host: '{ENGINE}'}}]\n"
        "      register: found\n      no_log: true\n"
        "    - name: The inspection is there\n      ansible.builtin.assert:\n"
        f"        that: \"'ITEST_SECRET={SECRET}' in found.inspected[0].container.Config.Env\"\n"
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-vvv",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        env=repo_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "censored" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
