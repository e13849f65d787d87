"""The digest on the wire: the real discord.py client and slack_sdk WebClient against the loopback
fakes. Discord gets one multipart ``POST /channels/{id}/messages`` (embed + PNG, nonce with
enforce_nonce); Slack gets files_upload_v2 (getUploadURLExternal → upload → completeUploadExternal)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.chart import chart_png
from bot.digest import DigestPost, SendRejected, nonce_for
from bot.platforms.discord.client import build_client
from bot.platforms.discord.digest import DiscordDigestSender
from bot.platforms.slack.client import web_client
from bot.platforms.slack.digest import SlackDigestSender
from bot.render import digest_text
from bot.service import Digest, Service, Who
from config.settings import Settings
from tests.conftest import Clock
from tests.platforms.discord.harness import LoopThread
from tests.platforms.fake_discord import FakeDiscord
from tests.platforms.fake_slack import FakeSlack
from tests.scheduler.test_digest import png_size, seed

CHANNEL = "810000000000000007"


@pytest.fixture(autouse=True)
def _restore_globals() -> Iterator[None]:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE = base
    DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
def post(service: Service, clock: Clock) -> DigestPost:
    who = Who("discord", "g1", "m", community_name="Crew")
    seed(service, who, clock)
    digest = service.digest(who, dt.date(2026, 11, 20))
    return DigestPost(
        digest, digest_text(digest), chart_png(digest), nonce_for((1, CHANNEL, dt.date(2026, 11, 21)))
    )


def test_discord_post_is_multipart_with_chart_nonce_and_enforce_nonce(
    service: Service, settings: Settings, post: DigestPost
) -> None:
    lt = LoopThread()
    fake = FakeDiscord([("800000000000000001", "Guild A")])
    lt.run(fake.start())
    settings = settings.model_copy(
        update={
            "discord_token": "t",
            "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url,
        }
    )
    client = build_client(service, settings)
    started = asyncio.run_coroutine_threadsafe(client.start("t"), lt.loop)
    try:
        lt.run(asyncio.wait_for(fake.identified.wait(), 5))
        lt.run(client.wait_until_ready())
        sender = DiscordDigestSender(timeout=10)
        sender.attach(client, lt.loop)
        ref = sender.send(CHANNEL, post)
        again = sender.send(CHANNEL, post)  # a resend after a crash: Discord dedupes the nonce
        assert ref == again
        posts = [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{CHANNEL}/messages"]
        assert len(posts) == 2 and len(fake.channel_messages) == 1
        body = posts[0].json
        assert body["nonce"] == post.nonce and body["enforce_nonce"] is True
        assert body["allowed_mentions"] == {"parse": []}
        [embed] = body["embeds"]
        assert embed["title"] == "Daily trending in Crew — 2026-11-20 (UTC)"
        assert embed["image"]["url"] == "attachment://tastemaker-digest.png"
        assert [f["name"] for f in embed["fields"]][:2] == ["Top tracks", "Top artists"]
        [(field, filename, data)] = posts[0].files
        assert (field, filename) == ("files[0]", "tastemaker-digest.png")
        assert data == post.chart and len(data) > 5_000 and png_size(data) == (1000, 500)
        assert ref == f"{CHANNEL}/{fake.channel_messages[0]['id']}"

        fake.fail_channel_posts = 403
        with pytest.raises(SendRejected, match="403"):
            sender.send("810000000000000099", post)
    finally:
        lt.run(client.close())
        started.result(5)
        lt.run(fake.stop())
        lt.stop()


def test_discord_sender_refuses_while_not_connected(post: DigestPost) -> None:
    with pytest.raises(SendRejected, match="not connected"):
        DiscordDigestSender().send(CHANNEL, post)


def test_slack_post_uses_files_upload_v2_with_the_chart(settings: Settings, post: DigestPost) -> None:
    fake = FakeSlack().start()
    try:
        settings = settings.model_copy(update={"slack_bot_token": "xoxb-t", "slack_api_url": fake.api_url})
        ref = SlackDigestSender(web_client(settings)).send("C0DIGEST", post)
        methods = [c.method if c.path.startswith("/api/") else "upload" for c in fake.calls]
        assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
        get_url = fake.calls[0].payload
        assert get_url["filename"] == "tastemaker-digest.png" and int(get_url["length"]) == len(
            post.chart or b""
        )
        [file_id] = fake.uploads
        assert fake.uploads[file_id] == post.chart
        [done] = fake.shared()
        assert done.payload["channel_id"] == "C0DIGEST"
        assert done.payload["initial_comment"].startswith("Daily trending for Crew — 2026-11-20 (UTC)")
        assert json.loads(done.payload["files"])[0]["id"] == file_id
        assert ref == f"C0DIGEST/file:{file_id}"

        fake.not_in_channel.add("C0PRIVATE")
        with pytest.raises(SendRejected, match="not_in_channel"):
            SlackDigestSender(web_client(settings)).send("C0PRIVATE", post)
    finally:
        fake.stop()


def test_slack_empty_day_is_a_plain_message(settings: Settings) -> None:
    fake = FakeSlack().start()
    try:
        settings = settings.model_copy(update={"slack_bot_token": "xoxb-t", "slack_api_url": fake.api_url})
        empty = Digest("Quiet", dt.date(2026, 11, 20), [], [], None, [])
        SlackDigestSender(web_client(settings)).send("C1", DigestPost(empty, digest_text(empty), None, "n"))
        [call] = fake.delivered()
        assert call.method == "chat.postMessage" and "A quiet day" in call.payload["text"]
    finally:
        fake.stop()
