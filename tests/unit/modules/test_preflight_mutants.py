"""Cases that kill mutants `mutmut` (mutation testing) found surviving in the preflight group:
behaviour the other unit tests did not pin down."""

from __future__ import annotations

import pytest
from module_loader import ROOT, load

ollama = load(ROOT / "library" / "integrador_ollama.py", "integrador_ollama_preflight_mutants")


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("mirror.test/org:1/model", "mirror.test/org:1/model:latest"),
        ("localhost:5000/team:x/model", "localhost:5000/team:x/model:latest"),
        ("mirror.test/org:1/model:v2", "mirror.test/org:1/model:v2"),
    ],
)
def test_only_a_colon_in_the_last_path_segment_is_a_tag(name: str, listed: str) -> None:
    """A colon in an earlier (not first) path segment is not a tag: the name still gets `:latest`."""
    assert ollama.full_name(name) == listed
