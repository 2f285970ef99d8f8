"""Every example playbook in a role's README is run by a Molecule test (molecule/conftest.py's
readme_examples / run_readme_example, on a laptop that converged the same parts). Here: each
```yaml block is a playbook, or a list of role entries continuing the one before it, naming only
roles of this repository; and each role with examples has a scenario test that runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
READMES = sorted((REPO / "roles").glob("*/README.md"))
SCENARIO_TESTS = sorted((REPO / "molecule").glob("*/tests/*.py"))


def blocks(readme: Path) -> list[str]:
    return EXAMPLE_BLOCK.findall(readme.read_text())


@pytest.mark.parametrize("readme", [r for r in READMES if blocks(r)], ids=lambda p: p.parent.name)
def test_every_example_is_a_playbook_of_our_roles(readme: Path) -> None:
    roles = {p.name for p in (REPO / "roles").iterdir() if p.is_dir()}
    playbook_seen = False
    for block in blocks(readme):
        parsed = yaml.safe_load(block)
        assert isinstance(parsed, list) and parsed, f"{readme}: not a YAML list:\n{block}"
        if all(isinstance(item, dict) and "hosts" in item for item in parsed):
            playbook_seen = True
            entries = [entry for play in parsed for entry in play.get("roles", [])]
        else:
            assert playbook_seen, f"{readme}: role entries with no playbook before them:\n{block}"
            entries = parsed
        for entry in entries:
            name = entry["role"] if isinstance(entry, dict) else entry
            assert name in roles, f"{readme}: the example names a role this repository has not: {name}"


@pytest.mark.parametrize("readme", [r for r in READMES if blocks(r)], ids=lambda p: p.parent.name)
def test_every_roles_examples_are_run_by_a_scenario_test(readme: Path) -> None:
    call = f'readme_examples("{readme.parent.name}")'
    runners = [str(p.relative_to(REPO)) for p in SCENARIO_TESTS if call in p.read_text()]
    assert runners, f"no Molecule test runs the examples of {readme.relative_to(REPO)} ({call})"
