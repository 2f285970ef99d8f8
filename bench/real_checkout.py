"""The converge on the REAL Integrador checkout, as a developer runs it: ansible-playbook run
by the user `dev` INSIDE a test "laptop" (a systemd container, local connection), as
bench/run.py does, but on an extracted `git archive` of the public Integrador repository
instead of the demo backend.

Steps, each a converge of playbooks/dev.yml, timed, then the services checked (MainPID of
both units, the API's and the gateway's health URLs):
  a  cold             a fresh laptop: no containers, volumes, venv, .env or units
  b  no change        expect changed=0 (the fast path)
  c  .env hand edit   DEBUG=true -> DEBUG=false: both services restarted, DEBUG=false in
                      their environment
  d  no change        expect changed=0 (the fast path)
  e  full converge    -e integrador_fast_path=false on the running stack
  f1 unknown key      NOT_A_SETTING=1 added to .env by hand: the real settings refuse it
                      (the run is expected to fail, with the backend's error)
  f2 key removed      that line removed again: expected to succeed
  g1 env_extra        python_env_env_extra {LOGIN_RATE_LIMIT: "7"}: in the services' environment
  g2 env_extra gone   the key leaves .env
  h  backup           playbooks/backup.yml
  i  restore          playbooks/restore.yml of that backup (confirmed): the data it replaced is
                      kept as a backup, which the summary names
  j1 backup ahead     alembic_version set to a revision the checkout lacks, backed up, set back
  j2 restore ahead    restoring that backup is expected to be refused before anything changes
  k1 dev after        the next make dev converges in full (a restore forgets the fast path)
  k2 no change        expect changed=0 (the fast path)
  l1 requirement      six==1.16.0 appended to backend/requirements.txt (a pull); l2 no change
  m1 -c file          six unpinned, pinned to 1.17.0 in a constraints file it names (-c);
  m2 -c changed       only that file changed (1.16.0); m3 no change; m4 the pull reverted
  n1 migration        an Alembic revision on top of the head: applied once; n2 no change;
                      n3 it and its table gone again
  o1 api port         app_services_api_port moved by 5: the API answers there, not on the
                      old port; o2 no change with it; o3 back
  p1 ollama on        integrador_ollama with the tests' double of Ollama: the services'
                      MainPIDs unchanged; p2 off again; p3 no change
  r1 docker context   integrador_docker_host empty, a Docker context naming the engine made
                      current (as `docker context use`); r2 no change; r3 a context naming a
                      socket with no engine: expected to fail naming it; r4 back; r5 unset
  s1 reset            playbooks/reset.yml (confirmed): a backup, then a fresh database;
                      s2 the next make dev; s3 no change
Never asserts: prints a table, what failed (task and message) and what the first converge
read from the checkout. Every run's output is written to --logs.

    .venv/bin/python bench/real_checkout.py [--checkout /tmp/realcheckout] [--keep] [--logs DIR]
                                            [--profile] [--until STEP]

Everything it creates is named realco (laptop-realco, realco_db, realco_redis, realco_ollama,
realco_pgdata, realco_redisdata, realco_models) on ports 25432, 26380, 28000, 28001 (28005
when moved) and 21499; all of it is removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

ROOT = Path(__file__).resolve().parent.parent
LAPTOP = "laptop-realco"
DB, REDIS = "realco_db", "realco_redis"
VOLUMES = ("realco_pgdata", "realco_redisdata", "realco_models")
API_PORT, WS_PORT = 28000, 28001
VENV = "/home/dev/.realco-ansible"
INVENTORY = "/home/dev/realco-inventory/hosts.yml"
ROOT_IN_LAPTOP = "/home/dev/integrador"
ENV_FILE = f"{ROOT_IN_LAPTOP}/backend/.env"
UNITS = {"api": "integrador-api.service", "ws": "integrador-ws.service"}
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# The only settings given to the playbook (no group_vars: a developer's plain run).
EXTRA_VARS: dict[str, Any] = {
    "integrador_root": ROOT_IN_LAPTOP,
    "integrador_docker_host": "unix:///docker.sock",
    "postgres_pgvector_image": "integrador-test/pgvector:pg16",
    "redis_image": "integrador-test/redis:7",
    "postgres_pgvector_port": 25432,
    "redis_port": 26380,
    "app_services_api_port": API_PORT,
    "app_services_ws_port": WS_PORT,
    "postgres_pgvector_container_name": DB,
    "redis_container_name": REDIS,
    "postgres_pgvector_volume": VOLUMES[0],
    "redis_volume": VOLUMES[1],
    "python_env_pip_environment": {"PIP_CERT": CA_BUNDLE},
    "ansible_python_interpreter": "/usr/bin/python3",
}
# Ollama switched on for the live stack: the tests' double of its API, never the real image.
OLLAMA: dict[str, Any] = {
    "integrador_ollama": True,
    "ollama_image": "integrador-test/ollama-double:latest",
    "ollama_models": ["all-minilm:22m"],
    "ollama_model_sizes_mb": {"all-minilm:22m": 50},
    "ollama_container_name": "realco_ollama",
    "ollama_volume": "realco_models",
    "ollama_port": 21499,
}
SUMMARY_TASK = "What was read from the checkout is reported"
SUMMARY_KEYS = ("DATABASE_URL", "Migrations", "Seed", "Health paths")

client = docker.from_env()


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    rc: int = -1
    changed: int | None = None
    output: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    api_health: int | None = None
    ws_health: tuple[str, int | None] = ("-", None)
    notes: list[str] = field(default_factory=list)


# --- the laptop -------------------------------------------------------------------------


def collections_dir() -> Path:
    import ansible_collections  # type: ignore[import-not-found]

    return Path(next(iter(ansible_collections.__path__))).resolve()


def laptop_run(cmd: str, user: str = "dev") -> tuple[int, str]:
    environment = {"XDG_RUNTIME_DIR": "/run/user/1000"} if user == "dev" else {}
    result = client.containers.get(LAPTOP).exec_run(["bash", "-lc", cmd], user=user, environment=environment)
    return result.exit_code, result.output.decode(errors="replace")


def laptop_exec(cmd: str, user: str = "dev") -> str:
    rc, out = laptop_run(cmd, user)
    if rc != 0:
        raise RuntimeError(f"{cmd}: {out[-4000:]}")
    return out


def ansible_version(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.strip()
    raise RuntimeError(f"{name} is not pinned in requirements.txt")


def remove_all() -> None:
    """Only what this script names: the laptop (and with it the units), the two containers, the volumes."""
    for name in (LAPTOP, DB, REDIS, OLLAMA["ollama_container_name"]):
        try:
            client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for volume in VOLUMES:
        try:
            client.volumes.get(volume).remove(force=True)
        except docker.errors.NotFound:
            pass


def create_laptop() -> None:
    remove_all()
    client.containers.run(
        "integrador-test/laptop:trixie",
        "/lib/systemd/systemd",
        name=LAPTOP,
        detach=True,
        cap_add=["SYS_ADMIN"],
        tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
        network_mode="host",
        volumes=[
            "/var/run/docker.sock:/docker.sock:rw",
            f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
            f"{ROOT}:/project:ro",
            f"{collections_dir()}:/opt/collections/ansible_collections:ro",
        ],
    )


def prepare_user() -> None:
    """What molecule/shared/prepare.yml's first play does: dev (lingering in the image) may use
    the host's Docker socket, and its user manager runs."""
    laptop_exec(
        "gid=$(stat -c %g /docker.sock) && "
        '{ getent group hostdocker >/dev/null || groupadd -o -g "$gid" hostdocker; } && '
        "usermod -aG hostdocker dev",
        user="root",
    )
    laptop_exec(
        "for i in $(seq 60); do "
        '[ "$(systemctl show -p ActiveState --value user@1000.service)" = active ] && exit 0; sleep 1; '
        "done; echo 'user@1000.service is not active'; exit 1",
        user="root",
    )


