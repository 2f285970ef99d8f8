#!/usr/bin/python
"""Ollama's endpoint answers, and the models asked for are there: pulled through
its HTTP API, only the missing ones. Standard library only (urllib)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_ollama
short_description: Waits for an Ollama endpoint and pulls the models that are missing
description:
  - Waits until C(GET /api/version) answers at O(url) (up to O(wait_timeout) seconds).
  - Reads the models present (C(GET /api/tags)) and pulls each model of O(models) that is not
    (C(POST /api/pull), whose streamed JSON lines are read to the end), one after the other.
    A run where every model is present pulls nothing and reports no change.
  - A model named without a tag means its C(:latest) tag, as Ollama reads it.
  - A pull that fails (the model library unreachable, an unknown model, a full disk) fails the
    module with a message naming the model and the cause Ollama gave.
  - Check mode reports the models that would be pulled; an endpoint that does not answer yet is
    then no failure (a container still to be created).
  - The endpoint is reached directly, never through the user's C(http_proxy).
options:
  url:
    description: Base URL of the Ollama API, for example C(http://127.0.0.1:11434).
    type: str
    required: true
  models:
    description: Models that must be present (C(name) or C(name:tag)).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for C(/api/version) to answer.
    type: int
    default: 60
  pull_timeout:
    description: Seconds one pull may go without a line of progress.
    type: int
    default: 600
author: Integrador developers
"""

EXAMPLES = r"""
- name: Ollama answers and its models are there
  integrador_ollama:
    url: http://127.0.0.1:11434
    models: [nomic-embed-text]
"""

RETURN = r"""
version:
  description: What C(/api/version) answered (empty in check mode when it did not answer).
  type: str
  returned: always
present:
  description: Models present before this run (full names, with their tag).
  type: list
  elements: str
  returned: always
pulled:
  description: Models pulled by this run (in check mode, those that would be).
  type: list
  elements: str
  returned: always
"""

# The stack's own endpoint never goes through the user's http_proxy.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def full_name(name: str) -> str:
    """A model as Ollama lists it: with its tag (`:latest` when none is given)."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def missing_models(wanted: list[str], present: list[str]) -> list[str]:
    """The models of `wanted` that are not in `present`, in order, each once."""
    have = {full_name(name).lower() for name in present}
    out: list[str] = []
    for name in wanted:
        if full_name(name).lower() not in have:
            out.append(name)
            have.add(full_name(name).lower())  # x and x:latest are one model: pulled once
    return out


def cause_of(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = exc.read().decode(errors="replace")
            return f"HTTP {exc.code}: {json.loads(body).get('error', body)}"
        except (ValueError, AttributeError, OSError):
            return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def get_json(url: str, timeout: float) -> dict[str, Any]:
    with OPENER.open(url, timeout=timeout) as response:  # noqa: S310 - the configured http URL
        return json.loads(response.read().decode() or "{}")


def wait_version(base: str, timeout: int) -> tuple[str, str]:
    """(version, "") once /api/version answers, or ("", the last cause) after timeout."""
    deadline = time.monotonic() + timeout
    cause = ""
    while True:
        try:
            return str(get_json(base + "/api/version", 5).get("version", "")), ""
        except (OSError, ValueError) as exc:
            cause = cause_of(exc)
        if time.monotonic() >= deadline:
            return "", cause
        time.sleep(0.5)


def pull(base: str, model: str, timeout: int) -> str:
    """Pulls one model; returns "" on success, else the cause (Ollama's error line)."""
    data = json.dumps({"model": model, "name": model, "stream": True}).encode()
    request = urllib.request.Request(  # noqa: S310 - the configured http URL
        base + "/api/pull", data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    last = ""
    try:
        with OPENER.open(request, timeout=timeout) as response:
            for raw in response:
                line = raw.decode(errors="replace").strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    return f"Ollama answered something that is not JSON: {line[:200]}"
                if event.get("error"):
                    return str(event["error"])
                last = str(event.get("status", last))
    except (OSError, ValueError) as exc:
        return cause_of(exc)
    return "" if last == "success" else f"the pull ended without success (last status: {last or 'none'})"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "models": {"type": "list", "elements": "str", "default": []},
            "wait_timeout": {"type": "int", "default": 60},
            "pull_timeout": {"type": "int", "default": 600},
        },
        supports_check_mode=True,
    )
    base = module.params["url"].rstrip("/")
    models = [name.strip() for name in module.params["models"] if name.strip()]
    if not base.startswith(("http://", "https://")):
        module.fail_json(msg=f"ollama_url must be an http:// or https:// URL (got {base!r}).")
    version, cause = wait_version(base, 0 if module.check_mode else module.params["wait_timeout"])
    if not version and not module.check_mode:
        module.fail_json(
            msg=f"Ollama did not answer at {base}/api/version within {module.params['wait_timeout']} s "
            f"({cause}). Start Ollama (ollama_mode: native: the Ollama app or `ollama serve`), or set "
            "ollama_url to where it listens."
        )
    present: list[str] = []
    if version:
        try:
            present = [
                m.get("name") or m.get("model") or ""
                for m in get_json(base + "/api/tags", 30)["models"] or []
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            module.fail_json(
                msg=f"Ollama at {base} did not list its models (GET /api/tags: {cause_of(exc)})."
            )
    to_pull = missing_models(models, present)
    result = {"changed": bool(to_pull), "version": version, "present": present, "pulled": to_pull}
    if module.check_mode or not to_pull:
        module.exit_json(**result)
    pulled: list[str] = []
    for model in to_pull:
        cause = pull(base, model, module.params["pull_timeout"])
        if cause:
            module.fail_json(
                msg=f"Ollama could not pull the model {model} (ollama_models): {cause}. "
                "Check the model's name and that this machine reaches the model library "
                "(a proxy for Ollama is set with HTTPS_PROXY in its environment), then run again.",
                pulled=pulled,
                model=model,
                changed=bool(pulled),
            )
        pulled.append(model)
    module.exit_json(**dict(result, pulled=pulled))


if __name__ == "__main__":
    main()
