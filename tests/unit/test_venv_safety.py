"""A virtualenv path that names something of the user's is refused before anything
changes; only a folder recognisable as a virtualenv (pyvenv.cfg) is ever rebuilt.

The modules run for real, through `ansible` itself (AnsiballZ, our module_utils, check
mode), against real folders made in a temporary directory: a checkout with its backend
source, a home folder with the user's files. Each refusal asserts that every file is
still there, byte for byte; the rebuild test builds a real virtualenv with `python -m venv`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_adhoc import run_module

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).with_name("ansible")


def snapshot(top: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under top (without following links): what it is and what it holds."""
    found: dict[str, tuple[str, bytes | str]] = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(folder, name)
            rel = str(path.relative_to(top))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", "")
            else:
                found[rel] = ("file", path.read_bytes())
    return found


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A checkout (demo layout, backend source, a comment-only requirements file so
    pip needs no index) and a home folder with files of the user, HOME pointing at it."""
    home = tmp_path / "home" / "dev"
    checkout = home / "src" / "integrador"
    (checkout / "backend" / "rest_api").mkdir(parents=True)
    (checkout / "backend" / "rest_api" / "main.py").write_text("app = 'the backend source'\n")
    (checkout / "backend" / "requirements.txt").write_text("# nothing to install\n")
    (checkout / "backend" / ".env").write_text("JWT_SECRET=mine\n")
    (checkout / "ws_gateway").mkdir()
    (checkout / "ws_gateway" / "main.py").write_text("gateway = 1\n")
    (home / "notes.txt").write_text("do not lose me\n")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE\n")
    scratch = tmp_path / "ansible-tmp"
    scratch.mkdir()
    return {"tmp": tmp_path, "home": home, "checkout": checkout, "scratch": scratch}


def ansible(world: dict[str, Path], module: str, args: dict[str, Any], check: bool = False) -> dict[str, Any]:
    """One real ad-hoc run of our module on localhost; its result."""
    env = dict(
        HOME=str(world["home"]),
        # Ansible's own scratch files go elsewhere, so the home snapshot sees only the module.
        ANSIBLE_HOME=str(world["scratch"]),
        ANSIBLE_LOCAL_TEMP=str(world["scratch"]),
        ANSIBLE_REMOTE_TEMP=str(world["scratch"]),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
    )
    done = run_module(module, args, *(["--check"] if check else []), env=env, cwd=REPO)
    if not done.result:
        pytest.fail(f"ansible printed no JSON (exit {done.rc}):\n{done.output}")
    return done.result


def python_env(world: dict[str, Path], venv: str, check: bool = False) -> dict[str, Any]:
    args = {"root": str(world["checkout"]), "venv": venv, "requirements": ["backend/requirements.txt"]}
    return ansible(world, "integrador_python_env", args, check)


def preflight(world: dict[str, Path], venv: str) -> dict[str, Any]:
    args = {"root": str(world["checkout"]), "venv": venv, "ports": False}
    return ansible(world, "integrador_preflight", args, check=True)


def assert_refused(result: dict[str, Any], venv: str, folder: Path | str, why: str) -> None:
    assert result.get("failed"), result
    msg = result["msg"]
    assert "Traceback" not in msg and "Traceback" not in result.get("exception", "")
    assert msg.startswith(f"python_env_venv ({venv}) points at {folder}"), msg
    assert why in msg, msg
    assert "Nothing was changed. Set python_env_venv to a folder of its own" in msg, msg


def refuse_everywhere(world: dict[str, Path], venv: str, folder: Path | str, why: str) -> str:
    """Converge, check mode and the preflight all refuse, with one text, and change nothing."""
    before = snapshot(world["home"])
    converge = python_env(world, venv)
    assert_refused(converge, venv, folder, why)
    dry = python_env(world, venv, check=True)
    assert_refused(dry, venv, folder, why)
    pre = preflight(world, venv)
    assert pre.get("failed"), pre
    assert pre["problems"] == [converge["msg"]]
    assert dry["msg"] == converge["msg"]
    assert snapshot(world["home"]) == before
    return converge["msg"]


def test_backend_source_is_never_taken(world: dict[str, Path]) -> None:
    checkout = world["checkout"]
    refuse_everywhere(world, "backend", checkout / "backend", "the checkout's backend/ folder")
    assert (checkout / "backend" / "rest_api" / "main.py").read_text() == "app = 'the backend source'\n"


def test_gateway_source_is_never_taken(world: dict[str, Path]) -> None:
    checkout = world["checkout"]
    refuse_everywhere(world, "ws_gateway", checkout / "ws_gateway", "the checkout's ws_gateway/ folder")


@pytest.mark.parametrize("venv", [".", "backend/..", "./"])
def test_checkout_itself_is_never_taken(world: dict[str, Path], venv: str) -> None:
    refuse_everywhere(world, venv, world["checkout"], "the Integrador checkout itself (integrador_root)")


def test_folder_above_the_checkout_is_never_taken(world: dict[str, Path]) -> None:
    above = world["checkout"].parent
    refuse_everywhere(world, "..", above, f"a folder that holds the Integrador checkout {world['checkout']}")


@pytest.mark.parametrize("venv", ["~", "~/", "HOME"])
def test_home_folder_is_never_taken(world: dict[str, Path], venv: str) -> None:
    venv = str(world["home"]) if venv == "HOME" else venv
    refuse_everywhere(world, venv, world["home"], "your home folder")
    assert (world["home"] / ".ssh" / "id_ed25519").read_text() == "PRIVATE\n"


def test_folder_above_home_is_never_taken(world: dict[str, Path]) -> None:
    above = world["home"].parent
    refuse_everywhere(world, str(above), above, "a folder that holds your home folder")


def test_file_system_root_is_never_taken(world: dict[str, Path]) -> None:
    top = sorted(os.listdir("/"))
    refuse_everywhere(world, "/", "/", "the root of the file system")
    assert sorted(os.listdir("/")) == top


def test_folder_of_the_user_is_never_taken(world: dict[str, Path]) -> None:
    data = world["home"] / "data"
    data.mkdir()
    for name in ("a.csv", "b.csv", "c.txt", "d", "e", "f"):
        (data / name).write_text(name)
    msg = refuse_everywhere(world, str(data), data, "an existing folder that is not a virtualenv")
    assert "it has no pyvenv.cfg; it holds a.csv, b.csv, c.txt, d, e, ..." in msg
    assert "delete it yourself and run again" in msg


def test_folder_with_a_python_but_no_pyvenv_cfg_is_not_installed_into(world: dict[str, Path]) -> None:
    """Like python_env_venv: /usr: bin/python runs, but the folder is not a virtualenv, so
    pip must not install into it either (not only the rebuild is refused)."""
    prefix = world["home"] / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").symlink_to(sys.executable)
    refuse_everywhere(world, str(prefix), prefix, "an existing folder that is not a virtualenv")


def test_file_in_place_of_the_folder_is_kept(world: dict[str, Path]) -> None:
    target = world["checkout"] / "backend" / ".venv"
    target.write_text("not a folder\n")
    refuse_everywhere(world, "backend/.venv", target, "a file, not a folder")


def test_symlink_to_the_backend_is_judged_by_its_target(world: dict[str, Path]) -> None:
    link = world["checkout"] / "backend" / ".venv"
    link.symlink_to(world["checkout"] / "backend")
    backend = world["checkout"] / "backend"
    msg = refuse_everywhere(world, "backend/.venv", link, "the checkout's backend/ folder")
    assert f"(a symbolic link to {backend})" in msg
    assert link.is_symlink()


def test_dangling_symlink_is_refused_and_kept(world: dict[str, Path]) -> None:
    link = world["checkout"] / "backend" / ".venv"
    link.symlink_to(world["tmp"] / "gone")
    refuse_everywhere(world, "backend/.venv", link, "a symbolic link to nothing")
    assert link.is_symlink() and not (world["tmp"] / "gone").exists()


def test_default_choice_is_checked_too(world: dict[str, Path]) -> None:
    """python_env_venv empty reuses backend/venv when it has a Python; it is still refused
    when it is not a virtualenv."""
    old = world["checkout"] / "backend" / "venv"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "python").symlink_to(sys.executable)
    (old / "keep.txt").write_text("mine")
    before = snapshot(world["home"])
    result = python_env(world, "")
    assert result.get("failed"), result
    assert result["msg"].startswith(
        f"python_env_venv (empty, so the existing backend/venv or backend/.venv) points at {old}: "
        "an existing folder that is not a virtualenv"
    )
    assert preflight(world, "")["problems"] == [result["msg"]]
    assert snapshot(world["home"]) == before


def make_broken_venv(path: Path) -> None:
    """What an OS upgrade leaves: pyvenv.cfg and site-packages, no working bin/python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    (path / "bin" / "python").unlink()
    (path / "left-over.txt").write_text("old venv file")


