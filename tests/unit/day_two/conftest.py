"""Fixtures for the day_two role's unit tests: its filter plugin, loaded from the role."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "day_two"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("day_two_filters", ROLE / "filter_plugins" / "day_two.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def day_two() -> ModuleType:
    """roles/day_two/filter_plugins/day_two.py as a module."""
    return _load()
