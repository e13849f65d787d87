"""/top with ``chart:True``, end to end: the real client against the fake Discord, the exact
multipart followup asserted (the embed whose image is ``attachment://tastemaker-top.png`` and that
file, a PNG of the chart). Real service, real SQLite file, two guilds."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.chart import member_chart_png
from bot.service import Service, Who
from config.settings import Settings
from tests.platforms.discord.harness import (
    ADA,
    BOB,
    GUILD_A,
    GUILD_B,
    assert_deferred_then_followup,
    run,
    running_bot,
    send,
)
from tests.platforms.fake_discord import FakeDiscord, Request, command_interaction
from tests.scheduler.test_digest import png_size

DAN = "700000000000000004"
COLOR = 0x8B5CF6
PICTURE = "tastemaker-top.png"


def member(user: str, guild: str = GUILD_A, name: str = "") -> Who:
    return Who("discord", guild, user, community_name="Guild", member_name=name)


def crew(service: Service) -> None:
    """Guild A: Ada Radiohead x1; Bob Radiohead x2, Radiohead - Airbag, Mogwai. Guild B: Bea (Bob's
    user id) The Kills x2."""
    service.played(member(ADA, name="Ada"), "Radiohead")
    for text in ("Radiohead", "Radiohead", "Radiohead - Airbag", "Mogwai"):
        service.played(member(BOB, name="Bob"), text)
    for _ in range(2):
        service.played(member(BOB, GUILD_B, "Bea"), "The Kills")


async def top(
    fake: FakeDiscord, options: dict[str, Any], *, guild: str = GUILD_A, user: str = ADA, **kw: Any
) -> Request:
    """``/top`` answered in the channel: the defer, then one public followup. Returns the followup."""
    payload = command_interaction("top", options, guild_id=guild, user_id=user, **kw)
    reqs = await send(fake, payload)
    assert_deferred_then_followup(reqs, payload)
    await asyncio.sleep(0.05)
    assert len(fake.for_interaction(payload)) == 2  # nothing trails in
    return reqs[1]


def embed(title: str, description: str, **more: Any) -> dict[str, Any]:
    return {"flags": 0, "color": COLOR, "type": "rich", "title": title, "description": description, **more}


def test_chart_true_attaches_the_png_the_embed_shows(service: Service, settings: Settings) -> None:
    crew(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            bob = {"member": (BOB, "bob")}
            followup = await top(fake, {"kind": "artists", "period": "7d", "chart": True}, users=bob)
            assert followup.json == {
                "tts": False,
                "embeds": [
                    embed(
                        "Bob's top artists — the last 7 days",
                        "**1.** Radiohead — 3 plays\n**2.** Mogwai — 1 play",
                        image={"url": f"attachment://{PICTURE}"},
                    )
                ],
                "allowed_mentions": {"parse": []},
                "attachments": [{"id": 0, "filename": PICTURE}],
            }
            [(field, filename, data)] = followup.files
            assert (field, filename) == ("files[0]", PICTURE)
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and png_size(data) == (1000, 200)
            assert data == member_chart_png(service.top(member(ADA), "artist", "7d", BOB), shared=True)

            # chart:False (or left out): the embed alone, as JSON, no image.
            for options in ({"kind": "tracks", "chart": False}, {"kind": "tracks"}):
                plain = await top(fake, options, users=bob)
                assert plain.files == [] and "attachments" not in plain.json
                assert plain.json["embeds"] == [
                    embed(
                        "Bob's top tracks — all time",
                        "**1.** Radiohead – Airbag — 1 play",
                    )
                ]

            # The asker's own chart, named (the channel reads it).
            own = await top(fake, {"chart": True})
            assert own.json["embeds"][0]["title"] == "Ada's top artists — all time"
            assert own.files[0][2] == member_chart_png(service.top(member(ADA), "artist", "all"), shared=True)

    run(scenario())


def test_nothing_to_draw_sends_the_friendly_line_without_a_file(service: Service, settings: Settings) -> None:
    crew(service)
    service.privacy(member(DAN, name="Dan"), "public")  # Dan is known here, without a play

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            followup = await top(fake, {"chart": True}, user=DAN, nick="Dan")
            assert followup.files == []
            assert followup.json["embeds"] == [
                embed("Dan's top artists — all time", "Dan has no plays here yet: log one with /played.")
            ]
            followup = await top(fake, {"period": "30d", "chart": True}, users={"member": (DAN, "dan")})
            assert followup.files == []
            assert followup.json["embeds"][0]["description"] == "Dan has no plays in the last 30 days."

    run(scenario())


def test_two_guilds_draw_only_their_own(service: Service, settings: Settings) -> None:
    crew(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            followup = await top(fake, {"chart": True}, guild=GUILD_B, user=BOB, nick="Bea")
            assert followup.json["embeds"][0]["description"] == "**1.** The Kills — 2 plays"
            [(_, _, data)] = followup.files
            assert data == member_chart_png(service.top(member(BOB, GUILD_B), "artist", "all"), shared=True)
            assert png_size(data) == (1000, 150)  # one bar: Guild A's plays are not in it
            in_a = await top(fake, {"chart": True}, user=BOB, nick="Bob")
            assert in_a.files[0][2] != data and png_size(in_a.files[0][2]) == (1000, 200)

    run(scenario())
