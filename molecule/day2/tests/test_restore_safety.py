"""What restore.yml and the run lock promise when things go wrong: a restore
killed at any step leaves each store with its old or its restored data and a
rerun finishes it; one run at a time per stack; a backup folder named with
spaces and quotes restores; two backups within one second get two folders."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import PROJECT, ConvergeResult, known_task, playbook_command, scenario_converge
from held import database_swap_held, kill_run, redis_swap_held
from stack import (
    BACKUPS,
    LAPTOP,
    STATE,
    UNITS,
    backup_name,
    endpoints_answer,
    journal,
    kv,
    laptop_files,
    play,
    restore,
    sql,
    unit_state,
)
from test_backup_restore import KEY, TABLE, data, leftovers, set_data

LOCK = f"{STATE}/run.lock"
# The lock timeout of a run that must wait for another (seconds): beyond the default 120 s, which
# one converge or restore can take under CI's load (a restore did, in a red CI run).
PATIENT = 900
RESTORED = ("original", "[1,2,3]", "original")
# Where restore.yml is killed, in the order it reaches them: the boundaries between tasks it can
# be killed at (integrador_test_kill_restore_at), and two places inside a module run, where the
# test holds the run (held.py): inside the database swap's transaction, and inside the Redis swap
# container's copy.
INSIDE_DB_SWAP = "inside the database swap"
INSIDE_REDIS_SWAP = "inside the Redis swap"
KILL_POINTS = [
    "staging",
    "staged",
    "units-stopped",
    INSIDE_DB_SWAP,
    "db-swapped",
    INSIDE_REDIS_SWAP,
    "redis-copied",
    "redis-swapped",
    "redis-started",
]


@pytest.fixture(scope="module")
def backup(test_vars: dict[str, Any]) -> Iterator[str]:
    """A backup of the stack holding the value 'original'; yields its folder name."""
    set_data(test_vars, "original")
    yield backup_name(play("backup"))


def flat(output: str) -> str:
    """Output with line breaks and runs of spaces as one space: warnings are wrapped."""
    return " ".join(output.split())


def start(playbook: Path, extra_vars: dict[str, Any] | None = None) -> subprocess.Popen[str]:
    cmd, env = playbook_command(playbook, extra_vars)
    # A session of its own: held.kill_run kills the whole run (ansible-playbook and its workers).
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def finish(proc: subprocess.Popen[str]) -> ConvergeResult:
    out, _ = proc.communicate(timeout=900)
    return ConvergeResult(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))


def wait_for_lock(docker_client: docker.DockerClient, proc: subprocess.Popen[str]) -> None:
    """Until the run started as proc holds the lock (it takes it first thing)."""
    while not laptop_files(docker_client, LOCK):
        assert proc.poll() is None, finish(proc)
        time.sleep(0.2)


def redis_value(docker_client: docker.DockerClient, test_vars: dict[str, Any]) -> str | None:
    """The probe key in Redis, starting the container when a killed run left it
    stopped, as a user's `docker start` would."""
    container = docker_client.containers.get(test_vars["redis_container_name"])
    if container.status != "running":
        container.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            return kv(test_vars).get(KEY)
        except Exception:  # noqa: BLE001 (loading or not yet listening)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_restore_killed_at_each_step_leaves_old_or_restored_data_and_a_rerun_finishes(
    backup: str,
    host: Any,
    docker_client: docker.DockerClient,
    test_vars: dict[str, Any],
    converge: Callable[..., ConvergeResult],
) -> None:
    """One restore killed at the first step, each rerun killed one step further on, the last
    rerun let finish. After each kill each store holds its old or its restored data and the
    run's lock and journal are left; the run after it took the lock over and got past the step
    the last one was killed at (it was killed at the next), so a rerun finishes a restore killed
    at any step, including a rerun itself killed, and inside the two swaps (held.py: the
    database's transaction after the live database was renamed away, the Redis container's copy
    after dump.rdb was replaced). (One chain of 10 runs, not 9 pairs, in about half the time;
    from units-stopped on, the run killed is a rerun resuming from "staged", not a fresh
    restore: both go through the same swap block, which finds out what was done.)"""
    old = "old"
    set_data(test_vars, old)
    lock_left = False  # by a run killed before this one
    for number, point in enumerate(KILL_POINTS):
        if point in (INSIDE_DB_SWAP, INSIDE_REDIS_SWAP):
            killed = killed_inside(point, backup, docker_client, test_vars)
        else:
            killed = restore({"backup": backup, "integrador_test_kill_restore_at": point})

        assert killed.rc == -9, (point, killed)
        assert known_task("Restore is summarised") not in killed.output, (point, killed)
        # Each store holds its old or its restored data, never neither.
        assert sql(test_vars, f"SELECT v FROM {TABLE} WHERE id = 1")[0][0] in (old, "original"), point
        assert redis_value(docker_client, test_vars) in (old, "original"), point
        if point == "staging":
            # Nothing live was touched yet.
            assert data(test_vars) == (old, "[1,2,3]", old)
        # It took over the lock of the run killed before it ...
        assert ("Took over the run lock" in flat(killed.output)) == lock_left, (point, killed)
        if number > KILL_POINTS.index("staged"):
            # ... and went on from the step that run reached, not from the start.
            assert "Finishing the restore of ~/integrador-backups/" in killed.output, (point, killed)
        assert laptop_files(docker_client, LOCK), f"the lock of the run killed at {point} is left behind"
        assert journal(docker_client), f"the journal of the run killed at {point} is left behind"
        lock_left = True

        if point == "db-swapped":
            # A half-restored stack: a converge refuses, naming the way out; status says so.
            refused = converge()
            assert refused.rc != 0, refused
            assert "Took over the run lock" in flat(refused.output), refused
            lock_left = False  # the refused run released what it took over
            interrupted = f"A restore of ~/integrador-backups/{backup} was interrupted (staged, started "
            assert interrupted in refused.output, refused
            assert "finish it with `make restore BACKUP=" in refused.output, refused
            assert "Nothing was changed." in refused.output, refused
            status = play("status")
            assert status.rc != 0, status
            assert "interrupted (staged)" in status.output and "half done: finish it with make restore" in (
                status.output
            ), status

    rerun = restore({"backup": backup})

    assert rerun.rc == 0, rerun
    assert "Took over the run lock" in flat(rerun.output) and "which ended without releasing it" in flat(
        rerun.output
    ), rerun
    assert "Finishing the restore of ~/integrador-backups/" in rerun.output, rerun
    assert data(test_vars) == RESTORED
    for unit in UNITS:
        assert unit_state(host, unit) == ("active", "enabled"), unit
    endpoints_answer(test_vars)
    assert leftovers(docker_client, test_vars) == []
    assert not laptop_files(docker_client, LOCK)


