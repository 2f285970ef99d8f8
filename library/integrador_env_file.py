#!/usr/bin/python
"""Edit a dotenv file in place: stable generated secrets, hand edits and every other line kept."""

from __future__ import annotations

import json
import os
import secrets
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.integrador_dotenv import (
    KEY,
    MASK,
    bare_safe_after,
    encode,
    is_sensitive,
    mask_urls,
    newline_of,
    parse as parse_bindings,
    values as dotenv_values,
    why_unwritable,
)
from ansible.module_utils.integrador_env_state import (
    STATE_PREFIX,
    digest,
    find_state,
    sha256,
    started_records,
)

DOCUMENTATION = r"""
module: integrador_env_file
short_description: Dotenv file with stable generated secrets, edited in place
description:
  - Edits the file in place, never re-renders it. Every line it does not manage stays
    byte-for-byte where it was (comments, blank lines, order, C(export), quoting, multi-line
    quoted values, CR LF line endings, a UTF-8 BOM). A symbolic link is edited through -- its
    target is replaced atomically and the link stays.
  - The file is read with python-dotenv's grammar (a port in module_utils, so python-dotenv is
    not needed on the host). For a key set more than once the last one counts, as for
    python-dotenv; that one is updated and none is dropped.
  - A managed key is updated on its own line (keeping its C(export)); a missing one is appended
    in the file's line ending style.
  - Values are written bare, in single quotes or in double quotes with escapes, so that
    python-dotenv reads back exactly the value; a value that cannot be written so (C(${...}),
    which python-dotenv expands; a NUL; a final backslash that needs quotes) is refused,
    naming the key. A file that is not UTF-8 is refused and left untouched.
  - A key in O(secrets) keeps whatever value the file has; a missing or empty one gets a new
    random URL-safe value (64 characters). A key in both O(values) and O(secrets) takes the
    value given (once; after that it is a managed value like any other).
  - A key in O(values) is updated when the file still holds the value this module last wrote
    (it remembers a hash of each on a C(# integrador-state:) comment line); a value edited by
    hand is kept and reported in RV(kept).
  - Keys the module does not manage are kept and reported in RV(unknown). A key it wrote that is
    no longer in O(values) is removed while it still holds what was written (RV(removed)), and
    kept when it was edited by hand (RV(kept_removed)); secrets are never removed.
  - The diff shows which lines change, never a value of a key that is not managed, of a
    secret, of a key whose name holds SECRET, TOKEN, PASSWORD, KEY or PRIVATE, nor a URL's
    password. Messages name keys and lines, never values.
options:
  path:
    description: The dotenv file.
    type: path
    required: true
  values:
    description: Managed keys and the values they should have.
    type: dict
    default: {}
  secrets:
    description: Keys whose values are generated once and then kept.
    type: list
    elements: str
    default: []
  mode:
    description: File mode.
    type: str
    default: "0600"
  started_dir:
    description:
      - Folder where the services' launcher records, as C(<service>.json), the path and SHA-256 of
        the .env bytes each service read when it started. Each record naming this file is compared
        with the file as this run leaves it (RV(started)). Empty, nothing is compared.
    type: path
    default: ""
author: Integrador developers
"""

EXAMPLES = r"""
- name: Backend .env has its settings and secrets
  integrador_env_file:
    path: /home/me/integrador/backend/.env
    values:
      REDIS_URL: redis://127.0.0.1:6380
    secrets: [JWT_SECRET]
"""

RETURN = r"""
generated:
  description: Secret keys that got a new value.
  type: list
  elements: str
  returned: always
kept:
  description: Managed keys whose hand-edited value was kept instead of the generated one.
  type: list
  elements: str
  returned: always
unknown:
  description: Keys in the file that are not managed; kept as they are.
  type: list
  elements: str
  returned: always
removed:
  description: Keys this module wrote, no longer in O(values), still as written, so removed.
  type: list
  elements: str
  returned: always
kept_removed:
  description: Keys this module wrote, no longer in O(values), edited by hand since, so kept.
  type: list
  elements: str
  returned: always
value_sha256:
  description:
    - The SHA-256 of each value of O(values), by key (never a value), which the fast path of
      playbooks/dev.yml records to tell, after a hand edit, whether this module would change the file.
  type: dict
  returned: always
started:
  description:
    - Per service that left a record of this file in O(started_dir), C(current) when it started
      with the bytes the file now holds, C(stale) when it started with other bytes (a hand edit
      since it started included).
  type: dict
  returned: always
"""

