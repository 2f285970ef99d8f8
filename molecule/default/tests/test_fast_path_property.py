"""The fast path against a full converge in check mode (issue 23): generated changes of the
settings (plain, templated, nested) and of the files the fast path watches, on the running stack.

For each: the full converge in check mode says what it would change; then `make dev` runs with
the fast path on. Soundness: when the run is fast, the check-mode converge would have changed
nothing but the restart of services that read an edited .env, and the fast run restarted exactly
when it would. When the run is not fast, the check-mode converge would change something, except
for the edits the fast path cannot tell from a real change by their bytes (a comment added to a
requirements file: pip would install nothing), which it converges in full by design.
Then the change is undone and the stack settled for the next example."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conftest import known_task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fast_path import fast
from test_live_changes import settled

# The tasks and handlers of a full converge that restart a running service (names proven to exist).
RESTART_TASKS = tuple(
    known_task(name)
    for name in (
        "Restart is scheduled after a change of unit, .env, requirements or launcher",
        "REST API unit is restarted",
        "WebSocket gateway unit is restarted",
    )
)
# Changes of bytes that a full converge finds nothing to do about: converged in full anyway.
CONSERVATIVE = {"requirements_comment", "migration_comment"}

SETTINGS = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {"python_env_env_extra": st.fixed_dictionaries({"LOG_LEVEL": st.sampled_from(["debug", "info"])})}
    ),
    st.just(
        {
            "python_env_env_extra": {
                "CELERY_BROKER_URL": "redis://127.0.0.1:{{ redis_port }}/2",
                "LOG_LEVEL": "debug",
            }
        }
    ),
    st.just(
        {
            "app_services_api_pre_start": [],
            "python_env_env_extra": {"SENTRY_DSN": "https://k@{{ 'sentry' }}.example/1"},
        }
    ),
)
ENV_EDITS = {
    "value_by_hand": r"s/^DEBUG=true$/DEBUG=false/",
    "user_key_added": r"$a SENTRY_DSN=https://hand@sentry.example/2",
    "managed_line_deleted": r"/^ENVIRONMENT=/d",
    "secret_emptied": r"s/^JWT_SECRET=.*/JWT_SECRET=/",
    "state_line_touched": r"s/^# integrador-state: .*/# integrador-state: {}/",
}
FILE_EDITS = ["none", "env_mode", "requirements_comment", "migration_comment", "unit_comment", *ENV_EDITS]


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks (handlers included) that reported changed."""
    names = []
    for block in output.split("\nTASK [")[1:] + output.split("\nRUNNING HANDLER [")[1:]:
        name, _, body = block.partition("]")
        if re.search(r"^changed: ", body, re.MULTILINE):
            names.append(name.split(" : ", 1)[-1])  # without the role's name
    return names


def edit(host: Any, paths: Any, kind: str) -> Callable[[], None]:
    """Applies one edit of a watched file on the laptop; answers what undoes it."""
    targets = {
        "env_mode": paths.env_file,
        "requirements_comment": paths.requirements,
        "migration_comment": f"{paths.backend}/migrations/versions/0001_menu_items.py",
        "unit_comment": f"{paths.units_dir}/integrador-api.service",
        **dict.fromkeys(ENV_EDITS, paths.env_file),
    }
    if kind == "none":
        return lambda: None
    path = targets[kind]
    assert host.file(path).is_file, path
    saved = host.run(f"base64 -w0 {path}").stdout.strip()
    mode = host.run(f"stat -c %a {path}").stdout.strip()
    if kind == "env_mode":
        host.run(f"chmod 644 {path}")
    elif kind in ENV_EDITS:
        assert host.run(f"sed -i '{ENV_EDITS[kind]}' {path}").rc == 0
    else:
        assert host.run(f"printf '# a comment added by hand\\n' >> {path}").rc == 0

    def undo() -> None:
        assert host.run(f"echo {saved} | base64 -d > {path} && chmod {mode} {path}").rc == 0

    return undo


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(setting=SETTINGS, kind=st.sampled_from(FILE_EDITS))
def test_the_fast_path_answers_as_a_check_mode_converge(
    host: Any, paths: Any, converge: Callable[..., Any], setting: dict[str, Any], kind: str
) -> None:
    settled(host, converge)
    undo = edit(host, paths, kind)
    try:
        dry = converge(setting, "--check")
        assert dry.rc == 0, dry
        would = changed_tasks(dry.output)
        run = converge(setting)
        assert run.rc == 0, run
        if fast(run):
            assert all(name.startswith(RESTART_TASKS) for name in would), (kind, setting, would)
            restarted = "to read it" in run.output and "restarted integrador-" in run.output
            assert restarted == bool(would), (kind, setting, would, run)
        else:
            assert would or kind in CONSERVATIVE, (kind, setting, run)
    finally:
        undo()
    settled(host, converge)
