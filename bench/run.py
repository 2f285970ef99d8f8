"""Benchmark of the converge as a developer runs it: ansible-playbook run by the
user `dev` INSIDE the test "laptop" (a systemd container, local connection),
on the demo backend.

Headline, in one run, the arms alternated round by round (median of --runs):
  no change     playbooks/dev.yml on the converged stack
  warm start    playbooks/dev.yml with both containers and both units stopped
  old script    the seed's start.sh: start both containers, poll pg_isready and PING
                once a second, import check, the API, 2 s, the gateway
  floor         both containers started together, PostgreSQL and Redis probed every
                0.1 s, both units started, both health URLs every 0.1 s
  change        on the running stack, one value of backend/.env edited by hand, then
                playbooks/dev.yml until the services answer again (with the new value)
  change floor  the same edit, then both units restarted by hand (systemctl), no tool
Each arm's time runs until all four health URLs answer 200 (bench/arms.py, in the
laptop). Then the two ratios warm/old and warm/floor, and the cold converge (no
containers, volumes, venv, .env or units) with pip's share. --mitogen adds the
no-change and warm arms under the mitogen_linear strategy. Never asserts a time:
the figures are for people to read. Writes bench/results/latest.json.

    .venv/bin/python bench/run.py [--runs 5] [--cold-runs 2] [--mitogen] [--project DIR]

--project: the tree whose playbooks are measured (default: this one), for example
an export of another branch: git archive main | tar -x -C /tmp/main-tree
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "bench"
LAPTOP = "laptop-bench"
SHARED = ROOT / "molecule" / "shared"
VENV = "/home/dev/.bench-ansible"
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
    "ansible.builtin.include_role",
}


def test_vars() -> dict[str, Any]:
    os.environ["MOLECULE_SCENARIO_NAME"] = SCENARIO
    sys.path.insert(0, str(ROOT / "molecule"))
    from conftest import test_vars as fixture  # type: ignore[import-not-found]

    return fixture.__wrapped__()


VARS = test_vars()
SETTINGS = {
    "db": VARS["postgres_pgvector_container_name"],
    "redis": VARS["redis_container_name"],
    "pg_port": VARS["postgres_pgvector_port"],
    "redis_port": VARS["redis_port"],
    "redis_password": "",
    "api_port": VARS["app_services_api_port"],
    "ws_port": VARS["app_services_ws_port"],
    "docker_host": VARS["integrador_docker_host"],
    "root": VARS["integrador_root"],
}
client = docker.from_env()


def collections_dir() -> Path:
    import ansible_collections  # type: ignore[import-not-found]

    return Path(next(iter(ansible_collections.__path__))).resolve()


def laptop_exec(cmd: str, user: str = "dev", env: dict[str, str] | None = None) -> str:
    environment = {"XDG_RUNTIME_DIR": "/run/user/1000", **(env or {})} if user == "dev" else env or {}
    result = client.containers.get(LAPTOP).exec_run(["bash", "-lc", cmd], user=user, environment=environment)
    if result.exit_code != 0:
        raise RuntimeError(f"{cmd}: {result.output.decode()[-4000:]}")
    return result.output.decode()


def ansible_version(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.strip()
    raise RuntimeError(f"{name} is not pinned in requirements.txt")


def create_laptop(project: Path, inventory_dir: Path) -> None:
    remove_all()
    client.containers.run(
        "integrador-test/laptop:trixie",
        "/lib/systemd/systemd",
        name=LAPTOP,
        detach=True,
        cap_add=["SYS_ADMIN"],
        tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
        network_mode="host",
        # A list: the project measured and the benchmark's own tree may be one folder.
        volumes=[
            "/var/run/docker.sock:/docker.sock:rw",
            "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro",
            f"{project}:/project:ro",
            f"{ROOT}:/bench-root:ro",
            f"{collections_dir()}:/opt/collections/ansible_collections:ro",
        ],
    )
    # The laptop's user and checkout, as in the Molecule scenarios (from here, once).
    (inventory_dir / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {LAPTOP: {"ansible_connection": "community.docker.docker"}}}})
    )
    (inventory_dir / "group_vars").symlink_to(SHARED / "group_vars")
    env = dict(os.environ, MOLECULE_SCENARIO_NAME=SCENARIO, MOLECULE_PROJECT_DIRECTORY=str(ROOT))
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    subprocess.run(
        ["ansible-playbook", "-i", str(inventory_dir), str(SHARED / "prepare.yml")],
        env=env,
        check=True,
        capture_output=True,
    )
    # The developer's controller: ansible-core (and mitogen) in a venv of dev's; the
    # collections of this machine's tooling venv, read-only; the inventory is localhost.
    laptop_exec(
        f"python3 -m venv {VENV} && PIP_CERT=/etc/ssl/certs/ca-certificates.crt {VENV}/bin/pip install "
        f"--quiet --disable-pip-version-check {ansible_version('ansible-core')} {ansible_version('mitogen')}"
    )
    laptop_exec(
        "mkdir -p ~/bench-inventory && "
        "ln -sfn /project/molecule/shared/group_vars ~/bench-inventory/group_vars && "
        "printf 'all:\\n  hosts:\\n    localhost:\\n      ansible_connection: local\\n' "
        "> ~/bench-inventory/hosts.yml"
    )


def remove_all() -> None:
    for name in (LAPTOP, SETTINGS["db"], SETTINGS["redis"]):
        try:
            client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for volume in (VARS["postgres_pgvector_volume"], VARS["redis_volume"]):
        try:
            client.volumes.get(volume).remove(force=True)
        except docker.errors.NotFound:
            pass


def arm(name: str, *argv: str, strategy: str = "linear") -> dict[str, Any]:
    env = {
        "BENCH": json.dumps(SETTINGS),
        "MOLECULE_SCENARIO_NAME": SCENARIO,
        "ANSIBLE_CONFIG": "/project/ansible.cfg",
        "ANSIBLE_COLLECTIONS_PATH": "/opt/collections",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
    }
    if strategy == "mitogen":
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
        env["ANSIBLE_STRATEGY_PLUGINS"] = (
            f"{VENV}/lib/python3.13/site-packages/ansible_mitogen/plugins/strategy"
        )
    command = ["/usr/bin/python3", "/bench-root/bench/arms.py", name, *argv]
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    out = laptop_exec(f"cd /project && env {exports} {shlex.join(command)}")
    result = json.loads(out.strip().splitlines()[-1])
    if name == "playbook":
        if result["rc"] != 0:
            raise RuntimeError(f"playbook failed:\n{result['stdout'][-6000:]}\n{result['stderr']}")
        result.update(parse(result.pop("stdout")))
    return result


def playbook(strategy: str = "linear", name: str = "dev.yml", *extra: str) -> dict[str, Any]:
    return arm(
        "playbook",
        f"{VENV}/bin/ansible-playbook",
        "-i",
        "/home/dev/bench-inventory",
        f"/project/playbooks/{name}",
        *extra,
        strategy=strategy,
    )


def snapshot_verb(action: str, name: str = "") -> dict[str, Any]:
    """playbooks/snapshot.yml, one verb (make snapshot / restore-snapshot)."""
    verb = {"integrador_snapshot_action": action, "integrador_snapshot_name": name}
    return playbook("linear", "snapshot.yml", "-e", json.dumps(verb))


def parse(stdout: str) -> dict[str, Any]:
    # The timer callback (ansible.cfg) adds a line after the JSON document.
    report = json.loads(stdout[stdout.index("{") : stdout.rindex("}") + 1])
    changed = sum(s.get("changed", 0) for s in report["stats"].values())
    modules, pip_seconds, module_seconds, snapshot_name = 0, 0.0, None, ""
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                if result.get("skipped") or result.get("action") in CONTROLLER_ACTIONS:
                    continue
                # The run lock on a local connection is taken by the controller itself.
                if result.get("in_process"):
                    continue
                modules += 1
                # The snapshot module's own time (its one module run), and the name it gave.
                if result.get("action", "").endswith("integrador_snapshot") and "seconds" in result:
                    module_seconds = result["seconds"]
                    snapshot_name = (result.get("snapshot") or {}).get("name", "")
                # pip's own time, as the module measured it (dev.yml starts it in the
                # background and the foreground run reports it); a tree whose module does
                # not report it (--project of an older one): the task's duration.
                if result.get("action", "").endswith("integrador_python_env"):
                    if "install_seconds" in result:
                        pip_seconds += result["install_seconds"]
                    elif result.get("installed") and not result.get("ansible_job_id"):
                        duration = task["task"]["duration"]
                        pip_seconds += seconds(duration["end"]) - seconds(duration["start"])
    return {
        "changed": changed,
        "modules": modules,
        "pip": pip_seconds,
        "module_seconds": module_seconds,
        "snapshot": snapshot_name,
    }


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def stop_everything() -> None:
    laptop_exec("systemctl --user stop integrador-ws.service integrador-api.service")
    for name in (SETTINGS["db"], SETTINGS["redis"]):
        client.containers.get(name).stop(timeout=10)


def hand_edit(value: int) -> None:
    """One value of backend/.env changed as a developer does, in an editor."""
    env_file = f"{SETTINGS['root']}/backend/.env"
    laptop_exec(f"sed -i '/^APP_LABEL=/d' {env_file} && echo APP_LABEL={value} >> {env_file}")


def make_cold() -> None:
    laptop_exec(
        "systemctl --user disable --now integrador-ws.service integrador-api.service; "
        "rm -f ~/.config/systemd/user/integrador-*.service; systemctl --user daemon-reload; "
        f"rm -rf {SETTINGS['root']}/backend/.venv {SETTINGS['root']}/backend/.env"
    )
    for name in (SETTINGS["db"], SETTINGS["redis"]):
        client.containers.get(name).remove(force=True)
    for volume in (VARS["postgres_pgvector_volume"], VARS["redis_volume"]):
        client.volumes.get(volume).remove(force=True)


def old_script() -> dict[str, Any]:
    stop_everything()
    result = arm("old")
    # The old script's processes, gone before the next arm (the units take the ports again).
    for pid in result.pop("pids"):
        laptop_exec(f"kill -- -{pid} 2>/dev/null; true")
    laptop_exec(
        f"for i in $(seq 50); do ss -Hltn 'sport = :{SETTINGS['api_port']}' | grep -q . || "
        f"ss -Hltn 'sport = :{SETTINGS['ws_port']}' | grep -q . || exit 0; sleep 0.1; done"
    )
    return result


def record(arms: dict[str, list[dict[str, Any]]], name: str, result: dict[str, Any]) -> None:
    """Keeps a run's figures and shows them at once (a long run can be read as it goes)."""
    arms[name].append(result)
    modules = result.get("modules")
    print(f"{name:24} {result['wall']:7.2f} s  modules {modules if modules is not None else '-'}", flush=True)