def test_broken_virtualenv_is_rebuilt(world: dict[str, Path]) -> None:
    venv = world["checkout"] / "backend" / ".venv"
    make_broken_venv(venv)
    source = snapshot(world["checkout"] / "backend" / "rest_api")
    assert preflight(world, "backend/.venv").get("failed") is not True
    dry = python_env(world, "backend/.venv", check=True)
    assert dry.get("failed") is not True and dry["rebuilt"] and dry["changed"], dry
    assert not (venv / "bin" / "python").exists()  # check mode changed nothing
    result = python_env(world, "backend/.venv")
    assert result.get("failed") is not True, result
    assert result["rebuilt"] and result["changed"] and result["venv"] == str(venv)
    assert not (venv / "left-over.txt").exists()
    assert "home = " in (venv / "pyvenv.cfg").read_text()
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"], check=True,
                         capture_output=True, text=True)  # fmt: skip
    assert out.stdout.strip() == str(venv)
    assert snapshot(world["checkout"] / "backend" / "rest_api") == source
    again = python_env(world, "backend/.venv")
    assert again.get("failed") is not True and not again["changed"], again


def test_symlink_to_a_broken_virtualenv_keeps_the_link(world: dict[str, Path]) -> None:
    real = world["home"] / ".venvs" / "integrador"
    real.parent.mkdir()
    make_broken_venv(real)
    link = world["checkout"] / "backend" / ".venv"
    link.symlink_to(real)
    result = python_env(world, "backend/.venv")
    assert result.get("failed") is not True and result["rebuilt"], result.get("msg")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "bin" / "python").exists() and not (real / "left-over.txt").exists()


