"""One arm of the benchmark, run INSIDE the test laptop as the user `dev` (so
every arm pays the same: no docker exec, no controller elsewhere). Prints one
JSON line: the wall time from the arm's start until all four health URLs
answer 200 (asked every 0.02 s once the arm's own steps are done), and what
the arm reports (the playbook's JSON callback output).

    python3 arms.py playbook <ansible-playbook argv...>
    python3 arms.py old      the seed's start.sh: start both containers, poll pg_isready and
                             PING once a second, the import check, the API, 2 s, the gateway
    python3 arms.py floor    both containers started together, PostgreSQL and Redis probed
                             every 0.1 s, both units started, both health URLs every 0.1 s

Settings come as JSON in $BENCH (container names, ports, docker host, root).
Probes: module_utils/integrador_probe.py of the benchmark's own tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "module_utils"))
# integrador_probe imports our Docker layer as Ansible ships it to a module
# (ansible.module_utils.integrador_docker); the laptop's system Python has no
# Ansible, and the layer needs none: the same file under the name it asks for.
import integrador_docker  # noqa: E402

for _package in ("ansible", "ansible.module_utils"):
    sys.modules.setdefault(_package, types.ModuleType(_package))
sys.modules["ansible.module_utils.integrador_docker"] = integrador_docker
from integrador_probe import docker_start, http_get, postgres, redis  # noqa: E402

S = json.loads(os.environ["BENCH"])
API = f"http://127.0.0.1:{S['api_port']}"
WS = f"http://127.0.0.1:{S['ws_port']}"
HEALTH = [f"{API}/api/health", f"{API}/api/health/detailed", f"{WS}/ws/health", f"{WS}/ws/health/detailed"]


def wait(check: Callable[[], bool], interval: float, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {check.__name__}")
        time.sleep(interval)


def containers_ready() -> bool:
    return (
        postgres("127.0.0.1", S["pg_port"])[0] and redis("127.0.0.1", S["redis_port"], S["redis_password"])[0]
    )


def all_green() -> bool:
    return all(http_get(url)[0] for url in HEALTH)


def start_containers() -> None:
    threads = [
        threading.Thread(target=docker_start, args=(S["docker_host"], name)) for name in (S["db"], S["redis"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def old_script() -> dict[str, object]:
    # docker compose up -d: both containers (compose starts them one after the other).
    for name in (S["db"], S["redis"]):
        docker_start(S["docker_host"], name)
    # Polled once a second, up to 30 times each.
    for _ in range(30):
        if containers_ready():
            break
        time.sleep(1)
    root = S["root"]
    python = f"{root}/backend/.venv/bin/python"
    # Step 3: the quick import test of the dependencies (FastAPI, SQLAlchemy and Redis, as the seed says).
    subprocess.run([python, "-c", "import fastapi, sqlalchemy, redis"], check=True)
    env = "set -a && . backend/.env && set +a"
    pids = []
    api = (
        f"cd {root} && {env} && cd backend && exec .venv/bin/python -m uvicorn rest_api.main:app "
        f"--host 127.0.0.1 --port {S['api_port']}"
    )
    ws = (
        f"cd {root} && {env} && PYTHONPATH={root}/backend exec backend/.venv/bin/python -m uvicorn "
        f"ws_gateway.main:app --host 127.0.0.1 --port {S['ws_port']}"
    )
    for command, pause in ((api, 2.0), (ws, 0.0)):
        proc = subprocess.Popen(
            ["bash", "-c", command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pids.append(proc.pid)
        time.sleep(pause)
    return {"pids": pids}


def floor() -> dict[str, object]:
    start_containers()
    wait(containers_ready, 0.1)
    subprocess.run(
        ["systemctl", "--user", "start", "integrador-api.service", "integrador-ws.service"], check=True
    )
    wait(lambda: http_get(HEALTH[0])[0] and http_get(HEALTH[2])[0], 0.1)
    return {}


def main() -> None:
    arm = sys.argv[1]
    start = time.perf_counter()
    report: dict[str, object] = {}
    if arm == "playbook":
        proc = subprocess.run(sys.argv[2:], capture_output=True, text=True, check=False)
        report = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-3000:]}
        if proc.returncode != 0:
            print(json.dumps({"wall": time.perf_counter() - start, **report}))
            return
    elif arm == "old":
        report = old_script()
    elif arm == "floor":
        report = floor()
    elif arm == "restart":
        # The change arm's floor: the services that read .env restarted by hand, no tool.
        subprocess.run(
            ["systemctl", "--user", "restart", "integrador-api.service", "integrador-ws.service"], check=True
        )
    else:
        raise SystemExit(f"unknown arm {arm}")
    wait(all_green, 0.02)
    print(json.dumps({"wall": time.perf_counter() - start, **report}))


if __name__ == "__main__":
    main()
