"""Demo data, as the real backend lays it out: a package run with `python -m rest_api.seeds.runner`."""