def copy_checkout(checkout: Path) -> None:
    """The checkout as /home/dev/integrador, owned by dev, without any .venv or .env."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if ".venv" in parts or parts[-1] == ".env":
            return None
        info.uid = info.gid = 1000
        info.uname = info.gname = "dev"
        return info

    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            tar.add(str(checkout), arcname="integrador", filter=keep)
        archive.seek(0)
        client.containers.get(LAPTOP).put_archive("/home/dev", archive.read())
    laptop_exec(f"chown -R dev:dev {ROOT_IN_LAPTOP}", user="root")


def install_ansible() -> None:
    """The developer's controller: ansible-core in a venv of dev's (the pinned version); the
    collections of this machine's tooling venv, read-only; the inventory is localhost."""
    laptop_exec(
        f"python3 -m venv {VENV} && PIP_CERT={CA_BUNDLE} {VENV}/bin/pip install "
        f"--quiet --disable-pip-version-check {ansible_version('ansible-core')}"
    )
    laptop_exec(
        f"mkdir -p {Path(INVENTORY).parent} && "
        f"printf 'all:\\n  hosts:\\n    localhost:\\n      ansible_connection: local\\n' > {INVENTORY}"
    )


# --- a converge and its checks ----------------------------------------------------------


def converge(step: Step, *extra: str, logs: Path, profile: bool = False, playbook: str = "dev.yml") -> None:
    env = {
        "ANSIBLE_CONFIG": "/project/ansible.cfg",
        "ANSIBLE_COLLECTIONS_PATH": "/opt/collections",
        "ANSIBLE_NOCOLOR": "1",
    }
    if profile:
        # Per-task times in the log (as the README's `make dev` with profile_tasks).
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.timer,ansible.posix.profile_tasks"
    command = [
        f"{VENV}/bin/ansible-playbook",
        "-i",
        INVENTORY,
        f"/project/playbooks/{playbook}",
        "-e",
        json.dumps(EXTRA_VARS),
    ]
    for value in extra:
        command += ["-e", value]
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    print(
        f"--- {step.name}: ansible-playbook {playbook} {' '.join(f'-e {shlex.quote(v)}' for v in extra)}",
        flush=True,
    )
    started = time.monotonic()
    step.rc, step.output = laptop_run(f"cd ~ && env {exports} {shlex.join(command)} 2>&1")
    step.seconds = time.monotonic() - started
    recap = re.search(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)", step.output, re.MULTILINE)
    step.changed = int(recap.group(1)) if recap else None
    log = logs / f"{step.name.split()[0]}.log"
    log.write_text(step.output)
    print(f"    {step.seconds:.1f} s, rc {step.rc}, changed {step.changed}  ({log})", flush=True)


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def check_services(step: Step, wait: float = 10.0) -> None:
    """MainPID of both units; the health URLs (the laptop shares this machine's network),
    polled for up to `wait` seconds for a 200."""
    for key, unit in UNITS.items():
        rc, out = laptop_run(f"systemctl --user show -p MainPID --value {unit}")
        step.pids[key] = int(out.strip()) if rc == 0 and out.strip().isdigit() else 0
    deadline = time.monotonic() + wait
    while True:
        step.api_health = http_status(f"http://127.0.0.1:{API_PORT}/api/health")
        step.ws_health = ("-", None)
        for path in ("/ws/health", "/health"):
            code = http_status(f"http://127.0.0.1:{WS_PORT}{path}")
            step.ws_health = (path, code)
            if code == 200:
                break
        if (step.api_health == 200 and step.ws_health[1] == 200) or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def process_env(pid: int, key: str) -> str | None:
    """A key's value in a process's environment (None: not there)."""
    if pid <= 0:
        return None
    rc, out = laptop_run(f"cat /proc/{pid}/environ | tr '\\0' '\\n'")
    if rc != 0:
        return None
    for line in out.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return None


