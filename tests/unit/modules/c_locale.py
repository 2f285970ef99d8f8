"""The C locale for a test: the process's character locale is plain ASCII, as on a host without a
UTF-8 locale, so code that reads files without naming their encoding would decode them wrong.
Restored after. Python's UTF-8 mode ignores the locale: such a test is skipped there (it would
pass without telling anything)."""

from __future__ import annotations

import contextlib
import locale
import sys
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def ascii_locale() -> Iterator[None]:
    if sys.flags.utf8_mode:
        pytest.skip("Python's UTF-8 mode ignores the locale")
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)