def test_empty_folder_becomes_the_virtualenv(world: dict[str, Path]) -> None:
    """An empty folder (a mount point made for it, say) holds nothing to lose: it is used."""
    empty = world["home"] / "venvs-mount"
    empty.mkdir()
    result = python_env(world, str(empty))
    assert result.get("failed") is not True and result["rebuilt"], result
    assert (empty / "pyvenv.cfg").is_file() and (empty / "bin" / "python").exists()


def test_a_run_killed_while_rebuilding_leaves_a_folder_still_ours(world: dict[str, Path]) -> None:
    """The rebuild empties the old virtualenv but keeps its pyvenv.cfg, and a new folder gets
    one before `python -m venv` runs: a converge killed at any point leaves a folder the
    next run may still rebuild, instead of a half-deleted one it must refuse."""
    sys.path.insert(0, str(REPO / "module_utils"))
    try:
        import integrador_python as utils
    finally:
        sys.path.pop(0)
    venv = world["checkout"] / "backend" / ".venv"
    make_broken_venv(venv)
    utils.clear_virtualenv(str(venv))
    assert os.listdir(venv) == ["pyvenv.cfg"]
    assert utils.venv_problem(str(world["checkout"]), "backend/.venv") is None
    fresh = world["checkout"] / "backend" / "venv2"
    utils.mark_virtualenv(str(fresh))
    assert utils.venv_problem(str(world["checkout"]), "backend/venv2") is None
    with pytest.raises(ValueError, match="not a virtualenv"):
        utils.clear_virtualenv(str(world["checkout"] / "backend"))
    assert (world["checkout"] / "backend" / "rest_api" / "main.py").exists()


def test_one_run_at_a_time_and_the_background_install_is_reported_by_its_converge(
    world: dict[str, Path],
) -> None:
    """dev.yml starts the install in the background and runs the module again in the
    foreground with the same run_token. The foreground run waits for the lock the other
    holds on the checkout folder (no file is written for it), then reports that install as
    its own; another converge's token, or none, does not."""
    import fcntl
    import threading

    args = {
        "root": str(world["checkout"]),
        "venv": "backend/.venv-bg",
        "requirements": ["backend/requirements.txt"],
    }
    first_run = {**args, "run_token": "run-1"}
    folder = os.open(world["checkout"], os.O_RDONLY)
    results: list[dict[str, Any]] = []
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        waiting = threading.Thread(
            target=lambda: results.append(ansible(world, "integrador_python_env", first_run))
        )
        waiting.start()
        waiting.join(timeout=8)
        assert waiting.is_alive() and not results, "the module ran while another run held the checkout's lock"
    finally:
        fcntl.flock(folder, fcntl.LOCK_UN)
        os.close(folder)
    waiting.join(timeout=120)
    first = results[0]
    assert first["installed"] and first["changed"] and first["install_seconds"] > 0, first
    assert sorted(os.listdir(world["checkout"])) == ["backend", "ws_gateway"], "the lock left a file"

    again = ansible(world, "integrador_python_env", first_run)
    assert again["installed"] and again["changed"] and again["rebuilt"], again
    assert again["install_seconds"] == first["install_seconds"], again
    for other in ({**args, "run_token": "run-2"}, args):
        later = ansible(world, "integrador_python_env", other)
        assert not later["installed"] and not later["changed"] and "install_seconds" not in later, later
