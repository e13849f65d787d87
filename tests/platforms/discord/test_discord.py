"""The Discord adapter end to end: the real discord.py client logs in against a loopback fake Discord
(REST + gateway, tests/platforms/fake_discord.py), receives real INTERACTION_CREATE payloads over the
gateway, and the tests assert the exact HTTP it sends back. Real service, real SQLite file."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

with warnings.catch_warnings():
    # discord.py 2.7.1 imports the stdlib ``audioop`` (voice support, unused here), deprecated in 3.11.
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord

from discord.gateway import DiscordWebSocket  # noqa: E402
from discord.http import Route  # noqa: E402

from bot.parsing import UserError
from bot.platforms import PlatformError, Process
from bot.platforms.discord.client import build_client, run_with_backoff, serve
from bot.platforms.discord.sync import sync_commands, sync_commands_async
from bot.service import Service
from config.settings import Settings
from storage.db import Database
from tests.platforms.discord.harness import (
    ADA,
    BOB,
    GUILD_A,
    GUILD_B,
    assert_deferred_then_followup,
    fake_settings,
    run,
    running_bot,
    send,
    total_plays,
    who,
)
from tests.platforms.fake_discord import (
    APP_ID,
    FakeDiscord,
    autocomplete_interaction,
    command_interaction,
)

COMMANDS = [
    "played",
    "recommend",
    "trending",
    "plays",
    "undo",
    "whoknows",
    "top",
    "recent",
    "profile",
    "neighbours",
    "similar",
    "taste",
    "privacy",
    "link",
    "unlink",
    "links",
    "import",
    "help",
    "tastemaker",
]

# --- the exact HTTP -------------------------------------------------------------------------------


def test_played_defers_then_sends_embed_followup(service: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload = command_interaction(
                "played", {"artist": "Radiohead", "track": "Karma Police"}, guild_id=GUILD_A, nick="Ada"
            )
            body = assert_deferred_then_followup(await send(fake, payload), payload)
            embed = body["embeds"][0]
            assert embed["title"] == "Play logged"
            assert embed["description"] == "Logged Radiohead – Karma Police — your 1st play."
            assert embed["type"] == "rich"

    run(scenario())
    assert total_plays(service, GUILD_A) == 1


def test_user_text_cannot_mention_anyone(service: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload = command_interaction(
                "played", {"artist": "@everyone", "track": "<@&123456789012345678> *ping*"}, guild_id=GUILD_A
            )
            body = assert_deferred_then_followup(await send(fake, payload), payload)
            text = body["embeds"][0]["description"]
            assert (
                "@everyone" not in text and "<@&123456789012345678>" not in text
            )  # defused (zero-width space)
            assert "@\u200beveryone" in text and "\\*ping\\*" in text

    run(scenario())


def test_recommend_and_trending_embeds(service: Service, settings: Settings) -> None:
    for artist, track, n in [
        ("Radiohead", "Karma Police", 3),
        ("Björk", "Jóga", 2),
        ("Portishead", "Roads", 1),
    ]:
        for k in range(n):
            service.played(who(GUILD_A, BOB), artist=artist, track=track, event_id=f"seed-{artist}-{k}")
    service.played(who(GUILD_A, ADA), artist="Portishead", track="Roads", event_id="seed-ada")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload = command_interaction("trending", {"window": "all", "kind": "tracks"}, guild_id=GUILD_A)
            embed = assert_deferred_then_followup(await send(fake, payload), payload)["embeds"][0]
            assert embed["title"] == "Trending tracks in Guild A — all time"
            assert embed["description"].splitlines() == [
                "**1.** Radiohead – Karma Police — 3 plays, 1 listener",
                "**2.** Portishead – Roads — 2 plays, 2 listeners",
                "**3.** Björk – Jóga — 2 plays, 1 listener",
            ]

            payload = command_interaction("recommend", {"kind": "artists", "count": 2}, guild_id=GUILD_A)
            embed = assert_deferred_then_followup(await send(fake, payload), payload)["embeds"][0]
            # No model trained yet: trending artists Ada has not played, as many as asked.
            assert embed["title"] == "Trending artists you haven't played yet"
            assert embed["description"].splitlines() == ["**1.** Radiohead", "**2.** Björk"]
            assert "No personal model" in embed["footer"]["text"]

    run(scenario())


# --- autocomplete ---------------------------------------------------------------------------------


def test_autocomplete_returns_at_most_25_choices_ranked_by_fuzzy_score(
    service: Service, settings: Settings
) -> None:
    names = ["Radiohead", "Radio Moscow", "Radio Birdman", "Portishead", "Motörhead"]
    names += [f"Band {k:02d}" for k in range(40)]
    for k, name in enumerate(names):
        service.played(who(GUILD_A), artist=name, track=f"Song {k}", event_id=f"seed-{k}")
    service.played(who(GUILD_A), artist="Radiohead", track="Lucky", event_id="seed-lucky")
    service.played(who(GUILD_B), artist="Radiohead Tribute", event_id="seed-b")  # other guild

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload = autocomplete_interaction("played", {"artist": "radiohed"}, "artist", guild_id=GUILD_A)
            (answer,) = await send(fake, payload, answers=1)
            assert answer.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
            assert answer.json["type"] == 8
            got = [c["value"] for c in answer.json["data"]["choices"]]
            assert got == service.suggest(who(GUILD_A), "radiohed", field="artist")
            assert got[0] == "Radiohead"
            assert "Radiohead Tribute" not in got  # guild B's catalog is not offered in guild A
            assert all(c["name"] == c["value"] for c in answer.json["data"]["choices"])

            payload = autocomplete_interaction("played", {"artist": ""}, "artist", guild_id=GUILD_A)
            (answer,) = await send(fake, payload, answers=1)
            assert len(answer.json["data"]["choices"]) == 25  # capped at Discord's limit

            payload = autocomplete_interaction(
                "played", {"artist": "Radiohead", "track": "l"}, "track", guild_id=GUILD_A
            )
            (answer,) = await send(fake, payload, answers=1)
            assert [c["value"] for c in answer.json["data"]["choices"]] == ["Lucky"]  # that artist's tracks

    run(scenario())


# --- validation -----------------------------------------------------------------------------------

BAD_OPTIONS = [
    pytest.param("played", {"artist": "x" * 500, "track": "Song"}, "too long", id="500-char-artist"),
    pytest.param("played", {"artist": "Radiohead", "track": "y" * 500}, "too long", id="500-char-track"),
    pytest.param("played", {"artist": "", "track": "Song"}, "artist", id="empty-artist"),
    pytest.param("played", {"artist": "   ", "track": "Song"}, "artist", id="blank-artist"),
    pytest.param("played", {"artist": "Radiohead", "track": ""}, "empty", id="empty-track"),
    pytest.param("played", {"artist": "Radio\u202edaeh", "track": "Song"}, "U+202E", id="rlo-artist"),
    pytest.param("played", {"artist": "Radiohead", "track": "\u202eecilop amrak"}, "U+202E", id="rlo-track"),
    pytest.param("recommend", {"kind": "artists", "count": 500}, "between 1 and 25", id="count-500"),
    pytest.param("recommend", {"kind": "albums"}, "Unknown kind", id="bad-kind"),
    pytest.param("trending", {"window": "1y"}, "Unknown window", id="bad-window"),
]


@pytest.mark.parametrize(("command", "options", "says"), BAD_OPTIONS)
def test_bad_option_gets_friendly_ephemeral_error_and_nothing_is_stored(
    service: Service, settings: Settings, command: str, options: dict[str, Any], says: str
) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings, guilds=[(GUILD_A, "Guild A")]) as fake:
            payload = command_interaction(command, options, guild_id=GUILD_A)
            reqs = await send(fake, payload, answers=1)
            await asyncio.sleep(0.1)  # nothing else follows
            reqs = fake.for_interaction(payload)
            assert len(reqs) == 1
            assert reqs[0].path.endswith("/callback")
            assert reqs[0].json["type"] == 4  # answered at once, no defer
            data = reqs[0].json["data"]
            assert data["flags"] == 64  # ephemeral
            assert data["content"].startswith("Sorry — ")
            assert says in data["content"]
            assert data["allowed_mentions"] == {"parse": []}

    run(scenario())
    assert total_plays(service, GUILD_A) == 0
    assert service.suggest(who(GUILD_A), "", field="artist") == []


# --- idempotency and isolation --------------------------------------------------------------------


def test_same_interaction_id_twice_stores_one_play(service: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            payload = command_interaction("played", {"artist": "Björk", "track": "Jóga"}, guild_id=GUILD_A)
            first = assert_deferred_then_followup(await send(fake, payload), payload)
            assert first["embeds"][0]["title"] == "Play logged"
            fake.requests.clear()
            second = assert_deferred_then_followup(await send(fake, payload), payload)  # redelivery
            assert second["embeds"][0]["title"] == "Already logged"
            assert second["embeds"][0]["description"] == "Already logged: Björk – Jóga."

    run(scenario())
    assert total_plays(service, GUILD_A) == 1


def test_two_guilds_never_see_each_others_data(service: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            for guild, artist, track in [(GUILD_A, "Radiohead", "Karma Police"), (GUILD_B, "Björk", "Jóga")]:
                payload = command_interaction("played", {"artist": artist, "track": track}, guild_id=guild)
                assert_deferred_then_followup(await send(fake, payload), payload)

            payload = command_interaction("trending", {"window": "all", "kind": "artists"}, guild_id=GUILD_B)
            embed = assert_deferred_then_followup(await send(fake, payload), payload)["embeds"][0]
            assert embed["title"] == "Trending artists in Guild B — all time"
            assert embed["description"] == "**1.** Björk — 1 play, 1 listener"

            # Same member id in guild B: their guild-A history does not count there.
            payload = command_interaction(
                "played", {"artist": "Radiohead", "track": "Karma Police"}, guild_id=GUILD_B
            )
            body = assert_deferred_then_followup(await send(fake, payload), payload)
            assert body["embeds"][0]["description"] == "Logged Radiohead – Karma Police — your 1st play."

            payload = autocomplete_interaction("played", {"artist": "bjork"}, "artist", guild_id=GUILD_A)
            (answer,) = await send(fake, payload, answers=1)
            assert answer.json["data"]["choices"] == []

    run(scenario())
    assert total_plays(service, GUILD_A) == 1
    assert total_plays(service, GUILD_B) == 2


class FailingService(Service):
    """The real service, except that /trending fails: with a UserError, or with a bug."""

    def __init__(self, base: Service, exc: Exception) -> None:
        super().__init__(base.db, base.settings, clock=base.clock)
        self.exc = exc

    def trending(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (UserError("That window is not ready yet."), "Sorry — That window is not ready yet."),
        (RuntimeError("database exploded"), "Sorry — something went wrong on my side."),
    ],
    ids=["user-error", "bug"],
)
def test_error_after_defer_replaces_thinking_with_ephemeral_message(
    service: Service, settings: Settings, exc: Exception, says: str
) -> None:
    failing = FailingService(service, exc)

    async def scenario() -> None:
        async with running_bot(failing, settings) as fake:
            payload = command_interaction("trending", {}, guild_id=GUILD_A)
            reqs = await send(fake, payload, answers=3)
            token = payload["token"]
            assert [(r.method, r.path) for r in reqs] == [
                ("POST", f"/interactions/{payload['id']}/{token}/callback"),
                ("DELETE", f"/webhooks/{APP_ID}/{token}/messages/@original"),
                ("POST", f"/webhooks/{APP_ID}/{token}"),
            ]
            followup = reqs[2].json
            assert followup["flags"] == 64
            assert followup["content"].startswith(says)
            assert "exploded" not in followup["content"]  # internals are never shown
            assert followup["allowed_mentions"] == {"parse": []}

    run(scenario())


# --- rate limits ----------------------------------------------------------------------------------


def test_429_on_followup_is_retried_and_the_followup_arrives_once(
    service: Service, settings: Settings
) -> None:
    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            fake.rate_limits["/webhooks/"] = 1
            fake.retry_after = 0.3
            payload = command_interaction("played", {"artist": "Radiohead"}, guild_id=GUILD_A)
            reqs = await send(fake, payload)
            await asyncio.sleep(0.5)  # no duplicate followup trails in
            reqs = fake.for_interaction(payload)
            assert [(r.method, r.path.split("/")[1], r.status) for r in reqs] == [
                ("POST", "interactions", 200),
                ("POST", "webhooks", 429),
                ("POST", "webhooks", 200),
            ]
            assert reqs[1].json == reqs[2].json  # the same followup, resent
            assert reqs[2].at - reqs[1].at >= 0.3  # after retry_after
            assert reqs[2].json["embeds"][0]["description"] == "Logged Radiohead — your 1st play."

    run(scenario())
    assert total_plays(service, GUILD_A) == 1


# --- a slow database never delays the acknowledgement ----------------------------------------------


class SlowDatabase(Database):
    """The real database, but every write transaction first waits ``delay`` seconds (a busy disk)."""

    def __init__(self, db: Database, delay: float) -> None:
        super().__init__(db.url, engine=db.engine)
        self.delay = delay

    @contextmanager
    def write(self) -> Iterator[Any]:
        time.sleep(self.delay)
        with super().write() as conn:
            yield conn


def test_slow_database_still_defers_within_one_second(db: Database, settings: Settings, clock: Any) -> None:
    slow = Service(SlowDatabase(db, 5.0), settings, clock=clock)
    timings: dict[str, float] = {}

    async def scenario() -> None:
        async with running_bot(slow, settings) as fake:
            payload = command_interaction("played", {"artist": "Radiohead"}, guild_id=GUILD_A)
            sent = time.monotonic()
            await fake.dispatch("INTERACTION_CREATE", payload)
            (defer,) = await fake.wait_for(lambda: fake.for_interaction(payload), timeout=1.0)
            timings["defer"] = defer.at - sent
            assert defer.json == {"type": 5}

            # The event loop is free meanwhile: another member's autocomplete is answered at once.
            other = autocomplete_interaction("played", {"artist": "rad"}, "artist", guild_id=GUILD_A)
            t0 = time.monotonic()
            await send(fake, other, answers=1)
            timings["autocomplete"] = time.monotonic() - t0

            await fake.wait_for(lambda: len(fake.for_interaction(payload)) == 2, timeout=10.0)
            followup = fake.for_interaction(payload)[1]
            timings["followup"] = followup.at - sent
            assert followup.json["embeds"][0]["title"] == "Play logged"

    run(scenario())
    print(
        f"defer {timings['defer'] * 1000:.1f} ms, autocomplete during the stall "
        f"{timings['autocomplete'] * 1000:.1f} ms, followup {timings['followup']:.2f} s"
    )
    assert timings["defer"] < 1.0
    assert timings["autocomplete"] < 1.0
    assert timings["followup"] >= 5.0


# --- wiring: overrides, sync, start-up --------------------------------------------------------------


def test_overrides_are_scoped_to_the_client(service: Service, settings: Settings) -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            assert fake.api_url == Route.BASE  # while the client runs
            assert fake.gateway_log[0]["op"] == 1  # first heartbeat, then IDENTIFY
            identify = next(m for m in fake.gateway_log if m["op"] == 2)
            assert identify["d"]["token"] == "fake-token"
            assert identify["d"]["intents"] == discord.Intents(guilds=True).value  # no privileged intents
            assert fake.heartbeats >= 1

    run(scenario())
    assert base == Route.BASE  # restored when the client closed
    assert gateway == DiscordWebSocket.DEFAULT_GATEWAY  # never touched


def test_sync_registers_guild_only_commands_explicitly(settings: Settings) -> None:
    async def scenario() -> list[str]:
        fake = FakeDiscord()
        await fake.start()
        try:
            names = await sync_commands_async(fake_settings(settings, fake), GUILD_A)
            (put,) = [r for r in fake.requests if r.method == "PUT"]
            assert put.path == f"/applications/{APP_ID}/guilds/{GUILD_A}/commands"
            by_name = {c["name"]: c for c in put.json}
            assert set(by_name) == set(COMMANDS)
            assert all(c["contexts"] == [0] for c in put.json)  # guild-only
            artist, track = by_name["played"]["options"]
            assert (artist["name"], artist["required"], artist["autocomplete"]) == ("artist", True, True)
            assert (artist["min_length"], artist["max_length"]) == (1, 200)
            assert track["required"] is False
            kind, count, reset = by_name["recommend"]["options"]
            assert [c["value"] for c in kind["choices"]] == ["artists", "tracks"]
            assert (count["min_value"], count["max_value"]) == (1, 25)
            assert (reset["name"], reset["type"], reset["required"]) == ("reset_hidden", 5, False)
            window, _ = by_name["trending"]["options"]
            assert [c["value"] for c in window["choices"]] == ["24h", "7d", "30d", "all"]
            for name in ("plays", "undo", "help"):  # no options, every member may use them
                assert by_name[name]["options"] == []
                assert by_name[name]["default_member_permissions"] is None
            (what,) = by_name["whoknows"]["options"]
            assert (what["name"], what["type"], what["required"]) == ("what", 3, True)
            assert (what["min_length"], what["max_length"]) == (1, 403)
            kind, period, member, chart = by_name["top"]["options"]
            assert [c["value"] for c in kind["choices"]] == ["artists", "tracks"]
            assert [c["value"] for c in period["choices"]] == ["7d", "30d", "year", "all"]
            assert (member["name"], member["type"], member["required"]) == ("member", 6, False)  # a user
            assert (chart["name"], chart["type"], chart["required"]) == ("chart", 5, False)  # a boolean
            assert chart["description"] == "Also as a picture"
            for name in ("recent", "profile"):
                (member,) = by_name[name]["options"]
                assert (member["name"], member["type"], member["required"]) == ("member", 6, False)
            assert by_name["neighbours"]["options"] == []
            (what,) = by_name["similar"]["options"]  # the same option as /whoknows
            assert (what["name"], what["type"], what["required"]) == ("what", 3, True)
            assert (what["min_length"], what["max_length"]) == (1, 403)
            (member,) = by_name["taste"]["options"]
            assert (member["name"], member["type"], member["required"]) == ("member", 6, True)
            (setting,) = by_name["privacy"]["options"]
            assert [c["value"] for c in setting["choices"]] == ["private", "public"] and setting["required"]
            (file,) = by_name["import"]["options"]
            assert (file["name"], file["type"], file["required"]) == ("file", 11, True)  # an attachment
            for name in (
                "whoknows",
                "top",
                "recent",
                "profile",
                "neighbours",
                "similar",
                "taste",
                "privacy",
                "import",
                "help",
            ):
                assert by_name[name]["default_member_permissions"] is None

            await sync_commands_async(fake_settings(settings, fake), None)
            assert fake.requests[-1].method == "PUT"
            assert fake.requests[-1].path == f"/applications/{APP_ID}/commands"
            return names
        finally:
            await fake.stop()

    assert run(scenario()) == COMMANDS


def test_missing_token_is_a_friendly_error(service: Service, settings: Settings) -> None:
    no_token = settings.model_copy(update={"discord_token": None})
    with pytest.raises(PlatformError, match="DISCORD_TOKEN is not set"):
        serve(Process(service, no_token))
    with pytest.raises(PlatformError, match="DISCORD_TOKEN is not set"):
        sync_commands(no_token, None)
    with pytest.raises(PlatformError, match="numeric guild id"):
        run(sync_commands_async(fake_settings(settings), "my-guild"))


def test_start_up_failures_back_off_exponentially(service: Service, settings: Settings) -> None:
    """A real client against a dead API port fails to start; the loop waits longer each time."""
    sleeps: list[float] = []

    async def scenario() -> None:
        dead = FakeDiscord()
        await dead.start()
        url = dead.api_url
        await dead.stop()  # nothing listens there any more
        cfg = settings.model_copy(
            update={"discord_token": "t", "discord_api_url": url, "discord_gateway_url": "ws://127.0.0.1:9/x"}
        )
        attempts = 0

        async def start() -> None:
            nonlocal attempts
            attempts += 1
            client = build_client(service, cfg)
            async with client:
                await client.start("t")

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        with pytest.raises(aiohttp.ClientConnectionError):
            await run_with_backoff(start, base_delay=1.0, max_attempts=4, sleep=fake_sleep)
        assert attempts == 4

    run(scenario())
    assert len(sleeps) == 3
    for got, nominal in zip(sleeps, [1.0, 2.0, 4.0], strict=True):
        assert nominal * 0.8 <= got <= nominal * 1.2


def test_refused_token_is_not_retried(service: Service, settings: Settings) -> None:
    calls: list[int] = []

    async def start() -> None:
        calls.append(1)
        raise discord.LoginFailure("Improper token has been passed.")

    async def no_sleep(_: float) -> None:
        raise AssertionError("must not back off on a refused token")

    with pytest.raises(PlatformError, match="refused DISCORD_TOKEN"):
        run(run_with_backoff(start, sleep=no_sleep))
    assert calls == [1]


@pytest.mark.spark
def test_recommend_after_a_retrain_never_names_another_guilds_artists(  # type: ignore[no-untyped-def]
    service: Service, settings: Settings, spark
) -> None:
    import json

    from engine.batch import EngineContext, batch
    from tests.isolation import ONLY_A, assert_clean
    from tests.isolation import plays as world

    guilds = {"A": GUILD_A, "B": GUILD_B}
    users = {
        f"{c.lower()}{m}": str(700000000000000100 + 10 * k + m) for k, c in enumerate("AB") for m in range(8)
    }

    async def log_all() -> None:
        async with running_bot(service, settings) as fake:
            for community, guild in guilds.items():
                for member, artist, track in {(m, a, t) for m, a, t, _ in world(community)}:
                    payload = command_interaction(
                        "played", {"artist": artist, "track": track}, guild_id=guild, user_id=users[member]
                    )
                    await send(fake, payload)

    async def recommend(members: list[str]) -> list[str]:
        texts = []
        async with running_bot(service, settings) as fake:
            for member in members:
                for kind in ("artists", "tracks"):
                    payload = command_interaction(
                        "recommend", {"kind": kind}, guild_id=GUILD_A, user_id=users[member]
                    )
                    texts += [json.dumps(r.json, ensure_ascii=False) for r in await send(fake, payload)]
        return texts

    run(log_all())
    batch(EngineContext(settings, service.db, spark=lambda: spark, clock=service.clock), retrain_now=True)
    shown = assert_clean(run(recommend([f"a{m}" for m in range(6)])))  # stored picks
    assert any(name in " ".join(shown) for name in ONLY_A)

    async def fold_in() -> list[str]:
        async with running_bot(service, settings) as fake:
            payload = command_interaction(
                "played",
                {"artist": "Radiohead", "track": "Radiohead Song 0"},
                guild_id=GUILD_A,
                user_id=users["a7"],
            )
            await send(fake, payload)
        return await recommend(["a7"])

    assert_clean(run(fold_in()))
