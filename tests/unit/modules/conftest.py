"""Every module_utils/*.py importable as ansible.module_utils.<name>, where Ansible puts them
when it ships a module to a host, so a test can load any module of library/ by path whatever
module_utils it imports (the tests' own `load` calls stay as they are)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

for path in sorted((ROOT / "module_utils").glob("*.py")):
    name = f"ansible.module_utils.{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
