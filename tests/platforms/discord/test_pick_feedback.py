"""👍 / 👎 under ``/recommend``, end to end: the real client against the fake Discord, the slash command
and the button presses (MESSAGE_COMPONENT interactions) delivered over the gateway, the exact HTTP
asserted — the buttons on the public answer, the ephemeral defer and followup of a press, the
refusal of anyone else's press, ``reset_hidden:True``. Then the acceptance: after a 👎 the item never
comes back for that member (stored picks, a fold-in after a new play, and a real Spark retrain),
while another guild keeps it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from bot.service import Service
from config.settings import Settings
from storage import catalog, recs
from storage.db import Database
from storage.models import PickFeedback
from tests.conftest import Clock
from tests.known_picks import write_known_generation
from tests.platforms.discord.harness import ADA, BOB, GUILD_A, GUILD_B, run, running_bot, send, who
from tests.platforms.fake_discord import APP_ID, FakeDiscord, command_interaction, component_interaction

COLOR = 0x8B5CF6
HIDDEN_NOTE = "artist hidden with 👎 — /recommend reset_hidden:True brings them back."


def seed(service: Service, db: Database, clock: Clock) -> dict[str, int]:
    """Guild A: Ada plays Air and Blur, Bob the other three; guild B: Ada (another member there)
    plays Air, Bob Caribou and Daft Punk. A generation with known factors stores Ada's (guild A)
    picks: Caribou, Daft Punk, Eels."""
    for artist in ("Air", "Blur"):
        service.played(who(GUILD_A, ADA), artist=artist)
    for artist in ("Caribou", "Daft Punk", "Eels"):
        service.played(who(GUILD_A, BOB), artist=artist)
    service.played(who(GUILD_B, ADA), artist="Air")
    for artist in ("Caribou", "Daft Punk"):
        service.played(who(GUILD_B, BOB), artist=artist)
    return write_known_generation(db, clock(), "discord", GUILD_A, ADA)


def button(verdict: str, emoji: str, rank: int, item: int, owner: str = ADA) -> dict[str, Any]:
    return {
        "type": 2,
        "style": 2,
        "disabled": False,
        "label": str(rank),
        "custom_id": f"tastemaker:pick:{verdict}:a:{item}:{owner}",
        "emoji": {"id": None, "name": emoji},
    }


async def recommend(
    fake: FakeDiscord, *, guild: str = GUILD_A, user: str = ADA, **options: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """/recommend: the public followup's body (after the defer) and the message as the fake stored it."""
    payload = command_interaction("recommend", {"kind": "artists", **options}, guild_id=guild, user_id=user)
    reqs = await send(fake, payload)
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    assert reqs[0].json == {"type": 5}  # the answer is public
    body = dict(reqs[1].json)
    assert body["allowed_mentions"] == {"parse": []} and not body.get("flags")
    (message,) = [m for m in fake.messages.values() if m["embeds"] == body["embeds"]][-1:]
    return body, message


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in message["components"] for b in row["components"]]


def picks_of(body: dict[str, Any]) -> list[str]:
    return [line.split(" ", 1)[1].split(" — ")[0] for line in body["embeds"][0]["description"].splitlines()]


async def press(
    fake: FakeDiscord, message: dict[str, Any], custom_id: str, *, guild: str = GUILD_A, user: str = ADA
) -> dict[str, Any]:
    """A press as ``user``: exactly an ephemeral defer (type 5, flags 64) and one ephemeral followup."""
    payload = component_interaction(custom_id, message, guild_id=guild, user_id=user)
    reqs = await send(fake, payload)
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
    await asyncio.sleep(0.1)
    assert len(fake.for_interaction(payload)) == 2  # nothing trails in: the listing is left as it is
    return dict(reqs[1].json)


def private(title: str, text: str) -> dict[str, Any]:
    return {
        "embeds": [{"flags": 0, "color": COLOR, "type": "rich", "description": text, "title": title}],
        "tts": False,
        "flags": 64,
        "allowed_mentions": {"parse": []},
    }


