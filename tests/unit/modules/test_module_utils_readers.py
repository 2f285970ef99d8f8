"""Two readers of module_utils/ called in the test's process, each answer written out: the URL
masking that keeps a password out of every diff and message (integrador_dotenv.mask_urls), and
what a checkout's Alembic config and scripts say (integrador_alembic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible.module_utils import integrador_alembic as alembic  # loaded by conftest.py from module_utils/
from ansible.module_utils import integrador_dotenv as dotenv

M = dotenv.MASK


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (
            "postgresql://menu:s3cret@127.0.0.1:5432/menu_ops",
            f"postgresql://menu:{M}@127.0.0.1:5432/menu_ops",
        ),
        ("redis://:p@ss#w0rd@localhost:6379/0", f"redis://:{M}@localhost:6379/0"),
        ("https://ghp_token123@github.invalid/x.git", f"https://{M}@github.invalid/x.git"),
        ("http://127.0.0.1:8000/api/health", "http://127.0.0.1:8000/api/health"),
        ("no url at all: user:pass@host", "no url at all: user:pass@host"),
        (
            "https://h/x?user=a&password=b&apiKey=c;client_secret=d#frag",
            f"https://h/x?user=a&password={M}&apiKey={M}#frag",  # ; is part of apiKey's (masked) value
        ),
        ("https://h/x?TOKEN=abc&pwd=", f"https://h/x?TOKEN={M}&pwd={M}"),
        ("https://h/x;session_key=abc", f"https://h/x;session_key={M}"),
        ("a://u:p@h b://v:q@i", f"a://u:{M}@h b://v:{M}@i"),
    ],
)
def test_mask_urls_hides_passwords_tokens_and_secret_parameters(value: str, masked: str) -> None:
    assert dotenv.mask_urls(value) == masked


def test_migration_locations_of_a_config(tmp_path: Path) -> None:
    config = tmp_path / "backend" / "alembic.ini"
    config.parent.mkdir()
    here = str(config.parent)
    config.write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
        f"version_locations = extra/one, ~/two;three{os.pathsep}four  \n"
    )
    home = os.path.expanduser("~")
    assert alembic.migration_locations(str(config)) == [
        f"{here}/migrations",
        f"{here}/extra/one",
        f"{home}/two",
        f"{here}/three",
        f"{here}/four",
    ]
    config.write_text("[alembic]\nsqlalchemy.url = x\n")
    assert alembic.migration_locations(str(config)) == [f"{here}/alembic"]
    config.write_text("[other]\nscript_location = m\n")
    assert alembic.migration_locations(str(config)) == []
    config.write_text("not an ini file")
    assert alembic.migration_locations(str(config)) == []
    config.write_bytes(b"[alembic]\nscript_location = \xff\n")
    assert alembic.migration_locations(str(config)) == []
    assert alembic.migration_locations(str(tmp_path / "none.ini")) == []


def test_known_revisions_and_unreadable_scripts(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    versions = tmp_path / "migrations" / "versions"
    (versions / "__pycache__").mkdir(parents=True)
    (versions / "sub").mkdir()
    (tmp_path / "migrations" / "env.py").write_text("import alembic\n")
    (versions / "b2.py").write_text('revision = "b2"\ndown_revision = "a1"\n')
    (versions / "a1.py").write_text("revision: str = 'a1'  # first\n")
    (versions / "sub" / "c3.py").write_text('revision = "c3"\n')
    (versions / "computed.py").write_text("revision = make_id()\n")
    (versions / "latin1.py").write_bytes(b'revision = "\xe9"\n')
    (versions / "notes.txt").write_text('revision = "zz"\n')
    (versions / "__pycache__" / "x.py").write_text('revision = "cache"\n')
    (versions / "dup.py").write_text('revision = "a1"\n')
    revisions, unreadable = alembic.known_revisions(str(tmp_path / "alembic.ini"))
    assert revisions == ["a1", "b2", "c3"]
    assert unreadable == [str(versions / "computed.py"), str(versions / "latin1.py")]
    assert alembic.known_revisions(str(tmp_path / "none.ini")) == ([], [])
