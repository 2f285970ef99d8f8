"""The collections PyPI's `ansible` package installed satisfy requirements.yml,
so Galaxy users and our venv run the same code."""

from __future__ import annotations

import json
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