def env_file_lines(pattern: str) -> list[str]:
    _, out = laptop_run(f"grep -E {shlex.quote(pattern)} {ENV_FILE}; true")
    return out.splitlines()


def failures(output: str) -> list[str]:
    """Each failed task of a run: its name and its message."""
    found, task = [], "?"
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith(("fatal:", "failed:")) or re.match(r"^\S.*FAILED! =>", line):
            body = line.split("=>", 1)[1].strip() if "=>" in line else line
            try:
                result = json.loads(body)
                message = result.get("msg") or result.get("stderr") or body
                if isinstance(message, list):
                    message = "\n".join(str(m) for m in message)
            except json.JSONDecodeError:
                message = body
            found.append(f"TASK [{task}]\n{message}")
    if not found and "ERROR!" in output:
        found.append(output[output.index("ERROR!") :].strip()[:4000])
    recap = re.search(r"^localhost\s*:.*$", output, re.MULTILINE)
    if recap:
        found.append(f"PLAY RECAP {' '.join(recap.group(0).split())}")
    return found


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[WARNING]")]


def summary(output: str) -> list[str]:
    """The messages of the tasks (python_env's and app_services') that report what was read
    from the checkout."""
    lines, found = output.splitlines(), []
    for index, line in enumerate(lines):
        if not (line.startswith("TASK [") and SUMMARY_TASK in line):
            continue
        block = []
        for following in lines[index + 1 :]:
            if following.startswith(("TASK [", "RUNNING HANDLER [", "PLAY RECAP")):
                break
            block.append(following)
        text = "\n".join(block)
        try:
            message = json.loads(text[text.index("{") : text.rindex("}") + 1])["msg"]
            found += [str(m) for m in (message if isinstance(message, list) else [message])]
        except (ValueError, KeyError):
            found += [b.strip() for b in block if any(k in b for k in SUMMARY_KEYS)]
    return found or [line.strip() for line in lines if any(f"{k} " in line for k in SUMMARY_KEYS)]


