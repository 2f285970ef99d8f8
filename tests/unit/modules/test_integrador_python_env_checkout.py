"""What integrador_python_env reads from the checkout: the PostgreSQL driver the requirement
files name (as pip reads them), Alembic's fingerprint, the seed entry point."""

from __future__ import annotations

import builtins
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load
from packaging.utils import canonicalize_name

python_env = load(ROOT / "library" / "integrador_python_env.py", "integrador_python_env")

# Every spelling pip and PyPI take for the same distribution.
SPELLINGS = {
    "asyncpg": ["asyncpg", "AsyncPG", "ASYNCPG"],
    "psycopg": [
        "psycopg",
        "Psycopg",
        "psycopg[binary]",
        "psycopg[binary,pool]",
        "psycopg-binary",
        "psycopg_binary",
    ],
    "psycopg2": ["psycopg2", "psycopg2-binary", "psycopg2_binary", "Psycopg2.Binary"],
    "": [
        "fastapi",
        "uvicorn[standard]",
        "redis",
        "sqlalchemy",
        "SQLAlchemy[asyncio]",
        "pg8000",
        "asyncpg-stubs",
    ],
}
SQLALCHEMY_WITH_DRIVER = {
    "asyncpg": ["sqlalchemy[postgresql_asyncpg]", "SQLAlchemy[asyncio,postgresql-asyncpg]"],
    "psycopg": ["sqlalchemy[postgresql_psycopg]"],
    "psycopg2": ["sqlalchemy[postgresql_psycopg2binary]"],
}
VERSIONS = ["", "==0.30.0", ">=2.9,<3", "~=3.2", " == 1.0 "]
SUFFIXES = ["", "  # pinned by hand", " --hash=sha256:" + "a" * 64, " \\\n    --hash=sha256:" + "b" * 64]
OPTION_LINES = [
    "--index-url https://example.invalid/simple",
    "-i https://example.invalid/simple",
    "--pre",
    "-c constraints.txt",
    "--only-binary :all:",
    "-e ./localpkg",
    "# psycopg2 in a comment",
]


@st.composite
def entry(draw: Any) -> tuple[str, str]:
    """(driver the line names when pip installs it, the line)."""
    driver = draw(st.sampled_from(["asyncpg", "psycopg", "psycopg2", ""]))
    pool = SPELLINGS[driver] + (SQLALCHEMY_WITH_DRIVER.get(driver, []))
    name = draw(st.sampled_from(pool))
    line = name + draw(st.sampled_from(VERSIONS))
    marker = draw(st.sampled_from(["", "true", "false"]))
    if marker == "true":
        line += ' ; python_version >= "3"'
    elif marker == "false":
        line += ' ; python_version < "3"'
        driver = ""  # pip leaves it out on any Python 3
    return driver, line + draw(st.sampled_from(SUFFIXES))


def expected(drivers: list[str]) -> str:
    return next((driver for driver in ("asyncpg", "psycopg", "psycopg2") if driver in drivers), "")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    top=st.lists(entry(), max_size=6),
    included=st.lists(entry(), max_size=6),
    options=st.lists(st.sampled_from(OPTION_LINES), max_size=3),
    nested=st.booleans(),
)
def test_driver_is_the_one_pip_would_install(
    tmp_path_factory: pytest.TempPathFactory, top: list, included: list, options: list, nested: bool
) -> None:
    root = tmp_path_factory.mktemp("checkout")
    (root / "sub").mkdir()
    include = "sub/db.txt"
    top_lines = [*options, *(line for _, line in top), f"-r {include}" if nested else "", ""]
    (root / "requirements.txt").write_text("\n".join(top_lines))
    # An include names its own includes relative to itself; a cycle back is read once.
    (root / include).write_text(
        "\n".join([*(line for _, line in included), "--requirement ../requirements.txt"])
    )
    files, found = python_env.read_requirements([str(root / "requirements.txt")], (3, 12, 1))
    wanted = [driver for driver, _ in top] + ([driver for driver, _ in included] if nested else [])
    driver, where = python_env.detect_driver(found)
    assert driver == expected(wanted), (top_lines, found)
    assert (where != "") == (driver != "")
    assert len(files) == (2 if nested else 1)
    assert (
        python_env.SCHEMES[driver]
        == {
            "asyncpg": "postgresql+asyncpg",
            "psycopg": "postgresql+psycopg",
            "psycopg2": "postgresql",
            "": "postgresql",
        }[driver]
    )


