"""Every machine of the fleet converged in the same run, each on its own."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import LaptopPaths, journal, read_env, unit_state


@pytest.mark.parametrize("unit", ["integrador-api.service", "integrador-ws.service"])
def test_units_active_and_enabled(host: Any, unit: str) -> None:
    assert unit_state(host, unit) == ("active", "enabled"), journal(host, unit)


def test_api_and_gateway_answer_on_each_machine(host: Any, test_vars: dict[str, Any]) -> None:
    api, ws = test_vars["app_services_api_port"], test_vars["app_services_ws_port"]
    for url in (f"http://127.0.0.1:{api}/api/health", f"http://127.0.0.1:{ws}/ws/health"):
        code = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' {url}").stdout
        assert code == "200", f"{host.backend.hostname}: {url} answered {code}"


def test_each_machine_has_its_own_secrets(host: Any, paths: LaptopPaths) -> None:
    secret = read_env(host, paths.env_file)["JWT_SECRET"]
    # Stash per machine; the last one compares them all.
    _seen.setdefault(secret, []).append(host.backend.hostname)
    assert len(_seen[secret]) == 1, f"same JWT_SECRET on {_seen[secret]}"


_seen: dict[str, list[str]] = {}
