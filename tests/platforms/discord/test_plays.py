"""``/plays`` (a "Remove n" button per play) and ``/undo``, end to end: the real client against the fake
Discord, slash commands and button presses (MESSAGE_COMPONENT interactions, type 3) delivered over
the gateway, the exact HTTP asserted. Real service, real SQLite file; what was removed is checked
through the service."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from bot import render
from bot.platforms.discord.embeds import EMBED_DESCRIPTION_LIMIT, plays_embed, removal_embed
from bot.platforms.discord.plays import custom_id, parse_custom_id, plays_view
from bot.service import LoggedPlay, Removal, Service
from config.settings import Settings
from storage import trends
from tests.platforms.discord.harness import ADA, BOB, GUILD_A, GUILD_B, run, running_bot, send, who
from tests.platforms.fake_discord import (
    APP_ID,
    FakeDiscord,
    command_interaction,
    component_interaction,
)

NOT_YOURS = "Sorry — That play is not one of yours, so it was not removed."
COLOR = 0x8B5CF6
FOOTER = {"text": "Remove n takes play n back; /undo takes back the last one."}


def log(
    service: Service, artist: str, track: str | None = None, *, guild: str = GUILD_A, user: str = ADA
) -> int:
    service.played(who(guild, user), artist=artist, track=track)
    return service.my_plays(who(guild, user), limit=1)[0].id


def what(service: Service, guild: str = GUILD_A, user: str = ADA) -> list[str]:
    return [p.what for p in service.my_plays(who(guild, user))]


def assert_private(reqs: list[Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Exactly: an ephemeral defer (type 5, flags 64), then one ephemeral followup. Returns its body."""
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
    body = reqs[1].json
    assert body["flags"] == 64 and body["allowed_mentions"] == {"parse": []} and body["tts"] is False
    return dict(body)


async def command(fake: FakeDiscord, name: str, *, guild: str = GUILD_A, user: str = ADA) -> dict[str, Any]:
    payload = command_interaction(name, {}, guild_id=guild, user_id=user)
    body = assert_private(await send(fake, payload), payload)
    await asyncio.sleep(0.1)
    assert len(fake.for_interaction(payload)) == 2  # nothing trails in
    return body


async def listing(fake: FakeDiscord, *, guild: str = GUILD_A, user: str = ADA) -> dict[str, Any]:
    """/plays, and the message as the fake answered it (its buttons can be pressed)."""
    body = await command(fake, "plays", guild=guild, user=user)
    (message,) = [m for m in fake.messages.values() if m["components"] == body.get("components")][-1:]
    return message


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in message["components"] for b in row["components"]]


async def press(
    fake: FakeDiscord, message: dict[str, Any], n: int, *, guild: str = GUILD_A, user: str = ADA
) -> dict[str, Any]:
    """Press "Remove n" as ``user`` in ``guild``; the ephemeral answer's body."""
    payload = component_interaction(
        buttons(message)[n - 1]["custom_id"], message, guild_id=guild, user_id=user
    )
    body = assert_private(await send(fake, payload), payload)
    await asyncio.sleep(0.1)
    assert len(fake.for_interaction(payload)) == 2
    return body


def removed(text: str) -> dict[str, Any]:
    """The ephemeral answer to a removal, exactly."""
    return {
        "embeds": [
            {"flags": 0, "color": COLOR, "type": "rich", "description": text, "title": "Play removed"}
        ],
        "tts": False,
        "flags": 64,
        "allowed_mentions": {"parse": []},
    }


def refused(text: str) -> dict[str, Any]:
    return {"content": text, "tts": False, "flags": 64, "allowed_mentions": {"parse": []}}


def button(n: int, play_id: int) -> dict[str, Any]:
    return {
        "type": 2,
        "style": 4,
        "disabled": False,
        "label": f"Remove {n}",
        "custom_id": f"tastemaker:remove:{play_id}",
    }


# --- listing -------------------------------------------------------------------------------------