def median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument(
        "--mitogen", action="store_true", help="also the no-change and warm arms under mitogen"
    )
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()

    arms: dict[str, list[dict[str, Any]]] = {
        "no change": [],
        "warm start": [],
        "old script": [],
        "floor": [],
        "change": [],
        "change floor": [],
        "snapshot": [],
        "restore-snapshot": [],
    }
    if args.mitogen:
        arms.update({"no change [mitogen]": [], "warm start [mitogen]": []})
    arms["cold converge"] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        create_laptop(args.project.resolve(), Path(tmp))
        try:
            # A fresh laptop: the first converge is a cold one.
            record(arms, "cold converge", playbook())
            for round_ in range(args.runs):
                stop_everything()
                record(arms, "warm start", playbook())
                record(arms, "no change", playbook())
                record(arms, "old script", old_script())
                stop_everything()
                record(arms, "floor", arm("floor"))
                # A hand edit of .env reaching the running services: the tool, then by hand.
                playbook()
                hand_edit(2 * round_)
                record(arms, "change", playbook())
                hand_edit(2 * round_ + 1)
                record(arms, "change floor", arm("restart"))
                playbook()  # recorded again, so the next arms start from a converged stack
                # make snapshot, then make restore-snapshot of it (which restarts both services).
                taken = snapshot_verb("take")
                record(arms, "snapshot", taken)
                record(arms, "restore-snapshot", snapshot_verb("restore", taken["snapshot"]))
                playbook()  # the restore made the record forgotten: converge before the next round
                if args.mitogen:
                    stop_everything()
                    record(arms, "warm start [mitogen]", playbook("mitogen"))
                    record(arms, "no change [mitogen]", playbook("mitogen"))
            for _ in range(args.cold_runs - 1):
                make_cold()
                record(arms, "cold converge", playbook())
        finally:
            remove_all()

    table = {
        name: {
            "wall_median": median(results, "wall"),
            "modules_median": median(results, "modules"),
            "changed_median": median(results, "changed"),
            "pip_median": median(results, "pip"),
            "runs": results,
        }
        for name, results in arms.items()
    }
    fmt = lambda v, f: format("-", ">" + f.split(".")[0]) if v is None else format(v, f)  # noqa: E731
    print(f"\nLocal connection inside the test laptop, demo backend, {args.project}")
    print(f"{'arm':24} {'median s':>9} {'runs':>5} {'modules':>8} {'changed':>8}")
    for name, row in table.items():
        print(
            f"{name:24} {fmt(row['wall_median'], '9.2f')} {len(row['runs']):5d} "
            f"{fmt(row['modules_median'], '8.0f')} {fmt(row['changed_median'], '8.0f')}"
        )
    warm, old, floor = (table[k]["wall_median"] for k in ("warm start", "old script", "floor"))
    cold, pip = table["cold converge"]["wall_median"], table["cold converge"]["pip_median"] or 0.0
    print(f"\nwarm / old script   {warm / old:.2f}x   (goal <= 1.0x)")
    print(f"warm / floor        {warm / floor:.2f}x   (goal <= 1.5x)")
    print(f"no change           {table['no change']['wall_median']:.2f} s  (goal <= 1.0 s)")
    change, change_floor = table["change"]["wall_median"], table["change floor"]["wall_median"]
    print(
        f"change / its floor  {change / change_floor:.2f}x   "
        f"({change:.2f} s / {change_floor:.2f} s; goal <= 1.5x)"
    )
    rest = cold - pip
    # Each run's own rest too: pip overlaps other work now, and its time varies with it.
    each = statistics.median(r["wall"] - (r["pip"] or 0.0) for r in table["cold converge"]["runs"])
    print(
        f"cold converge       {cold:.2f} s, pip {pip:.2f} s, the rest {rest:.2f} s "
        f"(median of each run's rest: {each:.2f} s)  (goal: rest <= 10 s)"
    )
    for verb, goal in (("snapshot", 2.0), ("restore-snapshot", 3.0)):
        inside = median(table[verb]["runs"], "module_seconds")
        print(
            f"{verb:19} {fmt(table[verb]['wall_median'], '.2f')} s the whole make command, "
            f"{fmt(inside, '.2f')} s its module run  (goal < {goal:.0f} s)"
        )
    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(table, indent=2))
    took = time.monotonic() - started
    print(f"\nruns per arm: {args.runs}; took {took:.0f} s; raw figures: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
