"""The explicit port offset is read as Jinja's int filter reads it (filter_plugins/integrador_instance.py):
a decimal string exactly, however long, other numbers through float, anything else 0."""

from __future__ import annotations

from module_loader import ROOT, load

instance = load(ROOT / "filter_plugins" / "integrador_instance.py", "integrador_instance_int_test")


def test_explicit_offsets_as_jinjas_int() -> None:
    assert (
        instance.instance_port_offset("x", "123456789012345678901234567890") == 123456789012345678901234567890
    )
    assert instance.instance_port_offset("x", " 20 ") == 20
    assert instance.instance_port_offset("x", "2.9") == 2
    assert instance.instance_port_offset("x", 7.9) == 7
    assert instance.instance_port_offset("x", "ten") == 0
    assert instance.instance_port_offset("x", "inf") == 0


def test_a_huge_integer_offset_is_kept_exactly() -> None:
    assert instance.instance_port_offset("x", 10**30) == 10**30
