"""Personal settings in inventory/group_vars/all/local.yml, and the names and ports that
integrador_instance gives every part, read by the real ansible-playbook from the real
inventory folder (a copy, so the developer's own local.yml is never touched)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL = "inventory/group_vars/all/local.yml"
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)


def test_local_settings_file_is_ignored_by_git_and_its_template_tracked() -> None:
    assert git("check-ignore", "--quiet", LOCAL).returncode == 0
    assert git("check-ignore", "--quiet", f"{LOCAL}.example").returncode == 1
    assert git("ls-files", "--error-unmatch", f"{LOCAL}.example").returncode == 0


def names(
    tmp_path: Path, local: str | None = None, example: str | None = None, *extra: str
) -> dict[str, object]:
    """What the day-two playbooks name and publish, with local.yml (and a local.yml.example)
    holding the given text, through the same group_vars folder make uses."""
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inventory)
    (inventory / "group_vars/all/local.yml").unlink(missing_ok=True)
    if local is not None:
        (inventory / "group_vars/all/local.yml").write_text(local)
    if example is not None:
        (inventory / "group_vars/all/local.yml.example").write_text(example)
    out = tmp_path / "names.json"
    playbook = tmp_path / "names.yml"
    playbook.write_text(
        "- name: Names are read\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        f"    - ansible.builtin.import_tasks: {REPO}/playbooks/tasks/stack_settings.yml\n"
        # The backup folder as the day_two role derives it (its own vars file).
        f"    - ansible.builtin.include_vars: {REPO}/roles/day_two/vars/main.yml\n"
        "    - ansible.builtin.copy:\n"
        "        dest: " + str(out) + "\n"
        "        mode: '0600'\n"
        "        content: >-\n"
        "          {{ {'db': postgres_pgvector_container_name, 'db_volume': postgres_pgvector_volume,\n"
        "              'db_port': postgres_pgvector_port, 'redis': redis_container_name,\n"
        "              'redis_volume': redis_volume, 'redis_port': redis_port,\n"
        "              'api_port': app_services_api_port, 'ws_port': app_services_ws_port,\n"
        "              'units': [app_services_units.services.api.unit,\n"
        "                        app_services_units.services.ws.unit],\n"
        "              'supervisor_dir': app_services_supervisor_dir,\n"
        "              'backups': _day_two_backup_base} | to_json }}\n"
    )
    proc = subprocess.run(
        [str(PLAYBOOK_BIN), "-i", str(inventory / "hosts.yml"), str(playbook), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


DEFAULT = {
    "db": "integrador_db",
    "db_volume": "integrador_pgdata",
    "db_port": 5432,
    "redis": "integrador_redis",
    "redis_volume": "integrador_redisdata",
    "redis_port": 6380,
    "api_port": 8000,
    "ws_port": 8001,
    "units": ["integrador-api.service", "integrador-ws.service"],
    "supervisor_dir": "~/.local/state/integrador/supervisor",
    "backups": "~/integrador-backups",
}


def test_without_an_instance_every_name_and_port_is_todays(tmp_path: Path) -> None:
    """Existing volumes, units and backups are found after an upgrade."""
    assert names(tmp_path) == DEFAULT


def test_a_value_in_local_yml_takes_effect_and_the_example_is_never_loaded(tmp_path: Path) -> None:
    found = names(
        tmp_path,
        local="integrador_instance: b\nredis_port: 7000\n",
        example="integrador_instance: from-the-example\npostgres_pgvector_port: 1\n",
    )
    offset = found["db_port"] - 5432  # type: ignore[operator]
    assert found == {
        "db": "integrador_b_db",
        "db_volume": "integrador_b_pgdata",
        "db_port": 5432 + offset,
        "redis": "integrador_b_redis",
        "redis_volume": "integrador_b_redisdata",
        # An explicit port wins over the offset.
        "redis_port": 7000,
        "api_port": 8000 + offset,
        "ws_port": 8001 + offset,
        "units": ["integrador-b-api.service", "integrador-b-ws.service"],
        "supervisor_dir": "~/.local/state/integrador-b/supervisor",
        "backups": "~/integrador-b-backups",
    }
    assert 10 <= offset <= 990 and offset % 10 == 0


def test_command_line_instance_wins_over_local_yml(tmp_path: Path) -> None:
    found = names(
        tmp_path,
        "integrador_instance: b\n",
        None,
        "-e",
        "integrador_instance=c",
        "-e",
        "integrador_port_offset=100",
    )
    assert (found["db"], found["db_port"], found["redis_port"], found["api_port"]) == (
        "integrador_c_db",
        5532,
        6480,
        8100,
    )


@pytest.mark.parametrize("pair", [("b", "c"), ("feature-1", "feature-2"), ("main", "review")])
def test_two_instances_share_no_name_and_no_port(tmp_path: Path, pair: tuple[str, str]) -> None:
    first, second = (names(tmp_path / n, f"integrador_instance: {n}\n") for n in pair)
    for one in (first, second):
        ports = {one["db_port"], one["redis_port"], one["api_port"], one["ws_port"]}
        used = ports | {DEFAULT["db_port"], DEFAULT["redis_port"], DEFAULT["api_port"], DEFAULT["ws_port"]}
        assert len(used) == 8, one
    for key in DEFAULT:
        assert first[key] != second[key], key


@pytest.mark.parametrize("bad", ["B", "-b", "a b", "b_2", "x" * 21, "é"])
def test_bad_instance_is_refused_naming_the_variable(tmp_path: Path, bad: str) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inventory)
    (inventory / "group_vars/all/local.yml").write_text(json.dumps({"integrador_instance": bad}))
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        "- name: Instance is checked\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.import_tasks: {REPO}/playbooks/tasks/instance.yml\n"
    )
    proc = subprocess.run(
        [str(PLAYBOOK_BIN), "-i", str(inventory / "hosts.yml"), str(playbook)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "integrador_instance must be empty (the default stack) or up to 20 lowercase letters" in proc.stdout
    )
    assert "Traceback" not in proc.stdout + proc.stderr
