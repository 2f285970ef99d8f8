"""The ollama role against the TEST DOUBLE of Ollama's API (tests/images/ollama-double):
container, volume, readiness, idempotent pulls, a failing pull, native mode, the
preflight's port and disk, the day-two playbooks, and nothing at all when it is off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import (
    PROJECT,
    ConvergeResult,
    occupied_port,
    readme_examples,
    run_playbook,
    run_readme_example,
    scenario_vars,
)

VARS = Path(__file__).resolve().parents[1] / "vars" / "main.yml"
# The scenario's own settings (vars.yml over the shared test vars, as molecule/conftest.py renders them).
SETTINGS = scenario_vars("ollama")
PREFIX = SETTINGS["itest_prefix"]
PORT = SETTINGS["ollama_port"]
NATIVE_PORT = PORT + 1
DOUBLE = "integrador-test/ollama-double:latest"
MODELS = ["nomic-embed-text:latest", "all-minilm:22m"]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(port: int, path: str) -> dict[str, Any]:
    with OPENER.open(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def tags(port: int = PORT) -> list[str]:
    return sorted(m["name"] for m in get(port, "/api/tags")["models"])


def pulls(client: docker.DockerClient, name: str = SETTINGS["ollama_container_name"]) -> list[str]:
    """Every pull the double has served, from its log on the model volume."""
    out = client.containers.get(name).exec_run(["cat", "/root/.ollama/models/pulls.log"])
    return out.output.decode().split()


def extra_vars(extra: dict[str, Any] | None) -> list[str]:
    """vars.yml first, then the test's own values (a later -e wins)."""
    args = ["-e", f"@{VARS}"]
    for key, value in (extra or {}).items():
        args += ["-e", json.dumps({key: value})]
    return args


def dev(extra: dict[str, Any] | None = None, *args: str) -> ConvergeResult:
    """playbooks/dev.yml with this scenario's Ollama settings, Ollama's part only."""
    playbook = PROJECT / "playbooks" / "dev.yml"
    return run_playbook(playbook, None, *extra_vars(extra), "--tags", "ollama", *args)


@pytest.fixture(scope="module")
def converge_ollama(converge: Callable[..., ConvergeResult]) -> Callable[..., ConvergeResult]:
    """The scenario's converge.yml (the role alone, vars.yml) with other values."""
    return converge


