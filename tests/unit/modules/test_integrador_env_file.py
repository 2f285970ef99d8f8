"""The .env merge rules: secrets kept, our own values updated, hand edits kept."""

from __future__ import annotations

import pytest
from module_loader import ROOT, load

# Where Ansible puts it when it ships the module to a host.
load(ROOT / "module_utils" / "integrador_dotenv.py", "ansible.module_utils.integrador_dotenv")
load(ROOT / "module_utils" / "integrador_env_state.py", "ansible.module_utils.integrador_env_state")
env_file = load(ROOT / "library" / "integrador_env_file.py", "integrador_env_file")
SECRETS = ["JWT_SECRET", "TABLE_TOKEN_SECRET"]


def first_write(values: dict[str, str]) -> str:
    wanted, state, generated, kept, unknown = env_file.merge({}, {}, values, SECRETS)
    assert generated == SECRETS and kept == [] and unknown == []
    return env_file.render(wanted, state)


def test_new_file_has_values_then_generated_secrets() -> None:
    entries, _ = env_file.parse(first_write({"REDIS_URL": "redis://127.0.0.1:6380", "DEBUG": "true"}))
    assert list(entries) == ["REDIS_URL", "DEBUG", *SECRETS]
    assert len(entries["JWT_SECRET"]) == 64
    assert entries["JWT_SECRET"] != entries["TABLE_TOKEN_SECRET"]


def test_rerun_with_same_values_is_byte_identical() -> None:
    text = first_write({"DEBUG": "true"})
    current, state = env_file.parse(text)
    wanted, new_state, generated, kept, _ = env_file.merge(current, state, {"DEBUG": "true"}, SECRETS)
    assert env_file.render(wanted, new_state) == text
    assert generated == [] and kept == []


def test_value_we_wrote_follows_a_changed_setting() -> None:
    current, state = env_file.parse(first_write({"REDIS_URL": "redis://127.0.0.1:6380"}))
    wanted, _, _, kept, _ = env_file.merge(current, state, {"REDIS_URL": "redis://127.0.0.1:6390"}, SECRETS)
    assert wanted["REDIS_URL"] == "redis://127.0.0.1:6390"
    assert kept == []


def test_hand_edited_value_is_kept_and_reported() -> None:
    text = first_write({"DEBUG": "true"}).replace("DEBUG=true", "DEBUG=false")
    current, state = env_file.parse(text)
    wanted, new_state, _, kept, _ = env_file.merge(current, state, {"DEBUG": "true"}, SECRETS)
    assert wanted["DEBUG"] == "false"
    assert kept == ["DEBUG"]
    # Still the user's on the next run too.
    again, _, _, kept_again, _ = env_file.merge(wanted, new_state, {"DEBUG": "true"}, SECRETS)
    assert again["DEBUG"] == "false" and kept_again == ["DEBUG"]


def test_existing_file_of_the_user_loses_nothing() -> None:
    users = 'export JWT_SECRET="my-own-secret"\nDATABASE_URL=postgresql://me@db/x\nSENTRY_DSN=https://k@s/1\n'
    current, state = env_file.parse(users)
    wanted, _, generated, kept, unknown = env_file.merge(
        current, state, {"DATABASE_URL": "postgresql://postgres:postgres@127.0.0.1:5432/menu_ops"}, SECRETS
    )
    assert wanted["JWT_SECRET"] == "my-own-secret"
    assert wanted["DATABASE_URL"] == "postgresql://me@db/x"
    assert wanted["SENTRY_DSN"] == "https://k@s/1"
    assert generated == ["TABLE_TOKEN_SECRET"]
    assert kept == ["DATABASE_URL"]
    assert unknown == ["SENTRY_DSN"]


@pytest.mark.parametrize("missing", SECRETS)
def test_only_the_deleted_secret_is_regenerated(missing: str) -> None:
    text = first_write({})
    current, state = env_file.parse(text)
    kept_secret = next(key for key in SECRETS if key != missing)
    del current[missing]
    wanted, _, generated, _, _ = env_file.merge(current, state, {}, SECRETS)
    assert generated == [missing]
    assert wanted[kept_secret] == env_file.parse(text)[0][kept_secret]


def test_diff_masks_secrets_and_urls() -> None:
    text = first_write({"DATABASE_URL": "postgresql://u:pw@h/db"})
    shown = env_file.masked(text, SECRETS, ["DATABASE_URL"])
    assert "pw@" not in shown
    for value in env_file.parse(text)[0].values():
        assert value not in shown
