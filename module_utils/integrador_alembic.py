"""What a checkout's Alembic knows, read without importing anything of it: the script
locations of its config, and the revision identifiers of its migration scripts.

Alembic imports each script and reads its module-level ``revision``; we cannot import the
user's code (its imports need the user's virtualenv), so the assignment is read as text. A
script whose revision is not a plain string literal (computed) is reported in ``unreadable``
rather than guessed.
"""

from __future__ import annotations

import ast
import configparser
import os
import re

# `revision = "abc"`, `revision: str = 'abc'` at the start of a line (module level).
_REVISION = re.compile(
    r"""^revision\s*(?::[^=\n]+)?=\s*(?P<q>['"])(?P<id>[^'"\n]+)(?P=q)\s*(?:#.*)?$""", re.M
)
_ASSIGNED = re.compile(r"^revision\s*(?::[^=\n]+)?=", re.M)
# `down_revision = "abc"`, `= None`, `= ("a", "b")` (a merge), with or without an annotation.
_DOWN = re.compile(r"^down_revision\s*(?::[^=\n]+)?=\s*(?P<value>[^#\n]+?)\s*(?:#.*)?$", re.M)


def migration_locations(config: str) -> list[str]:
    """Alembic's script location(s), as folders. Relative locations are taken from the config's
    folder, where the API runs alembic; %(here)s is that folder too."""
    here = os.path.dirname(os.path.abspath(config))
    parser = configparser.ConfigParser(
        defaults={"here": here}, interpolation=configparser.BasicInterpolation()
    )
    locations: list[str] = []
    try:
        parser.read(config, encoding="utf-8")
        section = "alembic" if parser.has_section("alembic") else None
        if section:
            locations.append(parser.get(section, "script_location", fallback="alembic"))
            extra = parser.get(section, "version_locations", fallback="")
            locations += [part for part in re.split(r"[\s,;" + re.escape(os.pathsep) + r"]+", extra) if part]
    except (configparser.Error, UnicodeDecodeError):
        pass  # alembic itself will say what is wrong; the file's bytes are still fingerprinted
    return [os.path.join(here, os.path.expanduser(location)) for location in locations]


def script_revision(text: str) -> str | None:
    """The revision a migration script declares: its identifier, "" when it assigns one that is
    not a plain string (unreadable), None when it declares none (env.py, helpers)."""
    found = _REVISION.search(text)
    if found:
        return found.group("id")
    return "" if _ASSIGNED.search(text) else None


def script_down_revisions(text: str) -> tuple[str, ...] | None:
    """The revisions a migration script follows (none for the first one, two or more for a
    merge); None when its down_revision is missing or not a literal (unknown)."""
    found = _DOWN.search(text)
    if not found:
        return None
    try:
        value = ast.literal_eval(found.group("value"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def known_revisions(config: str) -> tuple[list[str], list[str]]:
    """(revisions, unreadable scripts) of every .py under the config's script locations."""
    revisions, _, unreadable = read_scripts(config)
    return revisions, unreadable


def read_scripts(config: str) -> tuple[list[str], list[str] | None, list[str]]:
    """(revisions, heads, unreadable scripts) of every .py under the config's script locations.
    The heads are the revisions no script follows, which `alembic upgrade head` reaches; None
    when a script's revision or down_revision cannot be read (they are unknown)."""
    revisions: set[str] = set()
    downs: set[str] | None = set()
    unreadable: list[str] = []
    for folder in migration_locations(config):
        for top, dirs, names in os.walk(folder):
            dirs[:] = sorted(name for name in dirs if name != "__pycache__")
            for name in sorted(names):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(top, name)
                try:
                    with open(path, encoding="utf-8") as handle:
                        text = handle.read()
                except (OSError, UnicodeDecodeError):
                    unreadable.append(path)
                    continue
                revision = script_revision(text)
                if revision:
                    revisions.add(revision)
                    follows = script_down_revisions(text)
                    if follows is None:
                        downs = None
                    elif downs is not None:
                        downs.update(follows)
                elif revision == "":
                    unreadable.append(path)
    heads = None if unreadable or downs is None else sorted(revisions - downs)
    return sorted(revisions), heads, unreadable
