"""Benchmark of the converge on the test "laptop" (a systemd container converged
as the user `dev`, as in the Molecule scenarios).

Measures, median of --runs each: the no-change converge, a warm start (both
containers and both units stopped, until all four health endpoints answer 200),
a cold converge (no containers, volumes, venv, .env or units; pip's share
reported), the `--tags api` no-change run, and the old start scripts' warm start
done by hand (docker start, poll pg_isready / redis-cli ping every second, start
both uvicorn processes 2 s apart, poll the health URLs). Prints a table and
writes bench/results/latest.json. Never asserts a time: the figures are for
people to read.

    .venv/bin/python bench/run.py [--runs 5] [--strategy linear|mitogen|both]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "bench"
LAPTOP = "laptop-bench"
SHARED = ROOT / "molecule" / "shared"
# Actions that run on the controller only: they cost no module execution.
CONTROLLER_ACTIONS = {
    "ansible.builtin.set_fact",
    "set_fact",
    "ansible.builtin.debug",
    "debug",
    "ansible.builtin.assert",
    "assert",
    "ansible.builtin.meta",
    "meta",
    "ansible.builtin.validate_argument_spec",
    "validate_argument_spec",
    "ansible.builtin.fail",
    "fail",
    "ansible.builtin.include_tasks",
    "ansible.builtin.import_tasks",
}


def test_vars() -> dict[str, Any]:
    os.environ["MOLECULE_SCENARIO_NAME"] = SCENARIO
    sys.path.insert(0, str(ROOT / "molecule"))
    from conftest import test_vars as fixture  # type: ignore[import-not-found]

    return fixture.__wrapped__()


VARS = test_vars()
ENV = dict(
    os.environ,
    MOLECULE_SCENARIO_NAME=SCENARIO,
    MOLECULE_PROJECT_DIRECTORY=str(ROOT),
    ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
    ANSIBLE_NOCOLOR="1",
)
HEALTH = [
    f"http://127.0.0.1:{VARS['app_services_api_port']}/api/health",
    f"http://127.0.0.1:{VARS['app_services_api_port']}/api/health/detailed",
    f"http://127.0.0.1:{VARS['app_services_ws_port']}/ws/health",
    f"http://127.0.0.1:{VARS['app_services_ws_port']}/ws/health/detailed",
]
client = docker.from_env()


def laptop_exec(cmd: str, user: str = "dev", detach: bool = False) -> str:
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"} if user == "dev" else {}
    result = client.containers.get(LAPTOP).exec_run(
        ["bash", "-lc", cmd], user=user, environment=env, detach=detach
    )
    if detach:
        return ""
    if result.exit_code != 0:
        raise RuntimeError(f"{cmd}: {result.output.decode()}")
    return result.output.decode()


def create_laptop(inventory_dir: Path) -> None:
    remove_all()
    client.containers.run(
        "integrador-test/laptop:trixie",
        "/lib/systemd/systemd",
        name=LAPTOP,
        detach=True,
        cap_add=["SYS_ADMIN"],
        tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
        network_mode="host",
        volumes={
            "/var/run/docker.sock": {"bind": "/docker.sock", "mode": "rw"},
            "/etc/ssl/certs/ca-certificates.crt": {
                "bind": "/etc/ssl/certs/ca-certificates.crt",
                "mode": "ro",
            },
        },
    )
    (inventory_dir / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {LAPTOP: {"ansible_connection": "community.docker.docker"}}}})
    )
    (inventory_dir / "group_vars").symlink_to(SHARED / "group_vars")
    playbook(inventory_dir, SHARED / "prepare.yml", check=True)


def remove_all() -> None:
    for name in (LAPTOP, VARS["postgres_pgvector_container_name"], VARS["redis_container_name"]):
        try:
            client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for volume in (VARS["postgres_pgvector_volume"], VARS["redis_volume"]):
        try:
            client.volumes.get(volume).remove(force=True)
        except docker.errors.NotFound:
            pass


def playbook(
    inventory_dir: Path, path: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> dict[str, Any]:
    cmd = ["ansible-playbook", "-i", str(inventory_dir), str(path), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env or ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    # The timer callback (ansible.cfg) adds a line after the JSON document.
    report = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    changed = sum(s.get("changed", 0) for s in report["stats"].values())
    modules, pip_seconds = 0, 0.0
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                if result.get("skipped") or result.get("action") in CONTROLLER_ACTIONS:
                    continue
                modules += 1
                if result.get("action", "").endswith("integrador_python_env") and result.get("installed"):
                    duration = task["task"]["duration"]
                    pip_seconds += seconds(duration["end"]) - seconds(duration["start"])
    return {"wall": wall, "changed": changed, "modules": modules, "pip": pip_seconds}


def seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def wait_green(timeout: float = 120, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(requests.get(url, timeout=2).status_code == 200 for url in HEALTH):
                return
        except requests.RequestException:
            pass
        time.sleep(interval)
    raise RuntimeError("health endpoints not green within the timeout")


def stop_everything() -> None:
    laptop_exec("systemctl --user stop integrador-ws.service integrador-api.service")
    for name in (VARS["postgres_pgvector_container_name"], VARS["redis_container_name"]):
        client.containers.get(name).stop(timeout=10)


def make_cold() -> None:
    laptop_exec(
        "systemctl --user disable --now integrador-ws.service integrador-api.service; "
        "rm -f ~/.config/systemd/user/integrador-*.service; systemctl --user daemon-reload; "
        "rm -rf ~/integrador/backend/.venv ~/integrador/backend/.env"
    )
    for name in (VARS["postgres_pgvector_container_name"], VARS["redis_container_name"]):
        client.containers.get(name).remove(force=True)
    for volume in (VARS["postgres_pgvector_volume"], VARS["redis_volume"]):
        client.volumes.get(volume).remove(force=True)


def timed(prepare: Callable[[], None], action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    prepare()
    start = time.perf_counter()
    result = action()
    wait_green()
    result["wall"] = time.perf_counter() - start
    return result


def shell_baseline() -> dict[str, Any]:
    """The old start.sh's warm start, step by step, from the host's shell."""
    db, rd = VARS["postgres_pgvector_container_name"], VARS["redis_container_name"]
    api, ws = VARS["app_services_api_port"], VARS["app_services_ws_port"]
    start = time.perf_counter()
    subprocess.run(["docker", "start", db, rd], check=True, capture_output=True)
    for probe in (
        ["docker", "exec", db, "pg_isready", "-U", "postgres"],
        ["docker", "exec", rd, "redis-cli", "ping"],
    ):
        for _ in range(30):
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                break
            time.sleep(1)
    root = "/home/dev/integrador"
    env = "set -a && . backend/.env && set +a"
    laptop_exec(
        f"cd {root} && {env} && cd backend && exec .venv/bin/python -m uvicorn rest_api.main:app "
        f"--host 127.0.0.1 --port {api} >/tmp/baseline-api.log 2>&1",
        detach=True,
    )
    time.sleep(2)
    laptop_exec(
        f"cd {root} && {env} && PYTHONPATH={root}/backend exec backend/.venv/bin/python -m uvicorn "
        f"ws_gateway.main:app --host 127.0.0.1 --port {ws} >/tmp/baseline-ws.log 2>&1",
        detach=True,
    )
    wait_green(interval=1.0)
    wall = time.perf_counter() - start
    laptop_exec("pkill -f 'uvicorn (rest_api|ws_gateway)' || true")
    time.sleep(1)
    return {"wall": wall, "changed": None, "modules": None, "pip": 0.0}


def median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r[key] is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--strategy", choices=["linear", "mitogen", "both"], default="both")
    args = parser.parse_args()

    strategies = ["linear", "mitogen"] if args.strategy == "both" else [args.strategy]
    mitogen_env = dict(
        ENV,
        ANSIBLE_STRATEGY="mitogen_linear",
        ANSIBLE_STRATEGY_PLUGINS=str(
            Path(__import__("ansible_mitogen").__file__).parent / "plugins" / "strategy"
        ),
    )
    dev = ROOT / "playbooks" / "dev.yml"
    table: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp)
        create_laptop(inventory)
        try:
            playbook(inventory, dev)
            wait_green()
            for strategy in strategies:
                env = mitogen_env if strategy == "mitogen" else ENV
                run = functools.partial(playbook, inventory, dev, env=env)
                cases: dict[str, list[dict[str, Any]]] = {
                    "no-change converge": [run() for _ in range(args.runs)],
                    "--tags api no-change": [run("--tags", "api") for _ in range(args.runs)],
                    "warm start": [timed(stop_everything, run) for _ in range(args.runs)],
                    "cold converge": [timed(make_cold, run) for _ in range(args.runs)],
                }
                for case, results in cases.items():
                    table[f"{case} [{strategy}]"] = {
                        "wall_median": median(results, "wall"),
                        "changed_median": median(results, "changed"),
                        "modules_median": median(results, "modules"),
                        "pip_median": median(results, "pip"),
                        "runs": results,
                    }
            baseline = []
            for _ in range(args.runs):
                stop_everything()
                baseline.append(shell_baseline())
                playbook(inventory, dev)  # back to the units for the next round
            table["old scripts' warm start (shell)"] = {
                "wall_median": median(baseline, "wall"),
                "changed_median": None,
                "modules_median": None,
                "pip_median": None,
                "runs": baseline,
            }
        finally:
            remove_all()

    base = table["old scripts' warm start (shell)"]["wall_median"]
    print(f"\n{'case':42} {'wall s':>8} {'changed':>8} {'modules':>8} {'pip s':>7} {'vs shell':>9}")
    for case, row in table.items():
        ratio = f"{row['wall_median'] / base:.2f}x" if "warm start" in case and base else ""
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        print(
            f"{case:42} {fmt(row['wall_median'], '8.2f')} {fmt(row['changed_median'], '8.0f')} "
            f"{fmt(row['modules_median'], '8.0f')} {fmt(row['pip_median'], '7.2f')} {ratio:>9}"
        )
    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(table, indent=2))
    print(f"\nruns per case: {args.runs}; raw figures: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