def test_container_volume_port_and_restart_policy(docker_client: docker.DockerClient) -> None:
    c = docker_client.containers.get(SETTINGS["ollama_container_name"])
    assert c.status == "running"
    assert c.attrs["Config"]["Image"] == DOUBLE
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    bindings = c.attrs["HostConfig"]["PortBindings"]["11434/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(PORT)}]
    mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert mounts["/root/.ollama"]["Type"] == "volume"
    assert mounts["/root/.ollama"]["Name"] == SETTINGS["ollama_volume"]
    assert c.labels["com.integrador.role"] == "ollama"


def test_no_gpu_without_an_nvidia_runtime(docker_client: docker.DockerClient) -> None:
    runtimes = docker_client.info().get("Runtimes") or {}
    assert "nvidia" not in runtimes, "this test needs an engine without GPUs"
    c = docker_client.containers.get(SETTINGS["ollama_container_name"])
    assert not c.attrs["HostConfig"].get("DeviceRequests")


def test_api_answers_and_the_models_are_there() -> None:
    assert get(PORT, "/api/version")["version"] == "0.0.0-double"
    assert tags() == sorted(MODELS)


def test_no_change_converge_pulls_nothing(
    docker_client: docker.DockerClient, converge_ollama: Callable[..., ConvergeResult]
) -> None:
    before = pulls(docker_client)
    assert sorted(before) == sorted(MODELS), "the first converge pulls each model once"
    result = converge_ollama()
    assert result.rc == 0, result
    assert result.changed == 0, result
    assert pulls(docker_client) == before
    assert tags() == sorted(MODELS)


def test_a_new_model_is_the_only_one_pulled(
    docker_client: docker.DockerClient, converge_ollama: Callable[..., ConvergeResult]
) -> None:
    before = pulls(docker_client)
    result = converge_ollama({"ollama_models": ["nomic-embed-text", "all-minilm:22m", "itest-extra"]})
    assert result.rc == 0, result
    assert pulls(docker_client) == [*before, "itest-extra:latest"]


def test_failing_pull_names_the_model_and_the_cause(converge_ollama: Callable[..., ConvergeResult]) -> None:
    result = converge_ollama({"ollama_models": ["nomic-embed-text", "unreachable/itest-model"]})
    assert result.rc != 0, result
    assert "could not pull the model unreachable/itest-model" in result.output, result
    assert "no such host" in result.output, result
    assert "Traceback" not in result.output, result


def test_dev_yml_converges_it_unchanged_and_prints_its_url() -> None:
    models = {"ollama_models": ["nomic-embed-text", "all-minilm:22m", "itest-extra"]}
    check = dev({"integrador_ollama": True, **models}, "--check", "--diff")
    assert check.rc == 0 and check.changed == 0, check
    result = dev({"integrador_ollama": True, **models})
    assert result.rc == 0, result
    assert result.changed == 0, result
    assert f"Ollama      http://127.0.0.1:{PORT}" in result.output, result
    assert "no NVIDIA runtime in Docker" in result.output, result


def test_off_by_default_creates_nothing(docker_client: docker.DockerClient) -> None:
    names = {"ollama_container_name": f"{PREFIX}_off", "ollama_volume": f"{PREFIX}_off"}
    # Unset, as in a fresh checkout (integrador_ollama: false is the same test of | bool).
    result = dev(names)
    assert result.rc == 0, result
    assert "Ollama      http" not in result.output, result
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"{PREFIX}_off")
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"{PREFIX}_off")


def test_preflight_of_dev_yml_names_a_taken_port_before_anything_is_created(
    docker_client: docker.DockerClient, host: Any
) -> None:
    with occupied_port(host) as port:
        result = dev(
            {
                "integrador_ollama": True,
                "ollama_container_name": f"{PREFIX}_big",
                "ollama_volume": f"{PREFIX}_big",
                "ollama_port": port,
            }
        )
    assert result.rc != 0, result
    assert f"Port {port} on 127.0.0.1 is already taken" in result.output, result
    assert f"not by the {PREFIX}_big container" in result.output, result
    assert "set ollama_port to a free port" in result.output, result
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"{PREFIX}_big")
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"{PREFIX}_big")


def test_disk_threshold_follows_the_models_asked_for(docker_client: docker.DockerClient) -> None:
    """The role alone, run on this machine, not in the laptop: only here is Docker's
    data root a local folder (as on a Linux laptop)."""
    data_root = docker_client.info()["DockerRootDir"]
    if not os.path.isdir(data_root):
        pytest.skip(f"Docker's data root {data_root} is not on this machine's file system")
    free_mb = shutil.disk_usage(data_root).free // (1024 * 1024)
    models_mb = free_mb + 100_000
    extra = {
        "ansible_python_interpreter": sys.executable,
        "integrador_docker_host": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
        "itest_prefix": PREFIX,
        "itest_port_offset": 110,
        "ollama_container_name": f"{PREFIX}_big",
        "ollama_volume": f"{PREFIX}_big",
        "ollama_model_mb": 1,
        "ollama_model_sizes_mb": {"nomic-embed-text": models_mb - 1},
        "integrador_min_free_docker_mb": 1536,
    }
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(VARS.parent.parent / "converge.yml")]
    cmd += extra_vars(extra)[2:]
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"asks for 1536 MB plus {models_mb} MB for the containers' data" in output, output
    assert "Ollama models nomic-embed-text, all-minilm:22m" in output, output
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"{PREFIX}_big")


