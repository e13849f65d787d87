"""The Discord test harness: the real client logged in against the loopback fake Discord, and
interactions delivered over its gateway (shared by the Discord, scheduler and run-all tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from bot.platforms.discord.client import build_client
from bot.service import Service, Who
from config.settings import Settings
from tests.platforms.fake_discord import APP_ID, FakeDiscord, Request

GUILD_A = "800000000000000001"
GUILD_B = "800000000000000101"
ADA = "700000000000000001"
BOB = "700000000000000002"

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def fake_settings(settings: Settings, fake: FakeDiscord | None = None, **extra: Any) -> Settings:
    update: dict[str, Any] = {"discord_token": "fake-token", **extra}
    if fake is not None:
        update.update(discord_api_url=fake.api_url, discord_gateway_url=fake.gateway_url)
    return settings.model_copy(update=update)


@asynccontextmanager
async def running_bot(
    service: Service, settings: Settings, guilds: list[tuple[str, str]] | None = None
) -> AsyncIterator[FakeDiscord]:
    """Fake Discord up, the real client logged in, identified, guilds cached; all torn down after."""
    fake = FakeDiscord(guilds if guilds is not None else [(GUILD_A, "Guild A"), (GUILD_B, "Guild B")])
    await fake.start()
    client = build_client(service, fake_settings(settings, fake))
    task = asyncio.create_task(client.start("fake-token"))
    try:
        await asyncio.wait_for(fake.identified.wait(), 5)
        for gid, _ in fake.guilds:
            await fake.wait_for(lambda gid=gid: client.get_guild(int(gid)) is not None)  # type: ignore[misc]
        yield fake
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
        await fake.stop()


async def send(fake: FakeDiscord, payload: dict[str, Any], answers: int = 2) -> list[Request]:
    """Deliver an interaction over the gateway; wait for ``answers`` successful requests for it."""
    await fake.dispatch("INTERACTION_CREATE", payload)

    def done() -> list[Request] | None:
        ok = [r for r in fake.for_interaction(payload) if r.status < 300]
        return ok if len(ok) >= answers else None

    await fake.wait_for(done)
    return fake.for_interaction(payload)


def who(guild: str = GUILD_A, member: str = ADA) -> Who:
    return Who("discord", guild, member, community_name=f"Guild {guild}", member_name=member)


def total_plays(service: Service, guild: str) -> int:
    return sum(e.plays for e in service.trending(who(guild), "all", "artist", limit=500).entries)


def assert_deferred_then_followup(reqs: list[Request], payload: dict[str, Any]) -> dict[str, Any]:
    """Exactly: the defer (callback type 5), then one followup webhook POST. Returns its body."""
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{payload['token']}/callback"),
        ("POST", f"/webhooks/{APP_ID}/{payload['token']}"),
    ]
    defer, followup = reqs
    assert defer.json == {"type": 5}
    assert followup.json["allowed_mentions"] == {"parse": []}
    assert len(followup.json["embeds"]) == 1
    assert not followup.json.get("flags")  # the answer is public
    return followup.json


class LoopThread:
    """An event loop in a thread, like the bot's: the scheduler thread posts through it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
