"""dev.yml's fast path on the whole stack (integrador_fast_path, on here as for a developer): a
stack as the last full converge left it costs one check and the run ends; what is merely stopped
is started by that check; anything the check cannot vouch for (other settings, a hand edit of
.env, a container that is gone, a port taken) gets the full converge, with its preflight and its
clear errors. Real containers, units and health URLs of the default laptop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
from conftest import PROJECT, USER_ENV, LaptopPaths, occupied_port, run_playbook, systemctl, took_fast_path
from test_stack import all_green

UNITS = ("integrador-api.service", "integrador-ws.service")
# Whether a run ended after the fast path's check (no preflight, no role ran).
fast = took_fast_path


def test_no_change_run_is_one_check_and_the_summary(
    host: Any, paths: LaptopPaths, converge: Callable[..., Any]
) -> None:
    converge()  # whatever an earlier test left: recorded again
    result = converge()
    assert result.rc == 0 and result.changed == 0, result
    assert fast(result), result
    # The check released the run lock itself (no task of its own): none is left behind for
    # the next run to take over.
    assert not host.file(f"{paths.state_dir}/run.lock").exists
    again = converge()
    assert fast(again) and "Took over the run lock" not in again.output, again
    assert (
        "Fast path   as the last converge left it (integrador_fast_path: false converges in full)"
        in result.output
    )
    assert (
        "REST API    http://127.0.0.1:" in result.output
        and "Reboot      comes back by itself" in result.output
    )


def test_warm_start_starts_containers_and_units_in_the_check(
    host: Any, docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    host.run(f"{USER_ENV} systemctl --user stop {' '.join(UNITS)}")
    names = (test_vars["postgres_pgvector_container_name"], test_vars["redis_container_name"])
    for name in names:
        docker_client.containers.get(name).stop(timeout=10)
    result = converge()
    assert result.rc == 0 and result.changed == 1, result
    assert fast(result), result
    assert f"started: {names[0]}, {names[1]}, {UNITS[0]}, {UNITS[1]}" in result.output, result
    assert all_green(test_vars), result
    again = converge()
    assert again.rc == 0 and again.changed == 0 and fast(again), again


def test_after_make_down_the_check_enables_and_starts_the_units(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    down = run_playbook(PROJECT / "playbooks" / "down.yml")
    assert down.rc == 0, down
    assert systemctl(host, "is-enabled", UNITS[0]) == "disabled"
    result = converge()
    assert result.rc == 0 and fast(result), result
    for unit in UNITS:
        assert systemctl(host, "is-enabled", unit) == "enabled", unit
        assert systemctl(host, "is-active", unit) == "active", unit
    assert all_green(test_vars), result


def test_other_settings_converge_in_full_then_are_fast_again(converge: Callable[..., Any]) -> None:
    other = {"app_services_health_timeout": 59}
    full = converge(other)
    assert full.rc == 0 and not fast(full), full
    assert fast(converge(other))
    back = converge()
    assert back.rc == 0 and not fast(back), back
    assert fast(converge())


def test_a_note_added_to_env_by_hand_is_kept_and_read_on_the_fast_path(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """A comment is a change of the bytes the services started with: the full converge would keep
    it and restart them; the fast path does the same, and the note stays."""
    env_file = f"{test_vars['integrador_root']}/backend/.env"
    host.run(f"printf '# itest: a note of the developer\\n' >> {env_file}")
    result = converge()
    assert result.rc == 0 and fast(result), result
    assert "edited by hand: restarted integrador-api.service, integrador-ws.service" in result.output, result
    assert "# itest: a note of the developer" in host.file(env_file).content_string
    again = converge()
    assert fast(again) and again.changed == 0, again


def test_a_removed_container_is_recreated_by_the_full_converge(
    docker_client: docker.DockerClient, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    docker_client.containers.get(test_vars["redis_container_name"]).remove(force=True)
    result = converge()
    assert result.rc == 0 and not fast(result), result
    assert docker_client.containers.get(test_vars["redis_container_name"]).status == "running"
    assert all_green(test_vars), result
    assert fast(converge())


def test_a_taken_port_of_a_stopped_service_gets_the_preflight_error(
    host: Any, test_vars: dict[str, Any], converge: Callable[..., Any]
) -> None:
    """The check never starts a service onto a port another program holds: the full converge
    runs and its preflight names the port; once the port is free, one run brings it back."""
    port = int(test_vars["app_services_api_port"])
    host.run(f"{USER_ENV} systemctl --user stop {UNITS[1]} {UNITS[0]}")
    with occupied_port(host, "127.0.0.1", port):
        result = converge()
        assert result.rc != 0 and not fast(result), result
        assert f"Port {port} on 127.0.0.1 is already taken by" in result.output, result
    result = converge()
    assert result.rc == 0, result
    assert all_green(test_vars), result
