"""leaves_as_is (module_utils/integrador_env_state.py), which the fast path uses to tell from
digests alone whether a converge would edit a hand-edited .env, judged by the editor itself:
integrador_env_file's edit() with the real values is the oracle, on files a converge wrote and a
hand then edited, and on generated hostile files."""

from __future__ import annotations

import hashlib

from hypothesis import example, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
env_state = load(
    ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state"
)
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file")

SECRETS = ["JWT_SECRET", "TABLE_TOKEN_SECRET"]
KEYS = ["DATABASE_URL", "REDIS_URL", "DEBUG", "LOG_LEVEL", "JWT_SECRET", "OTHER"]
VALUE = st.sampled_from(["true", "false", "", "redis://127.0.0.1:6380", "a b", "x#y", "'q'", 'd"q', "é"])
VALUES = st.dictionaries(st.sampled_from(KEYS[:4] + ["JWT_SECRET"]), VALUE, max_size=4)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def editor_leaves_it(text: str, values: dict[str, str], secret_keys: list[str]) -> bool:
    """The oracle: the module's own edit with the real values (a refusal is a change: the
    converge would fail, so the fast path must not answer for it)."""
    try:
        new, _ = env_file.edit(text, values, secret_keys)
    except env_file.EnvFileError:
        return False
    return new == text


def kept_by_editor(text: str, values: dict[str, str], secret_keys: list[str]) -> list[str]:
    return list(env_file.edit(text, values, secret_keys)[1]["kept"])


@st.composite
def hand_edit(draw: st.DrawFn, text: str) -> str:
    """What a developer does to a .env a converge wrote: a value changed, put back, emptied,
    a line deleted or doubled, a key added, `=` dropped, the state line touched, quotes added."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        kind = draw(
            st.sampled_from(["value", "delete", "double", "add", "bare_key", "state", "quote", "export"])
        )
        key = line.split("=", 1)[0] if "=" in line and not line.startswith("#") else ""
        if kind == "value" and key:
            lines[index] = f"{key}={draw(VALUE).replace(' ', '_').replace('#', '')}"
        elif kind == "delete":
            del lines[index]
        elif kind == "double" and key:
            lines.insert(index + 1, f"{key}={draw(VALUE).replace(' ', '_').replace('#', '')}")
        elif kind == "add":
            lines.insert(index, f"{draw(st.sampled_from(KEYS))}=added")
        elif kind == "bare_key" and key:
            lines[index] = key
        elif kind == "state" and line.startswith(env_state.STATE_PREFIX):
            lines[index] = env_state.STATE_PREFIX + draw(
                st.sampled_from(["{}", "not json", '{"DEBUG": "0"}'])
            )
        elif kind == "quote" and key:
            lines[index] = f"{key}='{line.split('=', 1)[1]}'"
        elif kind == "export" and key:
            lines[index] = "export " + line
    return "\n".join(lines)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), first=VALUES, now=VALUES, secret_keys=st.sampled_from([SECRETS, [], ["JWT_SECRET"]]))
@example(data=None, first={"DEBUG": "true"}, now={"DEBUG": "true"}, secret_keys=SECRETS)
def test_answers_as_the_editor_after_a_converge_and_a_hand_edit(
    data: st.DataObject | None, first: dict[str, str], now: dict[str, str], secret_keys: list[str]
) -> None:
    written, _ = env_file.edit("", first, secret_keys)
    text = data.draw(hand_edit(written)) if data else written.replace("DEBUG=true", "DEBUG=false")
    # The settings of the last converge (what the fast path recorded) or others.
    values = data.draw(st.sampled_from([first, now])) if data else now
    same, kept = env_state.leaves_as_is(text, {k: sha(v) for k, v in values.items()}, secret_keys)
    assert same == editor_leaves_it(text, values, secret_keys), text
    if same:
        assert kept == kept_by_editor(text, values, secret_keys)


HOSTILE = st.lists(
    st.sampled_from(list("aZ09_=#'\"\\ \n$") + ["DEBUG", "JWT_SECRET", "OTHER"]), max_size=30
).map("".join)


@settings(max_examples=400, deadline=None)
@given(body=HOSTILE, values=VALUES, secret_keys=st.sampled_from([SECRETS, []]), state=st.booleans())
@example(body="DEBUG", values={"DEBUG": "true"}, secret_keys=[], state=False)
@example(body="JWT_SECRET=", values={}, secret_keys=SECRETS, state=False)
def test_answers_as_the_editor_on_any_file(
    body: str, values: dict[str, str], secret_keys: list[str], state: bool
) -> None:
    remembered = {k: env_state.digest(v) for k, v in values.items()}
    text = (env_state.STATE_PREFIX + str(remembered).replace("'", '"') + "\n" if state else "") + body
    same, _ = env_state.leaves_as_is(text, {k: sha(v) for k, v in values.items()}, secret_keys)
    assert same == editor_leaves_it(text, values, secret_keys), text


def test_a_hand_edited_value_is_left_and_named() -> None:
    written, _ = env_file.edit("", {"DEBUG": "true", "LOG_LEVEL": "info"}, SECRETS)
    edited = written.replace("DEBUG=true", "DEBUG=false")
    assert env_state.leaves_as_is(edited, {"DEBUG": sha("true"), "LOG_LEVEL": sha("info")}, SECRETS) == (
        True,
        ["DEBUG"],
    )


def test_a_deleted_secret_or_managed_line_is_written_again() -> None:
    written, _ = env_file.edit("", {"DEBUG": "true"}, SECRETS)
    digests = {"DEBUG": sha("true")}
    assert env_state.leaves_as_is(written, digests, SECRETS) == (True, [])
    without_secret = "\n".join(line for line in written.split("\n") if not line.startswith("JWT_SECRET="))
    assert env_state.leaves_as_is(without_secret, digests, SECRETS)[0] is False
    without_debug = written.replace("DEBUG=true\n", "")
    assert env_state.leaves_as_is(without_debug, digests, SECRETS)[0] is False


def test_a_key_no_longer_asked_for_is_removed() -> None:
    written, _ = env_file.edit("", {"DEBUG": "true", "LOG_LEVEL": "debug"}, [])
    assert env_state.leaves_as_is(written, {"DEBUG": sha("true")}, [])[0] is False
