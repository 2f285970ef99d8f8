"""Every test the README's "What we never do" table names exists (issue 24): a promise whose
proof is a renamed or deleted test is no promise. Each row's `tu/...py::name` and `m/...py::name`
(and `::name` continuing the last file) must be a test function of that file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ABBREVIATIONS = {"tu/": "tests/unit/", "m/": "molecule/"}


def table_rows() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## What we never do") :]
    section = section[: section.find("\n## ", 5) if "\n## " in section[5:] else len(section)]
    return [line for line in section.splitlines() if line.startswith("| ") and "`" in line]


def named_tests() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for row in table_rows():
        current = ""
        for match in re.finditer(r"`((?:tu|m)/[\w/]+\.py)?::(test\w*)`", row):
            if match.group(1):
                current = match.group(1)
            assert current, f"a ::name with no file before it in: {row[:120]}"
            found.append((current, match.group(2)))
    return found


def expand(path: str) -> Path:
    for short, full in ABBREVIATIONS.items():
        if path.startswith(short):
            return REPO / (full + path[len(short) :])
    return REPO / path


def test_the_table_names_tests() -> None:
    assert len(named_tests()) > 40


def test_every_test_the_table_names_exists() -> None:
    missing = []
    for path, name in named_tests():
        file = expand(path)
        if not file.is_file():
            missing.append(f"{path} (no such file)")
            continue
        functions = {
            node.name
            for node in ast.walk(ast.parse(file.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert missing == [], "README names tests that do not exist:\n" + "\n".join(missing)
