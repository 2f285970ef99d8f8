"""library/integrador_fast_path.py on real files (its containers and units are the default
scenario's: molecule/default/tests/test_fast_path.py): a stamp is recorded, a check against an
unchanged host is fast, and any change to a watched file, to the inputs or to the stamp itself
makes the run converge in full, with the stamp forgotten. Hypothesis changes the watched files'
bytes; the file digests hold no secret."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import redis as redis_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from this_machine import free_port

fast_path = load(ROOT / "library" / "integrador_fast_path.py", "integrador_fast_path_under_test")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
REDIS_PASSWORD = "unit-Redis-pass-5813"


def params(state: str, state_dir: Path, **given_args: Any) -> dict[str, Any]:
    values = {key: spec.get("default") for key, spec in fast_path.ARGUMENT_SPEC.items()}
    values.update(state=state, state_dir=str(state_dir), **given_args)
    return values


def checkout(tmp: Path) -> list[str]:
    (tmp / "backend" / "migrations" / "versions").mkdir(parents=True)
    (tmp / "backend" / "requirements.txt").write_text("fastapi==0.115.0\n-r more.txt\n")
    (tmp / "backend" / "more.txt").write_text("asyncpg\n")
    (tmp / "backend" / ".env").write_text("JWT_SECRET=s3cr3t-value-never-written\n")
    (tmp / "backend" / "migrations" / "versions" / "0001_menu.py").write_text("revision = '0001'\n")
    return [
        str(tmp / "backend" / "requirements.txt"),
        str(tmp / "backend" / "more.txt"),
        str(tmp / "backend" / ".env"),
        str(tmp / "backend" / "migrations"),
        str(tmp / "backend" / "seed.py"),  # missing: its appearance counts too
    ]


def record(tmp: Path, watch: list[str], inputs: str = "in-1") -> Path:
    answer = fast_path.answer(
        params("recorded", tmp / "state", inputs=inputs, watch=watch, summary=["REST API  x"])
    )
    assert answer["recorded"] is True, answer
    return Path(answer["path"])


def check(tmp: Path, inputs: str = "in-1") -> dict[str, Any]:
    return fast_path.answer(params("checked", tmp / "state", inputs=inputs))


def test_unchanged_host_is_fast_and_gives_the_recorded_summary(tmp_path: Path) -> None:
    stamp = record(tmp_path, checkout(tmp_path))
    assert oct(stamp.stat().st_mode & 0o777) == "0o600"
    answer = check(tmp_path)
    assert answer["fast"] is True and answer["changed"] is False, answer
    assert answer["summary"] == ["REST API  x"]
    assert stamp.exists()


def test_the_stamp_holds_digests_not_contents(tmp_path: Path) -> None:
    stamp = record(tmp_path, checkout(tmp_path))
    text = stamp.read_text()
    assert "s3cr3t-value-never-written" not in text
    assert json.loads(text)["watch"][str(tmp_path / "backend" / "seed.py")] == "missing"


def change_requirements(tmp: Path) -> None:
    (tmp / "backend" / "more.txt").write_text("asyncpg==0.30.0\n")


def add_migration(tmp: Path) -> None:
    (tmp / "backend" / "migrations" / "versions" / "0002_tables.py").write_text("revision = '0002'\n")


def add_seed(tmp: Path) -> None:
    (tmp / "backend" / "seed.py").write_text("print('seed')\n")


def remove_env(tmp: Path) -> None:
    (tmp / "backend" / ".env").unlink()


def dangle_env(tmp: Path) -> None:
    remove_env(tmp)
    (tmp / "backend" / ".env").symlink_to(tmp / "nowhere")


def test_each_kind_of_change_converges_in_full_and_forgets_the_stamp(tmp_path: Path) -> None:
    for number, change in enumerate((change_requirements, add_migration, add_seed, remove_env, dangle_env)):
        tmp = tmp_path / str(number)
        stamp = record(tmp, checkout(tmp))
        change(tmp)
        answer = check(tmp)
        assert answer["fast"] is False, (change.__name__, answer)
        assert "changed since the last converge" in answer["reason"], answer
        assert not stamp.exists(), change.__name__


def test_other_inputs_converge_in_full(tmp_path: Path) -> None:
    record(tmp_path, checkout(tmp_path), inputs="in-1")
    answer = check(tmp_path, inputs="in-2")
    assert answer["fast"] is False and "settings or the tool changed" in answer["reason"], answer


def use_context(home: Path, name: str, host: str) -> None:
    """What `docker context create NAME --docker host=HOST && docker context use NAME` write."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = home / ".docker" / "contexts" / "meta" / digest
    meta.mkdir(parents=True, exist_ok=True)
    endpoints = {"docker": {"Host": host, "SkipTLSVerify": False}}
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": endpoints}))
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": name}))