def journal_tail(unit: str, lines: int = 25) -> str:
    _, out = laptop_run(f"journalctl --user -u {unit} -n {lines} --no-pager 2>&1; true")
    return out


# --- the sequence -------------------------------------------------------------------------


def database_note() -> str:
    """What the migrations and the seed left in the database."""
    query = (
        "select (select string_agg(version_num, ',') from alembic_version), "
        "(select count(*) from information_schema.tables where table_schema = 'public'), "
        "(select count(*) from app_tenant), (select count(*) from app_user)"
    )
    try:
        result = client.containers.get(DB).exec_run(
            ["psql", "-U", "postgres", "-d", "menu_ops", "-Atc", query], user="postgres"
        )
    except docker.errors.NotFound:
        return "database: no container"
    out = result.output.decode(errors="replace").strip()
    if result.exit_code != 0:
        return f"database: {out[-300:]}"
    version, tables, tenants, users = out.split("|")
    return f"database: alembic {version}, {tables} tables, app_tenant {tenants} rows, app_user {users} rows"


class Enough(Exception):
    """The step --until names has run: the rest of the matrix is left out."""


def run_sequence(steps: list[Step], logs: Path, profile: bool, until: str = "") -> None:
    """Appends each step to `steps` as it ends (a step that raises leaves the earlier ones)."""

    def step(name: str, *extra: str, playbook: str = "dev.yml") -> Step:
        current = Step(name)
        converge(current, *extra, logs=logs, profile=profile, playbook=playbook)
        check_services(current)
        if current.rc != 0:
            (logs / f"{name.split()[0]}.journal").write_text(
                "".join(journal_tail(unit) for unit in UNITS.values())
            )
        steps.append(current)
        if until and name.split()[0] == until:
            raise Enough(name)
        return current

    def pid_note(before: Step, after: Step) -> None:
        for key in UNITS:
            if before.pids.get(key) == after.pids.get(key):
                after.notes.append(f"{key} MainPID unchanged ({after.pids.get(key)})")

    step("a cold").notes.append(database_note())
    if until == "snapshots":  # --until snapshots: the cold converge, then only the snapshot steps
        snapshots(step, pid_note)
        return
    if until == "migrations":  # --until migrations: the cold converge, then only the u steps
        migrations(step, pid_note)
        return
    step("b no change")

    # c: a hand edit of .env reaches both services.
    rc, out = laptop_run(
        f"sed -i 's/^DEBUG=true$/DEBUG=false/' {ENV_FILE} && grep -c '^DEBUG=false$' {ENV_FILE}"
    )
    before = steps[-1]
    edited = step("c DEBUG=false")
    if rc != 0:
        edited.notes.append(f"the edit found no DEBUG=true line: {out.strip()} {env_file_lines('^DEBUG=')}")
    pid_note(before, edited)
    for key in UNITS:
        edited.notes.append(f"{key} environ DEBUG={process_env(edited.pids.get(key, 0), 'DEBUG')}")

    step("d no change")
    step("e full converge", "integrador_fast_path=false")

    # f: a key the real settings refuse; then removed again.
    laptop_exec(f"printf 'NOT_A_SETTING=1\\n' >> {ENV_FILE}")
    step("f1 NOT_A_SETTING=1")
    laptop_exec(f"sed -i '/^NOT_A_SETTING=1$/d' {ENV_FILE}")
    step("f2 key removed")

    # g: a key given through python_env_env_extra, then taken away.
    before = steps[-1]
    extra = step("g1 env_extra", json.dumps({"python_env_env_extra": {"LOGIN_RATE_LIMIT": "7"}}))
    pid_note(before, extra)
    for key in UNITS:
        extra.notes.append(
            f"{key} environ LOGIN_RATE_LIMIT={process_env(extra.pids.get(key, 0), 'LOGIN_RATE_LIMIT')}"
        )
    extra.notes.append(f".env: {env_file_lines('^LOGIN_RATE_LIMIT=') or 'no LOGIN_RATE_LIMIT'}")
    gone = step("g2 env_extra gone")
    gone.notes.append(f".env: {env_file_lines('^LOGIN_RATE_LIMIT=') or 'no LOGIN_RATE_LIMIT line'}")
    gone.notes.append(
        f"api environ LOGIN_RATE_LIMIT={process_env(gone.pids.get('api', 0), 'LOGIN_RATE_LIMIT')}"
    )

    # h-k: day two on the real data: a backup, its restore, a backup from "another branch".
    taken = step("h backup", playbook="backup.yml")
    name = re.search(r"-e backup=(\d{8}T\d{6}Z(?:-\d{2})?)", taken.output)
    taken.notes.append(f"backup folder: {name.group(1) if name else 'not named in the output'}")
    if name:
        confirmed = json.dumps({"backup": name.group(1), "integrador_restore_confirmed": True})
        restored = step("i restore", confirmed, playbook="restore.yml")
        kept = re.search(r"The data it replaced is kept as backup (\S+?):", " ".join(restored.output.split()))
        restored.notes.append(f"replaced data kept as: {kept.group(1) if kept else 'NOT NAMED'}")
        restored.notes.append(database_note())
    revision = psql("select version_num from alembic_version")
    psql("update alembic_version set version_num = 'ffff_other_branch'")
    ahead = step("j1 backup ahead", playbook="backup.yml")
    psql(f"update alembic_version set version_num = '{revision}'")
    ahead_name = re.search(r"-e backup=(\d{8}T\d{6}Z(?:-\d{2})?)", ahead.output)
    if ahead_name:
        confirmed = json.dumps({"backup": ahead_name.group(1), "integrador_restore_confirmed": True})
        refused = step("j2 restore ahead", confirmed, playbook="restore.yml")
        said = " ".join(refused.output.split())
        found = re.search(
            r"the backup's database is at Alembic revision .*?restore a backup taken on this checkout", said
        )
        refused.notes.append(f"refusal: {found.group(0) if found else 'NOT FOUND'}")
        refused.notes.append(f"alembic_version now: {psql('select version_num from alembic_version')}")
    after = step("k1 dev after")
    why = [line.strip() for line in after.output.splitlines() if "Full converge:" in line]
    after.notes.append(why[0][:200] if why else "no 'Full converge:' line (ended on the fast path?)")
    step("k2 no change")
    snapshots(step, pid_note)
    more_changes(step, pid_note)


