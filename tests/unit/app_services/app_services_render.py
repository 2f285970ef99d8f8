"""Render the app_services role's templates and variables as Ansible does on a
host we cannot run here (macOS, Windows): the role's defaults and vars, the
given facts and overrides, Ansible's templar, and the role's own filters."""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[3] / "roles" / "app_services"

DOTENV = (
    "# integrador_env_file: managed values\n"
    "DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/menu_ops\n"
    "REDIS_URL=redis://127.0.0.1:6380\n"
    "JWT_SECRET='s3cr<et>&\"x'\n"
    "ALLOWED_ORIGINS=http://localhost:5176,http://localhost:5177\n"
)

MACOS: dict[str, Any] = {
    "ansible_facts": {"system": "Darwin", "user_dir": "/Users/ana", "user_id": "ana", "user_uid": 501},
    "integrador_root": "/Users/ana/src/integrador",
    "python_env_venv_path": "/Users/ana/src/integrador/backend/.venv",
    "python_env_env_file_path": "/Users/ana/src/integrador/backend/.env",
    "__app_services_dotenv": {"content": base64.b64encode(DOTENV.encode()).decode()},
    "__app_services_launchctl": {
        "stdout_lines": ["PID\tStatus\tLabel", "-\t0\tcom.apple.x", "812\t0\tcom.integrador.ws"],
    },
}

WINDOWS: dict[str, Any] = {
    "ansible_facts": {"system": "Win32NT", "user_dir": "C:\\Users\\ana", "user_id": "ana"},
    "integrador_root": "C:\\Users\\ana\\src\\integrador",
    "python_env_venv_path": "C:\\Users\\ana\\src\\integrador\\backend\\.venv",
    "python_env_env_file_path": "C:\\Users\\ana\\src\\integrador\\backend\\.env",
}

LINUX: dict[str, Any] = {
    "ansible_facts": {"system": "Linux", "user_dir": "/home/ana", "user_id": "ana", "user_uid": 1000},
    "integrador_root": "/home/ana/integrador",
    "python_env_venv_path": "/home/ana/integrador/backend/.venv",
    "python_env_env_file_path": "/home/ana/integrador/backend/.env",
}


def _trusted(value: Any) -> Any:
    """Strings from the role's files are templates, as Ansible treats them."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


class Role:
    """The role's variables for one host, and a way to evaluate them."""

    def __init__(self, host_vars: dict[str, Any], overrides: dict[str, Any]) -> None:
        self.loader = DataLoader()
        self.variables: dict[str, Any] = {"role_path": str(ROLE)}
        for name in ("defaults", "vars"):
            self.variables.update(_trusted(self.loader.load_from_file(str(ROLE / name / "main.yml"))))
        self.variables.update(host_vars)
        self.variables.update(overrides)

    def eval(self, expression: str, **extra: Any) -> Any:
        """The value of a Jinja expression, such as a variable's name."""
        templar = Templar(loader=self.loader, variables=self.variables | extra)
        return templar.template(trust_as_template("{{ " + expression + " }}"))

    def render(self, template: str, **extra: Any) -> str:
        """A template of the role rendered as the template module would (trim_blocks)."""
        path = ROLE / "templates" / template
        expression = "lookup('ansible.builtin.template', " + repr(str(path)) + ")"
        return self.eval(expression, **extra)


def filters_module() -> ModuleType:
    """The role's filter plugin file, imported by its path (as Ansible loads it)."""
    path = ROLE / "filter_plugins" / "app_services.py"
    spec = importlib.util.spec_from_file_location("app_services_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def role_filters() -> dict[str, Callable[..., Any]]:
    """The role's filters by name."""
    return filters_module().FilterModule().filters()