def test_docker_context_use_on_the_host_itself_converges_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's own Docker context is checked where the module runs (the target): the action
    plugin's fingerprint resolves it on the controller, which a team VM's `docker context use`
    never reaches. Same inputs, same files; only the VM's current context moved."""
    home = tmp_path / "home"
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    use_context(home, "colima", "unix:///home/dev/.colima/default/docker.sock")
    record(tmp_path, checkout(tmp_path))
    assert check(tmp_path)["fast"] is True
    use_context(home, "orbstack", "unix:///home/dev/.orbstack/run/docker.sock")
    answer = check(tmp_path)
    assert answer["fast"] is False and "docker context use" in answer["reason"], answer
    record(tmp_path, checkout(tmp_path / "again"))
    use_context(home, "orbstack", "unix:///home/dev/.orbstack/run/docker.sock")
    assert check(tmp_path)["fast"] is True


def test_no_stamp_or_a_damaged_one_converges_in_full(tmp_path: Path) -> None:
    assert check(tmp_path)["reason"] == "no converge was recorded"
    stamp = record(tmp_path, checkout(tmp_path))
    for damage in ("{", "[]", json.dumps({"version": 0})):
        stamp.write_text(damage)
        answer = check(tmp_path)
        assert answer["fast"] is False, (damage, answer)
        assert not stamp.exists()
        record(tmp_path, [])


def test_a_container_that_cannot_be_reached_converges_in_full(tmp_path: Path) -> None:
    """A stamp naming a container on an engine that does not answer: never an error, the full
    converge (and its preflight) reports."""
    stamp = record(tmp_path, [])
    data = json.loads(stamp.read_text())
    data["docker_host"] = f"unix://{tmp_path}/no-engine.sock"
    data["containers"] = [
        {"name": "itest_fastpath_none", "id": "x", "image": "y", "image_name": "z", "probe": {}}
    ]
    stamp.write_text(json.dumps(data))
    answer = check(tmp_path)
    assert answer["fast"] is False and answer["reason"].startswith("Docker:"), answer


@pytest.fixture
def redis_with_password() -> Iterator[dict[str, Any]]:
    """A Redis stand-in as the redis role makes one with a password: --requirepass, and the
    same password in REDISCLI_AUTH (which its healthcheck's redis-cli uses)."""
    engine = docker.from_env()
    port = free_port()
    container = engine.containers.run(
        "integrador-test/redis:7",
        ["redis-server", "--requirepass", REDIS_PASSWORD],
        name="itest_fastpath_redis",
        detach=True,
        environment={"REDISCLI_AUTH": REDIS_PASSWORD},
        ports={"6379/tcp": ("127.0.0.1", port)},
    )
    try:
        yield {"name": container.name, "port": port, "engine": engine}
    finally:
        container.remove(force=True)


def test_a_stopped_redis_with_a_password_is_started_and_probed_with_its_own(
    tmp_path: Path, redis_with_password: dict[str, Any]
) -> None:
    """The check is given no password: it reads the one the recorded container was created
    with (password_env), and the stamp never holds it."""
    name, port = redis_with_password["name"], redis_with_password["port"]
    probe = {"kind": "redis", "host": "127.0.0.1", "port": port, "password_env": "REDISCLI_AUTH"}
    containers = [{"name": name, "probe": probe, "timeout": 30}]
    answer = fast_path.answer(
        params("recorded", tmp_path / "state", inputs="in-1", containers=containers, docker_host=DOCKER_HOST)
    )
    assert answer["recorded"] is True, answer
    assert REDIS_PASSWORD not in Path(answer["path"]).read_text()

    redis_with_password["engine"].containers.get(name).stop(timeout=10)
    answer = check(tmp_path)
    assert answer["fast"] is True and answer["started"] == [name], answer
    assert redis_client.Redis(host="127.0.0.1", port=port, password=REDIS_PASSWORD).ping()
    assert REDIS_PASSWORD not in json.dumps(answer)


