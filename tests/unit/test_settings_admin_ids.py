"""``TASTEMAKER_SLACK_ADMIN_IDS`` / ``slack_admin_ids``: a comma-separated list (spaces tolerated) or
a JSON list, from the environment or the TOML file; a value that is not a Slack member id is a
settings error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import load_settings

ENV = "TASTEMAKER_SLACK_ADMIN_IDS"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("TASTEMAKER_CONFIG", raising=False)


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("U123,U456", ("U123", "U456")),
        (" U123 , W0456ABC ", ("U123", "W0456ABC")),
        ("U123,", ("U123",)),
        ("U123", ("U123",)),
        ('["U123", "U456"]', ("U123", "U456")),
        (" [ ] ", ()),
        ("", ()),
    ],
)
def test_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, ids: tuple[str, ...]) -> None:
    monkeypatch.setenv(ENV, raw)
    assert load_settings().slack_admin_ids == ids


def test_default_is_nobody() -> None:
    assert load_settings().slack_admin_ids == ()


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("U123,bob", "'bob'"),
        ("U123;U456", "'U123;U456'"),
        ("u123", "'u123'"),
        ('["U123", "C0CHAN"]', "'C0CHAN'"),
        ("<@U123>", "'<@U123>'"),
    ],
)
def test_a_bad_id_is_a_settings_error_naming_it(monkeypatch: pytest.MonkeyPatch, raw: str, bad: str) -> None:
    monkeypatch.setenv(ENV, raw)
    with pytest.raises(ValidationError) as err:
        load_settings()
    [error] = err.value.errors()
    assert error["loc"] == ("slack_admin_ids",)
    assert error["msg"] == (
        f"Value error, {bad} is not a Slack member id (U… or W…, capital letters and digits, "
        "e.g. U0123ABCD; in Slack: a member's profile → ⋮ → Copy member ID)"
    )


def test_a_broken_json_list_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, '["U123",')
    with pytest.raises(ValidationError, match="is not a JSON list; write the ids comma-separated: U0123ABCD"):
        load_settings()


@pytest.mark.parametrize(
    ("line", "ids"),
    [
        ('slack_admin_ids = "U123, U456"', ("U123", "U456")),
        ('slack_admin_ids = ["U123", "W456"]', ("U123", "W456")),
        ("slack_admin_ids = []", ()),
    ],
)
def test_from_the_toml_file(tmp_path: Path, line: str, ids: tuple[str, ...]) -> None:
    config = tmp_path / "tastemaker.toml"
    config.write_text(f"[tastemaker]\n{line}\n", encoding="utf-8")
    assert load_settings(config).slack_admin_ids == ids


def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tastemaker.toml"
    config.write_text('[tastemaker]\nslack_admin_ids = ["U0FILE"]\n', encoding="utf-8")
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(config))
    assert load_settings().slack_admin_ids == ("U0FILE",)
    monkeypatch.setenv(ENV, "U0ENV1,U0ENV2")
    assert load_settings().slack_admin_ids == ("U0ENV1", "U0ENV2")


def test_a_bad_id_in_the_file_is_a_settings_error(tmp_path: Path) -> None:
    config = tmp_path / "tastemaker.toml"
    config.write_text('[tastemaker]\nslack_admin_ids = "U123, @ann"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="'@ann' is not a Slack member id"):
        load_settings(config)
