"""Shared by every unit test: the helper modules of this folder (ansible_adhoc) importable from
any subfolder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import settings as _hypothesis_settings

# No per-example deadline: the unit tests run beside the Molecule scenarios (`make test`), on
# cores the scenarios keep busy, where an example's wall time says nothing about the code. What
# a test must bound in time it bounds itself (its own timeouts).
_hypothesis_settings.register_profile("suite", deadline=None)
_hypothesis_settings.load_profile("suite")

if "MUTANT_UNDER_TEST" in os.environ:
    # Under `make mutation` (mutmut) only: its mutants reach the files the tests load by path.
    import mutation_names
    from hypothesis import settings

    mutation_names.install()
    # Each mutant reruns the tests that call its function: fewer examples, and the same ones on
    # every run (derandomize), so a run's score does not depend on luck; no example database.
    settings.register_profile("mutation", max_examples=20, derandomize=True, deadline=None, database=None)
    settings.load_profile("mutation")
    # A test's own @settings(max_examples=N) would win over the profile: under mutation, N is
    # capped at the profile's 20 too (the ports property ran 500 examples, the dotenv one 300, for
    # every mutant of the functions they call: most of a run's time). The examples written out
    # (@example) all run.
    _settings_init = settings.__init__

    def _capped(self: settings, parent: settings | None = None, **kwargs: object) -> None:
        if isinstance(kwargs.get("max_examples"), int) and int(kwargs["max_examples"]) > 20:  # type: ignore[call-overload]
            kwargs["max_examples"] = 20
        _settings_init(self, parent, **kwargs)  # type: ignore[arg-type]

    settings.__init__ = _capped  # type: ignore[method-assign]
