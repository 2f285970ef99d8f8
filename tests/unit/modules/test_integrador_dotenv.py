"""The .env editor against the real python-dotenv, on generated hostile files written to disk.

- the ported grammar (module_utils/integrador_dotenv.py) reads every file as python-dotenv does;
- after a merge python-dotenv reads every unmanaged key as before and every managed key as
  wanted, every unmanaged line is byte-identical, and a second merge changes no byte;
- every value the writer chooses a quoting for reads back exactly;
- the masked diff never holds a sensitive value.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

# Where Ansible puts it when it ships the module to a host.
dotenv_port = load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
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
    old_bindings = dotenv_port.parse(text)
    if extra_secret:  # python_env_env_extra setting a generated secret
        wanted = dict(wanted, JWT_SECRET="given-by-the-user")
    try:
        new, info = env_file.edit(text, wanted, SECRETS)
    except env_file.EnvFileError as error:
        # Only a file whose reading depends on what follows may be refused: a line python-dotenv
        # cannot read (an unclosed quote) or a closing quote after a backslash. The message
        # names that line and changes nothing.
        fragile = env_file.fragile_lines(old_bindings, text)
        assert fragile != "other lines" and fragile in str(error)
        return
    path.write_bytes(new.encode("utf-8"))
    after = read_real(path)

    managed = set(info["managed"])
    for key, value in before.items():
        if key not in managed:
            assert after[key] == value, key
    for key, value in wanted.items():
        assert after[key] == (before[key] if key in info["kept"] else value), key
    for key in SECRETS:
        if key in wanted:
            continue
        if before.get(key):
            assert after[key] == before[key]
        else:
            assert key in info["generated"] and len(after[key] or "") == 64

    # Byte for byte: the new text is the old one with only our values (on the last line of each
    # managed key) and the state line's hashes replaced, then what is appended.
    last = {b.key: b for b in old_bindings if b.key is not None}
    spans = [
        (b.value_start, b.value_end) if b.value is not None else (b.key_end, b.key_end)
        for key, b in last.items()
        if key in managed
    ]
    state_span = env_file.find_state(text, old_bindings)[1]
    if state_span:
        spans.append(state_span)
    fixed, cursor = [], 0
    for start, end in sorted(spans):
        fixed.append(text[cursor:start])
        cursor = end
    fixed.append(text[cursor:])
    pattern = "(.*?)".join(re.escape(part) for part in fixed) + "(.*)"
    assert re.fullmatch(pattern, new, re.DOTALL), "a line we do not manage changed"

    again, info_again = env_file.edit(new, wanted, SECRETS)
    assert again == new
    assert info_again["generated"] == []


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