def snapshots(step: Any, pid_note: Any) -> None:
    """Issue 28's snapshots on the real data: one taken, the data changed, restored (both
    stores back, the services restarted), listed, the undo restored, both dropped."""

    def verb(action: str, name: str = "") -> str:
        return json.dumps({"integrador_snapshot_action": action, "integrador_snapshot_name": name})

    psql("create table if not exists itest_snapshot_probe (v text)")
    psql("delete from itest_snapshot_probe; insert into itest_snapshot_probe values ('before')")
    client.containers.get(REDIS).exec_run(["redis-cli", "SET", "itest-snapshot", "before"])
    taken = step("t1 snapshot", verb("take", "real-before"), playbook="snapshot.yml")
    taken.notes.append(" ".join(line.strip() for line in summary_lines(taken.output, "snapshot")))
    psql("update itest_snapshot_probe set v = 'after'")
    client.containers.get(REDIS).exec_run(["redis-cli", "SET", "itest-snapshot", "after"])
    restored = step("t2 restore-snapshot", verb("restore", "real-before"), playbook="snapshot.yml")
    pid_note(taken, restored)
    redis_now = client.containers.get(REDIS).exec_run(["redis-cli", "GET", "itest-snapshot"]).output
    restored.notes.append(
        f"probe row: {psql('select v from itest_snapshot_probe')}, redis: {redis_now.decode().strip()}"
    )
    undo = re.search(r"NAME=(undo-[0-9-]+)", " ".join(restored.output.split()))
    restored.notes.append(f"undo snapshot: {undo.group(1) if undo else 'NOT NAMED'}")
    listed = step("t3 snapshots", verb("list"), playbook="snapshot.yml")
    listed.notes.extend(summary_lines(listed.output, "NAME") + summary_lines(listed.output, "real-before"))
    if undo:
        back = step("t4 restore the undo", verb("restore", undo.group(1)), playbook="snapshot.yml")
        back.notes.append(f"probe row: {psql('select v from itest_snapshot_probe')}")
        step("t5 drop undo", verb("drop", undo.group(1)), playbook="snapshot.yml")
    step("t6 drop", verb("drop", "real-before"), playbook="snapshot.yml")
    after = step("t7 dev after")
    why = [line.strip() for line in after.output.splitlines() if "Full converge:" in line]
    after.notes.append(why[0][:200] if why else "no 'Full converge:' line (ended on the fast path?)")
    step("t8 no change")


