#!/usr/bin/python
"""restore.yml's journal written in one module run: the record as JSON, replaced in one rename.
It took ansible.builtin.copy (a stat, a temporary folder, a transfer, then the copy: about 0.6 s
a write on a laptop, four writes a restore)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: integrador_journal
short_description: Writes restore.yml's journal (a JSON record) atomically
description:
  - Writes I(record) as JSON (sorted keys, indented) to I(path), mode 0600, through a temporary file of
    the same folder that is flushed to disk and renamed into place, so a reader (the lock module, status)
    sees the old record or the new one, never part of one, whatever kills the run.
  - Reports a change only when the file's text changes; in check mode nothing is written.
options:
  path:
    description: The journal file; its folder must exist (the run lock made it).
    type: path
    required: true
  record:
    description: What the restore reached and what a rerun needs to finish it.
    type: dict
    required: true
author: Integrador developers
"""

EXAMPLES = r"""
- name: Journal is written
  integrador_journal:
    path: ~/.local/state/integrador/restore.json
    record: {backup: 20251129T101503Z, step: staged}
"""

RETURN = r"""
path:
  description: The journal file.
  type: str
  returned: always
"""


def text_of(record: dict[str, Any]) -> str:
    """The journal's text: what to_nice_json wrote before (4 spaces, sorted keys), a newline last."""
    return json.dumps(record, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str, text: str) -> None:
    """path holds text afterwards, replaced in one rename (mode 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "record": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    path, text = module.params["path"], text_of(module.params["record"])
    try:
        with open(path, encoding="utf-8") as handle:
            changed = handle.read() != text
    except FileNotFoundError:
        changed = True
    except (OSError, ValueError):
        changed = True  # unreadable or not text: replaced
    if changed and not module.check_mode:
        try:
            write(path, text)
        except OSError as exc:
            module.fail_json(
                msg=f"Cannot write the restore journal {path} ({exc.strerror or exc}): make its folder "
                "writable, or point integrador_state_dir elsewhere.",
                path=path,
            )
    module.exit_json(changed=changed, path=path)


if __name__ == "__main__":
    main()
