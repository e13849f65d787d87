"""The platform registry: community references, which platforms `run` serves, and the rule that
the command line and the service layer import no chat SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot import platforms
from bot.platforms import PlatformError
from config.settings import Settings
from tests.platforms.bot_process import ROOT, clean_env


@pytest.mark.parametrize(
    ("spec", "stored"),
    [
        ("slack:T0123", ("slack", "-:T0123")),
        ("slack:t0123", ("slack", "-:T0123")),
        ("slack:E0GRID:T0AAA", ("slack", "E0GRID:T0AAA")),
        ("slack:-:T0123", ("slack", "-:T0123")),
        ("discord:123456789012345678", ("discord", "123456789012345678")),
        ("mycrew", ("local", "mycrew")),
        ("local:mycrew", ("local", "mycrew")),
        ("local:slack:x", ("local", "slack:x")),
        ("  crew  ", ("local", "crew")),
        ("team:2024", ("local", "team:2024")),  # not a platform prefix: part of the name
    ],
)
def test_reference_to_stored_id(spec: str, stored: tuple[str, str]) -> None:
    assert platforms.parse_community(spec) == stored


@pytest.mark.parametrize(
    ("platform", "external", "written"),
    [
        ("slack", "-:T0123", "slack:T0123"),
        ("slack", "E0GRID:T0AAA", "slack:E0GRID:T0AAA"),
        ("discord", "123456789012345678", "discord:123456789012345678"),
        ("local", "mycrew", "mycrew"),
        ("local", "slack:x", "local:slack:x"),
        ("local", "team:2024", "team:2024"),
    ],
)
def test_stored_id_to_reference_round_trips(platform: str, external: str, written: str) -> None:
    assert platforms.format_community(platform, external) == written
    assert platforms.parse_community(written) == (platform, external)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "must not be empty"),
        ("slack:", "not a Slack team id"),
        ("slack:T0 12", "not a Slack team id"),
        ("slack:E1:T2:T3", "slack:T0123"),
        ("discord:my-server", "not a Discord server id"),
        ("discord:", "not a Discord server id"),
        ("local:", "must not be empty"),
    ],
)
def test_bad_references_say_how_to_write_them(spec: str, says: str) -> None:
    with pytest.raises(PlatformError, match=says):
        platforms.parse_community(spec)


def test_members_are_parsed_by_their_platform() -> None:
    assert platforms.get("slack").parse_member("u0ada") == "U0ADA"
    assert platforms.get("discord").parse_member("700000000000000001") == "700000000000000001"
    assert platforms.get("local").parse_member("ada") == "ada"
    with pytest.raises(PlatformError, match="Discord user id"):
        platforms.get("discord").parse_member("ada")


def test_run_serves_every_configured_platform_or_the_ones_named() -> None:
    none = Settings(slack_bot_token=None, slack_signing_secret=None, slack_app_token=None, discord_token=None)
    both = none.model_copy(
        update={"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "discord_token": "d"}
    )
    assert [p.name for p in platforms.to_serve(both)] == ["slack", "discord"]
    discord_only = none.model_copy(update={"discord_token": " d "})
    assert [p.name for p in platforms.to_serve(discord_only)] == ["discord"]
    assert not platforms.get("discord").configured(none.model_copy(update={"discord_token": "  "}))
    assert [p.name for p in platforms.to_serve(none, ["discord", "slack", "discord"])] == ["discord", "slack"]
    with pytest.raises(PlatformError, match="SLACK_BOT_TOKEN .* and/or DISCORD_TOKEN"):
        platforms.to_serve(none)
    with pytest.raises(PlatformError, match="unknown platform 'irc'"):
        platforms.to_serve(both, ["irc"])
    assert platforms.served_names() == ("slack", "discord")
    for platform in platforms.all_platforms():
        assert platform.help.strip()


def test_cli_service_and_scheduler_import_no_chat_sdk() -> None:
    code = """
import sys
import bot.cli, bot.service, bot.jobs, bot.scheduler, bot.digest, bot.runner, bot.platforms
from bot import platforms
for p in platforms.all_platforms():
    p.help, p.reference, p.format_community(p.parse_community("123"))
sdk = sorted(m for m in sys.modules if m.split(".")[0] in ("discord", "slack_bolt", "slack_sdk"))
print(sdk)
"""
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=clean_env()
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
