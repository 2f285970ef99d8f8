"""The Docker endpoint follows the active Docker context, as the docker CLI resolves it.

The context files are real: written by the docker CLI itself (`docker context create` / `use`
into a scratch DOCKER_CONFIG; it contacts no engine) where it is installed, and by hand exactly
as it writes them (sha256-named folders, compact meta.json, tab-indented config.json) for the
four products' sockets. Where the docker CLI is installed, every answer is also compared with
`docker context inspect`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.module_utils.integrador_docker_context import DEFAULT_HOST, meta_path, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOME = "/Users/me"
# What each product installs on a Mac: its context name and its socket.
PRODUCTS = {
    "desktop-linux": ("Docker Desktop", f"unix://{HOME}/.docker/run/docker.sock"),
    "colima": ("colima", f"unix://{HOME}/.colima/default/docker.sock"),
    "orbstack": ("OrbStack", f"unix://{HOME}/.orbstack/run/docker.sock"),
    "rancher-desktop": ("Rancher Desktop moby context", f"unix://{HOME}/.rd/docker.sock"),
}
DOCKER = shutil.which("docker")
needs_docker_cli = pytest.mark.skipif(DOCKER is None, reason="no docker CLI to compare with")


def write_context(config: Path, name: str, host: str, description: str = "") -> Path:
    """A context as the docker CLI stores it (cli/context/store/metadatastore.go)."""
    folder = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "Name": name,
        "Metadata": {"Description": description} if description else {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
    }
    (folder / "meta.json").write_text(json.dumps(meta, separators=(",", ":")))
    return folder / "meta.json"


def use_context(config: Path, name: str) -> None:
    """`docker context use NAME`: currentContext in config.json, tab-indented."""
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}, indent="\t"))


def cli_host(config: Path, **env: str) -> str:
    """What the docker CLI itself resolves, in the same environment."""
    base = {"PATH": os.environ["PATH"], "HOME": str(config.parent), "DOCKER_CONFIG": str(config)}
    proc = subprocess.run(
        [DOCKER, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.removesuffix("\n")


@pytest.mark.parametrize("name", PRODUCTS)
def test_each_products_current_context_is_followed(tmp_path: Path, name: str) -> None:
    config = tmp_path / ".docker"
    for other, (description, host) in PRODUCTS.items():
        write_context(config, other, host, description)
    use_context(config, name)
    endpoint = resolve({}, str(tmp_path))
    assert endpoint.host == PRODUCTS[name][1]
    assert endpoint.problem is None
    assert f"'{name}'" in endpoint.source and str(config / "config.json") in endpoint.source
    if DOCKER:
        assert cli_host(config) == endpoint.host


@pytest.mark.parametrize("current", ["default", None])
def test_default_context_or_none_is_the_standard_socket(tmp_path: Path, current: str | None) -> None:
    config = tmp_path / ".docker"
    write_context(config, "colima", PRODUCTS["colima"][1])
    if current:
        use_context(config, current)
    endpoint = resolve({}, str(tmp_path))
    assert endpoint == (DEFAULT_HOST, "the default socket", None, ())
    if DOCKER:
        assert cli_host(config) == DEFAULT_HOST


def test_no_docker_folder_at_all_is_the_standard_socket(tmp_path: Path) -> None:
    assert resolve({}, str(tmp_path)).host == DEFAULT_HOST


def test_docker_host_wins_over_every_context(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    write_context(config, "colima", PRODUCTS["colima"][1])
    use_context(config, "colima")
    env = {"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "colima"}
    assert resolve(env, str(tmp_path))[:2] == ("tcp://127.0.0.1:2375", "DOCKER_HOST")
    # An empty DOCKER_HOST is no DOCKER_HOST, for the CLI as for us.
    assert resolve({"DOCKER_HOST": ""}, str(tmp_path)).host == PRODUCTS["colima"][1]


def test_docker_context_wins_over_the_current_context(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    for name, (description, host) in PRODUCTS.items():
        write_context(config, name, host, description)
    use_context(config, "colima")
    endpoint = resolve({"DOCKER_CONTEXT": "orbstack"}, str(tmp_path))
    assert endpoint.host == PRODUCTS["orbstack"][1] and "DOCKER_CONTEXT" in endpoint.source
    assert resolve({"DOCKER_CONTEXT": "default"}, str(tmp_path)).host == DEFAULT_HOST
    if DOCKER:
        assert cli_host(config, DOCKER_CONTEXT="orbstack") == endpoint.host


def test_docker_config_moves_the_whole_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_context(elsewhere, "rancher-desktop", PRODUCTS["rancher-desktop"][1])
    use_context(elsewhere, "rancher-desktop")
    # ~/.docker says otherwise, and is not read.
    use_context(tmp_path / ".docker", "colima")
    assert resolve({"DOCKER_CONFIG": str(elsewhere)}, str(tmp_path)).host == PRODUCTS["rancher-desktop"][1]


def test_missing_context_is_a_problem_naming_it_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    use_context(config, "colima")
    endpoint = resolve({}, str(tmp_path))
    assert endpoint.problem is not None
    assert "'colima'" in endpoint.problem and meta_path(str(config), "colima") in endpoint.problem
    assert "docker context use" in endpoint.problem and "integrador_docker_host" in endpoint.problem
    if DOCKER:
        # The docker CLI refuses it too.
        proc = subprocess.run(
            [DOCKER, "context", "inspect"],
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DOCKER_CONFIG": str(config)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode != 0


@pytest.mark.parametrize(
    "meta", ["{not json", "[]", '{"Name":"x","Endpoints":{}}', '{"Endpoints":{"docker":{"Host":""}}}']
)
def test_unreadable_context_is_a_problem_not_a_traceback(tmp_path: Path, meta: str) -> None:
    config = tmp_path / ".docker"
    write_context(config, "x", "unix:///x.sock").write_text(meta)
    use_context(config, "x")
    endpoint = resolve({}, str(tmp_path))
    assert endpoint.host == DEFAULT_HOST and endpoint.problem and "'x'" in endpoint.problem


@pytest.mark.parametrize("config_text", ["{not json", "[]", '{"currentContext": 7}', "\ufeff{}"])
def test_unreadable_config_is_the_default_context_as_for_the_cli(tmp_path: Path, config_text: str) -> None:
    config = tmp_path / ".docker"
    config.mkdir()
    (config / "config.json").write_text(config_text, encoding="utf-8")
    endpoint = resolve({}, str(tmp_path))
    assert endpoint.host == DEFAULT_HOST and endpoint.problem is None


def test_context_with_tls_material_is_warned_about(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    meta = write_context(config, "remote", "tcp://10.0.0.2:2376")
    (config / "contexts" / "tls" / meta.parent.name / "docker").mkdir(parents=True)
    use_context(config, "remote")
    endpoint = resolve({}, str(tmp_path))
    assert (
        endpoint.host == "tcp://10.0.0.2:2376"
        and endpoint.warnings
        and "DOCKER_CERT_PATH" in endpoint.warnings[0]
    )


# Context names the docker CLI accepts (cli/context/store: ^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$).
NAMES = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9_.+-]{1,30}\Z").filter(lambda n: n != "default")
HOSTS = st.one_of(
    st.builds(lambda p: "unix:///" + p, st.from_regex(r"\A[a-zA-Z0-9_./ -]{1,40}\Z")),
    st.builds(lambda port: f"tcp://127.0.0.1:{port}", st.integers(1, 65535)),
)


@needs_docker_cli
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, host=HOSTS, by_env=st.booleans())
def test_files_the_docker_cli_writes_resolve_as_it_does(
    tmp_path_factory: pytest.TempPathFactory, name: str, host: str, by_env: bool
) -> None:
    """`docker context create` and `docker context use` write the files; ours and the CLI's
    `docker context inspect` give the same endpoint."""
    home = tmp_path_factory.mktemp("home")
    config = home / ".docker"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "DOCKER_CONFIG": str(config)}
    create = [DOCKER, "context", "create", name, "--docker", f"host={host}"]
    subprocess.run(create, env=env, capture_output=True, check=True)
    extra = {"DOCKER_CONTEXT": name} if by_env else {}
    if not by_env:
        subprocess.run([DOCKER, "context", "use", name], env=env, capture_output=True, check=True)
    endpoint = resolve({"DOCKER_CONFIG": str(config), **extra}, str(home))
    assert endpoint.problem is None
    assert endpoint.host == cli_host(config, **extra)
