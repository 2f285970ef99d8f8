"""Cases of library/integrador_env_file.py that kill mutants `make mutation` (mutmut) found surviving:
what the --diff view (masked, diff) shows and hides, the lines fragile_lines names when a write would
change how python-dotenv reads the file, the removal of a key this module wrote and no longer manages
(edit), and the words check_input refuses a key or value with. Every expected answer is written out
by hand."""

from __future__ import annotations

import pytest
from module_loader import ROOT, load

# Where Ansible puts them when it ships the module to a host.
dotenv = load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
load(ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state")
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file_mutants_under_test")

# The start of SHA-256("1") and SHA-256("x"), as the state line remembers them.
HASH_1 = "6b86b273ff34fce1"
HASH_X = "2d711642b726b044"


def fragile(text: str) -> str:
    return env_file.fragile_lines(dotenv.parse(text), text)


# check_input


def test_a_key_that_is_not_a_name_is_refused_with_the_rule() -> None:
    with pytest.raises(env_file.EnvFileError) as error:
        env_file.check_input({"1BAD": "v"}, [])
    assert str(error.value) == (
        "The key '1BAD' cannot be written to .env: use letters, digits and _ (not starting with a digit)."
    )


def test_a_secret_key_that_is_not_a_name_is_refused_too() -> None:
    with pytest.raises(env_file.EnvFileError) as error:
        env_file.check_input({}, ["bad-key"])
    assert str(error.value) == (
        "The key 'bad-key' cannot be written to .env: use letters, digits and _ (not starting with a digit)."
    )


def test_an_unwritable_value_is_refused_naming_the_key_and_where_to_change_it() -> None:
    with pytest.raises(env_file.EnvFileError) as error:
        env_file.check_input({"URL": "${HOME}/x"}, [])
    assert str(error.value) == (
        "The value for URL cannot be written to .env so that python-dotenv reads it back unchanged: "
        "it holds ${...}, which python-dotenv replaces by another variable's value. "
        "Change the value of URL (python_env_env_extra or the setting it comes from)."
    )


# edit: a key this module wrote that is no longer in values


def test_a_dropped_key_still_as_written_is_removed_and_others_stay() -> None:
    text = f'# integrador-state: {{"A": "{HASH_1}", "OLD": "{HASH_X}"}}\nA=1\nOLD=x\nKEEP=mine\n'
    new, info = env_file.edit(text, {"A": "1"}, [])
    assert new == f'# integrador-state: {{"A": "{HASH_1}"}}\nA=1\nKEEP=mine\n'
    assert info["removed"] == ["OLD"]
    assert info["kept_removed"] == []
    assert info["unknown"] == ["KEEP"]


def test_a_dropped_key_edited_by_hand_is_kept_and_named() -> None:
    text = f'# integrador-state: {{"A": "{HASH_1}", "OLD": "{HASH_X}"}}\nA=1\nOLD=y\n'
    new, info = env_file.edit(text, {"A": "1"}, [])
    assert new == f'# integrador-state: {{"A": "{HASH_1}"}}\nA=1\nOLD=y\n'
    assert info["removed"] == []
    assert info["kept_removed"] == ["OLD"]
    assert info["unknown"] == []


def test_a_dropped_key_set_on_two_lines_is_left_alone() -> None:
    text = f'# integrador-state: {{"A": "{HASH_1}", "OLD": "{HASH_X}"}}\nA=1\nOLD=x\nOLD=x\n'
    new, info = env_file.edit(text, {"A": "1"}, [])
    assert new == f'# integrador-state: {{"A": "{HASH_1}"}}\nA=1\nOLD=x\nOLD=x\n'
    assert info["removed"] == []
    assert info["kept_removed"] == ["OLD"]


# fragile_lines


def test_fragile_lines_names_a_backslash_before_the_closing_quote_and_an_unreadable_line() -> None:
    # Line 1 is an ordinary value; line 2's closing quote follows a backslash; line 3 never closes.
    assert fragile("A=12\nB='x\\'\nC=\"unclosed\n") == "line 2 (B), line 3"


def test_fragile_lines_names_a_double_quoted_value_ending_in_an_escaped_backslash() -> None:
    assert fragile('A="x\\\\"\n') == "line 1 (A)"


def test_fragile_lines_says_other_lines_when_none_is_fragile() -> None:
    assert fragile("FLAG\nA=ab\n") == "other lines"


def test_fragile_lines_looks_only_inside_the_value() -> None:
    # The key ends with a backslash and the value is empty: nothing quoted follows a backslash.
    assert fragile("A\\=\n") == "other lines"


def test_fragile_lines_leaves_an_unquoted_value_ending_in_a_backslash_pair() -> None:
    # Unquoted, nothing closes: the backslash cannot change how the next line reads.
    assert fragile("A=\\x\nB=\\\\\n") == "other lines"


# masked


def test_masked_of_an_empty_file_is_empty() -> None:
    assert env_file.masked("", [], []) == ""


def test_masked_hides_secrets_and_sensitive_keys_whatever_their_names() -> None:
    text = "SEED=abc\nDB=conn\nA=1\n"
    assert env_file.masked(text, ["SEED"], ["DB"]) == "SEED=********\nDB=********\nA=1\n"


def test_masked_without_a_side_shows_a_changed_secret_as_the_bare_mask() -> None:
    assert env_file.masked("SEED=abc\n", ["SEED"], [], None, ["SEED"]) == "SEED=********\n"


def test_masked_marks_only_the_last_line_of_a_changed_key() -> None:
    text = "SEED=a\nSEED=b\n"
    shown = env_file.masked(text, ["SEED"], [], ["SEED"], ["SEED"], "old")
    assert shown == "SEED=********\nSEED=******** (old)\n"


def test_masked_shows_an_unreadable_line_as_a_note_and_goes_on() -> None:
    assert env_file.masked('A=1\nB="x\nC=3\n', [], []) == (
        "A=1\n# (line 2: python-dotenv cannot read it; not shown)\nC=3\n"
    )


def test_masked_keeps_blank_lines() -> None:
    assert env_file.masked("A=1\n\n  \nB=2\n", [], []) == "A=1\n\n\nB=2\n"


def test_masked_keeps_blank_lines_of_a_file_with_lone_cr_endings() -> None:
    assert env_file.masked("A=1\r\rB=2\r", [], []) == "A=1\n\nB=2\n"


def test_masked_counts_a_cr_lf_blank_line_once() -> None:
    assert env_file.masked("A=1\r\n\r\nB=2\r\n", [], []) == "A=1\n\nB=2\n"


def test_masked_drops_the_indentation_before_a_key() -> None:
    assert env_file.masked("A=1\n  B=2\n", [], []) == "A=1\nB=2\n"


def test_masked_cuts_comments_after_their_first_equals_and_hides_the_state_hashes() -> None:
    text = '# note\n# DB_PASSWORD=hunter2=x\n# integrador-state: {"A": "6b86b273ff34fce1"}\n'
    assert env_file.masked(text, [], []) == (
        "# note\n# DB_PASSWORD=********\n# integrador-state: (hashes of the values written)\n"
    )


@pytest.mark.parametrize("newline", ["\n", "\r"])
def test_masked_shows_a_quoted_key_spanning_lines_on_one_line(newline: str) -> None:
    assert env_file.masked(f"'A{newline}B'=1\n", [], []) == "'AB'=1\n"


def test_masked_shows_a_key_without_value_and_the_lines_after_it() -> None:
    assert env_file.masked("FLAG\nA=1\n", [], []) == "FLAG\nA=1\n"


def test_masked_escapes_backslashes_and_line_breaks_of_a_shown_value() -> None:
    text = 'A=\'a\\b\'\nB="x\\ny"\nC="x\\ry"\n'
    assert env_file.masked(text, [], []) == "A=a\\\\b\nB=x\\ny\nC=x\\ry\n"


# diff


def test_diff_marks_changed_secrets_old_and_new_and_masks_unmanaged_values() -> None:
    before = "A=1\nSEED=old-seed\nUNMANAGED=u\n"
    after = "A=2\nSEED=new-seed\nUNMANAGED=u\n"
    info: dict[str, object] = {"managed": ["A", "SEED"], "written": ["A", "SEED"]}
    assert env_file.diff(before, after, info, ["SEED"]) == {
        "before": "A=1\nSEED=******** (old)\nUNMANAGED=********\n",
        "after": "A=2\nSEED=******** (new)\nUNMANAGED=********\n",
    }
