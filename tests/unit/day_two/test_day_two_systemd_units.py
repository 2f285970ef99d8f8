"""inspect_units.yml's one `systemctl --user show` run, read by the filter day_two_systemd_units
into systemd_service's loop shape ({item, status}) for the verbs. The text below is what systemd
257 printed for two units and one that is not installed (the day2 scenario reads real ones); the
properties come in systemd's order, not the order asked, and the blocks in the order asked."""

from __future__ import annotations

from random import Random
from types import ModuleType

from hypothesis import example, given
from hypothesis import strategies as st

SHOWN = """NRestarts=0
Id=integrador-api.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
StateChangeTimestamp=Mon 2026-12-07 23:48:01 UTC

NRestarts=3
Id=nothere.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
StateChangeTimestamp=

NRestarts=0
Id=integrador-ws.service
LoadState=loaded
ActiveState=failed
SubState=failed
UnitFileState=disabled
StateChangeTimestamp=Mon 2026-12-07 23:48:10 UTC
"""
API = {"unit": "integrador-api.service", "program": "integrador-api"}
WS = {"unit": "integrador-ws.service", "program": "integrador-ws"}
GONE = {"unit": "nothere.service"}


def test_each_unit_gets_its_own_block(day_two: ModuleType) -> None:
    ws, gone, api = day_two.systemd_units([WS, GONE, API], {"rc": 0, "stdout": SHOWN, "stderr": ""})
    assert api == {
        "item": API,
        "status": {
            "NRestarts": "0",
            "Id": "integrador-api.service",
            "LoadState": "loaded",
            "ActiveState": "active",
            "SubState": "running",
            "UnitFileState": "enabled",
            "StateChangeTimestamp": "Mon 2026-12-07 23:48:01 UTC",
        },
    }
    assert (
        ws["item"] == WS
        and ws["status"]["ActiveState"] == "failed"
        and ws["status"]["UnitFileState"] == "disabled"
    )
    assert gone["status"]["LoadState"] == "not-found" and gone["status"]["NRestarts"] == "3"
    # What the status table makes of them.
    rows = day_two.unit_rows([api, ws, gone])
    assert [(r["ok"], r["status"]) for r in rows] == [
        (True, "active (running), enabled"),
        (False, "failed (failed), disabled"),
        (None, "not installed"),
    ]


def test_a_user_manager_that_does_not_answer_fails_each_unit_with_its_words(day_two: ModuleType) -> None:
    shown = {"rc": 1, "stdout": "", "stderr": "Failed to connect to bus: No such file or directory"}
    results = day_two.systemd_units([API, WS], shown)
    assert results == [
        {"item": API, "failed": True, "msg": "Failed to connect to bus: No such file or directory"},
        {"item": WS, "failed": True, "msg": "Failed to connect to bus: No such file or directory"},
    ]
    (row, _) = day_two.unit_rows(results)
    assert (
        row["ok"] is False
        and row["details"] == "systemctl --user: Failed to connect to bus: No such file or directory"
    )
    # No words at all: the exit code is named.
    assert day_two.systemd_units([API], {"rc": 4, "stdout": "", "stderr": ""})[0]["msg"] == "exit code 4"


def test_a_unit_systemctl_printed_no_block_for_is_not_taken_for_another(day_two: ModuleType) -> None:
    only_api = SHOWN.split("\n\n")[0]
    api, ws = day_two.systemd_units([API, WS], {"rc": 0, "stdout": only_api, "stderr": ""})
    assert api["status"]["Id"] == "integrador-api.service"
    assert ws["failed"] is True and "status" not in ws


VALUE = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30)


@example(values=[{"ActiveState": "a\u2028b = c", "StateChangeTimestamp": "\x85 x"}], order=Random(0))
@given(
    values=st.lists(
        st.fixed_dictionaries({"ActiveState": VALUE, "StateChangeTimestamp": VALUE}), min_size=1, max_size=4
    ),
    order=st.randoms(),
)
def test_any_values_in_any_block_order_come_back_to_their_unit(
    day_two: ModuleType, values: list[dict[str, str]], order: object
) -> None:
    """Values with '=' or spaces in them are the value after the first '='; blocks printed in
    another order are matched by Id, never by position."""
    services = [{"unit": f"u{i}.service"} for i in range(len(values))]
    blocks = [
        f"Id=u{i}.service\nActiveState={v['ActiveState']}\nStateChangeTimestamp={v['StateChangeTimestamp']}"
        for i, v in enumerate(values)
    ]
    order.shuffle(blocks)  # type: ignore[attr-defined]
    results = day_two.systemd_units(services, {"rc": 0, "stdout": "\n\n".join(blocks) + "\n"})
    for i, result in enumerate(results):
        assert result["item"] == services[i]
        assert result["status"]["ActiveState"] == values[i]["ActiveState"]
        assert result["status"]["StateChangeTimestamp"] == values[i]["StateChangeTimestamp"]
