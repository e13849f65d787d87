"""Subscribing a channel: the admin commands on both platforms (real adapters, loopback fakes) and
the `digest preview` command."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.slack.app import build_app
from bot.platforms.slack.server import make_http_server
from bot.service import Service, Who
from config.settings import Settings
from storage import digests
from storage.db import Database
from tests.conftest import Clock
from tests.platforms.discord.harness import GUILD_A, running_bot, send
from tests.platforms.fake_discord import command_interaction
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import SECRET, TOKEN, SlackClient, at
from tests.scheduler.test_digest import png_size, seed


def subs(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as conn:
        return [(s.channel, s.local_time, s.tz) for s in digests.subscriptions(conn)]


@pytest.fixture
def slack(service: Service, settings: Settings) -> Iterator[tuple[SlackClient, FakeSlack]]:
    fake = FakeSlack().start()
    cfg = settings.model_copy(
        update={
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SECRET,
            "slack_api_url": fake.api_url,
            "slack_admin_ids": ("U0LISTED",),
        }
    )
    pool = ThreadPoolExecutor(max_workers=2)
    server = make_http_server(build_app(service, cfg, listener_executor=pool), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SlackClient(server.server_port, fake), fake
    server.shutdown()
    server.server_close()
    thread.join(5)
    pool.shutdown(wait=True)
    fake.stop()


def test_slack_digest_command_is_for_admins(slack: tuple[SlackClient, FakeSlack], db: Database) -> None:
    client, fake = slack
    reply, form = client.command("/tastemaker", "digest here 09:00 Europe/Berlin", user_id="U0ADA")
    assert reply.status == 200 and reply.body == ""
    [call] = fake.wait_for(at(form))
    assert "Only workspace admins" in call.payload["text"] and subs(db) == []

    fake.admins.add("U0ADA")
    _, form = client.command("/tastemaker", "digest here 09:00 Europe/Berlin", user_id="U0ADA")
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "ephemeral"
    assert "every day at 09:00 Europe/Berlin" in call.payload["text"]
    assert subs(db) == [("C0CHAN", "09:00", "Europe/Berlin")]

    _, form = client.command("/tastemaker", "digest here 9:00 Moon/Base", user_id="U0LISTED")  # allow-list
    [call] = fake.wait_for(at(form))
    assert "not a time zone I know" in call.payload["text"]
    _, form = client.command("/tastemaker", "digest off", user_id="U0LISTED")
    [call] = fake.wait_for(at(form))
    assert "stopped" in call.payload["text"] and subs(db) == []


def test_discord_digest_command_needs_manage_server(
    service: Service, settings: Settings, db: Database
) -> None:
    def digest_here(permissions: str) -> dict:
        payload = command_interaction("tastemaker", {}, guild_id=GUILD_A)
        payload["data"]["options"] = [
            {
                "name": "digest",
                "type": 2,
                "options": [
                    {
                        "name": "here",
                        "type": 1,
                        "options": [
                            {"name": "time", "type": 3, "value": "18:30"},
                            {"name": "timezone", "type": 3, "value": "America/New_York"},
                        ],
                    }
                ],
            }
        ]
        payload["member"]["permissions"] = permissions
        payload["app_permissions"] = "2147483647"
        return payload

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            refused = digest_here("0")
            [answer] = await send(fake, refused, answers=1)
            assert answer.json["data"]["flags"] == 64  # ephemeral
            assert "Manage Server" in answer.json["data"]["content"]
            allowed = digest_here(str(1 << 5))  # MANAGE_GUILD
            reqs = await send(fake, allowed, answers=2)
            assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
            assert "every day at 18:30 America/New_York" in reqs[1].json["content"]

    asyncio.run(scenario())
    channel = str(int(GUILD_A) + 1)
    assert subs(db) == [(channel, "18:30", "America/New_York")]


def test_digest_preview_prints_text_and_writes_chart(
    service: Service, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    seed(service, Who("local", "crew", "m"), clock)
    out = tmp_path / "chart.png"
    args = ["digest", "preview", "--community", "crew", "--day", "2026-11-20", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--db", settings.database_url])
    assert result.exit_code == 0, result.output
    assert "Daily trending for crew — 2026-11-20 (UTC)" in result.output
    assert "Top tracks:" in result.output and "New to the community:" in result.output
    assert png_size(out.read_bytes()) == (1000, 500)
    quiet = ["digest", "preview", "--community", "crew", "--day", "2026-10-01"]
    empty = CliRunner().invoke(app, [*quiet, "--db", settings.database_url])
    assert empty.exit_code == 0 and "A quiet day" in empty.output
    unknown = CliRunner().invoke(
        app, ["digest", "preview", "--community", "nobody", "--db", settings.database_url]
    )
    assert unknown.exit_code == 2 and unknown.output == "error: unknown community 'nobody'\n"
