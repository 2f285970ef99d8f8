"""Stand-in images never mix with real data (issue 11).

The real scripts/converge, the real playbooks/dev.yml (`--tags db`: the preflight and the
PostgreSQL role) and the real Docker engine of this machine: a run on the local stand-ins
(INTEGRADOR_STANDINS=1, as an offline laptop gets), then a run with the stand-ins off, whose
image says it runs PostgreSQL 16 as pgvector/pgvector:pg16 does (the stand-in with
PG_MAJOR=16: no registry here serves the real one). Had the stand-in run written its
PostgreSQL 17 cluster into the volume the real run uses, the version guard would refuse the
second run; had its container stayed up, the preflight would refuse the port.

Every name carries itest_standins (INTEGRADOR_STANDIN_PREFIX and the inventory), so a
developer's own stack, real or stand-in, is never touched."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from this_machine import free_port

REPO = Path(__file__).resolve().parents[2]
ENGINE = "/var/run/docker.sock"
PREFIX = "itest_standins"
STANDIN_PREFIX = f"{PREFIX}_standin"
CLAIMS_PG16 = "integrador-test/pgvector:itest-standins-claims-pg16"
UPSTREAM = {"postgres_pgvector": "pgvector/pgvector:pg16", "redis": "redis:7-alpine"}

docker = pytest.importorskip("docker")
needs_engine = pytest.mark.skipif(not Path(ENGINE).is_socket(), reason=f"no Docker engine at {ENGINE}")


def standins() -> dict[str, str]:
    return yaml.safe_load((REPO / "tests" / "images" / "standins.yml").read_text())


def role_default(role: str, name: str) -> str:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())[name]


NAMES = (
    "postgres_pgvector_container_name",
    "postgres_pgvector_volume",
    "redis_container_name",
    "redis_volume",
)


def rendered_names(prefix: str | None) -> dict[str, str]:
    """The names standins.yml gives, as Ansible renders them on the controller (the env lookup)."""
    env = {k: v for k, v in os.environ.items() if k != "INTEGRADOR_STANDIN_PREFIX"}
    if prefix is not None:
        env["INTEGRADOR_STANDIN_PREFIX"] = prefix
    names = "{{ {" + ", ".join(f"'{n}': {n}" for n in NAMES) + "} | to_json }}"
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-c",
            "local",
            "-m",
            "debug",
            "-a",
            "msg={{ names }}",
            "-e",
            f"names={names!s}",
            "-e",
            "@tests/images/standins.yml",
        ],  # fmt: skip
        cwd=REPO,
        env={**env, "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(json.loads(proc.stdout.split("=>", 1)[1])["msg"])


def test_standin_names_are_their_own() -> None:
    default = rendered_names(None)
    for variable, name in default.items():
        assert name.startswith("integrador_standin_"), variable
        assert name != role_default(
            variable.split("_")[0] if variable.startswith("redis") else "postgres_pgvector", variable
        )
    assert rendered_names("x_y") == {k: v.replace("integrador_standin_", "x_y_") for k, v in default.items()}
    # The images: names of our own, never an upstream name the image does not match.
    for role, upstream in UPSTREAM.items():
        image = standins()[f"{role}_image"]
        assert image.startswith("integrador-standin/"), image
        assert image != upstream


def test_converge_names_what_standins_yml_names() -> None:
    """scripts/converge says which containers and volumes a stand-in run uses; they are the ones
    standins.yml gives."""
    text = (REPO / "scripts" / "converge").read_text()
    assert "standin_prefix=${INTEGRADOR_STANDIN_PREFIX:-integrador_standin}" in text
    for variable, name in rendered_names(None).items():
        assert "${standin_prefix}" + name.removeprefix("integrador_standin") in text, variable


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    if not Path(ENGINE).is_socket():
        pytest.skip(f"no Docker engine at {ENGINE}")
    yield docker.DockerClient(base_url=f"unix://{ENGINE}")


def cleanup(client: Any) -> None:
    for container in client.containers.list(all=True, filters={"name": f"^{PREFIX}_"}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"name": f"{PREFIX}_"}):
        if volume.name.startswith(f"{PREFIX}_"):
            volume.remove(force=True)
    try:
        client.images.remove(CLAIMS_PG16, force=True)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture()
def laptop(client: Any, tmp_path: Path) -> Iterator[Path]:
    """This machine as an inventory: its own names, port and state folder."""
    cleanup(client)
    port = free_port()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "integrador_docker_host": f"unix://{ENGINE}",
                            "integrador_state_dir": str(tmp_path / "state"),
                            "integrador_min_free_docker_mb": 0,
                            # What a developer's inventory says: the real image and names.
                            "postgres_pgvector_image": CLAIMS_PG16,
                            "postgres_pgvector_container_name": f"{PREFIX}_db",
                            "postgres_pgvector_volume": f"{PREFIX}_pgdata",
                            "postgres_pgvector_port": port,
                            "redis_container_name": f"{PREFIX}_redis",
                            "redis_volume": f"{PREFIX}_redisdata",
                        }
                    }
                }
            }
        )
    )
    yield inventory
    cleanup(client)


def converge(inventory: Path, standins: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "INTEGRADOR_STANDINS": standins,
        "INTEGRADOR_STANDIN_PREFIX": STANDIN_PREFIX,
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        [str(REPO / "scripts" / "converge"), "playbooks/dev.yml", "-i", str(inventory), "--tags", "db"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def pg_version(client: Any, volume: str) -> str:
    out = client.containers.run(
        "integrador-standin/pgvector:pg17",
        entrypoint=["cat", "/pgdata/PG_VERSION"],
        volumes={volume: {"bind": "/pgdata", "mode": "ro"}},
        network_mode="none",
        remove=True,
    )
    return out.decode().strip()


def volumes(container: Any) -> list[str]:
    return [m["Name"] for m in container.attrs["Mounts"] if m["Type"] == "volume"]


@needs_engine
def test_standin_run_then_real_run_never_meets_the_standin_volume(client: Any, laptop: Path) -> None:
    # An offline laptop: the stand-ins, said at the start and at the end of the run.
    first = converge(laptop, "1")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.stderr.lstrip().startswith("STAND-IN MODE: using the local stand-in images"), first.stderr
    assert (
        first.stderr.rstrip().splitlines()[-1].startswith("STAND-IN MODE: this run used the local stand-in")
    )
    assert f"{STANDIN_PREFIX}_pgdata" in first.stderr.splitlines()[0]
    standin = client.containers.get(f"{STANDIN_PREFIX}_db")
    assert standin.status == "running"
    assert standin.image.tags and "integrador-standin/pgvector:pg17" in standin.image.tags
    assert [m["Name"] for m in standin.attrs["Mounts"] if m["Type"] == "volume"] == [
        f"{STANDIN_PREFIX}_pgdata"
    ]
    assert not client.containers.list(all=True, filters={"name": f"^{PREFIX}_db$"})
    assert not [v for v in client.volumes.list() if v.name == f"{PREFIX}_pgdata"]
    assert pg_version(client, f"{STANDIN_PREFIX}_pgdata") == "17"

    # Back online: an image that runs "PostgreSQL 16", as the real one does.
    client.images.build(
        fileobj=io.BytesIO(b"FROM integrador-standin/pgvector:pg17\nENV PG_MAJOR=16\n"),
        tag=CLAIMS_PG16,
        rm=True,
    )
    second = converge(laptop, "0")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert "holds a PostgreSQL" not in output
    assert "STAND-IN MODE" not in output
    assert "Stopped the stand-in containers of an earlier offline run" in second.stderr
    real = client.containers.get(f"{PREFIX}_db")
    assert real.status == "running"
    assert CLAIMS_PG16 in real.image.tags
    assert volumes(real) == [f"{PREFIX}_pgdata"]
    # The stand-in's data is kept as it was, its container stopped, not removed.
    standin.reload()
    assert standin.status == "exited"
    assert pg_version(client, f"{STANDIN_PREFIX}_pgdata") == "17"

    # A second real run: nothing to stop, nothing said about stand-ins.
    third = converge(laptop, "0")
    assert third.returncode == 0, third.stdout[-3000:]
    assert "stand-in" not in third.stderr.lower()


def test_unknown_standins_value_stops_before_ansible(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(REPO / "scripts" / "converge"), "playbooks/dev.yml"],
        cwd=REPO,
        env={**os.environ, "INTEGRADOR_STANDINS": "maybe"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "INTEGRADOR_STANDINS=maybe is not understood" in proc.stderr
    assert "Nothing was run" in proc.stderr


@pytest.mark.parametrize(
    ("args", "stops"),
    [
        (["playbooks/dev.yml"], True),
        (["playbooks/dev.yml", "--tags", "api"], True),
        (["playbooks/dev.yml", "--check", "--diff"], False),
        (["-C", "playbooks/dev.yml"], False),
        (["playbooks/status.yml"], False),
        (["playbooks/down.yml"], False),
    ],
)
def test_only_a_real_converge_stops_the_standin_containers(
    tmp_path: Path, args: list[str], stops: bool
) -> None:
    """Which runs stop running stand-in containers: a converge with the real images does (they
    hold its ports), a dry run or a day-two playbook never does. A `docker` that records its
    calls and lists one running stand-in container; an ansible-playbook that does nothing."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "converge").write_bytes((REPO / "scripts" / "converge").read_bytes())
    (tmp_path / "scripts" / "converge").chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "docker").write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == 'ps': print('c0ffee')\n"
    )
    (bin_dir / "ansible-playbook").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    proc = subprocess.run(
        [str(tmp_path / "scripts" / "converge"), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "INTEGRADOR_STANDINS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    recorded = calls.read_text().splitlines() if calls.exists() else []
    if stops:
        assert (
            recorded[0]
            == "ps -q --filter name=^integrador_standin_db$ --filter name=^integrador_standin_redis$"
        )
        assert recorded[1:] == ["stop c0ffee"]
        assert "Stopped the stand-in containers" in proc.stderr
    else:
        assert recorded == []
        assert proc.stderr == ""
