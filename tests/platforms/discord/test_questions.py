"""``/played``'s "did you mean …?" question as buttons, end to end: the real client against the fake
Discord, button presses delivered as MESSAGE_COMPONENT interactions (type 3) over the gateway, the
exact HTTP asserted. Real service, real SQLite file."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from bot.platforms.discord.questions import (
    EXPIRED_TEXT,
    TTL_SECONDS,
    PendingQuestions,
    custom_id,
    parse_custom_id,
)
from bot.service import RESOLVE_AS_TYPED, RESOLVE_EXISTING, Service
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
    total_plays,
    who,
)
from tests.platforms.fake_discord import (
    APP_ID,
    FakeDiscord,
    command_interaction,
    component_interaction,
    message_payload,
)

EXISTING, AS_TYPED = 0, 1  # the buttons, in order
CUSTOM_ID = re.compile(r"tm:q:(\d+):([et]):(\d+):(\d+)")


def seed(service: Service, guild: str = GUILD_A) -> None:
    service.played(who(guild, BOB), artist="Radiohead", track="Karma Police", event_id=f"seed-{guild}")


async def ask(
    fake: FakeDiscord, artist: str, track: str, *, guild: str = GUILD_A, user: str = ADA
) -> tuple[dict[str, Any], dict[str, Any]]:
    """/played with a near miss: defer, drop the public "thinking…", then the ephemeral question with
    two buttons. Returns the command payload and the question message (as the fake answered it)."""
    payload = command_interaction("played", {"artist": artist, "track": track}, guild_id=guild, user_id=user)
    reqs = await send(fake, payload, answers=3)
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("DELETE", f"/webhooks/{APP_ID}/{token}/messages/@original"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    assert reqs[0].json == {"type": 5}
    body = reqs[2].json
    assert body["flags"] == 64  # only the asker sees the question
    assert body["allowed_mentions"] == {"parse": []}
    (row,) = body["components"]
    assert row["type"] == 1 and [b["type"] for b in row["components"]] == [2, 2]
    for button, choice in zip(row["components"], "et", strict=True):
        match = CUSTOM_ID.fullmatch(button["custom_id"])
        assert match is not None
        qid, got_choice, asker, expires = match.groups()
        assert (qid, got_choice, asker) == (payload["id"], choice, user)
        assert abs(int(expires) - (time.time() + TTL_SECONDS)) < 60
        assert len(button["custom_id"]) <= 100
    (message,) = [m for m in fake.messages.values() if m["components"] == body["components"]]
    return payload, message


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list(message["components"][0]["components"])


async def press(
    fake: FakeDiscord,
    message: dict[str, Any],
    which: int,
    *,
    guild: str = GUILD_A,
    user: str = ADA,
    answers: int = 2,
    custom: str | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    payload = component_interaction(
        custom or buttons(message)[which]["custom_id"], message, guild_id=guild, user_id=user
    )
    return payload, await send(fake, payload, answers=answers)


def assert_replaced(payload: dict[str, Any], reqs: list[Any]) -> dict[str, Any]:
    """A press answered by DEFERRED_UPDATE_MESSAGE (6), then the question message edited into the
    answer, buttons removed. Returns the edit's body."""
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("PATCH", f"/webhooks/{APP_ID}/{token}/messages/@original"),
    ]
    assert reqs[0].json == {"type": 6}
    edit = reqs[1].json
    assert edit["content"] is None and edit["components"] == []
    assert edit["allowed_mentions"] == {"parse": []}
    assert len(edit["embeds"]) == 1
    return dict(edit)


def assert_refused(payload: dict[str, Any], reqs: list[Any], text: str) -> None:
    """Answered at once with an ephemeral message (type 4, flags 64); nothing else follows."""
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{payload['token']}/callback"),
    ]
    assert reqs[0].json == {
        "type": 4,
        "data": {"content": text, "flags": 64, "allowed_mentions": {"parse": []}, "tts": False},
    }


async def settled(fake: FakeDiscord, payload: dict[str, Any]) -> list[Any]:
    await asyncio.sleep(0.2)  # nothing else trails in
    return fake.for_interaction(payload)


def plays_of(service: Service, guild: str = GUILD_A) -> dict[str, int]:
    entries = service.trending(who(guild), "all", "track", limit=500).entries
    return {e.name: e.plays for e in entries}


# --- asking ----------------------------------------------------------------------------------------