def test_plays_lists_plays_with_a_remove_button_per_play(service: Service, settings: Settings) -> None:
    first = log(service, "Radiohead", "Karma Police")
    second = log(service, "*Björk*", "@everyone")
    log(service, "Portishead", user=BOB)  # someone else's: not listed
    third = log(service, "Radiohead", "Karma Police")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body = await command(fake, "plays")
            assert body == {
                "embeds": [
                    {
                        "footer": FOOTER,
                        "flags": 0,
                        "color": COLOR,
                        "type": "rich",
                        "description": "**1.** Radiohead – Karma Police — logged just now\n"
                        "**2.** \\*Björk\\* – @\u200beveryone — logged just now\n"
                        "**3.** Radiohead – Karma Police — logged just now",
                        "title": "Your last 3 plays, newest first",
                    }
                ],
                "components": [
                    {"type": 1, "components": [button(1, third), button(2, second), button(3, first)]}
                ],
                "tts": False,
                "flags": 64,
                "allowed_mentions": {"parse": []},
            }

    run(scenario())


def test_plays_without_plays_is_a_friendly_line_without_buttons(service: Service, settings: Settings) -> None:
    log(service, "Portishead", user=BOB)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body = await command(fake, "plays")
            assert body == {
                "embeds": [
                    {
                        "flags": 0,
                        "color": COLOR,
                        "type": "rich",
                        "description": "You have no plays here yet: log one with /played.",
                        "title": "Your plays",
                    }
                ],
                "tts": False,
                "flags": 64,
                "allowed_mentions": {"parse": []},
            }

    run(scenario())


def test_the_buttons_come_five_to_a_row(service: Service, settings: Settings) -> None:
    ids = [log(service, f"Band {k:02d}") for k in range(12)]

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            message = await listing(fake)
            rows = message["components"]
            assert [len(r["components"]) for r in rows] == [5, 5]  # the last 10 plays
            newest = ids[::-1][:10]
            assert [b["custom_id"] for b in buttons(message)] == [f"tastemaker:remove:{i}" for i in newest]
            assert [b["label"] for b in buttons(message)] == [f"Remove {n}" for n in range(1, 11)]

    run(scenario())


# --- pressing Remove -----------------------------------------------------------------------------


def test_remove_takes_back_exactly_that_play_and_a_second_press_changes_nothing(
    service: Service, settings: Settings
) -> None:
    log(service, "Radiohead", "Karma Police")
    log(service, "Portishead", "Roads")
    log(service, "Radiohead", "Karma Police")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            message = await listing(fake)
            body = await press(fake, message, 3)  # the first Karma Police
            assert body == removed(
                "Removed Radiohead – Karma Police (logged just now). You now have 1 play of it."
            )
            assert what(service) == ["Radiohead – Karma Police", "Portishead – Roads"]

            again = await press(fake, message, 3)  # a double click
            assert again == refused("Sorry — Radiohead – Karma Police was already removed; nothing changed.")
            assert what(service) == ["Radiohead – Karma Police", "Portishead – Roads"]

            body = await press(fake, message, 2)
            assert body == removed(
                "Removed Portishead – Roads (logged just now). You have no plays of it left."
            )

    run(scenario())
    assert what(service) == ["Radiohead – Karma Police"]
    entries = service.trending(who(), "all", "track").entries
    assert [(e.name, e.plays) for e in entries] == [("Radiohead – Karma Police", 1)]


def test_a_folded_play_says_trending_drops_it_at_the_next_batch(service: Service, settings: Settings) -> None:
    play = log(service, "Radiohead", "Karma Police")
    with service.db.write() as conn:  # the batch has folded it into /trending's aggregates
        trends.merge_batch(conn, trends.TRENDS_WATERMARK, 0, play, [], [])

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body = await press(fake, await listing(fake), 1)
            assert body == removed(
                "Removed Radiohead – Karma Police (logged just now). You have no plays of it left. "
                "/trending has counted it already and drops it at the next batch update."
            )

    run(scenario())
    assert what(service) == []


def test_another_member_pressing_gets_not_one_of_yours_and_nothing_is_removed(
    service: Service, settings: Settings
) -> None:
    log(service, "Radiohead", "Karma Police")
    log(service, "Radiohead", "Karma Police", user=BOB)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            message = await listing(fake)  # Ada's listing (a replayed custom_id reaches Bob)
            assert await press(fake, message, 1, user=BOB) == refused(NOT_YOURS)
            # A member who never logged anything here: the same answer.
            assert await press(fake, message, 1, user="700000000000000099") == refused(NOT_YOURS)
            assert what(service) == ["Radiohead – Karma Police"]
            assert what(service, user=BOB) == ["Radiohead – Karma Police"]
            # Ada still can.
            assert (await press(fake, message, 1))["embeds"][0]["title"] == "Play removed"

    run(scenario())
    assert what(service) == []
    assert what(service, user=BOB) == ["Radiohead – Karma Police"]