def migrations(step: Callable[..., Step], pid_note: Callable[[Step, Step], None]) -> None:
    """Issue 28's migrations that can be undone, on the real checkout: a migration added (the data
    kept as pre-<head> first, named in the summary), the checkout without it (another branch: the
    run stops before the API restarts, naming the snapshot), that snapshot put back, dev again."""
    head = psql("select version_num from alembic_version")
    migration = f"{ROOT_IN_LAPTOP}/backend/alembic/versions/zz_bench_branch.py"
    laptop_exec(
        f"cat > {migration} <<'EOF'\n"
        f'revision = "zz_bench_branch"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n'
        "from alembic import op\n\n\ndef upgrade():\n"
        '    op.execute("CREATE TABLE zz_bench_branch (id serial PRIMARY KEY)")\n\n\n'
        "def downgrade():\n"
        '    op.execute("DROP TABLE zz_bench_branch")\nEOF'
    )
    added = step("u1 migration added")
    added.notes.extend(summary_lines(added.output, "Migrations  applied"))
    added.notes.append(f"alembic {psql('select version_num from alembic_version')}")
    kept = re.search(r"NAME=(pre-[a-z0-9_-]+)", " ".join(added.output.split()))
    step("u2 no change")
    laptop_exec(f"mv {migration} /tmp/zz_bench_branch.py.aside")
    older = step("u3 older branch")
    pid_note(added, older)
    said = " ".join(older.output.split())
    found = re.search(r"The database \S+ is at Alembic revision .{0,400}", said)
    older.notes.append(found.group(0)[:400] if found else "NO BRANCH MESSAGE")
    if kept:
        back = step(
            "u4 restore-snapshot",
            json.dumps({"integrador_snapshot_action": "restore", "integrador_snapshot_name": kept.group(1)}),
            playbook="snapshot.yml",
        )
        back.notes.append(f"alembic {psql('select version_num from alembic_version')}")
        table = psql("select to_regclass('zz_bench_branch')")
        back.notes.append(f"zz_bench_branch table: {table or 'gone'}")
    after = step("u5 dev after")
    after.notes.extend(summary_lines(after.output, "Migrations  applied") or ["no Migrations line"])
    step("u6 no change")