def test_check_mode_never_takes_the_fast_path(tmp_path: Path) -> None:
    record(tmp_path, checkout(tmp_path))
    answer = fast_path.answer(params("checked", tmp_path / "state", inputs="in-1"), check_mode=True)
    assert answer["fast"] is False and answer["changed"] is False


def test_forgotten_moves_the_stamp_where_no_check_reads_it(tmp_path: Path) -> None:
    stamp = record(tmp_path, [])
    held = stamp.read_bytes()
    assert fast_path.answer(params("forgotten", tmp_path / "state"))["changed"] is True
    assert not stamp.exists()
    # Day two still reads the health paths the converge found (app_services' describe).
    assert (stamp.parent / "converged.forgotten.json").read_bytes() == held
    checked = fast_path.answer(params("checked", tmp_path / "state", inputs="in-1"))
    assert checked["fast"] is False and checked["reason"] == "no converge was recorded"
    assert fast_path.answer(params("forgotten", tmp_path / "state"))["changed"] is False


def test_big_files_are_known_by_size_and_time(tmp_path: Path) -> None:
    big = tmp_path / "python3"
    big.write_bytes(b"\0" * (fast_path.BIG + 1))
    before = fast_path.path_digest(str(big))
    assert before.startswith("stat:")
    os.utime(big, ns=(1, 1))
    assert fast_path.path_digest(str(big)) != before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    original=st.binary(max_size=300),
    position=st.integers(min_value=0, max_value=400),
    insert=st.binary(min_size=1, max_size=8),
    where=st.sampled_from(
        ["backend/.env", "backend/requirements.txt", "backend/migrations/versions/0001_menu.py"]
    ),
)
def test_any_change_of_a_watched_file_is_seen(
    tmp_path_factory: Any, original: bytes, position: int, insert: bytes, where: str
) -> None:
    """A user's file, any bytes, changed anywhere (inserted or overwritten): never fast."""
    tmp = tmp_path_factory.mktemp("fast")
    watch = checkout(tmp)
    (tmp / where).write_bytes(original)
    record(tmp, watch)
    cut = min(position, len(original))
    changed = original[:cut] + insert + original[cut + len(insert) :]
    if changed == original:
        changed = original + insert
    (tmp / where).write_bytes(changed)
    answer = check(tmp)
    assert answer["fast"] is False, (where, original, changed)


# A hand edit of .env alone (library/integrador_fast_path.py, hand_edited_env): the converge
# would keep it, so the check restarts what read the old bytes and records the new digest.
# The restart itself, on real units, is molecule/default/tests/test_live_changes.py's.
ENV_VALUES = {"DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6380"}
ENV_SECRETS = ["JWT_SECRET"]


def converged_env(tmp: Path) -> dict[str, Any]:
    """A .env as integrador_env_file writes it, the env_file record python_env publishes, and
    start records of api (this file's bytes) and ws (another .env's)."""
    env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file_for_fast_path")
    text, _ = env_file.edit("", ENV_VALUES, ENV_SECRETS)
    env = tmp / "backend" / ".env"
    env.write_text(text)
    env.chmod(0o600)
    started = tmp / "state" / "started"
    started.mkdir(parents=True)
    digest = hashlib.sha256(env.read_bytes()).hexdigest()
    (started / "api.json").write_text(json.dumps({"env_file": str(env), "sha256": digest}))
    (started / "ws.json").write_text(json.dumps({"env_file": str(tmp / "other.env"), "sha256": digest}))
    return {
        "path": str(env),
        "value_sha256": {k: hashlib.sha256(v.encode()).hexdigest() for k, v in ENV_VALUES.items()},
        "secrets": ENV_SECRETS,
        "mode": "0600",
        "started_dir": str(started),
    }


def record_env(tmp: Path) -> tuple[Path, Path]:
    watch = checkout(tmp)
    env = converged_env(tmp)
    answer = fast_path.answer(params("recorded", tmp / "state", inputs="in-1", watch=watch, env_file=env))
    assert answer["recorded"] is True, answer
    return Path(answer["path"]), Path(env["path"])


def test_a_hand_edited_value_the_converge_keeps_is_fast_and_recorded(tmp_path: Path) -> None:
    stamp, env = record_env(tmp_path)
    env.write_text(env.read_text().replace("DEBUG=true", "DEBUG=false") + "SENTRY_DSN=https://k@s/1\n")
    answer = check(tmp_path)
    assert answer["fast"] is True, answer
    assert "edited by hand" in answer["note"] and "kept hand-edited DEBUG" in answer["note"], answer
    assert answer["restarted"] == [] and answer["changed"] is False
    # Recorded: the next run is the plain fast path.
    again = check(tmp_path)
    assert again["fast"] is True and again["note"] == "", again
    assert stamp.exists()


