"""The seed entry points integrador_python_env looks for (library/integrador_python_env.py), in
the order it tries them: the table written out, with each command the conventional file is run
by and the package files it needs to be importable that way."""

from __future__ import annotations

from module_loader import ROOT, load

python_env = load(ROOT / "library" / "integrador_python_env.py", "integrador_python_env_seed_test")


def package_points(package: str) -> list[tuple[str, tuple[str, ...], str]]:
    folder = f"backend/{package}/"
    init = (f"{folder}__init__.py",)
    return [
        (f"{folder}seed.py", init, f"python -m {package}.seed"),
        (
            f"{folder}seeds/runner.py",
            (*init, f"{folder}seeds/__init__.py"),
            f"python -m {package}.seeds.runner",
        ),
        (f"{folder}seeds/__main__.py", (*init, f"{folder}seeds/__init__.py"), f"python -m {package}.seeds"),
        (f"{folder}seed/runner.py", (*init, f"{folder}seed/__init__.py"), f"python -m {package}.seed.runner"),
        (f"{folder}seed/__main__.py", (*init, f"{folder}seed/__init__.py"), f"python -m {package}.seed"),
    ]


EXPECTED = [
    ("backend/seed.py", (), "python seed.py"),
    ("backend/scripts/seed.py", (), "python scripts/seed.py"),
    ("backend/seeds/runner.py", ("backend/seeds/__init__.py",), "python -m seeds.runner"),
    ("backend/seeds/__main__.py", ("backend/seeds/__init__.py",), "python -m seeds"),
    ("backend/seed/runner.py", ("backend/seed/__init__.py",), "python -m seed.runner"),
    ("backend/seed/__main__.py", ("backend/seed/__init__.py",), "python -m seed"),
    *package_points("app"),
    *package_points("rest_api"),
    *package_points("api"),
    *package_points("src"),
]


def test_the_seed_entry_points_in_the_order_they_are_tried() -> None:
    assert python_env._seed_entry_points() == tuple(EXPECTED)
    assert python_env.SEED_ENTRY_POINTS == tuple(EXPECTED)