def summary_lines(output: str, needle: str) -> list[str]:
    """The output's lines holding needle (the debug messages of the snapshot verbs)."""
    return [line.strip()[:240] for line in output.splitlines() if needle in line][:3]


def more_changes(step: Any, pid_note: Any) -> None:
    """The rest of issue 23's change matrix on the live stack, each followed by a run that
    should end on the fast path: a pull that changes what pip installs, a migration added, a
    port setting, Ollama on and off, `docker context use`, make reset."""
    requirements = f"{ROOT_IN_LAPTOP}/backend/requirements.txt"
    constraints = f"{ROOT_IN_LAPTOP}/backend/constraints.txt"
    six = f"{ROOT_IN_LAPTOP}/backend/.venv/bin/python -c 'import six; print(six.__version__)'"
    laptop_exec(f"cp {requirements} /tmp/requirements.orig && echo 'six==1.16.0' >> {requirements}")
    added = step("l1 requirement added")
    added.notes.append(f"six {laptop_run(six)[1].strip()}")
    step("l2 no change")
    laptop_exec(
        f"cp /tmp/requirements.orig {requirements} && printf 'six\\n-c constraints.txt\\n' >> {requirements}"
        f" && echo 'six==1.17.0' > {constraints}"
    )
    moved = step("m1 pin in -c file")
    moved.notes.append(f"six {laptop_run(six)[1].strip()}")
    laptop_exec(f"echo 'six==1.16.0' > {constraints}")
    only = step("m2 -c file changed")
    only.notes.append(f"six {laptop_run(six)[1].strip()}")
    step("m3 no change")
    laptop_exec(f"cp /tmp/requirements.orig {requirements} && rm -f {constraints}")
    step("m4 pull reverted")

    head = psql("select version_num from alembic_version")
    migration = f"{ROOT_IN_LAPTOP}/backend/alembic/versions/zz_bench_note.py"
    laptop_exec(
        f"cat > {migration} <<'EOF'\n"
        f'revision = "zz_bench_note"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n'
        "from alembic import op\n\n\ndef upgrade():\n"
        '    op.execute("CREATE TABLE zz_bench_note (id serial PRIMARY KEY)")\n\n\n'
        "def downgrade():\n"
        '    op.execute("DROP TABLE zz_bench_note")\nEOF'
    )
    migrated = step("n1 migration added")
    migrated.notes.append(database_note())
    table = psql("select to_regclass('zz_bench_note')")
    migrated.notes.append(f"zz_bench_note table: {table or 'NOT THERE'}")
    step("n2 no change")
    laptop_exec(f"rm -f {migration}")
    psql("drop table if exists zz_bench_note")
    psql(f"update alembic_version set version_num = '{head}'")
    step("n3 migration gone")

    elsewhere = json.dumps({"app_services_api_port": API_PORT + 5})
    port = step("o1 api port +5", elsewhere)
    port.notes.append(
        f"api health on {API_PORT + 5}: {http_status(f'http://127.0.0.1:{API_PORT + 5}/api/health')}, "
        f"on {API_PORT}: {http_status(f'http://127.0.0.1:{API_PORT}/api/health')}"
    )
    step("o2 no change", elsewhere)
    before = step("o3 port back")
    on = step("p1 ollama on", json.dumps(OLLAMA))
    pid_note(before, on)
    off = step("p2 ollama off")
    pid_note(before, off)
    step("p3 no change")

    engine, gone = "realco-engine", "realco-gone"
    unset = json.dumps({"integrador_docker_host": ""})

    def use_context(name: str, host: str) -> None:
        digest = hashlib.sha256(name.encode()).hexdigest()
        meta = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}
        laptop_exec(
            f"mkdir -p ~/.docker/contexts/meta/{digest} && echo {shlex.quote(json.dumps(meta))} "
            f"> ~/.docker/contexts/meta/{digest}/meta.json && "
            f"echo {shlex.quote(json.dumps({'currentContext': name}))} > ~/.docker/config.json"
        )

    use_context(engine, "unix:///docker.sock")
    step("r1 docker context", unset)
    step("r2 no change", unset)
    use_context(gone, "unix:///run/realco-gone.sock")
    refused = step("r3 context use gone", unset)
    named = [line.strip() for line in refused.output.splitlines() if gone in line]
    refused.notes.append(named[0][:240] if named else "the context is NOT named")
    use_context(engine, "unix:///docker.sock")
    step("r4 context back", unset)
    laptop_exec("rm -rf ~/.docker")
    step("r5 setting back")

    reset = step("s1 reset", json.dumps({"integrador_reset_confirmed": True}), playbook="reset.yml")
    reset.notes.append(database_note())
    step("s2 dev after reset")
    step("s3 no change")


