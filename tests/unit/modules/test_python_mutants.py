"""Cases that kill mutants `make mutation` found surviving in the Python-environment code
(module_utils/integrador_python.py, module_utils/integrador_alembic.py): behaviour the other
tests left open, each answer written out. Called in the test's own process, on real files,
a real locale and real process limits."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from ansible.module_utils import integrador_alembic as alembic  # loaded by conftest.py from module_utils/
from ansible.module_utils import integrador_python as pyenv
from c_locale import ascii_locale

FIX = (
    "Set python_env_venv to a folder of its own that does not exist yet (for example "
    "backend/.venv, or an absolute path such as ~/.venvs/integrador), or leave it empty."
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "integrador"
    (root / "backend" / "rest_api").mkdir(parents=True)
    (root / "backend" / "rest_api" / "main.py").write_text("")
    (root / "ws_gateway").mkdir()
    return root


# --- integrador_alembic: files are UTF-8 whatever the locale -------------------------------------


def test_alembic_ini_is_read_as_utf8_under_an_ascii_locale(tmp_path: Path) -> None:
    config = tmp_path / "alembic.ini"
    config.write_text("[alembic]\nscript_location = migración\n", encoding="utf-8")
    with ascii_locale():
        locations = alembic.migration_locations(str(config))
    assert locations == [str(tmp_path / "migración")]


def test_migration_scripts_are_read_as_utf8_under_an_ascii_locale(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1.py").write_text(
        '"""Añadir la tabla de menús."""\nrevision = "a1"\ndown_revision = None\n', encoding="utf-8"
    )
    with ascii_locale():
        found = alembic.read_scripts(str(tmp_path / "alembic.ini"))
    assert found == (["a1"], ["a1"], [])


def test_an_unreadable_script_leaves_the_heads_unknown_even_when_every_down_revision_is_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1.py").write_text('revision = "a1"\ndown_revision = None\n')
    (versions / "b2.py").write_text("revision = make_id()\ndown_revision = 'a1'\n")
    revisions, heads, unreadable = alembic.read_scripts(str(tmp_path / "alembic.ini"))
    assert (revisions, heads, unreadable) == (["a1"], None, [str(versions / "b2.py")])


# --- integrador_python -----------------------------------------------------------------------------


def test_without_home_or_passwd_entry_no_folder_is_taken_for_the_home_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkout: Path
) -> None:
    """A uid without a passwd entry and no HOME (some containers): `~` stays unexpanded and is no
    home folder, so neither `./~` nor the current folder holding it is protected."""
    import pwd

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert pyenv._home_folders() == set()
    assert pyenv.venv_problem(str(checkout), str(work)) is None


def test_an_interpreter_named_as_a_file_here_is_used_when_path_does_not_find_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With PATH empty, shutil.which finds nothing; a file of that name in the current folder is
    still probed and taken."""
    here = tmp_path / "py-here"
    here.write_text("#!/bin/sh\necho '[[3, 97, 2], \"/opt/python3.97\"]'\n")
    here.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "")
    assert pyenv.find_interpreter("py-here", (3, 97)) == ("py-here", (3, 97, 2), "/opt/python3.97")


def test_a_folder_that_cannot_be_listed_is_refused_saying_why(tmp_path: Path, checkout: Path) -> None:
    """The folder's entries cannot be read (here: the process is out of file descriptors, which
    stops root too): it is refused as not a virtualenv, naming the error, never taken as empty."""
    spare = tmp_path / "spare"
    spare.mkdir()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.open(os.devnull, os.O_RDONLY)
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        problem = pyenv.venv_problem(str(checkout), str(spare))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert problem == (
        f"python_env_venv ({spare}) points at {spare}: an existing folder that is not a virtualenv "
        "(it has no pyvenv.cfg; it holds (unreadable: Too many open files)); rebuilding the "
        f"virtualenv there would delete them. Nothing was changed. {FIX} If it is an old virtualenv "
        "of yours without pyvenv.cfg, delete it yourself and run again."
    )
