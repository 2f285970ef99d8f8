"""The collections PyPI's `ansible` package installed satisfy requirements.yml,
so Galaxy users and our venv run the same code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]


@pytest.fixture(scope="module")
def installed() -> dict[str, str]:
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    out = subprocess.run(
        [str(galaxy), "collection", "list", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    versions: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            versions.setdefault(name, info["version"])
    return versions


@pytest.mark.parametrize("requirement", REQUIRED, ids=[r["name"] for r in REQUIRED])
def test_installed_collection_satisfies_requirements_yml(
    installed: dict[str, str], requirement: dict[str, str]
) -> None:
    name = requirement["name"]
    assert name in installed, f"{name} is not installed"
    assert Version(installed[name]) in SpecifierSet(requirement["version"]), (
        f"{name} {installed[name]} does not satisfy {requirement['version']} from requirements.yml"
    )


# What PyPI's ansible 14.5.0 carries (ansible-core 2.21; measured by .ci/newest, which converges
# the stack with it): Galaxy users installing today get these.
ANSIBLE_14 = {
    "community.docker": "5.4.0",
    "community.general": "13.5.0",
    "ansible.posix": "2.2.2",
    "community.windows": "3.3.0",
    "ansible.windows": "3.8.0",
}


@pytest.mark.parametrize("requirement", REQUIRED, ids=[r["name"] for r in REQUIRED])
def test_requirements_yml_accepts_the_current_releases(requirement: dict[str, str]) -> None:
    version = ANSIBLE_14[requirement["name"]]
    assert Version(version) in SpecifierSet(requirement["version"]), (
        f"{requirement['name']} {version} (ansible 14) is refused by {requirement['version']}"
    )


@pytest.mark.parametrize("version", ["4.8.0", "5.0.0"])
def test_requirements_yml_takes_community_docker_4_and_5(version: str) -> None:
    (docker,) = [r for r in REQUIRED if r["name"] == "community.docker"]
    assert Version(version) in SpecifierSet(docker["version"])


def test_none_of_our_python_uses_community_docker_code() -> None:
    """From community.docker 5.0 its module_utils, plugin_utils and doc fragments are private
    (breaking changes even in bugfix releases): our modules use module_utils/integrador_docker.py."""
    ours = [
        path
        for folder in ("library", "module_utils", "playbooks", "roles", "plugins", "filter_plugins")
        for path in (ROOT / folder).rglob("*.py")
    ]
    assert any(path.name == "integrador_preflight.py" for path in ours)
    for path in ours:
        text = path.read_text()
        assert "ansible_collections.community.docker" not in text, path
        # A doc fragment is a list item under extends_documentation_fragment.
        assert not re.search(r"^\s*-\s*community\.docker\.", text, re.MULTILINE), path
