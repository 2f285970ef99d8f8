"""The Docker endpoint the docker CLI would use, from its files alone (no docker CLI needed).

Docker Desktop, Colima, OrbStack and Rancher Desktop each install a Docker context pointing at
their own socket and make it the current one; /var/run/docker.sock is then often missing (or
another product's). The order is the docker CLI's (cli/command/cli.go resolveContextName):

1. DOCKER_HOST (set and non-empty): that endpoint (the CLI then uses the `default` context);
2. DOCKER_CONTEXT, else `currentContext` in $DOCKER_CONFIG/config.json (~/.docker/config.json);
3. that context's $DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json, Endpoints.docker.Host;
4. the context `default` (or none): unix:///var/run/docker.sock.

An unreadable config.json is a warning and means no current context, as for the CLI; a named
context that does not exist (or names no Docker endpoint) is a problem: the CLI refuses it too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

DEFAULT_HOST = "unix:///var/run/docker.sock"


class Endpoint(NamedTuple):
    host: str
    # Where the host came from, for messages: "DOCKER_HOST", "the Docker context 'colima' (...)".
    source: str
    # A message naming the file or variable to fix; host is then DEFAULT_HOST.
    problem: str | None = None
    warnings: tuple[str, ...] = ()


def config_dir(environ: Mapping[str, str], home: str) -> str:
    return environ.get("DOCKER_CONFIG") or os.path.join(home, ".docker")


def meta_path(directory: str, name: str) -> str:
    """Where the docker CLI keeps the context `name` (folders are named by the name's sha256)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return os.path.join(directory, "contexts", "meta", digest, "meta.json")


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8-sig") as handle:
        return json.load(handle)


def resolve(environ: Mapping[str, str], home: str) -> Endpoint:
    if environ.get("DOCKER_HOST"):
        return Endpoint(environ["DOCKER_HOST"], "DOCKER_HOST")
    directory = config_dir(environ, home)
    config_file = os.path.join(directory, "config.json")
    warnings: list[str] = []
    name = environ.get("DOCKER_CONTEXT") or ""
    chosen_by = "DOCKER_CONTEXT"
    if not name:
        chosen_by = f"currentContext in {config_file}"
        try:
            config = _read_json(config_file)
        except FileNotFoundError:
            config = {}
        except (OSError, ValueError) as exc:
            # The docker CLI warns and goes on without the file.
            warnings.append(f"{config_file} cannot be read ({exc}); the Docker context `default` is used.")
            config = {}
        current = config.get("currentContext") if isinstance(config, dict) else None
        name = current if isinstance(current, str) else ""
    if name in ("", "default"):
        return Endpoint(DEFAULT_HOST, "the default socket", warnings=tuple(warnings))
    source = f"the Docker context '{name}' ({chosen_by})"
    path = meta_path(directory, name)
    fix = (
        "Pick an existing one (`docker context ls`, `docker context use <name>`), "
        "or set integrador_docker_host (or DOCKER_HOST) to your engine's socket."
    )
    try:
        meta = _read_json(path)
    except FileNotFoundError:
        problem = f"{source} does not exist: there is no {path}. {fix}"
        return Endpoint(DEFAULT_HOST, source, problem, tuple(warnings))
    except (OSError, ValueError) as exc:
        problem = f"{source} cannot be read: {path}: {exc}. {fix}"
        return Endpoint(DEFAULT_HOST, source, problem, tuple(warnings))
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    if not isinstance(host, str) or not host:
        problem = f"{source} names no Docker endpoint (Endpoints.docker.Host in {path}). {fix}"
        return Endpoint(DEFAULT_HOST, source, problem, tuple(warnings))
    tls = os.path.join(directory, "contexts", "tls", os.path.basename(os.path.dirname(path)), "docker")
    if os.path.isdir(tls):
        warnings.append(
            f"{source} keeps TLS certificates in {tls}, which are not used: if the engine is not "
            "reached, set integrador_docker_host, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."
        )
    return Endpoint(host, source, None, tuple(warnings))