@given(name=st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_names_are_canonical_as_packaging_says(name: str) -> None:
    parsed = python_env.parse_requirement(name + ">=1")
    assert parsed is not None
    assert parsed[0] == canonicalize_name(name) == python_env.canonical(name)


def test_where_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# db\nfastapi\n-r db.txt\n")
    (tmp_path / "db.txt").write_text("\n\npsycopg2-binary==2.9.11\nasyncpg==0.30.0 \\\n  --hash=sha256:00\n")
    _, found = python_env.read_requirements([str(tmp_path / "requirements.txt")])
    assert python_env.detect_driver(found) == ("asyncpg", f"{tmp_path}/db.txt:4")


def test_without_packaging_names_and_extras_are_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_packaging(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("packaging"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_packaging)
    monkeypatch.delitem(sys.modules, "packaging.requirements", raising=False)
    assert python_env.parse_requirement("Psycopg[Binary]==3.2 ; python_version >= '3'") == (
        "psycopg",
        {"binary"},
    )
    assert python_env.parse_requirement("--hash=sha256:00") is None


# --- Alembic's fingerprint -----------------------------------------------------------

INI = "[alembic]\nscript_location = %(here)s/migrations\n\n[formatter_generic]\nformat = %(levelname)-5.5s\n"


def make_migrations(root: Path, scripts: dict[str, bytes]) -> Path:
    backend = root / "backend"
    (backend / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
    (backend / "alembic.ini").write_text(INI)
    (backend / "migrations" / "env.py").write_text("# env\n")
    for name, content in scripts.items():
        (backend / "migrations" / "versions" / name).write_bytes(content)
    return backend / "alembic.ini"


def fingerprint(root: Path) -> str:
    config = root / "backend" / "alembic.ini"
    return python_env.files_fingerprint(str(root), python_env.migration_files(str(config)))


script_names = st.from_regex(r"[a-z0-9_]{1,12}\.py", fullmatch=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scripts=st.dictionaries(script_names, st.binary(max_size=64), min_size=1, max_size=5),
    data=st.data(),
)
def test_fingerprint_changes_exactly_when_a_migration_file_does(
    tmp_path_factory: pytest.TempPathFactory, scripts: dict[str, bytes], data: Any
) -> None:
    root = tmp_path_factory.mktemp("checkout")
    make_migrations(root, scripts)
    before = fingerprint(root)
    # Caches, and files outside the script location, change nothing.
    cache = root / "backend" / "migrations" / "versions" / "__pycache__"
    cache.mkdir()
    (cache / "x.cpython-313.pyc").write_bytes(b"\0cache")
    (root / "backend" / "seed.py").write_text("print('not a migration')\n")
    assert fingerprint(root) == before
    # Any byte of a script, env.py or the config changes it.
    target = data.draw(
        st.sampled_from(["alembic.ini", "migrations/env.py", *(f"migrations/versions/{n}" for n in scripts)])
    )
    path = root / "backend" / target
    path.write_bytes(path.read_bytes() + data.draw(st.binary(min_size=1, max_size=8)))
    assert fingerprint(root) != before
    # A new script too.
    (root / "backend" / "migrations" / "versions" / "zz_new.py").write_text("revision = 'x'\n")
    assert fingerprint(root) not in (before,)


def test_fingerprint_does_not_depend_on_where_the_checkout_lies(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    make_migrations(one, {"0001_a.py": b"a"})
    make_migrations(two, {"0001_a.py": b"a"})
    assert fingerprint(one) == fingerprint(two)


def test_version_locations_are_fingerprinted(tmp_path: Path) -> None:
    config = make_migrations(tmp_path, {"0001_a.py": b"a"})
    (tmp_path / "backend" / "more").mkdir()
    (tmp_path / "backend" / "more" / "0002_b.py").write_text("b")
    config.write_text(INI.replace("\n\n", "\nversion_locations = %(here)s/more\n\n", 1))
    files = python_env.migration_files(str(config))
    assert str(tmp_path / "backend" / "more" / "0002_b.py") in files


def test_unreadable_config_is_still_fingerprinted(tmp_path: Path) -> None:
    (tmp_path / "backend").mkdir()
    config = tmp_path / "backend" / "alembic.ini"
    config.write_bytes(b"\xff\xfe not an ini")
    assert python_env.migration_files(str(config)) == [str(config)]


# --- Seed entry point ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ([], ""),
        (["backend/seed.py"], "python seed.py"),
        (["backend/scripts/seed.py"], "python scripts/seed.py"),
        (["backend/app/seed.py"], ""),  # not a package
        (["backend/app/seed.py", "backend/app/__init__.py"], "python -m app.seed"),
        (["backend/rest_api/seed.py", "backend/rest_api/__init__.py"], "python -m rest_api.seed"),
        (["backend/seed.py", "backend/scripts/seed.py"], "python seed.py"),
        # Issue 23, 6: the real Integrador's layout, a seeds package run with -m.
        (
            [
                "backend/rest_api/__init__.py",
                "backend/rest_api/seeds/__init__.py",
                "backend/rest_api/seeds/runner.py",
            ],
            "python -m rest_api.seeds.runner",
        ),
        (
            ["backend/app/__init__.py", "backend/app/seeds/__init__.py", "backend/app/seeds/__main__.py"],
            "python -m app.seeds",
        ),
        (["backend/seeds/__init__.py", "backend/seeds/runner.py"], "python -m seeds.runner"),
        (["backend/rest_api/__init__.py", "backend/rest_api/seeds/runner.py"], ""),  # seeds/ not a package
    ],
)
def test_seed_entry_point_is_the_first_conventional_one(
    tmp_path: Path, files: list[str], command: str
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found, source = python_env.detect_seed(str(tmp_path))
    assert found == command
    assert (source in files) if command else source == ""


class Params:
    """What PythonEnv reads of its AnsibleModule: the validated parameters."""

    def __init__(self, **params: Any) -> None:
        self.params = {"min_version": "3.8", "venv": "", "alembic_config": "backend/alembic.ini", **params}


def test_watch_holds_every_file_the_answer_depends_on(tmp_path: Path) -> None:
    """dev.yml's fast path trusts python_env_watch: every requirement file (included ones too),
    every migration file (inside a watched folder, so a new one counts), each seed entry point
    (present or not) and the venv's own files are in it."""
    config = make_migrations(tmp_path, {"0001_menu.py": b"revision = '0001'\n"})
    backend = tmp_path / "backend"
    (backend / "requirements.txt").write_text("-r base.txt\nasyncpg\n")
    (backend / "base.txt").write_text("fastapi\n")
    env = python_env.PythonEnv(
        Params(root=str(tmp_path), requirements=["backend/requirements.txt"], detect_seed=True)  # type: ignore[arg-type]
    )
    venv = str(backend / ".venv")
    watched = env.watch(venv)
    for path in python_env.read_requirements([str(backend / "requirements.txt")])[0]:
        assert path in watched
    assert str(backend / "base.txt") in watched
    for path in python_env.migration_files(str(config)):
        assert any(path == w or path.startswith(w.rstrip("/") + "/") for w in watched), path
    for entry, _, _ in python_env.SEED_ENTRY_POINTS:
        assert str(tmp_path / entry) in watched
    assert (
        os.path.join(venv, python_env.FINGERPRINT) in watched and os.path.join(venv, "pyvenv.cfg") in watched
    )


def test_only_a_finished_job_file_is_removed(tmp_path: Path) -> None:
    """The foreground run removes the background job's file once the async wrapper wrote the
    run's result into it; an unfinished one (the wrapper's first write) is kept, and nothing
    that is not named like a job file is ever touched, whatever it holds."""
    finished = tmp_path / "j528491730195.4242"
    finished.write_text(json.dumps({"changed": True, "installed": True}))
    python_env.remove_job_file(str(finished), patience=0.2)
    assert not finished.exists()
    unfinished = tmp_path / "j528491730196.4243"
    unfinished.write_text(json.dumps({"started": True, "finished": False, "ansible_job_id": "x"}))
    python_env.remove_job_file(str(unfinished), patience=0.2)
    assert unfinished.exists()
    mine = tmp_path / "requirements.txt"
    mine.write_text(json.dumps({"changed": True}))
    python_env.remove_job_file(str(mine), patience=0.2)
    assert mine.read_text() == json.dumps({"changed": True})
    python_env.remove_job_file(str(tmp_path / "j1.2"), patience=0.2)  # gone already: no error


def test_a_constraints_file_is_read_and_watched_but_not_taken_as_requirements(tmp_path: Path) -> None:
    """Issue 23, 3(c): `-c constraints.txt` inside a requirements file was never read, so a pin
    changed there never reinstalled. Its bytes are now fingerprinted (and watched); its pins are
    not requirements (a pinned asyncpg there does not make the backend an asyncpg one)."""
    backend = tmp_path / "backend"
    backend.mkdir()
    (backend / "requirements.txt").write_text("-c constraints.txt\nfastapi\n--constraint=more/pins.txt\n")
    (backend / "constraints.txt").write_text("fastapi==0.115.0\nasyncpg==0.30.0\n")
    (backend / "more").mkdir()
    (backend / "more" / "pins.txt").write_text("starlette==0.38.0\n")
    files, found = python_env.read_requirements([str(backend / "requirements.txt")])
    assert str(backend / "constraints.txt") in files and str(backend / "more" / "pins.txt") in files
    assert [name for name, _, _ in found] == ["fastapi"]
    before = python_env.fingerprint(((3, 11, 7), "/usr/bin/python3"), files)
    (backend / "constraints.txt").write_text("fastapi==0.115.1\nasyncpg==0.30.0\n")
    assert python_env.fingerprint(((3, 11, 7), "/usr/bin/python3"), files) != before
