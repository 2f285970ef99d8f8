"""scripts/cpu_busy: the CPU share the suite's stages print beside their seconds (Makefile's
`stage`, .ci/run's), read from /proc/stat."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cpu_busy"
pytestmark = pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="reads Linux's /proc/stat")


def cpu_busy(*args: str) -> str:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=True).stdout


def test_a_reading_is_busy_and_all_jiffies() -> None:
    busy, every = (int(n) for n in cpu_busy().split())
    assert 0 < busy < every


def test_a_stretch_of_work_reads_as_busy_with_the_cores_online() -> None:
    before = cpu_busy().split()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:  # one core kept busy
        pass
    shown = re.fullmatch(r" \(CPU busy (\d+)% of (\d+) cores\)\n", cpu_busy(*before))
    assert shown, cpu_busy(*before)
    assert int(shown.group(2)) == os.cpu_count()
    # This process alone kept one core of them all busy; more is other load, never above all.
    assert 100 // os.cpu_count() // 2 <= int(shown.group(1)) <= 100


def test_no_reading_gives_a_reading_not_an_error() -> None:
    """An empty reading (a stage started where /proc/stat could not be read) is not a failure."""
    assert len(cpu_busy("", "").split()) == 2