@pytest.fixture
def native_ollama(docker_client: docker.DockerClient) -> Iterator[docker.models.containers.Container]:
    """The double as a user's own Ollama app would be: a plain container the role did not start."""
    c = docker_client.containers.run(
        DOUBLE, name=f"{PREFIX}_native", detach=True, ports={"11434/tcp": ("127.0.0.1", NATIVE_PORT)}
    )
    try:
        yield c
    finally:
        c.remove(force=True)


def test_native_mode_starts_nothing_and_pulls_the_missing_models(
    docker_client: docker.DockerClient,
    converge_ollama: Callable[..., ConvergeResult],
    native_ollama: docker.models.containers.Container,
) -> None:
    native = {
        "ollama_mode": "native",
        "ollama_url": f"http://127.0.0.1:{NATIVE_PORT}",
        "ollama_container_name": f"{PREFIX}_off",
        "ollama_volume": f"{PREFIX}_off",
    }
    result = converge_ollama(native)
    assert result.rc == 0, result
    assert tags(NATIVE_PORT) == sorted(MODELS)
    again = converge_ollama(native)
    assert again.rc == 0 and again.changed == 0, again
    assert sorted(pulls(docker_client, f"{PREFIX}_native")) == sorted(MODELS)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"{PREFIX}_off")
    native_ollama.stop(timeout=1)
    gone = converge_ollama({**native, "ollama_ready_timeout": 1})
    assert gone.rc != 0, gone
    assert f"Ollama did not answer at http://127.0.0.1:{NATIVE_PORT}/api/version" in gone.output, gone


def test_readme_examples_run_as_written(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    """roles/ollama/README.md's examples (a container, and the native app), on this laptop with
    this scenario's double: the model they ask for is there, so they pull and change nothing."""
    before = pulls(docker_client)
    examples = readme_examples("ollama")
    assert [e[0]["roles"][0]["vars"].get("ollama_mode", "container") for e in examples] == [
        "container",
        "native",
    ]
    for example in examples:
        result = run_readme_example(example, tmp_path)
        assert result.rc == 0 and result.changed == 0, result
    assert pulls(docker_client) == before
    assert docker_client.containers.get(SETTINGS["ollama_container_name"]).status == "running"


def day2(name: str, *args: str) -> ConvergeResult:
    playbook = PROJECT / "playbooks" / f"{name}.yml"
    return run_playbook(playbook, None, *extra_vars({"integrador_ollama": True}), *args)


def test_status_and_logs_include_it() -> None:
    # The rest of the stack is not converged here: status fails for it, but shows Ollama's line.
    status = day2("status")
    line = f"ok  ollama  container {PREFIX}_ollama running; API http://127.0.0.1:{PORT} answers"
    assert line in status.output, status
    logs = day2("logs")
    assert logs.rc == 0, logs
    assert f"== {PREFIX}_ollama (container)" in logs.output, logs
    assert "ollama test double listening" in logs.output, logs


def test_down_stops_it_keeping_the_models_and_purge_removes_them(docker_client: docker.DockerClient) -> None:
    down = day2("down")
    assert down.rc == 0, down
    assert docker_client.containers.get(SETTINGS["ollama_container_name"]).status == "exited"
    docker_client.volumes.get(SETTINGS["ollama_volume"])
    back = dev({"integrador_ollama": True})
    assert back.rc == 0, back
    assert tags() == sorted([*MODELS, "itest-extra:latest"]), "the models stayed in the volume"
    purge = day2("down", "-e", "integrador_purge=true")
    assert purge.rc == 0, purge
    assert f"removing container {PREFIX}_ollama and volume {PREFIX}_models" in purge.output, purge
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(SETTINGS["ollama_container_name"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(SETTINGS["ollama_volume"])
    assert os.environ["MOLECULE_SCENARIO_NAME"] == "ollama"