def test_edits_the_converge_would_set_back_converge_in_full(tmp_path: Path) -> None:
    def no_debug(text: str) -> str:
        return text.replace("DEBUG=true\n", "")

    def empty_secret(text: str) -> str:
        return "\n".join(
            line if not line.startswith("JWT_SECRET=") else "JWT_SECRET=" for line in text.split("\n")
        )

    def state_line(text: str) -> str:
        return text.replace('"DEBUG"', '"DEBUGX"')

    def bare_key(text: str) -> str:
        return text.replace("DEBUG=true", "DEBUG")

    def bom(text: str) -> str:
        return "\ufeff" + text

    for number, edit in enumerate((no_debug, empty_secret, state_line, bare_key, bom)):
        tmp = tmp_path / str(number)
        stamp, env = record_env(tmp)
        env.write_text(edit(env.read_text()))
        answer = check(tmp)
        assert answer["fast"] is False and str(env) in answer["reason"], (edit.__name__, answer)
        assert not stamp.exists()


def test_a_changed_mode_or_bytes_that_are_not_utf8_converge_in_full(tmp_path: Path) -> None:
    stamp, env = record_env(tmp_path / "mode")
    env.write_text(env.read_text() + "OTHER=1\n")
    env.chmod(0o644)
    assert check(tmp_path / "mode")["fast"] is False
    stamp, env = record_env(tmp_path / "bytes")
    env.write_bytes(env.read_bytes() + b"OTHER=\x97\n")
    assert check(tmp_path / "bytes")["fast"] is False


def test_env_and_another_file_changed_converge_in_full(tmp_path: Path) -> None:
    _, env = record_env(tmp_path)
    env.write_text(env.read_text().replace("DEBUG=true", "DEBUG=false"))
    change_requirements(tmp_path)
    answer = check(tmp_path)
    assert answer["fast"] is False and "changed since the last converge" in answer["reason"], answer


def test_the_services_to_restart_are_those_that_read_other_bytes(tmp_path: Path) -> None:
    checkout(tmp_path)
    env = converged_env(tmp_path)
    path = Path(env["path"])
    services = [
        {"name": "api", "unit": "integrador-api.service"},
        {"name": "ws", "unit": "integrador-ws.service"},
    ]
    # ws' record names another file: no record of this one, so it restarts (as app_services decides).
    assert fast_path.hand_edited_env(env, services)[0] == ["integrador-ws.service"]
    path.write_text(path.read_text().replace("DEBUG=true", "DEBUG=false"))
    path.chmod(0o600)
    stale, kept, digest = fast_path.hand_edited_env(env, services)
    assert stale == ["integrador-api.service", "integrador-ws.service"] and kept == ["DEBUG"]
    assert digest == fast_path.path_digest(str(path))


def test_paths_given_with_a_tilde_are_the_home_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python_env publishes .env's path and the start records' folder as the settings give them
    (integrador_root: ~/integrador): the watch list is expanded, so must they be. (Missed by the
    absolute paths above; caught by the default scenario, where every hand edit converged in full.)"""
    monkeypatch.setenv("HOME", str(tmp_path))
    watch = checkout(tmp_path)
    env = converged_env(tmp_path)
    services = [{"name": "api", "unit": "integrador-api.service"}]
    tilde = {**env, "path": "~/backend/.env", "started_dir": "~/state/started"}
    answer = fast_path.answer(
        params("recorded", tmp_path / "state", inputs="in-1", watch=watch, env_file=tilde)
    )
    assert answer["recorded"] is True
    path = Path(env["path"])
    path.write_text(path.read_text().replace("DEBUG=true", "DEBUG=false"))
    path.chmod(0o600)
    answer = check(tmp_path)
    assert answer["fast"] is True and "kept hand-edited DEBUG" in answer["note"], answer
    # The start record of api names this file: read from the folder given with a tilde.
    assert fast_path.hand_edited_env(tilde, services)[0] == ["integrador-api.service"]
    (tmp_path / "state" / "started" / "api.json").write_text(
        json.dumps({"env_file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    )
    assert fast_path.hand_edited_env(tilde, services)[0] == []
