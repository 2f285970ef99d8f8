"""Cases of the instance port offset filter (filter_plugins/integrador_instance.py) that kill mutants
`make mutation` found surviving: behaviour test_port_offset.py and test_port_offset_int.py did not pin."""

from __future__ import annotations

import hashlib

from module_loader import ROOT, load

instance = load(ROOT / "filter_plugins" / "integrador_instance.py", "integrador_instance_filters_mutants")


def test_an_undecodable_byte_in_the_instance_name_is_hashed_as_that_byte() -> None:
    """A name read with surrogateescape (a non-UTF-8 byte, here 0xff) is hashed as its original bytes
    rather than refused: the same byte always gives the same ports."""
    digest = hashlib.md5(b"stack-\xff", usedforsecurity=False).hexdigest()
    expected = int(digest[:4], 16) % 99 * 10 + 10
    assert instance.instance_port_offset("stack-\udcff") == expected


def test_the_filter_is_provided_under_the_name_the_roles_defaults_use() -> None:
    """Roles' defaults call `integrador_instance_port_offset`; the plugin provides it under that name."""
    defaults = (ROOT / "roles" / "redis" / "defaults" / "main.yml").read_text(encoding="utf-8")
    assert "| integrador_instance_port_offset(" in defaults
    provided = instance.FilterModule().filters()
    assert provided == {"integrador_instance_port_offset": instance.instance_port_offset}
