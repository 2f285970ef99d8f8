"""Every app_services_* filter that the roles' tasks and templates and the playbooks use is one the
role's filter plugin provides, under the name of the function it runs: a filter renamed or
dropped in the plugin would otherwise show only as a template error in the middle of a converge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_services_render import filters_module

ROOT = Path(__file__).resolve().parents[3]
filters = filters_module()
USE = re.compile(r"\|\s*(app_services_[a-z_]+)")


def test_every_filter_in_use_is_provided_under_its_functions_name() -> None:
    used = set()
    for folder in (ROOT / "roles", ROOT / "playbooks"):
        for path in folder.rglob("*"):
            if path.suffix in (".yml", ".yaml", ".j2"):
                used |= set(USE.findall(path.read_text(encoding="utf-8")))
    provided = filters.FilterModule().filters()
    assert "app_services_recorded_health" in used and "app_services_systemd_quote" in used
    assert used <= set(provided), sorted(used - set(provided))
    for name, function in provided.items():
        assert callable(function) and name == "app_services_" + function.__name__, name


# Written-out examples of each quoting rule (the rules themselves are in the plugin's docstrings).


def test_http_url_defaults_to_the_root_path() -> None:
    assert filters.http_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/"
    assert filters.http_url("::", "8001", "/ws/health") == "http://[::1]:8001/ws/health"


def test_powershell_doubles_every_kind_of_single_quote() -> None:
    assert filters.ps_quote("a'b\u2018c\u2019d\u201ae\u201bf") == (
        "'a''b\u2018\u2018c\u2019\u2019d\u201a\u201ae\u201b\u201bf'"
    )


def test_systemd_words_and_paths_escape_specifiers_and_refuse_line_breaks() -> None:
    assert filters.systemd_quote("$HOME/%h") == "$$HOME/%%h"  # an Exec line by default
    assert filters.systemd_quote("$HOME", exec_line=False) == "$HOME"
    # Only $ (doubled): no word left once the $ are set aside, so it is quoted.
    assert filters.systemd_quote("$") == '"$$"'
    assert filters.systemd_path("/srv/100%/app") == "/srv/100%%/app"
    for bad in ("a\nb", "a\rb"):
        with pytest.raises(ValueError, match=r"^a systemd setting cannot span lines: "):
            filters.systemd_quote(bad)
    with pytest.raises(ValueError, match=r"^a systemd setting cannot span lines: 'a\\nb'$"):
        filters.systemd_path("a\nb")


def test_supervisor_values_escape_expansions_and_name_what_cannot_be_written() -> None:
    assert filters.supervisor_value("/srv/100%") == "/srv/100%%"
    assert (
        filters.supervisor_command(["python", "-c", "print('50%')"])
        == "python -c 'print('\"'\"'50%%'\"'\"')'"
    )
    with pytest.raises(ValueError, match=r"^a supervisord setting cannot span lines or hold a NUL: "):
        filters.supervisor_value("a\nb")
    with pytest.raises(ValueError, match=r"^directory cannot span lines or hold a NUL: "):
        filters.supervisor_value("a\x00b", "directory")
    with pytest.raises(ValueError, match=r"^a service's command word cannot span lines or hold a NUL: "):
        filters.supervisor_command(["ok", "a\rb"])