HEADER = (
    "# Written by the Integrador provisioning (Ansible role python_env).\n"
    "# Hand edits are kept on later runs; delete a line to have it generated again.\n"
)


class EnvFileError(Exception):
    """A refusal whose message names the file, key or line, never a value."""


def parse(text: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """The values python-dotenv reads (last one wins) and the remembered hashes."""
    bindings = parse_bindings(text)
    return dotenv_values(text), find_state(text, bindings)[0]


def merge(
    current: dict[str, str | None],
    state: dict[str, str],
    values: dict[str, str],
    secret_keys: list[str],
) -> tuple[dict[str, str | None], dict[str, str], list[str], list[str], list[str]]:
    """What each key should hold: (wanted, new state, generated, kept, unknown)."""
    wanted: dict[str, str | None] = {}
    new_state: dict[str, str] = {}
    generated: list[str] = []
    kept: list[str] = []
    for key, value in values.items():
        have = current.get(key)
        # A secret the user now sets explicitly (python_env_env_extra) replaces the generated
        # one once; from then on its hash is remembered like any other value we wrote.
        adopted = key in secret_keys and key not in state
        if have is None or have == value or state.get(key) == digest(have) or adopted:
            wanted[key] = value
            new_state[key] = digest(value)
        else:
            wanted[key] = have
            kept.append(key)
            if key in state:
                new_state[key] = state[key]
    for key in secret_keys:
        if key in values:
            continue
        have = current.get(key)
        if have:
            wanted[key] = have
        else:
            wanted[key] = secrets.token_urlsafe(48)
            generated.append(key)
    unknown = [key for key in current if key not in wanted]
    for key in unknown:
        wanted[key] = current[key]
    return wanted, new_state, generated, kept, unknown


def check_input(values: dict[str, str], secret_keys: list[str]) -> None:
    for key in list(values) + secret_keys:
        if not KEY.fullmatch(key):
            raise EnvFileError(
                f"The key {key!r} cannot be written to .env: use letters, digits and _ "
                "(not starting with a digit)."
            )
    for key, value in values.items():
        reason = why_unwritable(value)
        if reason:
            raise EnvFileError(
                f"The value for {key} cannot be written to .env so that python-dotenv reads it back "
                f"unchanged: {reason}. Change the value of {key} (python_env_env_extra or the setting it "
                "comes from)."
            )


def edit(text: str, values: dict[str, str], secret_keys: list[str]) -> tuple[str, dict[str, object]]:
    """The file's new text (only the managed values, the state line and appended lines differ)."""
    check_input(values, secret_keys)
    bindings = parse_bindings(text)
    current = dotenv_values(text)
    state, state_span = find_state(text, bindings)
    wanted, new_state, generated, kept, unknown = merge(current, state, values, secret_keys)
    managed = list(values) + [key for key in secret_keys if key not in values]
    last = {b.key: b for b in bindings if b.key is not None}
    newline = newline_of(text)

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in the old text
    # A key this module wrote that is no longer asked for (dropped from python_env_env_extra):
    # removed when the file still holds exactly what was written (a backend whose settings
    # refuse unknown keys could not start with it), kept and named when edited by hand since.
    # Secrets are never removed. A key set on several lines is left alone (kept, named).
    removed: list[str] = []
    kept_removed: list[str] = []
    for key in sorted(state):
        if key in values or key in secret_keys or key not in current:
            continue
        lines = [b for b in bindings if b.key == key]
        have = current[key]
        if len(lines) == 1 and have is not None and digest(have) == state[key]:
            edits.append((lines[0].start, lines[0].end, ""))
            removed.append(key)
        else:
            kept_removed.append(key)
        unknown = [k for k in unknown if k != key]
        wanted.pop(key, None)
    appended: list[str] = []
    written: list[str] = []
    for key in managed:
        value = wanted[key]
        assert value is not None
        binding = last.get(key)
        if binding is not None and binding.value == value:
            continue
        written.append(key)
        if binding is None:
            appended.append(f"{key}={encode(value)}{newline}")
            continue
        if binding.value is None:  # `KEY` alone: give it a value right after the key.
            start = end = binding.key_end
            prefix = "="
        else:
            start, end, prefix = binding.value_start, binding.value_end, ""
        # Without quotes only where what follows on the line (a comment) cannot join the value.
        encoded = encode(value, bare=bare_safe_after(text[end : binding.end], value))
        if encoded is None:
            raise EnvFileError(
                f"The value for {key} cannot be written on line {binding.line} so that python-dotenv "
                "reads it back unchanged (it ends with a backslash and needs quotes there)."
            )
        edits.append((start, end, prefix + encoded))

    state_json = json.dumps(new_state, sort_keys=True)
    if state_span is not None:
        if text[state_span[0] : state_span[1]] != state_json:
            edits.append((state_span[0], state_span[1], state_json))
    elif new_state or appended:
        appended.insert(0, (HEADER + STATE_PREFIX + state_json + "\n").replace("\n", newline))

    new = text
    for start, end, replacement in sorted(edits, reverse=True):
        new = new[:start] + replacement + new[end:]
    if appended:
        if new and not new.endswith(("\n", "\r")):
            new += newline
        new += "".join(appended)

    # Read it back as python-dotenv will: every other key as it was, ours as wanted.
    expected = {key: value for key, value in current.items() if key not in removed}
    expected.update({key: wanted[key] for key in managed})
    if new != text and (
        dotenv_values(new) != expected
        or find_state(new, parse_bindings(new))[0] != new_state
        or sum(b.error for b in parse_bindings(new)) != sum(b.error for b in bindings)
    ):
        raise EnvFileError(
            f"Writing {', '.join(written + removed) or 'the state line'} would change how python-dotenv "
            "reads "
            f"{fragile_lines(bindings, text)} of the file. Fix that line by hand and run again."
        )
    info: dict[str, object] = {
        "generated": generated,
        "kept": kept,
        "unknown": unknown,
        "removed": removed,
        "kept_removed": kept_removed,
        "written": written,
        "managed": managed,
        "bom": text.startswith("\ufeff"),
    }
    return new, info


def fragile_lines(bindings: list, text: str) -> str:
    """The lines whose reading depends on what follows them: one python-dotenv cannot read
    (an unclosed quote), or a quoted value whose closing quote follows a backslash."""
    lines = [
        f"line {b.line}" + (f" ({b.key})" if b.key else "")
        for b in bindings
        if b.error
        or (
            b.value is not None
            and b.value_end - b.value_start >= 2
            and text[b.value_start] in "'\""  # quoted: an unquoted value has no closing quote
            and text[b.value_end - 2] == "\\"
        )
    ]
    return ", ".join(lines) if lines else "other lines"


def render(entries: dict[str, str | None], state: dict[str, str]) -> str:
    """A new file: the header, the state line and KEY=VALUE lines (as the first version wrote)."""
    lines = [HEADER + STATE_PREFIX + json.dumps(state, sort_keys=True)]
    lines += [f"{key}={encode(value) if value is not None else ''}" for key, value in entries.items()]
    return "\n".join(lines) + "\n"


def masked(
    text: str,
    secret_keys: list[str],
    sensitive: list[str],
    managed: list[str] | None = None,
    changed: list[str] | None = None,
    side: str = "",
) -> str:
    """The file as the diff shows it: one line per statement, values that are not ours or are
    sensitive replaced by a mask (marked old/new where they change, so the diff still shows
    which line changed), URL passwords masked, comments with `=` cut after it, the state
    line's hashes hidden."""
    bindings = parse_bindings(text)
    last = {b.key: b for b in bindings if b.key is not None}
    hide = set(secret_keys) | set(sensitive)
    out: list[str] = []
    for binding in bindings:
        raw = binding.text(text)
        if binding.error:
            out.append(f"# (line {binding.line}: python-dotenv cannot read it; not shown)")
            continue
        lead = raw[: len(raw) - len(raw.lstrip())]
        out += [""] * (lead.count("\n") + lead.replace("\r\n", "\n").count("\r"))
        if binding.key is None:
            comment = raw.strip()
            if not comment:
                continue
            if comment.startswith(STATE_PREFIX):
                out.append(STATE_PREFIX + "(hashes of the values written)")
            elif "=" in comment:
                out.append(comment.split("=", 1)[0] + "=" + MASK)
            else:
                out.append(comment)
            continue
        head = text[
            binding.start + len(lead) : binding.value_start if binding.value is not None else binding.key_end
        ]
        head = head.replace("\r", "").replace("\n", "")
        if binding.value is None:
            out.append(head)
            continue
        key, value = binding.key, binding.value
        mine = managed is None or key in managed
        if not mine or key in hide or is_sensitive(key):
            shown = MASK
            if changed and key in changed and last.get(key) is binding and side:
                shown = f"{MASK} ({side})"
        else:
            shown = mask_urls(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        out.append(head + shown)
    return "\n".join(out) + ("\n" if out else "")


def diff(before: str, after: str, info: dict[str, object], secret_keys: list[str]) -> dict[str, str]:
    """Both sides as the diff shows them (see masked); URLs show with their password masked,
    so a changed host or port still shows."""
    managed = list(info["managed"])  # type: ignore[call-overload]
    written = list(info["written"])  # type: ignore[call-overload]
    return {
        "before": masked(before, secret_keys, [], managed, written, "old"),
        "after": masked(after, secret_keys, [], managed, written, "new"),
    }


def read(module: AnsibleModule, path: str) -> str:
    if not os.path.lexists(path):
        return ""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        module.fail_json(msg=f"Cannot read {path}: {error.strerror}. Check the file and its folder.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        module.fail_json(
            msg=(
                f"{path} is not UTF-8 text (line {line}), which is what python-dotenv reads. It was left "
                "untouched: convert it to UTF-8 (for example iconv -f latin1 -t utf-8) and run again."
            )
        )
    raise AssertionError("unreachable")


def write(module: AnsibleModule, path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        module.fail_json(msg=f"Cannot write {path}: the folder {directory} does not exist.")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".env.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except OSError as error:
        os.unlink(tmp)
        module.fail_json(msg=f"Cannot write {path}: {error.strerror}.")
    module.atomic_move(tmp, path)


def started(started_dir: str, path: str, text: str) -> dict[str, str]:
    """Whether each service recorded in started_dir read this file's current bytes at start."""
    if not started_dir:
        return {}
    records = started_records(started_dir, path, text.encode("utf-8"))
    return {name: "current" if same else "stale" for name, same in records.items()}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "values": {"type": "dict", "default": {}, "no_log": True},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "mode": {"type": "str", "default": "0600"},
            "started_dir": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    # Text only: str() would write YAML's null, booleans and numbers as Python spells them
    # (None, False, 1.1 for 1.10). The playbook's preflight refuses them first, with the quoting.
    wrong = sorted(str(key) for key, value in module.params["values"].items() if not isinstance(value, str))
    if wrong:
        module.fail_json(
            msg=f"{path}: the values of {', '.join(wrong)} are not text (YAML read them as null, a boolean, "
            'a number or a list): write each in quotes, exactly as .env must hold it (KEY: "1.10"). '
            "Nothing was changed."
        )
    values = {str(key): value for key, value in module.params["values"].items()}
    secret_keys = module.params["secrets"]
    # A symbolic link is edited through: its target is what gets replaced (the link stays).
    target = os.path.realpath(path) if os.path.islink(path) else path

    before = read(module, target)
    try:
        after, info = edit(before, values, secret_keys)
    except EnvFileError as error:
        module.fail_json(msg=f"{path}: {error}")
    changed = after != before

    if info["bom"]:
        module.warn(
            f"{path} starts with a UTF-8 byte order mark: python-dotenv reads it as part of the first key "
            "(so the backend does not see that key). Remove the mark (save as UTF-8 without BOM)."
        )
    result: dict[str, object] = {
        "changed": changed,
        "generated": info["generated"],
        "kept": info["kept"],
        "unknown": info["unknown"],
        "removed": info["removed"],
        "kept_removed": info["kept_removed"],
        # For the fast path of playbooks/dev.yml (integrador_env_state.leaves_as_is): whether a
        # later hand edit leaves this file as a converge would, told without the values.
        "value_sha256": {key: sha256(value) for key, value in values.items()},
        # As this run leaves the file (in check mode: as it would).
        "started": started(module.params["started_dir"], target, after),
    }
    if module._diff and changed:
        result["diff"] = dict(diff(before, after, info, secret_keys), before_header=path, after_header=path)
    mode = int(module.params["mode"], 8)
    if changed and not module.check_mode:
        write(module, target, after, mode)
    if os.path.exists(target):
        file_args = module.load_file_common_arguments({"path": target, "mode": module.params["mode"]})
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
