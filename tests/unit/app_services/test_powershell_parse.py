"""Every PowerShell script of the role, parsed by PowerShell's own parser: the launchers as
rendered for a Windows host (with and without pre-start commands, a path with a quote and
spaces) and files/*.ps1. Needs `pwsh` (PowerShell 7) on PATH; skipped without it. On this
project's machines it has never run: no Debian, PyPI or npm package carries PowerShell
(docs/platforms.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from app_services_render import ROLE, WINDOWS, Role

PWSH = shutil.which("pwsh")
pytestmark = pytest.mark.skipif(PWSH is None, reason="pwsh (PowerShell 7) is not installed")

PARSE = (
    "$errors = $null; $tokens = $null; "
    "[void][System.Management.Automation.Language.Parser]::ParseFile($args[0], [ref]$tokens, [ref]$errors); "
    "ConvertTo-Json -Compress @($errors | ForEach-Object { $_.Message })"
)


def parse_errors(path: Path) -> list[str]:
    assert PWSH is not None
    proc = subprocess.run(
        [PWSH, "-NoProfile", "-NonInteractive", "-Command", PARSE, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(proc.stdout or "[]") or [])


@pytest.mark.parametrize("name", ["api", "ws"])
@pytest.mark.parametrize(
    "settings",
    [{}, {"app_services_api_pre_start": ["alembic upgrade head", "echo 'it''s $HOME'"]},
     {"integrador_root": "C:\\Users\\ana\\my 'src'\\integrador"}],
    ids=["plain", "pre-start", "quote-in-path"],
)  # fmt: skip
def test_launcher_parses(tmp_path: Path, name: str, settings: dict[str, object]) -> None:
    script = tmp_path / f"integrador-{name}.ps1"
    script.write_text(Role(WINDOWS, settings).render("windows/launcher.ps1.j2", _app_services_name=name))
    assert parse_errors(script) == []


@pytest.mark.parametrize("script", sorted((ROLE / "files").glob("*.ps1")), ids=lambda p: p.name)
def test_role_scripts_parse(script: Path) -> None:
    assert parse_errors(script) == []


def test_a_broken_script_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ps1"
    broken.write_text("if ($true) { Write-Output 'unclosed'\n")
    assert parse_errors(broken)
