"""The supervisord command line the role renders is read back by supervisor's
own parser (configparser with inline comments, %-expansion, shlex) as exactly
the argv it was made from, whatever the words hold."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from supervisor.options import UnhosedConfigParser, expand

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "app_services" / "filter_plugins"))
import app_services  # noqa: E402

WORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=20)


def read_back(command: str) -> list[str]:
    parser = UnhosedConfigParser()
    parser.read_string(f"[program:x]\ncommand={command}\n")
    return shlex.split(expand(parser.get("program:x", "command"), {}, "command"))


@given(st.lists(WORD, min_size=1, max_size=8))
def test_command_reads_back_as_the_same_argv(argv: list[str]) -> None:
    assert read_back(app_services.supervisor_command(argv)) == argv


def test_comment_characters_and_percent_survive() -> None:
    argv = ["/bin/sh", "-c", "a ; b # c", "%(here)s", "x;y"]
    assert read_back(app_services.supervisor_command(argv)) == argv


@pytest.mark.parametrize("word", ["a\nb", "a\rb", "a\0b"])
def test_a_word_spanning_lines_is_refused(word: str) -> None:
    with pytest.raises(ValueError, match="cannot span lines"):
        app_services.supervisor_command(["x", word])


@given(WORD.filter(lambda w: not app_services._SUPERVISOR_COMMENT.search(w)))
def test_plain_value_reads_back(value: str) -> None:
    parser = UnhosedConfigParser()
    parser.read_string(f"[program:x]\nstdout_logfile={app_services.supervisor_value(value)}\n")
    assert expand(parser.get("program:x", "stdout_logfile"), {}, "v") == value.strip()


def test_value_with_a_comment_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="app_services_supervisor_dir"):
        app_services.supervisor_value("/home/a ;b", "app_services_supervisor_dir")


def test_status_lines_are_parsed() -> None:
    lines = [
        "integrador-api                   RUNNING   pid 2384, uptime 0:00:08",
        "integrador-ws                    BACKOFF   Exited too quickly (process log may have details)",
        "unix:///x/supervisor.sock no such file",
    ]
    assert app_services.supervisor_status(lines) == {
        "integrador-api": {"state": "RUNNING", "pid": 2384},
        "integrador-ws": {"state": "BACKOFF", "pid": 0},
    }


def test_status_lines_without_a_description_and_after_noise() -> None:
    lines = [
        "",
        "error: <class 'socket.error'>, [Errno 2] No such file or directory",
        "integrador-api STOPPED",
        "garbage",
        "integrador-ws   RUNNING   pid 77, uptime 1 day, 0:00:01",
        "integrador-x    EXITED    Dec 06 10:00 PM",
        "integrador-y    FATAL     pid 12 is not a pid, line",
    ]
    assert app_services.supervisor_status(lines) == {
        "integrador-api": {"state": "STOPPED", "pid": 0},
        "integrador-ws": {"state": "RUNNING", "pid": 77},
        "integrador-x": {"state": "EXITED", "pid": 0},
        "integrador-y": {"state": "FATAL", "pid": 0},
    }
    assert app_services.supervisor_status(None) == {}
