"""Shared by every unit test: the helper modules of this folder (ansible_adhoc) importable from
any subfolder."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
