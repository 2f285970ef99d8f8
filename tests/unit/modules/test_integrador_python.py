"""module_utils/integrador_python.py in the test's own process: which folder python_env's
virtualenv is, when it must be refused (the README's "never takes a folder of yours" and its
messages, written out), and how an interpreter is found. test_venv_safety.py runs the same
through Ansible, end to end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from ansible.module_utils import integrador_python as pyenv  # loaded by conftest.py from module_utils/

FIX = (
    "Set python_env_venv to a folder of its own that does not exist yet (for example "
    "backend/.venv, or an absolute path such as ~/.venvs/integrador), or leave it empty."
)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home" / "dev"
    root = home / "src" / "integrador"
    (root / "backend" / "rest_api").mkdir(parents=True)
    (root / "backend" / "rest_api" / "main.py").write_text("")
    (root / "ws_gateway").mkdir()
    monkeypatch.setenv("HOME", str(home))
    return root


def refused(named: str, path: Path | str, reason: str, link: str = "", more: str = "") -> str:
    return f"{named} points at {path}{link}: {reason}. Nothing was changed. {FIX}{more}"


def test_the_venv_folder_is_the_setting_else_an_existing_one_else_backend_dot_venv(checkout: Path) -> None:
    root = str(checkout)
    assert pyenv.venv_location(root, "") == f"{root}/backend/.venv"
    assert pyenv.venv_location(root, "envs/x") == f"{root}/envs/x"
    assert pyenv.venv_location(root, "/opt/v") == "/opt/v"
    assert pyenv.venv_location(root, "~/v") == f"{os.environ['HOME']}/v"
    (checkout / "backend" / ".venv" / "bin").mkdir(parents=True)
    (checkout / "backend" / ".venv" / "bin" / "python").write_text("")
    assert pyenv.venv_location(root, "") == f"{root}/backend/.venv"
    (checkout / "backend" / "venv" / "bin").mkdir(parents=True)
    assert pyenv.venv_location(root, "") == f"{root}/backend/.venv"  # venv/ has no Python
    (checkout / "backend" / "venv" / "bin" / "python").write_text("")
    assert pyenv.venv_location(root, "") == f"{root}/backend/venv"
    assert pyenv.venv_location("~/src/integrador", "") == f"{root}/backend/venv"
    assert pyenv.venv_python("/v") == "/v/bin/python"


def test_allowed_folders_have_no_problem(checkout: Path) -> None:
    root = str(checkout)
    assert pyenv.venv_problem(root, "") is None  # absent
    (checkout / "backend" / ".venv").mkdir()
    assert pyenv.venv_problem(root, "") is None  # empty
    (checkout / "backend" / ".venv" / "pyvenv.cfg").write_text("")
    (checkout / "backend" / ".venv" / "lib").mkdir()
    assert pyenv.venv_problem(root, "") is None  # a virtualenv
    os.symlink(checkout / "backend" / ".venv", checkout / "linked")
    assert pyenv.venv_problem(root, "linked") is None


@pytest.mark.parametrize(
    ("venv", "where", "reason"),
    [
        (".", "", "the Integrador checkout itself (integrador_root)"),
        ("backend", "/backend", "the checkout's backend/ folder, which holds its source"),
        ("ws_gateway", "/ws_gateway", "the checkout's ws_gateway/ folder, which holds its source"),
        ("..", "/..", "a folder that holds the Integrador checkout {root}"),
        ("~", "HOME", "your home folder"),
        ("~/..", "HOME/..", "a folder that holds your home folder"),
        ("/", "/", "the root of the file system"),
    ],
)
def test_the_users_folders_are_refused_naming_them(
    checkout: Path, venv: str, where: str, reason: str
) -> None:
    root = str(checkout)
    home = os.environ["HOME"]
    path = (
        home + where[4:]
        if where.startswith("HOME")
        else ("/" if where == "/" else os.path.normpath(root + where))
    )
    assert pyenv.venv_problem(root, venv) == refused(
        f"python_env_venv ({venv})", os.path.normpath(path), reason.format(root=root)
    )


def test_a_link_is_judged_by_its_target_and_named(checkout: Path) -> None:
    root = str(checkout)
    os.symlink(checkout / "backend", checkout / "to-backend")
    assert pyenv.venv_problem(root, "to-backend") == refused(
        "python_env_venv (to-backend)",
        f"{root}/to-backend",
        "the checkout's backend/ folder, which holds its source",
        f" (a symbolic link to {root}/backend)",
    )
    os.symlink(checkout / "nowhere", checkout / "dangling")
    assert pyenv.venv_problem(root, "dangling") == refused(
        "python_env_venv (dangling)",
        f"{root}/dangling",
        "a symbolic link to nothing, and the folder it names is not created through a link",
        f" (-> {root}/nowhere)",
    )


def test_a_file_or_a_folder_of_the_users_is_refused(checkout: Path) -> None:
    root = str(checkout)
    (checkout / "notes.txt").write_text("mine")
    assert pyenv.venv_problem(root, "notes.txt") == refused(
        "python_env_venv (notes.txt)",
        f"{root}/notes.txt",
        "a file, not a folder; a virtualenv is never written over it",
    )
    data = checkout / "data"
    data.mkdir()
    for name in ["f", "e", "d", "c", "b", "a"]:
        (data / name).write_text("")
    more = " If it is an old virtualenv of yours without pyvenv.cfg, delete it yourself and run again."
    reason = (
        "an existing folder that is not a virtualenv (it has no pyvenv.cfg; it holds a, b, c, d, e, ...); "
        "rebuilding the virtualenv there would delete them"
    )
    assert pyenv.venv_problem(root, "data") == refused(
        "python_env_venv (data)", f"{root}/data", reason, more=more
    )
    (data / "f").unlink()
    reason = reason.replace("e, ...", "e")
    assert pyenv.venv_problem(root, "data") == refused(
        "python_env_venv (data)", f"{root}/data", reason, more=more
    )
    (checkout / "backend" / "venv" / "bin").mkdir(parents=True)
    (checkout / "backend" / "venv" / "bin" / "python").write_text("")
    reason = (
        "an existing folder that is not a virtualenv (it has no pyvenv.cfg; it holds bin); "
        "rebuilding the virtualenv there would delete them"
    )
    assert pyenv.venv_problem(root, "") == refused(
        "python_env_venv (empty, so the existing backend/venv or backend/.venv)",
        f"{root}/backend/venv",
        reason,
        more=more,
    )


def test_a_checkout_has_its_rest_api(checkout: Path, tmp_path: Path) -> None:
    assert pyenv.checkout_problem(str(checkout)) is None
    other = tmp_path / "other"
    assert pyenv.checkout_problem(str(other)) == (
        f"integrador_root {other} is not an Integrador checkout: expected the REST API at "
        f"{other}/backend/rest_api/main.py and the gateway in {other}/ws_gateway. Set integrador_root to "
        "the folder that holds backend/ and ws_gateway/."
    )


def test_versions_are_digits_and_dots() -> None:
    assert pyenv.parse_version(" 3.12.1 ") == (3, 12, 1)
    assert pyenv.parse_version("3") == (3,)
    assert pyenv.version_problem("3.11") is None
    for bad in ("3.11.1.1", ">=3.11", "3.x", "", "3.", 3.11):
        message = f'python_env_min_version takes a version such as "3.11" (the lowest Python to accept, digits and dots, in quotes), not {bad!r}: no >=, no x, no range.'  # noqa: E501
        assert pyenv.version_problem(bad) == message
    assert (pyenv.version_problem("x", "preflight_x") or "").startswith(
        'preflight_x takes a version such as "3.11"'
    )
    with pytest.raises(ValueError, match=r"not '3\.x'"):
        pyenv.parse_version("3.x")
    assert pyenv.dotted((3, 12, 1)) == "3.12.1"


def test_the_interpreter_is_the_wanted_one_or_the_newest_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = tuple(sys.version_info[:3])
    real = os.path.realpath(sys.executable)
    assert pyenv.probe(sys.executable) == (me, real)
    assert pyenv.probe(str(tmp_path / "none")) is None
    assert pyenv.find_interpreter(sys.executable, (3, 8)) == (sys.executable, me, real)
    too_new = (me[0], me[1] + 1)
    assert pyenv.find_interpreter(sys.executable, too_new) == (
        None,
        (),
        f"Python {pyenv.dotted(me)} at {sys.executable}",
    )
    assert pyenv.find_interpreter(str(tmp_path / "python9"), (3,)) == (
        None,
        (),
        f"no working {tmp_path}/python9",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / f"python3.{me[1]}")
    os.symlink(sys.executable, bin_dir / "python3")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert pyenv.find_interpreter("", (3,)) == (str(bin_dir / f"python3.{me[1]}"), me, real)
    assert pyenv.find_interpreter("", too_new) == (
        None,
        (),
        f"Python {pyenv.dotted(me)} at {bin_dir}/python3.{me[1]}; "
        f"Python {pyenv.dotted(me)} at {bin_dir}/python3",
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pyenv.find_interpreter("", (3,)) == (None, (), "no Python on PATH")
    assert pyenv.too_old_message("3.11", "no Python on PATH") == (
        "No Python of at least 3.11 (python_env_min_version) was found: no Python on PATH. Install a newer "
        "Python and point python_env_python at it (for example python_env_python: /usr/bin/python3.12)."
    )


def test_the_interpreter_inside_a_windows_virtualenv(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pyenv.venv_python("/v") == "/v/bin/python"
    monkeypatch.setattr(pyenv.os, "name", "nt")
    assert pyenv.venv_python("/v") == "/v/Scripts/python.exe"


def test_the_home_folders_are_homes_and_the_passwd_entrys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pwd

    passwd_home = os.path.realpath(pwd.getpwuid(os.getuid()).pw_dir)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pyenv._home_folders() == {str(tmp_path), passwd_home}
    monkeypatch.delenv("HOME")
    assert pyenv._home_folders() == {passwd_home}


def test_an_interpreter_that_fails_is_not_taken_whatever_it_printed(tmp_path: Path) -> None:
    liar = tmp_path / "python3.99"
    liar.write_text("#!/bin/sh\necho '[[3, 99, 0], \"/opt/python3.99\"]'\nexit 1\n")
    liar.chmod(0o755)
    assert pyenv.probe(str(liar)) is None
    honest = tmp_path / "python3.98"
    honest.write_text("#!/bin/sh\necho '[[3, 98, 1], \"/opt/python3.98\"]'\n")
    honest.chmod(0o755)
    assert pyenv.probe(str(honest)) == ((3, 98, 1), "/opt/python3.98")
    assert pyenv.find_interpreter(str(honest), (3, 98, 1)) == (str(honest), (3, 98, 1), "/opt/python3.98")
