"""Fixtures for the app_services role's unit tests (helpers: app_services_render)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible.plugins.loader import filter_loader, init_plugin_loader
from app_services_render import ROLE, Role


@pytest.fixture(scope="session", autouse=True)
def _role_filters() -> None:
    """The role's filter plugins, as Ansible loads them for a role in play."""
    init_plugin_loader()
    filter_loader.add_directory(str(ROLE / "filter_plugins"))


@pytest.fixture
def role() -> Callable[..., Role]:
    """The role's variables for a host (facts and python_env results) plus overrides."""

    def _role(host_vars: dict[str, Any], **overrides: Any) -> Role:
        return Role(host_vars, overrides)

    return _role
