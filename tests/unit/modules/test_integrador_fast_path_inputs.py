"""The fingerprint of a run's inputs (playbooks/action_plugins/integrador_fast_path.py), taken
before any role is loaded: what the user sets, the tool's files, where the tool is and what the
roles' defaults read from the environment (DOCKER_HOST, DOCKER_CONTEXT) each change it; anything
else does not, and a setting that cannot be templated yet (it names a role's default) counts as
such, the same in every run. Real Ansible templating (the run's own Templar)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from hypothesis import given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

plugin = load(
    ROOT / "playbooks" / "action_plugins" / "integrador_fast_path.py", "integrador_fast_path_action"
)


class Run:
    """What inputs() uses of the action: the run's templar over its task variables."""

    settled = plugin.ActionModule.settled

    def __init__(self, task_vars: dict[str, Any]) -> None:
        self._templar = Templar(loader=DataLoader(), variables=task_vars)


def inputs(task_vars: dict[str, Any]) -> str:
    return plugin.ActionModule.inputs(Run(task_vars), task_vars)  # type: ignore[arg-type]


BASE: dict[str, Any] = {
    "integrador_root": "/home/dev/integrador",
    "redis_port": 6380,
    # As an inventory gives it: a template the run resolves.
    "app_services_api_port": trust_as_template("{{ 8000 + integrador_port_offset | default(0) | int }}"),
    "inventory_hostname": "localhost",
}


@pytest.fixture(autouse=True)
def no_docker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)


def test_the_same_run_gives_the_same_fingerprint() -> None:
    assert inputs(dict(BASE)) == inputs(dict(BASE))


def test_a_setting_and_what_a_template_resolves_to_change_it() -> None:
    assert inputs({**BASE, "redis_port": 6381}) != inputs(BASE)
    # The template itself is the same: what it resolves to is not.
    assert inputs({**BASE, "integrador_port_offset": 10}) != inputs(BASE)


def test_other_variables_do_not_change_it() -> None:
    assert inputs({**BASE, "inventory_hostname": "laptop-2", "ansible_check_mode": True}) == inputs(BASE)


@pytest.mark.parametrize("name", ["DOCKER_HOST", "DOCKER_CONTEXT"])
def test_the_docker_endpoint_the_defaults_read_changes_it(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = inputs(BASE)
    monkeypatch.setenv(name, "unix:///run/user/1000/docker.sock" if name == "DOCKER_HOST" else "colima")
    assert inputs(BASE) != before


def test_a_setting_that_names_a_role_default_counts_as_such_in_every_run() -> None:
    """Before the roles are loaded their defaults are undefined: such a setting cannot be
    templated yet, and is part of the inputs as it is written (the defaults are tool files)."""
    early = {**BASE, "python_env_venv": trust_as_template("{{ python_env_root }}/.venv")}
    assert inputs(early) == inputs(dict(early))
    assert inputs(early) != inputs(BASE)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_any_two_values_of_a_setting_give_two_fingerprints(first: str, second: str) -> None:
    one = inputs({**BASE, "redis_password": first})
    other = inputs({**BASE, "redis_password": second})
    assert (one == other) == (first == second)


def env_extra(**values: str) -> dict[str, Any]:
    return {**BASE, "python_env_env_extra": {key: trust_as_template(value) for key, value in values.items()}}


def test_a_templated_value_and_its_siblings_are_each_seen() -> None:
    """Issue 23, 3(a): a dict with one value naming a role default (undefined before the roles
    load) was fingerprinted as the exception's class name, so no edit of it or of a sibling key
    was ever seen. Failed on main before this change (the two pairs below were equal)."""
    broker = "redis://127.0.0.1:{{ redis_port_of_the_role }}/2"
    first = env_extra(CELERY_BROKER_URL=broker, LOG_LEVEL="debug")
    assert inputs(first) == inputs(env_extra(CELERY_BROKER_URL=broker, LOG_LEVEL="debug"))
    assert inputs(first) != inputs(env_extra(CELERY_BROKER_URL=broker, LOG_LEVEL="info"))
    assert inputs(first) != inputs(env_extra(CELERY_BROKER_URL=broker.replace("/2", "/3"), LOG_LEVEL="debug"))
    # The defined sibling is templated: what it resolves to counts, not its text.
    level = env_extra(CELERY_BROKER_URL=broker, LOG_LEVEL="{{ integrador_port_offset | default(0) }}")
    assert inputs(level) != inputs({**level, "integrador_port_offset": 3})


def test_a_setting_that_cannot_be_templated_at_all_never_matches_a_record() -> None:
    """Any other failure (a filter that does not exist) is no fingerprint: a full converge."""
    broken = {**BASE, "redis_image": trust_as_template("{{ 'x' | no_such_filter_anywhere }}")}
    assert inputs(broken) != inputs(dict(broken))


def test_docker_context_use_changes_it(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23, 3(b): `docker context use other` (currentContext in $DOCKER_CONFIG/config.json)
    and DOCKER_CONFIG itself were not part of the fingerprint. A real context store, as the
    docker CLI writes it."""
    import hashlib
    import json

    config = tmp_path / "docker"
    for name, host in (("one", "unix:///run/one.sock"), ("two", "unix:///run/two.sock")):
        meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True)
        (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    (config / "config.json").write_text(json.dumps({"currentContext": "one"}))
    one = inputs(BASE)
    assert inputs(BASE) == one
    (config / "config.json").write_text(json.dumps({"currentContext": "two"}))
    assert inputs(BASE) != one
    (config / "config.json").write_text(json.dumps({"currentContext": "one"}))
    assert inputs(BASE) == one
    # The same context name, its endpoint moved (docker context update).
    meta = config / "contexts" / "meta" / hashlib.sha256(b"one").hexdigest() / "meta.json"
    meta.write_text(json.dumps({"Name": "one", "Endpoints": {"docker": {"Host": "tcp://127.0.0.1:2375"}}}))
    assert inputs(BASE) != one


def test_the_module_loads_in_process_with_every_module_util_it_imports(tmp_path: Any) -> None:
    """On a local connection the action runs the module in its own process (fast_path_module):
    each module_utils the module imports must be loaded there first, under Ansible's names. In a
    fresh interpreter, where no test has loaded them (this suite's conftest loads them all)."""
    import os
    import subprocess
    import sys

    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('action', {str(plugin.__file__)!r})\n"
        "action = importlib.util.module_from_spec(spec); spec.loader.exec_module(action)\n"
        "module = action.fast_path_module()\n"
        "print(module.answer.__name__)\n"
    )
    env = dict(os.environ, ANSIBLE_LIBRARY=str(ROOT / "library"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, env=env, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == "answer", done.stderr
