"""make mutation: mutmut over the Python that runs inside Ansible, then its score and survivors.

What is mutated, and which unit tests judge the mutants: pyproject.toml's [tool.mutmut]. Of
library/, only the pure functions count (no file, process, socket or clock: their answer is a
function of their arguments): [tool.integrador-mutation] library_pure_functions names them. mutmut
mutates whole files, so the rest of library/ is copied and wrapped but none of its mutants is run
or counted; the product code carries no pragma. Every run starts from a fresh copy (mutants/ is
removed first), so the score never holds a stale result.

Prints killed / total and the percentage (a timeout, a mutant that made the tests hang, counts as
killed, as mutmut counts it), then every surviving mutant with its diff. Exit status: 0 when the
score is at least [tool.integrador-mutation] minimum_score, 1 below it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILLED = {
    1: "killed",
    3: "killed",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    36: "timeout",
}


def settings() -> tuple[list[str], dict[str, list[str]], float]:
    """The mutated folders, the pure functions of library/ by file, and the minimum score."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ours = pyproject["tool"]["integrador-mutation"]
    return pyproject["tool"]["mutmut"]["source_paths"], ours["library_pure_functions"], ours["minimum_score"]


def in_scope(sources: list[str], pure: dict[str, list[str]]) -> list[str]:
    """mutmut's name patterns of the mutants that count: every mutant outside library/, and
    those of the pure functions there."""
    patterns = [source.rstrip("/").replace("/", ".") + ".*" for source in sources if source != "library/"]
    for module, functions in sorted(pure.items()):
        patterns += [f"library.{module}.x_{function}__mutmut_*" for function in functions]
    return patterns


def results(patterns: list[str]) -> dict[str, int | None]:
    """mutmut's exit code of each mutant that counts (mutants/<file>.meta)."""
    from fnmatch import fnmatch

    codes: dict[str, int | None] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items():
            if any(fnmatch(name, pattern) for pattern in patterns):
                codes[name] = code
    return codes


def main() -> int:
    sources, pure, minimum = settings()
    patterns = in_scope(sources, pure)
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    children = os.environ.get("MUTATION_CHILDREN") or str(os.cpu_count() or 2)
    command = ["mutmut", "run", "--max-children", children, *patterns]
    start = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, check=False)
    seconds = time.monotonic() - start
    if run.returncode != 0:
        print(f"[mutation] mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return run.returncode

    from mutmut.mutation.diff_apply import get_diff_for_mutant

    codes = results(patterns)
    killed = [name for name, code in codes.items() if code in KILLED]
    survivors = sorted(name for name in codes if name not in set(killed))
    score = 100 * len(killed) / len(codes) if codes else 0.0
    os.chdir(ROOT)
    print()
    for name in survivors:
        status = {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}.get(codes[name], "other")
        print(f"--- {name} ({status})")
        print(get_diff_for_mutant(name).rstrip())
    print()
    print(f"[mutation] {len(survivors)} surviving mutants (listed above)")
    print(f"[mutation] score: {len(killed)} / {len(codes)} mutants killed, {score:.1f}% (minimum {minimum}%)")
    print(f"[mutation] mutmut run took {seconds:.0f} s")
    return 0 if score >= minimum else 1


if __name__ == "__main__":
    sys.exit(main())
