"""Every module_utils/*.py importable as ansible.module_utils.<name>, where Ansible puts them
when it ships a module to a host, so a test can load any module of library/ by path whatever
module_utils it imports (the tests' own `load` calls stay as they are)."""

from __future__ import annotations

import sys

from module_loader import ROOT, load

for path in sorted((ROOT / "module_utils").glob("*.py")):
    name = f"ansible.module_utils.{path.stem}"
    if name not in sys.modules:
        load(path, name)