def verdicts(db: Database) -> list[tuple[int, int, str]]:
    with db.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(PickFeedback.member_id, PickFeedback.item_id, PickFeedback.verdict))
        ]  # type: ignore[misc]


def test_thumbs_down_hides_a_pick_for_that_member_only_and_reset_brings_it_back(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    ids = seed(service, db, clock)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body, message = await recommend(fake, count=3)
            assert body["embeds"] == [
                {
                    "flags": 0,
                    "color": COLOR,
                    "type": "rich",
                    "description": "**1.** Caribou — because you played Air\n"
                    "**2.** Daft Punk — because you played Air\n"
                    "**3.** Eels — because you played Blur",
                    "title": "Recommended artists for you",
                }
            ]
            assert body["components"] == [
                {
                    "type": 1,
                    "components": [
                        button("u", "👍", 1, ids["C"]),
                        button("d", "👎", 1, ids["C"]),
                        button("u", "👍", 2, ids["D"]),
                        button("d", "👎", 2, ids["D"]),
                    ],
                },
                {"type": 1, "components": [button("u", "👍", 3, ids["E"]), button("d", "👎", 3, ids["E"])]},
            ]
            down = buttons(message)[1]["custom_id"]

            # Bob presses Ada's 👎: refused at once, only to him, nothing stored.
            payload = component_interaction(down, message, guild_id=GUILD_A, user_id=BOB)
            (reply,) = await send(fake, payload, answers=1)
            assert reply.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
            assert reply.json == {
                "type": 4,
                "data": {
                    "content": f"Only <@{ADA}> can rate these picks: ask /recommend for your own.",
                    "flags": 64,
                    "allowed_mentions": {"parse": []},
                    "tts": False,
                },
            }
            assert verdicts(db) == []

            answer = await press(fake, message, down)
            assert answer == private(
                "Pick hidden",
                f"Hidden **Caribou**: it will not be picked for you again. 1 {HIDDEN_NOTE}",
            )
            again = await press(fake, message, down)  # a second press changes nothing
            assert again == private("Pick hidden", f"**Caribou** was already hidden. 1 {HIDDEN_NOTE}")

            body, _ = await recommend(fake, count=2)  # stored picks, less Caribou
            assert picks_of(body) == ["Daft Punk", "Eels"]
            assert body["embeds"][0]["footer"] == {"text": f"1 {HIDDEN_NOTE}"}
            assert [b["custom_id"] for b in body["components"][0]["components"]] == [
                f"tastemaker:pick:u:a:{ids['D']}:{ADA}",
                f"tastemaker:pick:d:a:{ids['D']}:{ADA}",
                f"tastemaker:pick:u:a:{ids['E']}:{ADA}",
                f"tastemaker:pick:d:a:{ids['E']}:{ADA}",
            ]
            # The same member id in guild B still gets Caribou, and has nothing hidden there.
            body, _ = await recommend(fake, guild=GUILD_B)
            assert picks_of(body)[0] == "Caribou" and "hidden" not in body["embeds"][0]["footer"]["text"]

            liked = await press(fake, message, buttons(message)[2]["custom_id"])  # 👍 Daft Punk
            assert liked == private(
                "Pick liked", "Noted: you like **Daft Punk**. It counts as a play at the next retrain."
            )

            payload = command_interaction("recommend", {"reset_hidden": True}, guild_id=GUILD_A, user_id=ADA)
            reqs = await send(fake, payload)
            assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
            assert reqs[1].json == private(
                "Hidden picks", "Back in your picks: 1 artist you had hidden with 👎."
            )
            body, _ = await recommend(fake, count=3)
            assert picks_of(body) == ["Caribou", "Daft Punk", "Eels"] and "footer" not in body["embeds"][0]

    run(scenario())
    with db.read() as conn:
        ada = catalog.find_member(conn, catalog.find_community(conn, "discord", GUILD_A), ADA)  # type: ignore[arg-type]
    assert verdicts(db) == [(ada, ids["D"], "up")]


def test_a_crafted_press_on_an_item_the_guild_cannot_see_is_refused(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    seed(service, db, clock)
    service.played(who(GUILD_B, BOB), artist="Zola Jesus")  # only guild B played it
    with db.read() as conn:
        zola = catalog.find_artist(conn, "zola jesus").id  # type: ignore[union-attr]

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await recommend(fake)
            answer = await press(fake, message, f"tastemaker:pick:d:a:{zola}:{ADA}")
            assert answer == {
                "content": "Sorry — That pick is not available here any more: ask /recommend again.",
                "tts": False,
                "flags": 64,
                "allowed_mentions": {"parse": []},
            }

    run(scenario())
    assert verdicts(db) == []


def test_a_fold_in_after_a_new_play_never_brings_a_hidden_pick_back(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    ids = seed(service, db, clock)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await recommend(fake)
            await press(fake, message, f"tastemaker:pick:d:a:{ids['C']}:{ADA}")
            service.played(who(GUILD_A, ADA), artist="Air")  # newer than the generation
            body, _ = await recommend(fake)
            assert picks_of(body) == ["Daft Punk", "Eels"]
            assert body["embeds"][0]["footer"]["text"].splitlines() == [
                "Fresh picks: your latest plays are already taken into account.",
                f"1 {HIDDEN_NOTE}",
            ]

    run(scenario())


@pytest.mark.spark
def test_a_hidden_pick_stays_hidden_after_a_real_retrain(  # type: ignore[no-untyped-def]
    service: Service, settings: Settings, db: Database, spark
) -> None:
    from engine.batch import EngineContext, batch

    listeners = {f"70000000000000002{k}": k for k in range(6)}
    # Six members share a core of bands; each also plays a few of the others': plenty to pick from.
    for user, k in listeners.items():
        for n in range(8):
            if (n + k) % 3:
                for _ in range(1 + (n * k) % 3):
                    service.played(who(GUILD_A, user), artist=f"Band {n}")
        service.played(who(GUILD_B, user), artist=f"Band {k}")
    ada = next(iter(listeners))
    ctx = EngineContext(settings, db, spark=lambda: spark, clock=service.clock)
    batch(ctx, retrain_now=True)

    async def scenario() -> str:
        async with running_bot(service, settings) as fake:
            body, message = await recommend(fake, user=ada)
            shown = picks_of(body)
            assert shown, body
            await press(fake, message, buttons(message)[1]["custom_id"], user=ada)  # 👎 the first pick
            body, _ = await recommend(fake, user=ada)
            assert (
                shown[0] not in picks_of(body) and f"1 {HIDDEN_NOTE}" in body["embeds"][0]["footer"]["text"]
            )
            return shown[0]

    hidden = run(scenario())
    batch(ctx, retrain_now=True)  # the 👎 is in the ALS input now, and no stored pick names it
    with db.read() as conn:
        member = catalog.find_member(conn, catalog.find_community(conn, "discord", GUILD_A), ada)  # type: ignore[arg-type]
        item = catalog.find_artist(conn, hidden.lower()).id  # type: ignore[union-attr]
        ref = recs.active_generation_ref(conn, "artist")
        assert ref is not None
        stored = recs.stored_picks(conn, ref.id, member, 100)  # type: ignore[arg-type]
    assert stored and item not in [i for i, _, _ in stored]

    async def after() -> None:
        async with running_bot(service, settings) as fake:
            body, _ = await recommend(fake, user=ada)
            assert hidden not in picks_of(body)
            body, _ = await recommend(fake, guild=GUILD_B, user=ada)  # the other guild is untouched
            assert "footer" not in body["embeds"][0] or "hidden" not in body["embeds"][0]["footer"]["text"]

    run(after())
