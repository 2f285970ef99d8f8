"""Cases that kill mutants `make mutation` found surviving in module_utils/integrador_dotenv.py.

Under mutmut the property tests of test_integrador_dotenv.py run only a few derandomized examples,
so these pin the same behaviour with explicit inputs: literal expected results, or python-dotenv's
own parser (never the port) as the oracle.
"""

from __future__ import annotations

import io

import pytest
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from module_loader import ROOT, load

dotenv_port = load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")


def real_values(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


def test_line_numbers_and_offsets_agree_with_python_dotenv() -> None:
    """Each statement's 1-based line number and its [start, end) span are python-dotenv's, across
    blank lines, a quoted value spanning two lines, a comment and a trailing statement."""
    text = "A=1\n\nB='x\ny'\n  # c\nC=3\nD=4\n"
    real = list(parse_stream(io.StringIO(text)))
    port = dotenv_port.parse(text)
    assert [b.line for b in port] == [b.original.line for b in real] == [1, 2, 5, 6, 7]
    starts, position = [], 0
    for binding in real:
        starts.append(position)
        position += len(binding.original.string)
    assert [b.start for b in port] == starts
    assert [b.text(text) for b in port] == [b.original.string for b in real]


def test_single_quoted_key_is_read_without_its_quotes() -> None:
    text = "'a b'=1\n'K'=v\n"
    assert dotenv_port.values(text) == real_values(text) == {"a b": "1", "K": "v"}
    first = dotenv_port.parse(text)[0]
    assert (first.key_end, first.value_start, first.value_end) == (5, 6, 7)


def test_key_without_equal_sign_has_its_value_offsets_at_the_key_end() -> None:
    """For `KEY` alone value is None and value_start == value_end == key_end (where `=v` goes)."""
    binding = dotenv_port.parse("A=1\nKEY # note\n")[1]
    assert (binding.key, binding.value) == ("KEY", None)
    assert (binding.key_end, binding.value_start, binding.value_end) == (7, 7, 7)


def test_unreadable_statement_is_an_error_with_offsets_at_its_start() -> None:
    """A line python-dotenv cannot read (no key) is error=True, key and value None, and its key and
    value offsets stay at the statement's start."""
    text = "A=1\n=x\nB='unclosed\n"
    assert [b.error for b in parse_stream(io.StringIO(text))] == [False, True, True]
    bindings = dotenv_port.parse(text)
    assert [b.error for b in bindings] == [False, True, True]
    bad = bindings[1]
    assert (bad.start, bad.key, bad.value) == (4, None, None)
    assert (bad.key_end, bad.value_start, bad.value_end) == (4, 4, 4)


def test_trailing_whitespace_is_a_statement_without_key_or_value() -> None:
    """Whitespace after the last line is a statement of its own, key and value None (not ""),
    every offset at its start and its end at the end of the text."""
    text = "A=1\n  "
    last = dotenv_port.parse(text)[-1]
    assert (last.key, last.value, last.error, last.line) == (None, None, False, 2)
    assert (last.start, last.key_end, last.value_start, last.value_end, last.end) == (4, 4, 4, 4, 6)


def test_unquoted_value_span_stops_before_spaces_and_comment() -> None:
    """value_end of an unquoted value is right after it, before the spaces and the comment."""
    text = "A=abc  # c\n"
    binding = dotenv_port.parse(text)[0]
    assert binding.value == real_values(text)["A"] == "abc"
    assert (binding.value_start, binding.value_end) == (2, 5)
    assert text[binding.value_start : binding.value_end] == "abc"


def test_crlf_after_an_unreadable_line_belongs_to_that_line() -> None:
    """On the raw text a CR LF ends an unreadable line as one break (the LF python-dotenv sees),
    so the next statement starts after the LF, not at it."""
    text = "A='x\r\nB=1\r\n"
    first, second = dotenv_port.parse(text)
    assert first.error and (first.start, first.end) == (0, 6)
    assert (second.start, second.end, second.key, second.value) == (6, 11, "B", "1")
    assert dotenv_port.values(text) == real_values(text.replace("\r\n", "\n")) == {"B": "1"}


@pytest.mark.parametrize(
    ("rest", "value", "safe"),
    [
        ("", "", True),  # an empty value at the end of the text
        ("  \r\n", "", True),
        (" # c", "", False),  # `KEY= # c` reads "# c"
        (" # c", "v", True),
        ("X", "v", False),  # glued to what follows
        ("#c", "v", False),
        ("\t# c", "v", True),
    ],
)
def test_bare_safe_after(rest: str, value: str, safe: bool) -> None:
    assert dotenv_port.bare_safe_after(rest, value) is safe
    if value:
        # What python-dotenv reads confirms it: a bare value is safe exactly when it reads back.
        assert (real_values(f"K={value}{rest}\n")["K"] == value) is safe


@pytest.mark.parametrize(
    ("value", "bare", "written"),
    [
        ("", True, ""),
        ("", False, "''"),
        ("X Y", True, "'X Y'"),
        ("a\\b c", True, '"a\\\\b c"'),
        ("a\nb", True, '"a\\nb"'),
        ("it's\r", True, '"it\'s\\r"'),
    ],
)
def test_encode_writes_exactly_this_and_python_dotenv_reads_it_back(
    value: str, bare: bool, written: str
) -> None:
    assert dotenv_port.encode(value, bare=bare) == written
    assert real_values(f"K={written}\n")["K"] == value


def test_encode_refuses_a_quoted_value_ending_with_a_backslash() -> None:
    """`a\\` is bare-safe, but when it must be quoted no quoting reads back (a later `"` in the
    file makes python-dotenv read the escaped `\\"` as an escaped quote): None."""
    assert dotenv_port.encode("a\\", bare=True) == "a\\"
    assert dotenv_port.encode("a\\", bare=False) is None
    assert real_values('K="a\\\\"\nB="x"\n').get("K") != "a\\"


def test_why_unwritable_gives_these_reasons() -> None:
    """The reasons the editor shows the user when it refuses a value, word for word."""
    assert dotenv_port.why_unwritable("x${HOME}") == (
        "it holds ${...}, which python-dotenv replaces by another variable's value"
    )
    assert dotenv_port.why_unwritable("a\x00b") == (
        "it holds a NUL character, which no environment variable can carry"
    )
    assert dotenv_port.why_unwritable("needs quotes\\") == (
        "it ends with a backslash and needs quotes, and python-dotenv reads a quote after a "
        "backslash as part of the value"
    )
    assert dotenv_port.why_unwritable("plain") is None


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [("API_KEY", True), ("db_password", True), ("Github_Token", True), ("DEBUG", False)],
)
def test_is_sensitive_ignores_case(key: str, sensitive: bool) -> None:
    assert dotenv_port.is_sensitive(key) is sensitive