def test_a_member_of_another_guild_removes_nothing(service: Service, settings: Settings) -> None:
    # Ada is in both guilds (the same user id) and has the same play in each.
    log(service, "Radiohead", "Karma Police", guild=GUILD_A)
    log(service, "Radiohead", "Karma Police", guild=GUILD_B)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            in_a = await listing(fake, guild=GUILD_A)
            # Guild A's button pressed from guild B: not guild B's play, so nothing happens anywhere.
            assert await press(fake, in_a, 1, guild=GUILD_B) == refused(NOT_YOURS)
            assert await press(fake, in_a, 1, guild=GUILD_B, user=BOB) == refused(NOT_YOURS)
            assert what(service, GUILD_A) == ["Radiohead – Karma Police"]
            assert what(service, GUILD_B) == ["Radiohead – Karma Police"]
            in_b = await listing(fake, guild=GUILD_B)
            assert buttons(in_b)[0]["custom_id"] != buttons(in_a)[0]["custom_id"]
            assert (await press(fake, in_b, 1, guild=GUILD_B))["embeds"][0]["title"] == "Play removed"

    run(scenario())
    assert what(service, GUILD_A) == ["Radiohead – Karma Police"]
    assert what(service, GUILD_B) == []


def test_a_refusal_shows_names_as_typed(service: Service, settings: Settings) -> None:
    log(service, "*Björk*", "@everyone")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            message = await listing(fake)
            first = await press(fake, message, 1)
            assert first["embeds"][0]["description"].startswith("Removed \\*Björk\\* – @\u200beveryone (")
            again = await press(fake, message, 1)
            assert again == refused(
                "Sorry — \\*Björk\\* – @\u200beveryone was already removed; nothing changed."
            )

    run(scenario())


# --- /undo ----------------------------------------------------------------------------------------


def test_undo_removes_the_last_play_and_says_which(service: Service, settings: Settings) -> None:
    log(service, "Radiohead", "Karma Police")
    log(service, "Portishead", "Roads")
    log(service, "Björk", "Jóga", user=BOB)  # someone else's, later

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body = await command(fake, "undo")
            assert body == removed(
                "Removed Portishead – Roads (logged just now). You have no plays of it left."
            )
            assert what(service) == ["Radiohead – Karma Police"]
            body = await command(fake, "undo")
            assert body == removed(
                "Removed Radiohead – Karma Police (logged just now). You have no plays of it left."
            )
            body = await command(fake, "undo")
            assert body == refused("Sorry — Nothing to undo: you have no plays logged here.")

    run(scenario())
    assert what(service) == []
    assert what(service, user=BOB) == ["Björk – Jóga"]


# --- the parts -----------------------------------------------------------------------------------


def test_custom_id_round_trip_and_foreign_ids() -> None:
    assert custom_id(123) == "tastemaker:remove:123"
    assert parse_custom_id(custom_id(10**17)) == 10**17
    for bad in ("", "tastemaker:remove:", "tastemaker:remove:-1", "tastemaker:remove:1x", "tm:q:1:e:2:3"):
        assert parse_custom_id(bad) is None
    assert parse_custom_id("tastemaker:remove:" + "9" * 19) is None  # no int64 play id is that long


def test_twenty_five_long_names_fit_discords_limits() -> None:
    now = dt.datetime(2026, 11, 20, 12)
    worst = [LoggedPlay(k, "*" * 200 + " – " + "_" * 200, now, 7, "discord") for k in range(25, 0, -1)]
    embed = plays_embed(worst, now, "discord").to_dict()
    description = embed["description"]
    assert len(description) <= EMBED_DESCRIPTION_LIMIT
    assert len(json.dumps(embed, ensure_ascii=False)) < 6000
    lines = description.splitlines()
    assert [line.split(".**", 1)[0] for line in lines] == [f"**{n}" for n in range(1, 26)]  # every play
    view = plays_view(worst)
    assert view is not None
    rows = view.to_components()
    assert [len(r["components"]) for r in rows] == [5] * 5
    assert len(view.children) == 25 and all(len(b.custom_id or "") <= 100 for b in view.children)  # type: ignore[attr-defined]
    removal = removal_embed(Removal(worst[0], 0, True), now, "discord").to_dict()
    assert len(removal["description"]) <= EMBED_DESCRIPTION_LIMIT
    assert removal["description"].endswith(render.FOLDED_NOTE)
    assert plays_view([]) is None
