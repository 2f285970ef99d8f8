"""`make mutation` only: mutmut's mutants reach code that the tests load by path.

mutmut 3 (pinned in requirements.txt) copies the code into mutants/ and wraps every function
in a trampoline that runs the mutant under test when the function's module is the one mutmut
names after the file's path (module_utils/integrador_ports.py is
`module_utils.integrador_ports`). The unit tests load these files by path under other names,
as Ansible does: `ansible.module_utils.integrador_ports`, `day_two_filters`, a module of
library/ under its own name. Without this, no mutant would ever run (every one "no tests").

install() wraps the two names the generated code and the trampolines look up at run time
(mutmut.mutation.trampoline.wrap_in_trampoline and record_trampoline_hit): a function mutmut
decorates takes the name mutmut gives its file, and what the stats run records of a test
(which functions it calls) is renamed the same way. Nothing changes outside a mutmut run
(tests/unit/conftest.py calls install() only when MUTANT_UNDER_TEST is set).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

# What each name a file was loaded under is in mutmut's naming (filled as files are loaded).
_ALIASES: dict[str, str] = {}


def _mutmut_module(filename: str, root: Path) -> str | None:
    """mutmut's module name for a file of its copy (mutants/), None for any other file."""
    try:
        relative = Path(filename).resolve().relative_to(root)
    except ValueError:
        return None
    return ".".join(relative.with_suffix("").parts)


def _renamed(qualified: str | None) -> str | None:
    """`<loaded module>.x_<function>` as mutmut names it: `<mutmut's module>.x_<function>`."""
    if not qualified:
        return qualified
    module, _, function = qualified.rpartition(".")
    return f"{_ALIASES.get(module, module)}.{function}"


def install() -> None:
    """Wrap mutmut's trampoline factory and its stats recorder (once per process)."""
    from mutmut.mutation import trampoline

    if getattr(trampoline, "_integrador_names", False):
        return
    root = Path.cwd().resolve()  # mutmut runs the tests from inside its copy, mutants/
    wrap_in_trampoline = trampoline.wrap_in_trampoline
    record_trampoline_hit = trampoline.record_trampoline_hit

    def named_wrap(mutants_dict: dict[str, Any], is_classmethod: bool = False) -> Callable[..., Any]:
        decorate = wrap_in_trampoline(mutants_dict, is_classmethod)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            name = _mutmut_module(func.__code__.co_filename, root)
            if name is not None and func.__module__ != name:
                _ALIASES[func.__module__] = name
                func.__module__ = name
            return decorate(func)

        return decorator

    def renamed_record(name: str, caller: str | None = None) -> Any:
        return record_trampoline_hit(_renamed(name), caller=_renamed(caller))

    trampoline.wrap_in_trampoline = named_wrap
    trampoline.record_trampoline_hit = renamed_record
    trampoline._integrador_names = True
