"""The remembered state of a .env file that library/integrador_env_file.py edits, and whether
its edit would leave a file as it is, told from digests of the values alone.

integrador_env_file writes, on a `# integrador-state:` comment line, a short hash of every value
it wrote, so that a later run tells a value it wrote from one edited by hand. The fast path of
playbooks/dev.yml (library/integrador_fast_path.py) must know whether a full converge would edit
a .env that changed by hand since the last one, without the values it would write (secrets among
them): `leaves_as_is` answers that from their SHA-256 digests, by the same steps as the module's
merge. tests/unit/modules/test_integrador_env_state.py holds it to the module's own edit() on
generated files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible.module_utils.integrador_dotenv import parse, values

STATE_PREFIX = "# integrador-state: "
_STATE_LINE = re.compile(r"\s*(# integrador-state: )([^\r\n]*)")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def digest(value: str) -> str:
    """The short hash the state line remembers (the start of the value's SHA-256)."""
    return sha256(value)[:16]


def find_state(text: str, bindings: list) -> tuple[dict[str, str], tuple[int, int] | None]:
    """The remembered hashes, and where their JSON lies in the text (the last state line)."""
    state: dict[str, str] = {}
    span = None
    for binding in bindings:
        if binding.key is not None or binding.error:
            continue
        match = _STATE_LINE.match(text, binding.start, binding.end)
        if match:
            try:
                loaded = json.loads(match.group(2))
            except ValueError:
                loaded = {}
            state = loaded if isinstance(loaded, dict) else {}
            span = match.span(2)
    return state, span


def leaves_as_is(text: str, value_sha256: dict[str, str], secret_keys: list[str]) -> tuple[bool, list[str]]:
    """Whether integrador_env_file's edit(text, values, secret_keys) returns text unchanged, given
    only the SHA-256 of each value (value_sha256, key to hex digest); and the managed keys it would
    keep as edited by hand (its RV(kept)). The steps are its merge's, in the same order."""
    bindings = parse(text)
    current = values(text)
    state, span = find_state(text, bindings)
    new_state: dict[str, str] = {}
    kept: list[str] = []
    for key, wanted in value_sha256.items():
        have = current.get(key)
        if have is None:
            return False, []  # missing, or `KEY` without `=`: the value would be written
        have_sha = sha256(have)
        adopted = key in secret_keys and key not in state
        if have_sha == wanted or state.get(key) == have_sha[:16] or adopted:
            if have_sha != wanted:
                return False, []  # ours, or adopted: the value asked for would be written
            new_state[key] = wanted[:16]
        else:
            kept.append(key)
            if key in state:
                new_state[key] = state[key]
    for key in secret_keys:
        if key not in value_sha256 and not current.get(key):
            return False, []  # an empty or missing secret would be generated
    # The state line is rewritten unless it already holds exactly these hashes (a key written
    # before and no longer asked for, removed by the editor, is caught here too: it is in state).
    state_json = json.dumps(new_state, sort_keys=True)
    if span is not None:
        return text[span[0] : span[1]] == state_json, kept
    return not new_state, kept


def started_records(started_dir: str, env_path: str, data: bytes) -> dict[str, bool]:
    """Per start record in started_dir that names env_path (app_services' launcher writes
    <service>.json at each start): whether that start read these bytes."""
    now = hashlib.sha256(data).hexdigest()
    same = os.path.realpath(env_path)
    found: dict[str, bool] = {}
    try:
        names = sorted(os.listdir(started_dir))
    except OSError:
        return found
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(started_dir, name), encoding="utf-8") as handle:
                record = json.load(handle)
            if os.path.realpath(str(record["env_file"])) != same:
                continue
            found[name[: -len(".json")]] = str(record["sha256"]) == now
        except (OSError, ValueError, KeyError, TypeError):
            found[name[: -len(".json")]] = False
    return found
