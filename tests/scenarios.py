"""Run Molecule scenarios side by side: `python tests/scenarios.py [--lanes N] [SCENARIO ...]`.

Every scenario has its own laptop, container, volume and unit names and its own ports
(molecule/shared/group_vars/all/main.yml), so scenarios can run at once; `molecule test --all`
ran the twelve one after the other. Lanes take the longest scenarios first (the seconds of the
last run on this machine, .cache/scenario-seconds.json, else a fixed order). No scenario restarts
the Docker engine (that case is .ci/acceptance's, at the end of CI); one named in ALONE would run
by itself after the others. Each scenario's output goes to .cache/scenario-logs/<name>.log; a
failing scenario's failures and last lines are printed. Ends with a table of seconds per scenario and the line
`scenarios: N passed, N failed`; exits non-zero when one failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
SECONDS = CACHE / "scenario-seconds.json"
LOGS = CACHE / "scenario-logs"
# Longest first when nothing was measured yet (measured on the 2-core CI machine).
ORDER = [
    "day2",
    "default",
    "faults",
    "app_services",
    "python_env",
    "supervisor",
    "postgres_pgvector",
    "workstation",
    "fleet",
    "redis",
    "ollama",
    "preflight",
]
# Scenarios that must run by themselves (one that restarted the Docker engine would take every
# other scenario's containers with it): none today.
ALONE: set[str] = set()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FAILURE = re.compile(r"(FAILED|ERROR) [a-z_/]+\.py|fatal: \[|Error:|AssertionError|^E  ")
print_lock = threading.Lock()
STEPS: dict[str, dict[str, float]] = {}
COLUMNS = ["create", "prepare", "converge", "idempotence", "verify", "destroy"]


def say(text: str) -> None:
    with print_lock:
        print(text, flush=True)


def all_scenarios() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def ordered(names: list[str]) -> list[str]:
    try:
        measured = {str(k): float(v) for k, v in json.loads(SECONDS.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        measured = {}
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(names, key=lambda n: (-measured.get(n, 0.0), rank.get(n, len(ORDER)), n))


STEP = re.compile(r"\b(\w+) ➜ (\w+): Executing")


def run(name: str) -> tuple[str, bool, float]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    say(f"[scenarios] {name}: started")
    began = time.monotonic()
    # Seconds per Molecule step (create, converge, idempotence, verify, ...): where time goes.
    steps: dict[str, float] = {}
    current, since = "", began
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["molecule", "test", "--scenario-name", name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            step = STEP.search(ANSI.sub("", line))
            if step:
                now = time.monotonic()
                if current:
                    steps[current] = steps.get(current, 0.0) + now - since
                current, since = step.group(2), now
        proc.wait()
    seconds = time.monotonic() - began
    if current:
        steps[current] = steps.get(current, 0.0) + time.monotonic() - since
    STEPS[name] = steps
    ok = proc.returncode == 0
    say(f"[scenarios] {name}: {'passed' if ok else 'FAILED'} in {seconds:.0f} s")
    if not ok:
        lines = ANSI.sub("", log.read_text(errors="replace")).splitlines()
        failures = [line for line in lines if FAILURE.search(line) and "RETRYING" not in line]
        tail = "\n".join(line[:240] for line in lines[-120:])
        picked = "\n".join(line[:240] for line in failures[-40:])
        say(f"[scenarios] {name} failed; its failures:\n{picked}\n[scenarios] last lines of {log}:\n{tail}")
    return name, ok, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("INTEGRADOR_TEST_LANES", "2")))
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: every scenario)")
    args = parser.parse_args()
    known = all_scenarios()
    names = args.scenarios or known
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"no such scenario: {', '.join(unknown)} (there are: {', '.join(known)})")
    together = ordered([n for n in names if n not in ALONE])
    alone = [n for n in names if n in ALONE]
    began = time.monotonic()
    results: list[tuple[str, bool, float]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.lanes)) as pool:
        results += pool.map(run, together)
    results += [run(name) for name in alone]
    total = time.monotonic() - began
    try:
        previous = json.loads(SECONDS.read_text())
    except (OSError, ValueError):
        previous = {}
    SECONDS.parent.mkdir(parents=True, exist_ok=True)
    SECONDS.write_text(json.dumps({**previous, **{n: round(s) for n, _, s in results}}, indent=1))
    head = "".join(f"{c:>12}" for c in COLUMNS)
    say(f"[scenarios] {'scenario':<20} {'seconds':>8}{head}  result")
    for name, ok, seconds in sorted(results, key=lambda r: -r[2]):
        steps = STEPS.get(name, {})
        cells = "".join(f"{steps[c]:>12.0f}" if c in steps else f"{'-':>12}" for c in COLUMNS)
        say(f"[scenarios] {name:<20} {seconds:>8.0f}{cells}  {'passed' if ok else 'FAILED'}")
    say(f"[scenarios] {'wall clock':<20} {total:>8.0f}  ({max(1, args.lanes)} lanes)")
    failed = sum(not ok for _, ok, _ in results)
    say(f"scenarios: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
