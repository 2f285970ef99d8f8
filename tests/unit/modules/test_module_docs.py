"""Our modules' documentation is what `ansible-doc` reads (a YAML slip, such as an unquoted
": " in a description, hides the whole page), and documents every option the module takes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from module_loader import ROOT, load

# Every module of library/ (issue 24, 8: two of them had a DOCUMENTATION ansible-doc could not read).
MODULES = sorted(p.stem for p in (ROOT / "library").glob("integrador_*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_reads_every_option_of_the_argument_spec(name: str) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-doc")), "-M", str(ROOT / "library"), "-j", name],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    documented = set(json.loads(proc.stdout)[name]["doc"]["options"])
    source = (ROOT / "library" / f"{name}.py").read_text()
    if "\nARGUMENT_SPEC: " in source:
        # A module-level spec (the module's functions are also called in-process).
        taken = set(load(ROOT / "library" / f"{name}.py", f"_{name}_docs").ARGUMENT_SPEC)
    else:
        # The top-level options of argument_spec={...} in main(), each written as `"option": {`.
        spec = source[source.index("argument_spec={") :]
        taken = set(re.findall(r'^ {12}"(\w+)": \{', spec, re.MULTILINE))
    assert taken, "argument_spec not found"
    assert documented == taken
