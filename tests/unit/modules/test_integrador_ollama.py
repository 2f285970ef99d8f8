"""library/integrador_ollama.py: which models a run pulls (hypothesis, over any names a user
writes), and its pulls against the test double's real HTTP server (tests/images/ollama-double),
run here on a free port with its models in a temporary folder."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

ollama = load(ROOT / "library" / "integrador_ollama.py", "integrador_ollama")

# Names are built from their parts, so the test knows each one's model without the module's
# full_name (issue 24, 4): a model is its repository (an optional registry host:port, path
# segments) and a tag, ":latest" when none is written; Ollama compares them without case.
# Blanks go only around the whole name (the `blank` of MODEL): a segment or tag never starts or
# ends with one, so each drawn name has one meaning.
PART_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters=":/\x85")
SEGMENT = st.text(PART_CHARS, min_size=1, max_size=8)
REPOSITORY = st.tuples(
    st.sampled_from(["", "localhost:5000/", "mirror.test/", "Registry.Example:8080/org/"]),
    st.lists(SEGMENT, min_size=1, max_size=2).map("/".join),
).map("".join)
TAG = st.one_of(
    st.none(),
    st.text(PART_CHARS, min_size=1, max_size=6),
)
MODEL = st.tuples(REPOSITORY, TAG, st.sampled_from(["", " "]))


def written(model: tuple[str, str | None, str]) -> str:
    """The name as a user writes it (tag or not, blanks around)."""
    repository, tag, blank = model
    return blank + repository + (f":{tag}" if tag is not None else "") + blank


def identity(model: tuple[str, str | None, str]) -> str:
    repository, tag, _ = model
    return f"{repository}:{tag if tag is not None else 'latest'}".strip().lower()


@settings(max_examples=300)
@given(wanted=st.lists(MODEL, max_size=6), present=st.lists(MODEL, max_size=6))
def test_only_missing_models_are_pulled_once_and_then_none(
    wanted: list[tuple[str, str | None, str]], present: list[tuple[str, str | None, str]]
) -> None:
    have = {identity(model) for model in present}
    expected: list[str] = []
    for model in wanted:
        if identity(model) not in have:
            expected.append(written(model))
            have.add(identity(model))
    assert ollama.missing_models([written(m) for m in wanted], [written(m) for m in present]) == expected
    # After the pulls, Ollama lists each with its tag: nothing is left to pull.
    listed = [written(m) for m in present] + [identity(m) for m in wanted]
    assert ollama.missing_models([written(m) for m in wanted], listed) == []


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("nomic-embed-text", "nomic-embed-text:latest"),
        (" nomic-embed-text ", "nomic-embed-text:latest"),
        ("all-minilm:22m", "all-minilm:22m"),
        ("mirror.test/org/model", "mirror.test/org/model:latest"),
        ("localhost:5000/model", "localhost:5000/model:latest"),
        ("localhost:5000/model:v2", "localhost:5000/model:v2"),
        ("Llama3.2:1B", "Llama3.2:1B"),
    ],
)
def test_a_name_is_listed_with_its_tag_latest_when_none(name: str, listed: str) -> None:
    assert ollama.full_name(name) == listed


def test_a_name_without_a_tag_is_its_latest() -> None:
    assert ollama.missing_models(["nomic-embed-text"], ["nomic-embed-text:latest"]) == []
    assert ollama.missing_models(["all-minilm:22m"], ["all-minilm:latest"]) == ["all-minilm:22m"]
    assert ollama.missing_models(["mirror.test/org/model"], ["mirror.test/org/model:latest"]) == []
    assert ollama.missing_models(["localhost:5000/model"], ["localhost:5000/model:latest"]) == []
    assert ollama.missing_models(["localhost:5000/model"], ["localhost:5000/model:5000"]) == [
        "localhost:5000/model"
    ]
    assert ollama.missing_models(["Llama3.2:1B"], ["llama3.2:1b"]) == []
    assert ollama.missing_models(["x", "x:latest", "X"], []) == ["x"]


@pytest.fixture
def double(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))
    server_module = load(ROOT / "tests" / "images" / "ollama-double" / "server.py", "ollama_double")
    server = ThreadingHTTPServer(("127.0.0.1", 0), server_module.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_pull_reads_the_stream_to_its_success(double: str, tmp_path: Path) -> None:
    assert ollama.wait_version(double, 5) == ("0.0.0-double", "")
    assert ollama.pull(double, "nomic-embed-text", 30) == ""
    assert (tmp_path / "pulls.log").read_text().split() == ["nomic-embed-text:latest"]
    listed = [m["name"] for m in ollama.get_json(double + "/api/tags", 5)["models"]]
    assert ollama.missing_models(["nomic-embed-text"], listed) == []


def test_failed_pull_gives_ollamas_cause(double: str) -> None:
    cause = ollama.pull(double, "unreachable/some-model", 30)
    assert "no such host" in cause


def test_endpoint_that_does_not_answer_gives_the_cause(unused_port: int) -> None:
    version, cause = ollama.wait_version(f"http://127.0.0.1:{unused_port}", 0)
    assert version == ""
    assert "refused" in cause.lower()
    assert "refused" in ollama.pull(f"http://127.0.0.1:{unused_port}", "x", 5).lower()


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_proxy_of_the_shell_is_not_used(double: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert os.environ["http_proxy"]
    assert ollama.wait_version(double, 5)[0] == "0.0.0-double"
