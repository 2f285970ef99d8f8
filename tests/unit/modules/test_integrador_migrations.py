"""integrador_migrations: the revisions a checkout's Alembic scripts declare, read as text,
against Alembic's own reading of the same scripts (alembic is in the tooling virtualenv; the
scripts are written by `alembic revision`, with its own templates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from ansible_adhoc import run_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from module_loader import ROOT, load

alembic_utils = load(ROOT / "module_utils" / "integrador_alembic.py", "integrador_alembic_under_test")

REV_IDS = st.lists(
    st.from_regex(r"[a-z0-9][a-z0-9_]{0,20}", fullmatch=True), min_size=0, max_size=5, unique=True
)


def project(root: Path, template: str = "generic") -> Config:
    """An Alembic project as `alembic init` lays it out: backend/alembic.ini, backend/alembic/."""
    backend = root / "backend"
    backend.mkdir(parents=True)
    config = Config(str(backend / "alembic.ini"))
    command.init(config, str(backend / "alembic"), template=template)
    config = Config(str(backend / "alembic.ini"))
    return config


def alembic_reads(config: Config) -> list[str]:
    return sorted(script.revision for script in ScriptDirectory.from_config(config).walk_revisions())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=REV_IDS, template=st.sampled_from(["generic", "async"]))
def test_revisions_are_the_ones_alembic_reads(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], template: str
) -> None:
    root = tmp_path_factory.mktemp("checkout")
    config = project(root, template)
    for rev_id in ids:
        command.revision(config, message=f"step {rev_id}", rev_id=rev_id)
    revisions, unreadable = alembic_utils.known_revisions(str(root / "backend" / "alembic.ini"))
    assert revisions == alembic_reads(config) == sorted(ids)
    assert unreadable == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_heads_are_the_ones_alembic_reaches(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], data: st.DataObject
) -> None:
    """Revisions each following one or two earlier ones (branches and merges), as `alembic
    revision --head/--splice` and `alembic merge` write them: the module's heads are Alembic's."""
    root = tmp_path_factory.mktemp("checkout")
    config = project(root)
    made: list[str] = []
    for rev_id in ids:
        heads = sorted(ScriptDirectory.from_config(config).get_heads())
        if len(heads) >= 2 and data.draw(st.booleans()):
            parents = data.draw(st.lists(st.sampled_from(heads), min_size=2, max_size=2, unique=True))
            command.merge(config, revisions=parents, message=f"merge {rev_id}", rev_id=rev_id)
        else:
            head = data.draw(st.sampled_from(made)) if made else "base"
            command.revision(config, message=f"step {rev_id}", rev_id=rev_id, head=head, splice=True)
        made.append(rev_id)
    run = run_module("integrador_migrations", {"root": str(root)}, "--check") if len(ids) == 6 else None
    wanted = sorted(ScriptDirectory.from_config(config).get_heads())
    _, heads, unreadable = alembic_utils.read_scripts(str(root / "backend" / "alembic.ini"))
    assert unreadable == [] and heads == wanted
    if run is not None:
        assert run.rc == 0 and run.result["heads"] == wanted, run.output


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("down_revision = None\n", ()),
        ("down_revision: Union[str, None] = '001'\n", ("001",)),
        ('down_revision = ("a", "b")  # a merge\n', ("a", "b")),
        ("down_revision = ['a']\n", ("a",)),
        ("down_revision = previous()\n", None),  # computed: unknown
        ("down_revision = ('a', 1)\n", None),
        ('revision = "x"\n', None),  # declares none: unknown
    ],
)
def test_script_down_revisions_reads_literals_only(text: str, wanted: tuple[str, ...] | None) -> None:
    assert alembic_utils.script_down_revisions(text) == wanted


def module_run_beside(tmp_path: Path, script: str) -> Any:
    """integrador_migrations (check mode) on a project with revision 0001_one and one more
    script, computed.py, of the given text."""
    config = project(tmp_path)
    command.revision(config, message="one", rev_id="0001_one")
    (tmp_path / "backend" / "alembic" / "versions" / "computed.py").write_text(script)
    return run_module("integrador_migrations", {"root": str(tmp_path)}, "--check")


def test_heads_are_unknown_when_a_down_revision_is_computed(tmp_path: Path) -> None:
    run = module_run_beside(tmp_path, "revision = '0002'\ndown_revision = pick()\n")
    assert run.rc == 0 and run.result["heads"] is None, run.output
    assert run.result["revisions"] == ["0001_one", "0002"]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ('revision = "0001_menu_items"\ndown_revision = None\n', "0001_menu_items"),
        ("revision: str = '001'\ndown_revision: Union[str, None] = None\n", "001"),
        ("revision = 'abc'  # the first\n", "abc"),
        ("revision = make_id()\n", ""),  # computed: unknown, never guessed
        ('"""Revision ID: abc"""\nimport os\n', None),  # env.py, a helper: declares none
        ('    revision = "nested"\n', None),  # not at module level
        ('down_revision = "x"\n', None),
    ],
)
def test_script_revision_reads_only_a_module_level_literal(text: str, wanted: str | None) -> None:
    assert alembic_utils.script_revision(text) == wanted


def test_module_reports_revisions_and_refuses_to_guess(tmp_path: Path) -> None:
    run = module_run_beside(tmp_path, "revision = compute()\ndown_revision = None\n")
    assert run.rc == 0, run.output
    assert run.result["config"] == "backend/alembic.ini" and run.result["changed"] is False
    assert run.result["locations"] == ["backend/alembic"]
    assert run.result["revisions"] == ["0001_one"]
    assert run.result["unreadable"] == ["backend/alembic/versions/computed.py"]


def test_module_without_alembic_config_reports_no_migrations(tmp_path: Path) -> None:
    run = run_module("integrador_migrations", {"root": str(tmp_path)})
    assert run.rc == 0, run.output
    assert run.result["config"] == "" and run.result["revisions"] == []


def test_the_demo_backends_revision_is_read() -> None:
    demo = ROOT / "examples" / "integrador"
    revisions, unreadable = alembic_utils.known_revisions(str(demo / "backend" / "alembic.ini"))
    assert "0001_menu_items" in revisions and unreadable == []
