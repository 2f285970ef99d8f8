"""A bytecode cache for Python modules imported from zip files: the test laptop's only.

Why: Ansible runs every module from a new AnsiballZ zip in a new temporary folder, and
CPython's zipimport keeps no bytecode, so every module run compiles ansible.module_utils
from source, and twice (zipimporter.find_spec compiles a module to learn its file name,
exec_module compiles it again): about 0.12 s of the laptop's CPU per module run, a third of
it, measured in docs/architecture.md. The scenarios are CPU-bound, so this is the suite's
time. What it changes: nothing a module does. Code objects are cached under the SHA-256 of
the module's path in the zip and its source bytes, so a cached entry is only ever used for
byte-identical source, and their file names are set to the zip a run imports from.

The laptop image imports it from Debian's sitecustomize (every python3, venvs too). It is
not part of the product: users' machines run modules as Ansible does.
"""

from __future__ import annotations

import _imp
import hashlib
import importlib.util
import marshal
import os
import sys
import zipfile
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

# ITEST_ZIPCACHE_DIR: the unit tests' own folder.
_CACHE = os.environ.get("ITEST_ZIPCACHE_DIR") or (
    f"/var/tmp/itest-zipcache-{os.getuid()}-{sys.implementation.cache_tag}"
)
_archives: dict[str, tuple[tuple[int, int, int], zipfile.ZipFile, frozenset[str]]] = {}


def _inside_zip(entry: str) -> tuple[str, str] | None:
    """'/t/x.zip/a/b' -> ('/t/x.zip', 'a/b/'); None for a path entry that is not in a zip."""
    head, sep, tail = entry.partition(".zip")
    if not sep or (tail and not tail.startswith("/")):
        return None
    prefix = tail.strip("/")
    return head + sep, (prefix + "/" if prefix else "")


def _open(archive: str) -> tuple[zipfile.ZipFile, frozenset[str]] | None:
    """(ZipFile, member names) of a zip file, re-read when the file changed; None if not one."""
    try:
        st = os.stat(archive)
    except OSError:
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _archives.get(archive)
    if known is None or known[0] != stamp:
        try:
            zf = zipfile.ZipFile(archive)
        except (OSError, zipfile.BadZipFile):
            return None
        known = (stamp, zf, frozenset(zf.namelist()))
        _archives[archive] = known
    return known[1], known[2]


class _Loader:
    def __init__(self, zf: zipfile.ZipFile, entry: str, archive: str, member: str) -> None:
        self._zf = zf
        self._entry = entry  # the search path entry it was found on
        self._archive = archive
        self._member = member
        self._origin = archive + "/" + member

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)

    def get_code(self, fullname: str) -> CodeType:
        data = self._zf.read(self._member)
        key = hashlib.sha256(self._member.encode() + b"\0" + data).hexdigest()
        entry = os.path.join(_CACHE, key)
        try:
            with open(entry, "rb") as f:
                code = marshal.load(f)
            _imp._fix_co_filename(code, self._origin)
            return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile(importlib.util.decode_source(data), self._origin, "exec", dont_inherit=True)
        try:
            os.makedirs(_CACHE, mode=0o700, exist_ok=True)
            scratch = f"{entry}.{os.getpid()}"
            with open(scratch, "wb") as f:
                marshal.dump(code, f)
            os.replace(scratch, entry)
        except OSError:
            pass
        return code

    # What runpy, inspect, linecache and importlib.resources ask of a loader.
    def get_source(self, fullname: str) -> str:
        return importlib.util.decode_source(self._zf.read(self._member))

    def get_filename(self, fullname: str) -> str:
        return self._origin

    def is_package(self, fullname: str) -> bool:
        return self._member.endswith("/__init__.py")

    def get_data(self, path: str) -> bytes:
        if path.startswith(self._archive + "/"):
            return self._zf.read(path[len(self._archive) + 1 :])
        with open(path, "rb") as f:
            return f.read()

    def get_resource_reader(self, fullname: str) -> object:
        import zipimport

        return zipimport.zipimporter(self._entry).get_resource_reader(fullname)


class ZipBytecodeFinder:
    """First on sys.meta_path: finds modules in zip files on the search path, as zipimport would."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: list[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        name = fullname.rpartition(".")[2]
        for entry in sys.path if path is None else path:
            where = _inside_zip(entry) if isinstance(entry, str) else None
            opened = where and _open(where[0])
            if not opened:
                continue
            zf, names = opened
            base = where[1] + name
            if base + "/__init__.py" in names:
                member, search = base + "/__init__.py", [where[0] + "/" + base]
            elif base + ".py" in names:
                member, search = base + ".py", None
            else:
                continue
            loader = _Loader(zf, entry, where[0], member)
            return importlib.util.spec_from_file_location(
                fullname, loader.get_filename(fullname), loader=loader, submodule_search_locations=search
            )
        return None

    @classmethod
    def invalidate_caches(cls) -> None:
        _archives.clear()


def install() -> None:
    if ZipBytecodeFinder not in sys.meta_path:
        sys.meta_path.insert(0, ZipBytecodeFinder)
