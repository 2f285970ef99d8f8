"""Cases that kill mutants `make mutation` found surviving in integrador_env_file.edit (second group):
the state line rewritten in place, quoting chosen from what follows a value on its line, a file whose
last line ends in a lone CR, the refusals and their exact messages, and the keys of the info edit
returns. Every expected text is written out by hand; the short hashes on the state line are the first
16 hex digits of the value's SHA-256 (sha256("") = e3b0c442..., sha256("1") = 6b86b273...), and
python-dotenv itself confirms how a written file reads."""

from __future__ import annotations

import io

import pytest
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from module_loader import ROOT, load

# Where Ansible puts them when it ships the module to a host.
load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
load(ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state")
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file_mutants2_test")

HEADER = (
    "# Written by the Integrador provisioning (Ansible role python_env).\n"
    "# Hand edits are kept on later runs; delete a line to have it generated again.\n"
)
# First 16 hex digits of SHA-256 of each value.
SHA_EMPTY = "e3b0c44298fc1c14"
SHA_OLD = "cba06b5736faf67e"
SHA_NEW = "11507a0e2f5e69d5"
SHA_1 = "6b86b273ff34fce1"
SHA_2 = "d4735e3a265e16ee"
SHA_12 = "6b51d431df5d7f14"
SHA_ORIG = "14e0ffdc8215c81d"
SHA_R = "454349e422f05297"


def read_back(text: str) -> dict[str, str | None]:
    """What python-dotenv itself reads from the text."""
    return dict(dotenv_values(stream=io.StringIO(text)))


def unreadable(text: str) -> list[str]:
    """The statements python-dotenv itself cannot read (it skips them), as written."""
    return [b.original.string for b in parse_stream(io.StringIO(text)) if b.error]


def test_empty_value_before_a_comment_is_quoted_and_the_state_line_rewritten_in_place() -> None:
    """`KEY= # c` would read "# c", so an empty value there is written as ''; the state line's JSON is
    replaced (not left, not prepended to) with the new hash."""
    text = f'# integrador-state: {{"A": "{SHA_OLD}"}}\nA=old # c\n'
    new, info = env_file.edit(text, {"A": ""}, [])
    assert new == f'# integrador-state: {{"A": "{SHA_EMPTY}"}}\nA=\'\' # c\n'
    assert read_back(new) == {"A": ""}
    assert info["written"] == ["A"]


def test_value_right_before_a_comment_without_space_is_quoted() -> None:
    """After `A#c` a bare value would join the comment (`A=new#c` reads "new#c"): it is quoted."""
    new, _ = env_file.edit("A#c\n", {"A": "new"}, [])
    assert new == "A='new'#c\n" + HEADER + f'# integrador-state: {{"A": "{SHA_NEW}"}}\n'
    assert read_back(new) == {"A": "new"}
    assert read_back("A=new#c\n") == {"A": "new#c"}  # why the bare form is wrong there


def test_final_backslash_where_quotes_are_needed_is_refused_with_its_line() -> None:
    """A value ending in a backslash can only be written bare; before `#c` it needs quotes: refused."""
    with pytest.raises(env_file.EnvFileError) as refusal:
        env_file.edit("A#c\n", {"A": "x\\"}, [])
    assert str(refusal.value) == (
        "The value for A cannot be written on line 1 so that python-dotenv reads it back unchanged "
        "(it ends with a backslash and needs quotes there)."
    )


def test_appending_after_a_last_line_ending_in_a_lone_cr_adds_no_blank_line() -> None:
    """A file in CR line endings whose last line ends in CR gets the new lines right after it."""
    new, _ = env_file.edit("A=1\r", {"B": "2"}, [])
    assert new == (
        "A=1\r"
        "# Written by the Integrador provisioning (Ansible role python_env).\r"
        "# Hand edits are kept on later runs; delete a line to have it generated again.\r"
        f'# integrador-state: {{"B": "{SHA_2}"}}\r'
        "B=2\r"
    )
    assert read_back(new) == {"A": "1", "B": "2"}


def test_state_line_swallowed_by_an_unclosed_quote_is_refused_naming_the_state_line() -> None:
    """Only the state line is new, its quotes would close line 2's open quote (python-dotenv would lose
    the state, not a value): refused, naming the state line and line 2."""
    text = 'B=12\nA="abc\n'
    naive = text + HEADER + f'# integrador-state: {{"B": "{SHA_12}"}}\n'
    assert read_back(naive) == {"B": "12"}  # the values alone would not tell,
    assert unreadable(naive) == [naive[len("B=12\n") :]]  # but the state line is no comment any more
    with pytest.raises(env_file.EnvFileError) as refusal:
        env_file.edit(text, {"B": "12"}, [])
    assert str(refusal.value) == (
        "Writing the state line would change how python-dotenv reads line 2 of the file. "
        "Fix that line by hand and run again."
    )


def test_keys_appended_after_an_unclosed_quote_are_refused_naming_them() -> None:
    """Appended after line 1's open double quote, the state line's quotes would close it: refused,
    naming both keys written."""
    text = 'A="abc\n'
    naive = text + HEADER + f'# integrador-state: {{"B": "{SHA_1}", "C": "{SHA_2}"}}\nB=1\nC=2\n'
    assert unreadable(naive) == [naive[: -len("B=1\nC=2\n")]]  # the state line joins line 1
    with pytest.raises(env_file.EnvFileError) as refusal:
        env_file.edit(text, {"B": "1", "C": "2"}, [])
    assert str(refusal.value) == (
        "Writing B, C would change how python-dotenv reads line 1 of the file. "
        "Fix that line by hand and run again."
    )


def test_info_reports_unknown_removed_and_kept_removed_keys() -> None:
    """A key still as written and no longer asked for is removed, one edited by hand is kept and
    named, one never written is unknown; info carries each under its return name."""
    text = f'# integrador-state: {{"K": "{SHA_ORIG}", "R": "{SHA_R}"}}\nK=edited\nR=r\nU=u\n'
    new, info = env_file.edit(text, {"A": "1"}, [])
    assert new == f'# integrador-state: {{"A": "{SHA_1}"}}\nK=edited\nU=u\nA=1\n'
    assert read_back(new) == {"K": "edited", "U": "u", "A": "1"}
    assert info == {
        "generated": [],
        "kept": [],
        "unknown": ["U"],
        "removed": ["R"],
        "kept_removed": ["K"],
        "written": ["A"],
        "managed": ["A"],
        "bom": False,
    }


def test_info_tells_a_file_that_starts_with_a_byte_order_mark() -> None:
    """With a BOM python-dotenv reads the first key with the mark in its name; info["bom"] says so."""
    text = "\ufeffA=1\n"
    assert read_back(text) == {"\ufeffA": "1"}
    new, info = env_file.edit(text, {"A": "1"}, [])
    assert new == "\ufeffA=1\n" + HEADER + f'# integrador-state: {{"A": "{SHA_1}"}}\nA=1\n'
    assert info == {
        "generated": [],
        "kept": [],
        "unknown": ["\ufeffA"],
        "removed": [],
        "kept_removed": [],
        "written": ["A"],
        "managed": ["A"],
        "bom": True,
    }
