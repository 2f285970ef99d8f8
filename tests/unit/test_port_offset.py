"""The instance port offset (filter_plugins/integrador_instance.py), the one implementation
every role's default ports use: it gives what the expression it replaced gave (rendered by
Ansible's own templar), and the properties the day2 scenario's instances rely on."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader
from ansible.template import Templar, trust_as_template
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
filter_loader.add_directory(str(REPO / "filter_plugins"))

_spec = importlib.util.spec_from_file_location(
    "integrador_instance", REPO / "filter_plugins/integrador_instance.py"
)
assert _spec and _spec.loader
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)
instance_port_offset = _plugin.instance_port_offset

# What the four roles' defaults computed before the filter (kept here as the reference).
OLD_EXPRESSION = (
    "{{ (integrador_port_offset | default((integrador_instance | default('', true) | hash('md5'))[:4]"
    " | int(base=16) % 99 * 10 + 10 if integrador_instance | default('', true) else 0) | int) }}"
)
NEW_EXPRESSION = (
    "{{ integrador_instance | default('', true)"
    " | integrador_instance_port_offset(integrador_port_offset | default(none)) }}"
)
# Names instance.yml lets through, and anything else a user may type.
instance_names = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,19}\Z")
any_instance = st.one_of(instance_names, st.text(max_size=30), st.none(), st.integers(), st.just(""))
explicit_offsets = st.one_of(
    st.integers(min_value=0, max_value=57000), st.integers(min_value=0, max_value=57000).map(str)
)


def render(expression: str, variables: dict[str, Any]) -> Any:
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


@given(instance=any_instance, explicit=st.one_of(st.none(), explicit_offsets))
def test_filter_gives_what_the_old_expression_gave(instance: Any, explicit: Any) -> None:
    variables: dict[str, Any] = {"integrador_instance": instance}
    if explicit is not None:
        variables["integrador_port_offset"] = explicit
    assert render(NEW_EXPRESSION, variables) == render(OLD_EXPRESSION, variables)


@given(instance=instance_names)
def test_same_instance_gives_the_same_offset_in_range(instance: str) -> None:
    offset = instance_port_offset(instance)
    assert offset == instance_port_offset(instance)
    assert 10 <= offset <= 990 and offset % 10 == 0


@pytest.mark.parametrize("default_stack", ["", None])
def test_default_instance_has_no_offset(default_stack: str | None) -> None:
    assert instance_port_offset(default_stack) == 0
    assert render(NEW_EXPRESSION, {}) == 0


@given(instance=st.one_of(instance_names, st.just("")), explicit=explicit_offsets)
def test_explicit_offset_wins(instance: str, explicit: int | str) -> None:
    assert instance_port_offset(instance, explicit) == int(explicit)


@given(instance=instance_names)
def test_every_port_of_a_named_instance_stays_in_range(instance: str) -> None:
    # The highest default port (Ollama's 11434) plus the largest hashed offset stays a port.
    assert 11434 + instance_port_offset(instance) <= 65535


@pytest.mark.parametrize(
    "defaults", sorted((REPO / "roles").glob("*/defaults/main.yml")), ids=lambda p: p.parts[-3]
)
def test_roles_use_the_filter_not_a_copy_of_the_expression(defaults: Path) -> None:
    text = defaults.read_text()
    assert "hash('md5')" not in text, f"{defaults}: use integrador_instance_port_offset"
    for key, value in (yaml.safe_load(text) or {}).items():
        if re.fullmatch(r".*_port", key) and isinstance(value, str) and "integrador_instance" in value:
            assert "integrador_instance_port_offset(" in value, key


PORTS = {
    "postgres_pgvector": ("postgres_pgvector_port", 5432),
    "redis": ("redis_port", 6380),
    "app_services": ("app_services_api_port", 8000),
    "ollama": ("ollama_port", 11434),
}


@pytest.mark.parametrize("instance, explicit", [("", None), ("b", None), ("feature-1", None), ("b", 100)])
def test_real_ansible_renders_every_roles_default_ports(
    tmp_path: Path, instance: str, explicit: int | None
) -> None:
    """The roles' defaults as ansible-playbook reads them, with the filter found through ansible.cfg."""
    tasks = [
        {"ansible.builtin.include_vars": str(REPO / "roles" / role / "defaults/main.yml")} for role in PORTS
    ]
    tasks.append(
        {
            "ansible.builtin.copy": {
                "dest": str(tmp_path / "ports.json"),
                "mode": "0600",
                "content": "{{ {"
                + ", ".join(f"'{role}': {var}" for role, (var, _) in PORTS.items())
                + "} | to_json }}",
            }
        }
    )
    playbook = tmp_path / "ports.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": "Ports", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    )
    extra = {"integrador_instance": instance, "ansible_python_interpreter": sys.executable}
    if explicit is not None:
        extra["integrador_port_offset"] = explicit
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            json.dumps(extra),
            str(playbook),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    offset = explicit if explicit is not None else render(OLD_EXPRESSION, {"integrador_instance": instance})
    ports = json.loads((tmp_path / "ports.json").read_text())
    assert ports == {role: base + offset for role, (_, base) in PORTS.items()}
