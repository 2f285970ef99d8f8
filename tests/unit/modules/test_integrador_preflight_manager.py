"""Which service manager the preflight picks, on this machine for real: its PID 1
is not systemd and no systemd user manager answers here (see
/work/shared/TEST-ENVIRONMENT.md), as in a container, a CI runner or WSL without
systemd."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from test_integrador_preflight import FakeModule, preflight


def user_manager_answers() -> bool:
    try:
        return (
            subprocess.run(
                ["systemctl", "--user", "show-environment"], capture_output=True, check=False
            ).returncode
            == 0
        )
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    user_manager_answers() or os.path.isdir("/run/systemd/system"),
    reason="a systemd user manager answers on this machine",
)

UNIT: dict[str, Any] = {"unit": "integrador-api.service", "port": None, "bind_address": "127.0.0.1"}


def test_auto_takes_supervisord_without_a_problem() -> None:
    check = preflight.Preflight(FakeModule(units=[UNIT], manager="auto"))
    states, _ = check.units()
    assert states == {} and check.manager == "supervisor" and check.problems == []


def test_auto_takes_supervisord_even_when_lingering_is_asked_for() -> None:
    # Lingering starts a user manager only where systemd is the init system.
    check = preflight.Preflight(FakeModule(units=[UNIT], manager="auto", linger=True))
    check.units()
    assert check.manager == "supervisor" and check.problems == []


def test_systemd_asked_for_explicitly_is_a_problem_naming_supervisord() -> None:
    check = preflight.Preflight(FakeModule(units=[UNIT], manager="systemd"))
    check.units()
    assert check.manager == "systemd"
    assert len(check.problems) == 1 and "No systemd user session is reachable" in check.problems[0]
    assert "app_services_manager: auto (the default) or supervisor" in check.problems[0]


def test_no_services_no_manager() -> None:
    check = preflight.Preflight(FakeModule(manager="auto"))
    check.units()
    assert check.manager == ""
