"""The written-out rule of what a port setting may be (issue 24, 4): the oracle of the port
properties, written apart from module_utils/integrador_ports.py so a break there shows."""

from __future__ import annotations

import re
from typing import Any

RANGE = "from 1 to 65535"


def expected_port_problem(value: Any, var: str) -> str | None:
    """An int (never a bool), or ASCII digits with blanks around, from 1 to 65535: no message.
    A whole number outside the range: the range and the number. Anything else (a float, 5432.0,
    "1e999", full-width digits, None, a list...): the range and the value as Python writes it."""
    if type(value) is int:
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        number = int(value)
    else:
        return f"{var} must be a TCP port, a whole number {RANGE} (got {value!r})."
    return None if 1 <= number <= 65535 else f"{var} must be a TCP port {RANGE} (got {number})."