def test_near_miss_asks_with_two_buttons_and_logs_nothing(service: Service, settings: Settings) -> None:
    seed(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload, message = await ask(fake, "Radiohed", "Karma Police")
            assert message["content"] == (
                "Did you mean **Radiohead – Karma Police**? Nothing is logged yet — pick one."
            )
            assert [(b["style"], b["label"]) for b in buttons(message)] == [
                (1, "Yes, Radiohead – Karma Police"),
                (2, "No, log Radiohed – Karma Police"),
            ]
            assert len(await settled(fake, payload)) == 3

    run(scenario())
    assert plays_of(service) == {"Radiohead – Karma Police": 1}  # the seed only


# --- answering -------------------------------------------------------------------------------------


def test_yes_logs_the_existing_entry_once_however_often_pressed(service: Service, settings: Settings) -> None:
    seed(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await ask(fake, "Radiohed", "Karma Police")
            first, reqs = await press(fake, message, EXISTING)
            edit = assert_replaced(first, reqs)
            assert edit["embeds"][0]["title"] == "Play logged"
            assert edit["embeds"][0]["description"] == (
                "Logged Radiohead – Karma Police — your 1st play. "
                "(matched “Radiohed – Karma Police” to the existing entry)"
            )
            assert len(await settled(fake, first)) == 2

            again, reqs = await press(fake, message, EXISTING)  # a double click / redelivery
            edit = assert_replaced(again, reqs)
            assert edit["embeds"][0]["title"] == "Already logged"
            assert edit["embeds"][0]["description"].startswith("Already logged: Radiohead – Karma Police")

            other, reqs = await press(fake, message, AS_TYPED)  # the other button, afterwards
            assert assert_replaced(other, reqs)["embeds"][0]["title"] == "Already logged"

    run(scenario())
    assert plays_of(service) == {"Radiohead – Karma Police": 2}  # the seed and exactly one answer
    assert total_plays(service, GUILD_A) == 2


def test_no_logs_the_spelling_as_typed(service: Service, settings: Settings) -> None:
    seed(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await ask(fake, "Radiohed", "Karma Police")
            payload, reqs = await press(fake, message, AS_TYPED)
            edit = assert_replaced(payload, reqs)
            assert edit["embeds"][0]["description"] == "Logged Radiohed – Karma Police — your 1st play."

            payload, reqs = await press(fake, message, AS_TYPED)
            assert assert_replaced(payload, reqs)["embeds"][0]["title"] == "Already logged"

    run(scenario())
    assert plays_of(service) == {"Radiohead – Karma Police": 1, "Radiohed – Karma Police": 1}


# --- refusals --------------------------------------------------------------------------------------


def test_only_the_asker_may_answer(service: Service, settings: Settings) -> None:
    seed(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await ask(fake, "Radiohed", "Karma Police", user=ADA)
            for which in (EXISTING, AS_TYPED):
                payload, reqs = await press(fake, message, which, user=BOB, answers=1)
                assert_refused(payload, await settled(fake, payload), f"Only <@{ADA}> can answer this.")
            assert plays_of(service) == {"Radiohead – Karma Police": 1}  # nothing stored

            payload, reqs = await press(fake, message, AS_TYPED, user=ADA)  # still open for Ada
            assert assert_replaced(payload, reqs)["embeds"][0]["title"] == "Play logged"

    run(scenario())
    assert plays_of(service) == {"Radiohead – Karma Police": 1, "Radiohed – Karma Police": 1}


def test_expired_question_stores_nothing(service: Service, settings: Settings) -> None:
    seed(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            _, message = await ask(fake, "Radiohed", "Karma Police")
            qid, _, asker, _ = CUSTOM_ID.fullmatch(buttons(message)[EXISTING]["custom_id"]).groups()  # type: ignore[union-attr]
            past = custom_id(qid, "e", asker, int(time.time()) - 1)  # the button's expiry has passed
            payload, _ = await press(fake, message, EXISTING, custom=past, answers=1)
            assert_refused(payload, await settled(fake, payload), EXPIRED_TEXT)

        # A new client (a restart) has no pending question: the press is refused the same way.
        async with running_bot(service, settings) as fake:
            payload, _ = await press(fake, message, EXISTING, answers=1)
            assert_refused(payload, await settled(fake, payload), EXPIRED_TEXT)
            # …and the refusal names the asker from the custom_id alone.
            payload, _ = await press(fake, message, EXISTING, user=BOB, answers=1)
            assert_refused(payload, await settled(fake, payload), f"Only <@{ADA}> can answer this.")

    run(scenario())
    assert plays_of(service) == {"Radiohead – Karma Police": 1}
    assert EXPIRED_TEXT == "This question has expired — use /played again."


def test_other_buttons_are_left_alone(service: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            message = message_payload({"content": "x", "components": []})
            payload = component_interaction("someone-else:1", message, guild_id=GUILD_A)
            await fake.dispatch("INTERACTION_CREATE", payload)
            assert await settled(fake, payload) == []

    run(scenario())


# --- two guilds ------------------------------------------------------------------------------------


def test_a_question_in_guild_b_never_names_guild_as_entry(service: Service, settings: Settings) -> None:
    seed(service, GUILD_A)  # Radiohead – Karma Police, in guild A only
    service.played(who(GUILD_B, BOB), artist="Portishead", track="Roads", event_id="seed-b")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            # Guild A's near entry is not offered in guild B: logged as typed, no question.
            payload = command_interaction(
                "played", {"artist": "Radiohed", "track": "Karma Police"}, guild_id=GUILD_B
            )
            body = assert_deferred_then_followup(await send(fake, payload), payload)
            assert body["embeds"][0]["description"] == "Logged Radiohed – Karma Police — your 1st play."
            assert "components" not in body or body["components"] == []

            # Guild B's own near entry is offered, and nothing of guild A's appears.
            _, message = await ask(fake, "Portished", "Roads", guild=GUILD_B)
            assert [b["label"] for b in buttons(message)] == [
                "Yes, Portishead – Roads",
                "No, log Portished – Roads",
            ]
            payload, reqs = await press(fake, message, EXISTING, guild=GUILD_B)
            assert assert_replaced(payload, reqs)["embeds"][0]["description"].startswith(
                "Logged Portishead – Roads — your 1st play."
            )
            # The same member pressing guild B's button from guild A (a replayed custom_id) is refused.
            _, message = await ask(fake, "Portished", "Roads", guild=GUILD_B)
            payload, _ = await press(fake, message, AS_TYPED, guild=GUILD_A, answers=1)
            assert_refused(payload, await settled(fake, payload), EXPIRED_TEXT)

            everything = json.dumps([r.json for r in fake.requests], ensure_ascii=False)
            assert "Radiohead" not in everything  # guild A's spelling never reaches guild B

    run(scenario())
    assert plays_of(service, GUILD_A) == {"Radiohead – Karma Police": 1}
    assert plays_of(service, GUILD_B) == {"Portishead – Roads": 2, "Radiohed – Karma Police": 1}


# --- the parts -------------------------------------------------------------------------------------


def test_custom_id_round_trip_and_foreign_ids() -> None:
    value = custom_id("1" * 20, "t", "2" * 20, 9_999_999_999)
    assert len(value) <= 100
    press = parse_custom_id(value)
    assert press is not None
    assert (press.qid, press.resolve, press.asker, press.expires) == (
        "1" * 20,
        RESOLVE_AS_TYPED,
        "2" * 20,
        9_999_999_999,
    )
    assert press.event_id == "question:" + "1" * 20
    assert parse_custom_id(custom_id("5", "e", "6", 7)).resolve == RESOLVE_EXISTING  # type: ignore[union-attr]
    for bad in ("", "tm:q:1:x:2:3", "tm:q:a:e:2:3", "tm:q:1:e:2:3:extra", "other:1"):
        assert parse_custom_id(bad) is None


def test_pending_questions_expire_and_stay_bounded() -> None:
    now = [1000.0]
    pending = PendingQuestions(ttl=60, limit=3, clock=lambda: now[0])
    first = pending.add("1", who(), "Radiohed", "Karma Police")
    assert first.expires == 1060
    assert pending.get("1") == first
    now[0] = 1059.9
    assert pending.get("1") is not None
    now[0] = 1060
    assert pending.get("1") is None and len(pending) == 0  # expired, and dropped
    for qid in "2345":
        pending.add(qid, who(), qid, None)
    assert len(pending) == 3 and pending.get("2") is None  # the oldest went first
    assert [pending.get(q).artist for q in "345"] == ["3", "4", "5"]  # type: ignore[union-attr]
