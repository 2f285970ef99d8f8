"""The .env editor against the real python-dotenv, on generated hostile files written to disk.

- the ported grammar (module_utils/integrador_dotenv.py) reads every file as python-dotenv does;
- after a merge python-dotenv reads every unmanaged key as before and every managed key as
  wanted, every unmanaged line is byte-identical, and a second merge changes no byte;
- every value the writer chooses a quoting for reads back exactly;
- the masked diff never holds a sensitive value.
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from pathlib import Path

import pytest
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

# Where Ansible puts it when it ships the module to a host.
dotenv_port = load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
load(ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state")
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file")

SECRETS = ["JWT_SECRET", "TABLE_TOKEN_SECRET"]
MANAGED_VALUES = ["DATABASE_URL", "REDIS_URL", "DEBUG"]
PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Hostile characters: quotes of each kind, escapes, $, #, =, whitespace, unicode, line breaks
# python-dotenv does and does not treat as such.
HOSTILE = st.text(
    alphabet=st.sampled_from(list("aZ09_-./:@ $#='\"\\{}\tnrx") + ["é", "✓", "\n", "\r", "\x85", "\u2028"]),
    max_size=12,
)
KEYS = st.sampled_from(SECRETS + MANAGED_VALUES + ["OTHER", "API_KEY", "export", "Path", "a.b"])


@st.composite
def statement(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["blank", "comment", "bare", "single", "double", "nokey", "raw"]))
    if kind == "blank":
        return draw(st.sampled_from(["", "  ", "\t"]))
    if kind == "comment":
        return draw(st.sampled_from(["#", "  # ", "#export A="])) + draw(HOSTILE).replace("\n", " ")
    if kind == "raw":
        return draw(HOSTILE)
    key = draw(KEYS)
    lead = draw(st.sampled_from(["", "export ", "  export  ", " "]))
    equal = draw(st.sampled_from(["=", " = ", "=  ", " ="]))
    tail = draw(st.sampled_from(["", " # note", "  #", " "]))
    if kind == "nokey":
        return lead + key + tail
    value = draw(HOSTILE)
    if kind == "single":
        value = "'" + value.replace("'", "\\'") + "'"
    elif kind == "double":
        value = '"' + value.replace('"', '\\"') + '"'
    return lead + key + equal + value + tail


@st.composite
def dotenv_file(draw: st.DrawFn) -> bytes:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(draw(st.lists(statement(), max_size=10)))
    if draw(st.booleans()):
        text += newline
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text.encode("utf-8")


WRITABLE = st.text(
    alphabet=st.sampled_from(list("aZ09_-./:@ $#='\"\\{}\t") + ["é", "✓", "\n", "\r", "\x85"]), max_size=16
).filter(lambda value: dotenv_port.why_unwritable(value) is None)


def read_real(path: Path) -> dict[str, str | None]:
    """What the backend reads: python-dotenv on the file (interpolation apart, which would
    mix in the test process's environment)."""
    return dict(dotenv_values(path, interpolate=False, encoding="utf-8"))


@PROPERTY
@given(content=dotenv_file())
def test_port_reads_every_file_as_python_dotenv(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ".env"
    path.write_bytes(content)
    assert dotenv_port.values(content.decode("utf-8")) == read_real(path)


@PROPERTY
@given(value=WRITABLE, after=st.sampled_from(["", " # comment", "#x", "  "]))
def test_every_written_value_reads_back_exactly(tmp_path: Path, value: str, after: str) -> None:
    encoded = dotenv_port.encode(value, bare=dotenv_port.bare_safe_after(after, value))
    assume(encoded is not None)
    path = tmp_path / ".env"
    path.write_bytes(f"A='it''s'\nKEY={encoded}{after}\nB=\"x\" # it's\n".encode())
    assert read_real(path)["KEY"] == value


def dotenv_lines(text: str) -> list:
    """python-dotenv's own reading of the text, one binding per statement, with its original
    bytes and line number: the oracle of what a merge may touch (never the module's parser)."""
    bindings = list(parse_stream(io.StringIO(text)))
    assert "".join(b.original.string for b in bindings) == text
    return bindings


def depends_on_what_follows(binding) -> bool:  # noqa: ANN001 (python-dotenv's Binding)
    """The written-out rule of which lines a merge may refuse to write after: a line python-dotenv
    cannot read (an unclosed quote), or a line holding a quote right after a backslash (a quoted
    value whose closing quote is escaped reads differently once a line follows)."""
    return binding.error or "\\'" in binding.original.string or '\\"' in binding.original.string


@PROPERTY
@given(
    content=dotenv_file(),
    wanted=st.fixed_dictionaries({key: WRITABLE for key in MANAGED_VALUES}),
    extra_secret=st.booleans(),
)
def test_merge_keeps_every_other_line_and_sets_ours(
    tmp_path: Path, content: bytes, wanted: dict[str, str], extra_secret: bool
) -> None:
    path = tmp_path / ".env"
    path.write_bytes(content)
    text = content.decode("utf-8")
    before = read_real(path)
    old_lines = dotenv_lines(text)
    if extra_secret:  # python_env_env_extra setting a generated secret
        wanted = dict(wanted, JWT_SECRET="given-by-the-user")
    try:
        new, info = env_file.edit(text, wanted, SECRETS)
    except env_file.EnvFileError as error:
        # Only a file whose reading depends on what follows may be refused, and the message
        # names such a line (python-dotenv's line number) and changes nothing.
        fragile = [b.original.line for b in old_lines if depends_on_what_follows(b)]
        assert fragile, f"refused a file python-dotenv reads line by line: {error}"
        assert any(f"line {line}" in str(error) for line in fragile), str(error)
        return
    path.write_bytes(new.encode("utf-8"))
    after = read_real(path)

    managed = set(wanted) | set(SECRETS)
    for key, value in before.items():
        if key not in managed:
            assert after[key] == value, key
    # The written-out rule (the generated files hold no state line, so no remembered hashes):
    # a value the user already has is theirs, kept; a missing or valueless key gets ours; a secret
    # set explicitly replaces the generated one.
    for key, value in wanted.items():
        mine = before.get(key) is None or before[key] == value or key in SECRETS
        assert after[key] == (value if mine else before[key]), key
    for key in SECRETS:
        if key in wanted:
            continue
        if before.get(key):
            assert after[key] == before[key]
        else:
            assert len(after[key] or "") == 64

    # Byte for byte, by python-dotenv's own split of the old file: every statement but the last
    # one of each managed key is in the new text unchanged and in order; only those statements
    # differ, and lines are appended at the end.
    last = {b.key: i for i, b in enumerate(old_lines) if b.key is not None}
    replaced = {i for key, i in last.items() if key in managed}
    pattern = "".join(
        "(.*?)" if i in replaced else re.escape(b.original.string) for i, b in enumerate(old_lines)
    )
    if old_lines and not old_lines[-1].original.string.endswith(("\n", "\r")):
        pattern += "(?:\r\n|\n)?"  # the last line gets its line break before what is appended
    assert re.fullmatch(pattern + "(.*)", new, re.DOTALL), "a line we do not manage changed"
    again, info_again = env_file.edit(new, wanted, SECRETS)
    assert again == new
    assert info_again["generated"] == []


def test_merge_of_a_hand_written_file_gives_exactly_this_text() -> None:
    """An explicit case with its literal result: comments, export, spaces around =, a value the
    user set by hand (kept), a key without a value (ours), CRLF kept, the rest appended."""
    text = (
        "# keep me  \r\nexport OTHER = 'x' # note\r\nDEBUG=false # mine\r\nJWT_SECRET=a\r\n"
        "TABLE_TOKEN_SECRET='b'\r\nDEBUG=old\r\nREDIS_URL\r\n"
    )
    wanted = {"DEBUG": "true", "REDIS_URL": "redis://h:1/0", "DATABASE_URL": "postgresql://u:p@h/d"}
    new, info = env_file.edit(text, wanted, SECRETS)
    state = {
        "DATABASE_URL": env_file.digest(wanted["DATABASE_URL"]),
        "REDIS_URL": env_file.digest(wanted["REDIS_URL"]),
    }
    assert new == (
        "# keep me  \r\nexport OTHER = 'x' # note\r\nDEBUG=false # mine\r\nJWT_SECRET=a\r\n"
        "TABLE_TOKEN_SECRET='b'\r\nDEBUG=old\r\nREDIS_URL=redis://h:1/0\r\n"
        "# Written by the Integrador provisioning (Ansible role python_env).\r\n"
        "# Hand edits are kept on later runs; delete a line to have it generated again.\r\n"
        f"# integrador-state: {json.dumps(state, sort_keys=True)}\r\n"
        "DATABASE_URL=postgresql://u:p@h/d\r\n"
    )
    assert info["kept"] == ["DEBUG"] and info["generated"] == []


def test_previous_versions_file_keeps_its_values_without_a_byte_changed() -> None:
    wanted = {"REDIS_URL": "redis://127.0.0.1:6380", "DEBUG": "true", "ALLOWED_ORIGINS": "http://a,http://b"}
    old, state, *_ = env_file.merge({}, {}, wanted, SECRETS)
    # Exactly what the previous version rendered: header, state line, raw KEY=VALUE lines.
    text = (
        "\n".join(
            [env_file.HEADER + env_file.STATE_PREFIX + json.dumps(state, sort_keys=True)]
            + [f"{key}={value}" for key, value in old.items()]
        )
        + "\n"
    )
    new, info = env_file.edit(text, wanted, SECRETS)
    assert new == text
    assert info["generated"] == [] and info["kept"] == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [("x${HOME}y", "${...}"), ("a\x00b", "NUL"), ("needs quotes\\", "backslash")],
)
def test_value_that_cannot_be_written_is_refused_naming_the_key(value: str, reason: str) -> None:
    with pytest.raises(env_file.EnvFileError) as refused:
        env_file.edit("A=1\n", {"MY_SETTING": value}, [])
    message = str(refused.value)
    assert "MY_SETTING" in message and reason in message
    assert value not in message


SENSITIVE_KEYS = st.sampled_from(
    ["API_KEY", "db_password", "Private_Pem", "GITHUB_TOKEN", "MY_SECRET", "OTHER"]
)
SECRET_VALUE = st.text(alphabet=st.sampled_from(list("aZ09_-./:@ $#='\"\\\n")), min_size=6, max_size=14).map(
    lambda tail: "Zq7" + tail
)


@st.composite
def secret_statement(draw: st.DrawFn) -> tuple[str, str]:
    """A sensitive (or unmanaged) key with a recognisable value, in any syntax."""
    key, value = draw(SENSITIVE_KEYS), draw(SECRET_VALUE)
    lead = draw(st.sampled_from(["", "export ", "  "]))
    equal = draw(st.sampled_from(["=", " = ", " ="]))
    quote = draw(st.sampled_from(["", "'", '"']))
    if quote == "":
        written = value.replace("\n", "").replace("#", "")
        value = written.strip()
    elif quote == "'":
        written = "'" + value.replace("\\", "").replace("'", "") + "'"
        value = written[1:-1]
    else:
        written = '"' + value.replace("\\", "").replace('"', "") + '"'
        value = written[1:-1]
    return lead + key + equal + written, value


@PROPERTY
@given(
    statements=st.lists(secret_statement(), min_size=1, max_size=6),
    password=SECRET_VALUE.filter(lambda value: "\n" not in value),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_masked_diff_never_holds_a_sensitive_value(
    statements: list[tuple[str, str]], password: str, newline: str
) -> None:
    text = newline.join(line for line, _ in statements) + newline
    hidden = [value for _, value in statements if len(value.strip()) >= 6]
    quoted = urllib.parse.quote(password, safe="")  # as the role's urlencode does
    wanted = {"DATABASE_URL": f"postgresql://postgres:{quoted}@127.0.0.1:5432/menu_ops", "DEBUG": "true"}
    new, info = env_file.edit(text, wanted, SECRETS)
    shown = env_file.diff(text, new, info, SECRETS)
    generated = [env_file.parse(new)[0][key] for key in SECRETS]
    for value in [*hidden, quoted, *generated]:
        assert value not in shown["before"] and value not in shown["after"]
    # The diff still says which lines change.
    assert "JWT_SECRET=******** (new)" in shown["after"]
    assert "DATABASE_URL=postgresql://postgres:********@127.0.0.1:5432/menu_ops" in shown["after"]


def test_duplicate_key_last_one_is_updated_and_none_dropped(tmp_path: Path) -> None:
    text = "DEBUG=false\r\n# the one that counts:\r\nexport DEBUG\r\n"
    new, info = env_file.edit(text, {"DEBUG": "true"}, [])
    assert new.startswith("DEBUG=false\r\n# the one that counts:\r\nexport DEBUG=true\r\n")
    path = tmp_path / ".env"
    path.write_bytes(new.encode())
    assert read_real(path)["DEBUG"] == "true"
    assert env_file.edit(new, {"DEBUG": "true"}, [])[0] == new
