"""How integrador_python_env reads requirement lines as pip does (library/integrador_python_env.py):
pip's logical lines, one requirement's name and extras (with packaging, and by pattern on a host
without it), and the PostgreSQL driver they name. Each answer written out."""

from __future__ import annotations

import builtins
import sys
from typing import Any

import pytest
from module_loader import ROOT, load

python_env = load(ROOT / "library" / "integrador_python_env.py", "integrador_python_env_requirements_test")


@pytest.fixture
def no_packaging(monkeypatch: pytest.MonkeyPatch) -> None:
    """A managed host whose Python has no `packaging`."""
    real_import = builtins.__import__

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("packaging"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    for name in [n for n in sys.modules if n.startswith("packaging")]:
        monkeypatch.delitem(sys.modules, name)


def test_extras_are_canonical_names_split_on_commas() -> None:
    assert python_env._extras(None) == set()
    assert python_env._extras("") == set()
    assert python_env._extras(" Binary , pool,,C_Ext ") == {"binary", "pool", "c-ext"}
    assert python_env._extras("a b") == {"a b"}


def test_without_packaging_the_name_and_extras_are_read_by_pattern(no_packaging: None) -> None:
    assert python_env.parse_requirement("SQLAlchemy[Asyncio, PostgreSQL_AsyncPG]>=2") == (
        "sqlalchemy",
        {"asyncio", "postgresql-asyncpg"},
    )
    assert python_env.parse_requirement("psycopg2_binary") == ("psycopg2-binary", set())
    assert python_env.parse_requirement("./local/path") is None
    assert python_env.parse_requirement("-e .") is None
    assert python_env.parse_requirement("   ") is None


def test_with_packaging_markers_are_judged_for_the_venvs_python() -> None:
    line = "asyncpg ; python_version < '3.12'"
    assert python_env.parse_requirement(line, (3, 11, 4)) == ("asyncpg", set())
    assert python_env.parse_requirement(line, (3, 12, 0)) is None
    assert python_env.parse_requirement("asyncpg ; python_version == '3.11'", (3, 11, 4)) == (
        "asyncpg",
        set(),
    )
    full = "asyncpg ; python_full_version == '3.11.4'"
    assert python_env.parse_requirement(full, (3, 11, 4)) == ("asyncpg", set())
    assert python_env.parse_requirement(full, (3, 11, 5)) is None
    assert python_env.parse_requirement("x ; undefined_marker == '1'") is None
    assert python_env.parse_requirement(
        "Psycopg[Binary,Pool]==3.2 --hash=sha256:00 --config-settings a=b"
    ) == (
        "psycopg",
        {"binary", "pool"},
    )
    assert python_env.parse_requirement("https://example.invalid/x.whl") is None
    assert python_env.parse_requirement("psycopg[c] -C setting=1") == ("psycopg", {"c"})  # pip's -C option


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = (
        "# header\n"
        "fastapi  # web\n"
        "\n"
        "uvicorn[standard] \\\n"
        "  >=0.30 \\\n"
        "  # a comment line: dropped, and it ends the continuation\n"
        "redis#not-a-comment\n"
        "psycopg \\\n"
    )
    assert python_env.logical_lines(text) == [
        (2, "fastapi"),
        (4, "uvicorn[standard]   >=0.30"),
        (7, "redis#not-a-comment"),
        (8, "psycopg"),
    ]
    assert python_env.logical_lines("") == []
    assert python_env.logical_lines("a\\\nb\n") == [(1, "ab")]


def test_canonical_names() -> None:
    assert python_env.canonical("Psycopg2.Binary__x--y") == "psycopg2-binary-x-y"


def test_the_driver_and_where_it_was_named() -> None:
    assert python_env.detect_driver([]) == ("", "")
    assert python_env.detect_driver([("fastapi", set(), "r.txt:1")]) == ("", "")
    found = [
        ("psycopg2-binary", set(), "r.txt:1"),
        ("sqlalchemy", {"postgresql-psycopg", "asyncio"}, "r.txt:2"),
        ("psycopg2", set(), "r.txt:3"),
    ]
    assert python_env.detect_driver(found) == ("psycopg", "r.txt:2")
    assert python_env.detect_driver(found[:1] + found[2:]) == ("psycopg2", "r.txt:1")
    assert python_env.detect_driver([*found, ("asyncpg", set(), "r.txt:9")]) == ("asyncpg", "r.txt:9")
    assert python_env.detect_driver([("sqlalchemy", {"postgresql"}, "a:1")]) == ("psycopg2", "a:1")
    assert python_env.detect_driver([("sqlalchemy", {"postgresql-asyncpg"}, "a:1")]) == ("asyncpg", "a:1")
    assert python_env.detect_driver([("asyncpg", {"postgresql-psycopg"}, "a:1")]) == ("asyncpg", "a:1")
