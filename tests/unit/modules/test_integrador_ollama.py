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
from hypothesis import given
from hypothesis import strategies as st
from module_loader import ROOT, load

ollama = load(ROOT / "library" / "integrador_ollama.py", "integrador_ollama")

NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda name: name.strip() == name and name
)
MODEL = st.one_of(NAME, st.tuples(NAME, NAME).map(lambda pair: f"{pair[0]}:{pair[1]}"))


@given(wanted=st.lists(MODEL, max_size=6), present=st.lists(MODEL, max_size=6))
def test_only_missing_models_are_pulled_once_and_then_none(wanted: list[str], present: list[str]) -> None:
    missing = ollama.missing_models(wanted, present)
    have = {ollama.full_name(name).lower() for name in present}
    assert all(ollama.full_name(name).lower() not in have for name in missing)
    assert all(name in missing or ollama.full_name(name).lower() in have for name in wanted)
    assert len({ollama.full_name(name).lower() for name in missing}) == len(missing), "one pull per model"
    # After the pulls, Ollama lists them with their tag: nothing is left to pull.
    assert ollama.missing_models(wanted, present + [ollama.full_name(name) for name in missing]) == []


def test_a_name_without_a_tag_is_its_latest() -> None:
    assert ollama.missing_models(["nomic-embed-text"], ["nomic-embed-text:latest"]) == []
    assert ollama.missing_models(["all-minilm:22m"], ["all-minilm:latest"]) == ["all-minilm:22m"]
    assert ollama.missing_models(["hf.co/org/model"], ["hf.co/org/model:latest"]) == []
    assert ollama.full_name("localhost:5000/model") == "localhost:5000/model:latest"


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
