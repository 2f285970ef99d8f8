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
    (versions / "0-README.txt").write_text("not a script, and listed first\n")
    (versions / "a0_undecodable.py").write_bytes(b'revision = "\xe9"\n')  # unreadable, listed early
    revisions, unreadable = alembic.known_revisions(str(tmp_path / "alembic.ini"))
    assert revisions == ["a1", "b2", "c3"]
    assert unreadable == [
        str(versions / "a0_undecodable.py"),
        str(versions / "computed.py"),
        str(versions / "latin1.py"),
    ]
    assert alembic.known_revisions(str(tmp_path / "none.ini")) == ([], [])


# --- the Docker context: every problem's whole message and endpoint -------------------------------
FIX = (
    "Pick an existing one (`docker context ls`, `docker context use <name>`), "
    "or set integrador_docker_host (or DOCKER_HOST) to your engine's socket."
)


def meta_file(config: Path, name: str) -> Path:
    import hashlib

    return config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"


def test_each_context_problem_is_named_with_the_default_endpoint(tmp_path: Path) -> None:
    from ansible.module_utils import integrador_docker_context as context

    config = tmp_path / ".docker"
    config.mkdir()
    (config / "config.json").write_text('{"currentContext": "colima"}')
    source = f"the Docker context 'colima' (currentContext in {config}/config.json)"
    path = meta_file(config, "colima")
    missing = context.resolve({}, str(tmp_path))
    assert missing == context.Endpoint(
        "unix:///var/run/docker.sock", source, f"{source} does not exist: there is no {path}. {FIX}", ()
    )
    path.parent.mkdir(parents=True)
    path.write_text('{"Endpoints": {"docker": {"Host": ""}}}')
    assert context.resolve({}, str(tmp_path)) == context.Endpoint(
        "unix:///var/run/docker.sock",
        source,
        f"{source} names no Docker endpoint (Endpoints.docker.Host in {path}). {FIX}",
        (),
    )
    path.write_text("{broken")
    broken = context.resolve({"DOCKER_CONTEXT": "colima", "DOCKER_CONFIG": str(config)}, "/nowhere")
    assert broken.host == "unix:///var/run/docker.sock" and broken.warnings == ()
    assert broken.source == "the Docker context 'colima' (DOCKER_CONTEXT)"
    assert broken.problem.startswith(f"the Docker context 'colima' (DOCKER_CONTEXT) cannot be read: {path}: ")
    assert broken.problem.endswith(f". {FIX}")


def test_a_context_read_with_a_byte_order_mark_and_its_unused_tls_folder(tmp_path: Path) -> None:
    from ansible.module_utils import integrador_docker_context as context

    config = tmp_path / ".docker"
    path = meta_file(config, "remote")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'\xef\xbb\xbf{"Endpoints": {"docker": {"Host": "tcp://10.0.0.5:2376"}}}')
    (config / "config.json").write_bytes(b'\xef\xbb\xbf{"currentContext": "remote"}')
    source = f"the Docker context 'remote' (currentContext in {config}/config.json)"
    assert context.resolve({}, str(tmp_path)) == context.Endpoint("tcp://10.0.0.5:2376", source, None, ())
    tls = config / "contexts" / "tls" / path.parent.name / "docker"
    (config / "contexts" / "tls" / path.parent.name).mkdir(parents=True)
    assert context.resolve({}, str(tmp_path)).warnings == ()  # a tls folder without docker/ is not it
    tls.mkdir()
    assert context.resolve({}, str(tmp_path)).warnings == (
        f"{source} keeps TLS certificates in {tls}, which are not used: if the engine is not reached, set "
        "integrador_docker_host, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.",
    )
