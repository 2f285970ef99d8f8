"""scripts/converge on a machine like a Mac: no GNU `timeout` on PATH, and (as far as this
Linux machine can show) bash 3.2's rules. Runs the real script, copied into a scratch tree
whose tests/images/build.sh is a stub, with stub `docker` and `ansible-playbook` first on a
PATH that holds nothing else but bash, dirname and sleep.

What this proves: with no `timeout`, an unanswered `docker pull` is ended after
INTEGRADOR_PULL_TIMEOUT seconds and the stand-ins are used; the pull and the watcher are gone
afterwards; with or without stand-ins (an empty array under `set -u`) ansible-playbook gets
exactly the arguments given, also under `bash --posix`. What it cannot prove: that bash 3.2
itself runs it (no bash 3.2 here; Debian ships only bash 5): the script keeps to what bash
3.2 has (no bash 4 feature; the empty array expanded as ${a[@]+"${a[@]}"}) and shellcheck
passes (test_script_passes_shellcheck).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from this_machine import alive

REPO = Path(__file__).resolve().parents[2]
STANDINS = ["-e", "@tests/images/standins.yml"]
# An argument: any text but NUL (no argv can hold it) and lone surrogates.
ARGS = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")), max_size=5)


def executable(path: Path, body: str) -> None:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A checkout with the real scripts/converge and stubs around it."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "converge", tmp_path / "scripts" / "converge")
    (tmp_path / "tests" / "images").mkdir(parents=True)
    executable(
        tmp_path / "tests" / "images" / "build.sh",
        f'#!{shutil.which("bash")}\necho "$@" >> "$OUT/build"\n',
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "sleep"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    # docker: `info` answers; `image inspect` finds the images when $IMAGES is 1; `pull` does
    # what $PULL says: ok, fail, or hang (recording its pid, then sleeping far longer than
    # any test).
    executable(
        bin_dir / "docker",
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "cmd = sys.argv[1:3]\n"
        "if cmd[0] == 'info': sys.exit(0)\n"
        "if cmd == ['image', 'inspect']: sys.exit(0 if os.environ.get('IMAGES') == '1' else 1)\n"
        "if cmd[0] == 'pull':\n"
        "    mode = os.environ.get('PULL', 'fail')\n"
        "    if mode == 'hang':\n"
        "        open(os.path.join(os.environ['OUT'], 'pull.pid'), 'w').write(str(os.getpid()))\n"
        "        time.sleep(3600)\n"
        "    sys.exit(0 if mode == 'ok' else 1)\n"
        "sys.exit(2)\n",
    )
    executable(
        bin_dir / "ansible-playbook",
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "with open(os.path.join(os.environ['OUT'], 'argv'), 'w', encoding='utf-8') as out:\n"
        "    out.write(json.dumps(sys.argv[1:]))\n",
    )
    (tmp_path / "out").mkdir()
    return tmp_path


def converge(tree: Path, args: list[str], posix: bool = False, **env: str) -> list[str]:
    out = tree / "out"
    for stale in out.iterdir():
        stale.unlink()
    command = [str(tree / "scripts" / "converge"), *args]
    if posix:
        command = [shutil.which("bash"), "--posix", *command]
    proc = subprocess.run(
        command,
        env={"PATH": str(tree / "bin"), "OUT": str(out), "HOME": str(tree), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "argv").read_text(encoding="utf-8"))


def test_path_has_no_timeout(tree: Path) -> None:
    for name in ("timeout", "gtimeout"):
        assert shutil.which(name, path=str(tree / "bin")) is None


@pytest.mark.parametrize("posix", [False, True], ids=["bash", "bash-posix"])
def test_images_present_gives_exactly_the_arguments(tree: Path, posix: bool) -> None:
    # No stand-ins: `extra` stays empty, which bash 3.2 with set -u once refused.
    assert converge(tree, ["playbooks/dev.yml", "--tags", "api"], posix=posix, IMAGES="1") == [
        "playbooks/dev.yml",
        "--tags",
        "api",
    ]
    assert converge(tree, [], posix=posix, IMAGES="1") == []
    assert not (tree / "out" / "build").exists()


def test_standins_off_gives_exactly_the_arguments(tree: Path) -> None:
    assert converge(tree, ["playbooks/dev.yml"], INTEGRADOR_STANDINS="0") == ["playbooks/dev.yml"]


@pytest.mark.parametrize("posix", [False, True], ids=["bash", "bash-posix"])
def test_unanswered_pull_is_ended_without_timeout_and_standins_used(tree: Path, posix: bool) -> None:
    argv = converge(tree, ["playbooks/dev.yml"], posix=posix, PULL="hang", INTEGRADOR_PULL_TIMEOUT="1")
    assert argv == [*STANDINS, "playbooks/dev.yml"]
    assert (tree / "out" / "build").read_text() == "--offline\n"
    pid = int((tree / "out" / "pull.pid").read_text())
    if alive(pid):  # pragma: no cover - the failure case: do not leave it behind
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the unanswered docker pull was left running")


def test_answered_pull_leaves_no_watcher(tree: Path) -> None:
    # An unusual number of seconds marks the watcher's sleep among this machine's processes.
    seconds = "3593"
    argv = converge(tree, ["playbooks/dev.yml"], PULL="ok", INTEGRADOR_PULL_TIMEOUT=seconds)
    assert argv == ["playbooks/dev.yml"]
    sleeping = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _cmdline(p) == ["sleep", seconds] and alive(int(p.name))
    ]
    assert sleeping == []


def _cmdline(proc: Path) -> list[str]:
    try:
        return [
            Path(a).name if i == 0 else a
            for i, a in enumerate(proc.joinpath("cmdline").read_text().split("\0")[:-1])
        ]
    except OSError:
        return []


def test_failed_pull_uses_standins(tree: Path) -> None:
    assert converge(tree, ["playbooks/dev.yml"], PULL="fail") == [*STANDINS, "playbooks/dev.yml"]


def test_gnu_timeout_is_used_where_present(tree: Path) -> None:
    (tree / "bin" / "timeout").symlink_to(shutil.which("timeout"))
    argv = converge(tree, ["playbooks/dev.yml"], PULL="hang", INTEGRADOR_PULL_TIMEOUT="1")
    assert argv == [*STANDINS, "playbooks/dev.yml"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=ARGS, images=st.sampled_from(["1", "0"]))
def test_any_arguments_arrive_exactly(tree: Path, args: list[str], images: str) -> None:
    expected = args if images == "1" else [*STANDINS, *args]
    assert converge(tree, args, IMAGES=images, PULL="fail") == expected


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_script_passes_shellcheck() -> None:
    proc = subprocess.run(
        ["shellcheck", str(REPO / "scripts" / "converge")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout


def test_every_array_expansion_survives_bash_32_when_empty() -> None:
    """bash 3.2 (macOS's /bin/bash) with `set -u` calls "${a[@]}" of an empty array unbound; bash
    5 here does not, so the run above cannot show it: every array expansion is guarded."""
    text = (REPO / "scripts" / "converge").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    expansions = re.findall(r'(.{0,16})"\$\{(\w+)\[@\]\}"', code)
    assert expansions, "no array expansion found: update this test"
    for before, name in expansions:
        assert before.endswith("${" + name + "[@]+"), (
            f'"${{{name}[@]}}" is unguarded: write ${{{name}[@]+"${{{name}[@]}}"}}'
        )
