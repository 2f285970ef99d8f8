"""What integrador_ollama says when the Ollama API fails (library/integrador_ollama.py, cause_of):
the API's own error text from an HTTP error's JSON body, the body itself otherwise, the reason of
a connection failure, the exception's type when it says nothing. Each answer written out."""

from __future__ import annotations

import io
import urllib.error

from module_loader import ROOT, load

ollama = load(ROOT / "library" / "integrador_ollama.py", "integrador_ollama_causes_test")


def http_error(code: int, body: bytes, reason: str = "Reason") -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://127.0.0.1:11434/api/pull", code, reason, {}, io.BytesIO(body))  # type: ignore[arg-type]


def test_an_http_error_gives_the_apis_error_text() -> None:
    assert ollama.cause_of(http_error(404, b'{"error": "pull model manifest: file does not exist"}')) == (
        "HTTP 404: pull model manifest: file does not exist"
    )


def test_an_http_error_without_an_error_key_gives_its_json_body() -> None:
    assert ollama.cause_of(http_error(500, b'{"status": "x"}')) == 'HTTP 500: {"status": "x"}'


def test_an_http_error_whose_body_is_not_json_gives_the_reason() -> None:
    assert (
        ollama.cause_of(http_error(502, b"<html>bad gateway</html>", "Bad Gateway")) == "HTTP 502 Bad Gateway"
    )
    assert ollama.cause_of(http_error(500, b"\xff\xfe not utf-8", "Internal")) == "HTTP 500 Internal"


def test_an_http_error_with_undecodable_json_text_keeps_it_replaced() -> None:
    assert ollama.cause_of(http_error(400, b'{"error": "bad \xff byte"}')) == "HTTP 400: bad \ufffd byte"


def test_a_connection_failure_gives_its_reason_and_others_their_text_or_type() -> None:
    assert ollama.cause_of(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))) == (
        "[Errno 111] Connection refused"
    )
    assert ollama.cause_of(TimeoutError("timed out")) == "timed out"
    assert ollama.cause_of(TimeoutError()) == "TimeoutError"


def test_model_names_and_the_missing_ones() -> None:
    assert ollama.full_name(" llama3 ") == "llama3:latest"
    assert ollama.full_name("llama3:8b") == "llama3:8b"
    assert ollama.full_name("registry.local:5000/team/model") == "registry.local:5000/team/model:latest"
    assert ollama.missing_models(
        ["Llama3", "llama3:latest", "nomic-embed-text", "x:1"], ["LLAMA3:latest"]
    ) == [
        "nomic-embed-text",
        "x:1",
    ]
    assert ollama.missing_models(["a", "a:latest", "b"], []) == ["a", "b"]