def killed_inside(
    point: str, backup: str, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> ConvergeResult:
    """A restore (a rerun, from where the run killed before it stopped) held inside the module
    run the point names, then killed there (held.py)."""
    playbook = PROJECT / "playbooks" / "restore.yml"
    if point == INSIDE_DB_SWAP:
        with database_swap_held(test_vars) as wait:
            proc = start(playbook, {"integrador_restore_confirmed": True, "backup": backup})
            # It waits on the second rename: the live database was renamed away (not committed).
            wait(proc)
            kill_run(docker_client, LAPTOP, proc)
    else:
        with redis_swap_held(docker_client, test_vars) as wait:
            proc = start(playbook, {"integrador_restore_confirmed": True, "backup": backup})
            wait(proc)
            kill_run(docker_client, LAPTOP, proc)
    return finish(proc)


def test_two_converges_at_once_wait_or_name_the_first(
    docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    first = start(scenario_converge())
    wait_for_lock(docker_client, first)
    patient = start(scenario_converge(), {"integrador_lock_timeout": PATIENT})
    impatient = finish(start(scenario_converge(), {"integrador_lock_timeout": 0}))
    assert finish(first).rc == 0

    assert impatient.rc != 0, impatient
    assert (
        f"Another run holds the lock of this stack: playbooks/dev.yml (pid {first.pid}, user "
        in impatient.output
    ), impatient
    assert "Waited 0 s (integrador_lock_timeout) and changed nothing." in impatient.output, impatient
    waited = finish(patient)
    assert waited.rc == 0 and waited.changed == 0, waited
    assert f"for the run lock, held by playbooks/dev.yml (pid {first.pid}," in flat(waited.output), waited
    assert not laptop_files(docker_client, LOCK)
    endpoints_answer(test_vars)


# A backup folder named with every character a shell or a template could misread.
ODD = "a folder with spaces 'quotes' \"double\" (copy) & ; *"


def test_two_restores_at_once_run_one_after_the_other(
    backup: str, host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    """The second restore, started while the first holds the lock, is of a backup of other data
    in a folder named with spaces and quotes (ODD): its data at the end shows that it ran after
    the first, and that such a folder restores (one restore fewer than a test of each: a whole
    restore takes about a minute)."""
    set_data(test_vars, "odd")
    taken = backup_name(play("backup"))
    host.run_test("rm -rf %s && mv %s %s", f"{BACKUPS}/{ODD}", f"{BACKUPS}/{taken}", f"{BACKUPS}/{ODD}")
    set_data(test_vars, "changed")
    playbook = PROJECT / "playbooks" / "restore.yml"
    confirmed = {"integrador_restore_confirmed": True}
    first = start(playbook, {**confirmed, "backup": backup})
    wait_for_lock(docker_client, first)
    second = start(playbook, {**confirmed, "backup": ODD, "integrador_lock_timeout": PATIENT})
    one, two = finish(first), finish(second)

    assert one.rc == 0, one
    assert two.rc == 0, two
    assert f"for the run lock, held by playbooks/restore.yml (pid {first.pid}," in flat(two.output), two
    assert data(test_vars) == ("odd", "[1,2,3]", "odd")
    assert leftovers(docker_client, test_vars) == []
    assert host.file(f"{BACKUPS}/{ODD}/SHA256SUMS").is_file
    endpoints_answer(test_vars)


def test_backup_folder_with_spaces_and_quotes_is_found_by_its_path(
    backup: str, host: Any, test_vars: dict[str, Any]
) -> None:
    """Restored by its name in the test above; named by its path, the same folder is found and
    read (verified in check mode: what the name changes ends before the swap)."""
    if not host.file(f"{BACKUPS}/{ODD}").is_directory:
        host.run_test("cp -a %s %s", f"{BACKUPS}/{backup}", f"{BACKUPS}/{ODD}")
    set_data(test_vars, "changed")
    checked = play("restore", {"backup": f"{BACKUPS}/{ODD}"}, "--check")
    assert checked.rc == 0, checked
    shown = json.dumps(f"{BACKUPS}/{ODD}")[1:-1]  # as the message shows it, in JSON
    assert f"Backup {shown} is good (checksums" in flat(checked.output), checked
    assert data(test_vars) == ("changed", "[1,2,3]", "changed")

    # Ansible expands $VARIABLES in every path option: such a name is refused, not misread.
    dollar = "backup $HOME"
    host.run_test("cp -a %s %s", f"{BACKUPS}/{backup}", f"{BACKUPS}/{dollar}")
    refused = restore({"backup": dollar})
    assert refused.rc != 0, refused
    assert "has a $ in its path, which Ansible would expand as an environment variable" in refused.output


def test_two_backups_within_one_second_get_two_folders(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any]
) -> None:
    # TEST ONLY variable: both backups are named as if taken in the same second.
    # Kept: older than every other backup, they would be the first pruned.
    second = {"integrador_test_backup_time": "20200101T000000Z", "integrador_backup_keep": 99}
    host.run_test(f"rm -rf {BACKUPS}/20200101T000000Z*")
    set_data(test_vars, "first")
    one = play("backup", second)
    set_data(test_vars, "second")
    two = play("backup", second)

    assert one.rc == 0 and two.rc == 0, (one, two)
    assert "-e backup=20200101T000000Z)" in one.output, one
    assert "-e backup=20200101T000000Z-02)" in two.output, two
    # Each folder holds its own backup: checksummed, and its dump holds the value of its moment
    # (read back by pg_restore itself; a restore of each is what every other test here does).
    laptop = docker_client.containers.get(LAPTOP)
    db = docker_client.containers.get(test_vars["postgres_pgvector_container_name"])
    for name, value in (("20200101T000000Z", "first"), ("20200101T000000Z-02", "second")):
        assert host.run(f"cd {BACKUPS}/{name} && sha256sum -c SHA256SUMS").rc == 0, name
        archive, _ = laptop.get_archive(f"{BACKUPS}/{name}/postgres.dump")
        assert db.put_archive("/tmp", b"".join(archive)), name
        rows = db.exec_run(
            ["pg_restore", "--data-only", f"--table={TABLE}", "--file=-", "/tmp/postgres.dump"]
        )
        assert rows.exit_code == 0 and f"\t{value}\t" in rows.output.decode(), (name, rows.output[-500:])
    db.exec_run(["rm", "-f", "/tmp/postgres.dump"])
    assert leftovers(docker_client, test_vars) == []
