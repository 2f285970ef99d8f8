"""The restore's scratch database names, rendered by Ansible from roles/day_two/vars/main.yml:
whatever the live database is called (up to PostgreSQL's 63-byte limit, where it cuts
longer names), the scratch and replaced names fit in 63 bytes and never equal the live
name or each other, so a restore never drops or renames the wrong database."""

from __future__ import annotations

import re
from pathlib import Path

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from hypothesis import example, given, settings
from hypothesis import strategies as st

VARS = Path(__file__).resolve().parents[3] / "roles" / "day_two" / "vars" / "main.yml"
NAMES = ("_day_two_db_scratch", "_day_two_db_replaced")
# Database names a user may configure: any text PostgreSQL takes, cut at 63 bytes.
DB_NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1).map(
    lambda name: name.encode()[:63].decode(errors="ignore") or "x"
)


def scratch_names(live: str) -> list[str]:
    loader = DataLoader()
    play_vars = loader.load_from_file(str(VARS), trusted_as_template=True)
    templar = Templar(loader=loader, variables={**play_vars, "postgres_pgvector_db": live})
    return [templar.template(play_vars[name]) for name in NAMES]


@settings(max_examples=60, deadline=None)
@given(DB_NAMES)
@example("m" * 63)
@example("integrador_restore_" + "0" * 12 + "_new")
def test_scratch_names_never_meet_the_live_database(live: str) -> None:
    scratch, replaced = scratch_names(live)
    assert re.fullmatch(r"integrador_restore_[0-9a-f]{12}_new", scratch), scratch
    assert re.fullmatch(r"integrador_restore_[0-9a-f]{12}_old", replaced), replaced
    for name in (scratch, replaced):
        assert len(name.encode()) <= 63, name
        assert name != live
    assert scratch != replaced
    assert scratch_names(live) == [scratch, replaced], "the names must be stable across runs"
