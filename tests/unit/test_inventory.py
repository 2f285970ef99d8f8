"""`inventory/` is this machine only: `ansible-playbook -i inventory ...` loads every file in
that folder, so an example team VM there would be contacted over SSH on every run (it once
was). The example lives in docs/inventory/ and still parses as the hosts it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def inventory_list(source: str) -> dict:
    command = [str(Path(sys.executable).with_name("ansible-inventory")), "-i", source, "--list"]
    # ANSIBLE_INVENTORY_UNPARSED_FAILED: a file Ansible cannot parse fails the test instead of
    # being skipped with a warning (an unparsed file would list no host at all).
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def hosts(listing: dict) -> set[str]:
    return set(listing.get("_meta", {}).get("hostvars", {})) | {
        host for group in listing.values() if isinstance(group, dict) for host in group.get("hosts", [])
    }


def test_inventory_folder_lists_localhost_only() -> None:
    assert hosts(inventory_list("inventory")) == {"localhost"}


def test_configured_inventory_lists_localhost_only() -> None:
    # ansible.cfg's default inventory (no -i), what `make dev` uses.
    assert hosts(inventory_list("inventory/hosts.yml")) == {"localhost"}


def test_remote_example_lives_outside_inventory_and_lists_its_vms() -> None:
    assert not list((ROOT / "inventory").glob("*example*"))
    assert hosts(inventory_list("docs/inventory/remote.example.yml")) == {"team-vm-1", "team-vm-2"}
