"""The test laptop's bytecode cache for zip imports (tests/images/laptop/itest_zipcache.py).

It sits under every module run of every scenario, so it must be exactly as good as
zipimport: same modules, same results, never stale code, tracebacks naming the zip
in use. Each case runs a fresh interpreter, as a module run does.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

HOOK = Path(__file__).resolve().parents[1] / "images" / "laptop"


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def _run(tmp_path: Path, archive: Path, code: str) -> str:
    env = dict(os.environ, ITEST_ZIPCACHE_DIR=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    prelude = (
        f"import sys; sys.path.insert(0, {str(HOOK)!r}); import itest_zipcache; itest_zipcache.install(); "
        f"sys.path.insert(0, {str(archive)!r}); "
    )
    out = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


FILES = {
    "pkg/__init__.py": "",
    "pkg/sub/__init__.py": "from . import leaf\n",
    "pkg/sub/leaf.py": "VALUE = 'first'\ndef boom():\n    raise ValueError('x')\n",
    "pkg/data.txt": "resource\n",
}


def test_modules_and_packages_load_through_the_cache_and_fill_it(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", FILES)
    code = (
        "import pkg.sub, pkg.sub.leaf as leaf; "
        "print(leaf.VALUE, type(leaf.__loader__).__name__, leaf.__file__, pkg.sub.__path__[0])"
    )
    first = _run(tmp_path, archive, code)
    assert first.split() == [
        "first",
        "_Loader",
        f"{archive}/pkg/sub/leaf.py",
        f"{archive}/pkg/sub",
    ]
    assert len(list((tmp_path / "cache").iterdir())) == 3  # pkg, pkg.sub, pkg.sub.leaf
    assert _run(tmp_path, archive, code) == first  # the second run reads the cache


def test_changed_source_at_the_same_path_is_compiled_again(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", FILES)
    assert _run(tmp_path, archive, "import pkg.sub.leaf as m; print(m.VALUE)") == "first"
    changed = dict(FILES, **{"pkg/sub/leaf.py": "VALUE = 'second'\n"})
    archive.unlink()
    _zip(archive, changed)
    assert _run(tmp_path, archive, "import pkg.sub.leaf as m; print(m.VALUE)") == "second"


def test_a_cached_module_names_the_zip_of_this_run_in_tracebacks(tmp_path: Path) -> None:
    first = _zip(tmp_path / "one.zip", FILES)
    second = _zip(tmp_path / "two.zip", FILES)
    code = (
        "import traceback, pkg.sub.leaf as m\n"
        "try:\n    m.boom()\nexcept ValueError as e:\n"
        "    print(traceback.extract_tb(e.__traceback__)[-1].filename)"
    )
    assert _run(tmp_path, first, code) == f"{first}/pkg/sub/leaf.py"
    assert _run(tmp_path, second, code) == f"{second}/pkg/sub/leaf.py"


def test_resources_and_misses_behave_as_zipimport(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", FILES)
    code = (
        "import importlib.resources as r, importlib.util as u; "
        "print(r.files('pkg').joinpath('data.txt').read_text().strip(), u.find_spec('pkg.nothere'))"
    )
    assert _run(tmp_path, archive, code) == "resource None"