def psql(query: str) -> str:
    result = client.containers.get(DB).exec_run(
        ["psql", "-U", "postgres", "-d", "menu_ops", "-Atc", query], user="postgres"
    )
    return result.output.decode(errors="replace").strip()


def report(steps: list[Step]) -> None:
    print(f"\n{'step':22} {'seconds':>8} {'rc':>3} {'changed':>7} {'api pid':>12} {'ws pid':>12}  health")
    previous: Step | None = None
    for s in steps:
        marks = {}
        for key in UNITS:
            pid = s.pids.get(key, 0)
            if previous is None:
                marks[key] = str(pid)
            else:
                marks[key] = f"{'yes' if pid != previous.pids.get(key) else 'no'} {pid}"
        ws_path, ws_code = s.ws_health
        health = f"api {s.api_health}, ws {ws_path} {ws_code}"
        changed = "-" if s.changed is None else str(s.changed)
        pids = f"{marks['api']:>12} {marks['ws']:>12}"
        print(f"{s.name:22} {s.seconds:8.1f} {s.rc:3d} {changed:>7} {pids}  {health}")
        previous = s
    print("\n(api pid / ws pid: changed since the previous step?, then MainPID)")
    for s in steps:
        for note in s.notes:
            print(f"{s.name:22} {note}")
    for s in steps:
        for warning in warnings(s.output):
            print(f"{s.name:22} {warning}")
    for s in steps:
        if s.rc != 0:
            print(f"\n=== {s.name}: rc {s.rc}, failed:")
            for failure in failures(s.output) or [s.output[-3000:]]:
                print(failure)
    print("\n=== What the first converge read from the checkout:")
    for line in summary(steps[0].output) if steps else []:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkout", type=Path, default=Path("/tmp/realcheckout"))
    parser.add_argument("--keep", action="store_true", help="leave the laptop and the stack running")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/realco-logs"), help="each run's output")
    parser.add_argument("--profile", action="store_true", help="per-task times in the logs (profile_tasks)")
    parser.add_argument(
        "--until",
        default="",
        help=(
            "stop after this step (f2: the first 7 steps); snapshots: a cold converge, then the t steps;"
            " migrations: a cold converge, then the u steps"
        ),
    )
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "backend").is_dir():
        parser.error(f"{checkout} holds no backend/")
    args.logs.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    steps: list[Step] = []
    try:
        create_laptop()
        prepare_user()
        copy_checkout(checkout)
        install_ansible()
        print(f"laptop ready in {time.monotonic() - started:.0f} s", flush=True)
        run_sequence(steps, args.logs, args.profile, args.until)
    except Enough as last:
        print(f"--until {args.until}: stopped after {last}", flush=True)
    finally:
        report(steps)
        if args.keep:
            print(f"\n--keep: {LAPTOP}, {DB}, {REDIS} and the volumes are left running")
        else:
            remove_all()
        print(f"\ntook {time.monotonic() - started:.0f} s; logs in {args.logs}")


if __name__ == "__main__":
    main()
