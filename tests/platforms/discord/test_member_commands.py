"""/whoknows, /top, /recent, /profile, /privacy and /help, end to end: the real client against the
fake Discord, slash commands (a ``member`` user option with its ``resolved`` data, as Discord sends
it) delivered over the gateway, the exact HTTP asserted. Real service, real SQLite file."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.platforms.discord.embeds import EMBED_DESCRIPTION_LIMIT, EMBED_TITLE_LIMIT
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
from tests.platforms.fake_discord import APP_ID, FakeDiscord, command_interaction

CAT = "700000000000000003"
DAN = "700000000000000004"
COLOR = 0x8B5CF6
NAMES = {ADA: "Ada", BOB: "Bob", CAT: "Cat", DAN: "Dan"}


def member(user: str, guild: str = GUILD_A, name: str | None = None) -> Who:
    return Who("discord", guild, user, community_name="Guild A", member_name=name or NAMES[user])


def crew(service: Service) -> None:
    """Ada Radiohead x1, Bob Radiohead x2 + Airbag, Cat Björk (all just now)."""
    service.played(member(ADA), "Radiohead")
    for text in ("Radiohead", "Radiohead", "Radiohead - Airbag"):
        service.played(member(BOB), text)
    service.played(member(CAT), "Björk")


def embed(title: str, description: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"flags": 0, "color": COLOR, "type": "rich", "title": title, **more}
    if description is not None:
        out["description"] = description
    return out


async def public(
    fake: FakeDiscord, name: str, options: dict[str, Any] | None = None, *, user: str = ADA, **kw: Any
) -> dict[str, Any]:
    """A command answered in the channel: the defer, then one public followup with one embed."""
    payload = command_interaction(name, options or {}, guild_id=kw.pop("guild", GUILD_A), user_id=user, **kw)
    body = assert_deferred_then_followup(await send(fake, payload), payload)
    await asyncio.sleep(0.05)
    assert len(fake.for_interaction(payload)) == 2  # nothing trails in
    return dict(body["embeds"][0])


async def refused(
    fake: FakeDiscord, name: str, options: dict[str, Any] | None = None, *, user: str = ADA, **kw: Any
) -> str:
    """A command refused after the defer: the public "thinking…" is deleted, an ephemeral followup
    says why. Returns its content."""
    payload = command_interaction(name, options or {}, guild_id=GUILD_A, user_id=user, **kw)
    reqs = await send(fake, payload, answers=3)
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("DELETE", f"/webhooks/{APP_ID}/{token}/messages/@original"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    followup = reqs[2].json
    assert followup["flags"] == 64 and followup["allowed_mentions"] == {"parse": []}
    return str(followup["content"])


async def ephemeral(
    fake: FakeDiscord, name: str, options: dict[str, Any], *, user: str = ADA
) -> dict[str, Any]:
    """An ephemeral defer, then one ephemeral followup with one embed."""
    payload = command_interaction(name, options, guild_id=GUILD_A, user_id=user)
    reqs = await send(fake, payload)
    assert [r.method for r in reqs] == ["POST", "POST"]
    assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
    body = reqs[1].json
    assert body["flags"] == 64 and body["allowed_mentions"] == {"parse": []}
    return dict(body["embeds"][0])


def test_whoknows_and_a_private_member(service: Service, settings: Settings) -> None:
    crew(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            assert await public(fake, "whoknows", {"what": "radiohead"}) == embed(
                "Who knows Radiohead?",
                "**1.** Bob — 3 plays, last played just now\n**2.** **Ada** — 1 play, last played just now",
                footer={"text": "2 listeners, 4 plays in all"},
            )
            assert await ephemeral(fake, "privacy", {"setting": "private"}, user=BOB) == embed(
                "Privacy",
                "Your listening is now private. Others no longer see your name in whoknows (you show as "
                "“a private member”, your plays still counted), nor your top, recent plays or profile, "
                "and you are left out of their neighbours and taste. Your plays still count anonymously "
                "in /trending and the daily digest. `/privacy setting:public` undoes it.",
            )
            shown = await public(fake, "whoknows", {"what": "Radiohead"}, user=CAT)
            assert shown["description"] == (
                "**1.** a private member — 3 plays\n**2.** Ada — 1 play, last played just now"
            )
            assert "Bob" not in str(shown)
            mine = await public(fake, "whoknows", {"what": "Radiohead - Airbag"}, user=BOB)
            assert (mine["title"], mine["description"]) == (
                "Who knows Radiohead – Airbag?",
                "**1.** **Bob** — 1 play, last played just now",
            )
            for name, options in (("profile", {}), ("recent", {}), ("top", {"kind": "tracks"})):
                content = await refused(fake, name, options, users={"member": (BOB, "bob")})
                assert content == "Sorry — Bob keeps their listening private."
            back = await ephemeral(fake, "privacy", {"setting": "public"}, user=BOB)
            assert back["description"] == (
                "Your listening is public: others see your name in whoknows, your top, recent plays "
                "and profile, and may find you in neighbours and taste. "
                "`/privacy setting:private` hides them."
            )
            payload = command_interaction("privacy", {"setting": "hidden"}, guild_id=GUILD_A)  # crafted
            defer, answer = await send(fake, payload)
            assert defer.json == {"type": 5, "data": {"flags": 64}}  # only the member sees any of it
            assert answer.json["flags"] == 64 and answer.json["allowed_mentions"] == {"parse": []}
            assert answer.json["content"] == "Sorry — Use \\`privacy private\\` or \\`privacy public\\`."

    run(scenario())


def test_top_recent_and_profile_of_a_user_option(service: Service, settings: Settings) -> None:
    crew(service)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            bob = {"member": (BOB, "bob")}
            assert await public(fake, "top", {"kind": "tracks", "period": "7d"}, users=bob) == embed(
                "Bob's top tracks — the last 7 days", "**1.** Radiohead – Airbag — 1 play"
            )
            assert await public(fake, "top", {}, users=bob) == embed(
                "Bob's top artists — all time", "**1.** Radiohead — 3 plays"
            )
            assert await public(fake, "recent", {}, users=bob) == embed(
                "Bob's last 3 plays, newest first",
                "**1.** Radiohead – Airbag — just now\n"
                "**2.** Radiohead — just now\n"
                "**3.** Radiohead — just now",
            )
            fields = [
                ("Plays", "3"),
                ("Artists", "1"),
                ("Tracks", "1"),
                ("Member since", "2026-11-20"),
                ("Current streak", "1 day"),
                ("Longest streak", "1 day"),
                ("Top artist", "Radiohead"),
                ("Closest neighbour", "— (comes with the next retrain)"),
            ]
            assert await public(fake, "profile", {}, users=bob) == embed(
                "Bob's profile", fields=[{"inline": True, "name": k, "value": v} for k, v in fields]
            )
            # Without the option, or with oneself: the asker's own, named (the channel reads it).
            assert (await public(fake, "profile", {}))["title"] == "Ada's profile"
            assert (await public(fake, "top", {}, users={"member": (ADA, "ada")}))["title"] == (
                "Ada's top artists — all time"
            )
            # A user who never played here: the service's refusal, only to the asker.
            content = await refused(fake, "recent", {}, users={"member": (DAN, "dan")})
            assert content == "Sorry — That member has not logged any plays here yet."

    run(scenario())


def test_a_member_without_plays_gets_a_friendly_line(service: Service, settings: Settings) -> None:
    crew(service)
    service.privacy(member(DAN), "public")  # Dan is known here, without a play

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            for name, title in (("profile", "Dan's profile"), ("recent", "Dan's plays"), ("top", None)):
                shown = await public(fake, name, {}, user=DAN, nick="Dan")
                assert shown["description"] == "Dan has no plays here yet: log one with /played."
                assert "fields" not in shown
                if title:
                    assert shown["title"] == title
            shown = await public(fake, "profile", {}, users={"member": (DAN, "dan")})
            assert shown == embed("Dan's profile", "Dan has no plays here yet.")
            shown = await public(fake, "top", {"period": "30d"}, user=DAN, nick="Dan")
            assert shown["description"] == "Dan has no plays in the last 30 days."
            shown = await public(fake, "whoknows", {"what": "Mogwai"})
            assert shown == embed("Who knows Mogwai?", "Nobody here has played Mogwai yet.")

    run(scenario())


def test_names_never_ping_and_markdown_is_shown_as_typed(service: Service, settings: Settings) -> None:
    service.played(member(BOB, name="@everyone"), "<@&123456789012345678> *ping*")
    service.played(member(CAT, name="**Cat** <@700000000000000001>"), "<@&123456789012345678> *ping*")
    service.privacy(member(BOB, name="@everyone"), "private")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "whoknows", {"what": "<@&123456789012345678> *ping*"})
            assert shown["title"] == "Who knows <@\u200b&123456789012345678> \\*ping\\*?"
            # A tie (same plays, same time): either may come first.
            assert sorted(line.split(" ", 1)[1] for line in shown["description"].splitlines()) == [
                "\\*\\*Cat\\*\\* <@\u200b700000000000000001> — 1 play, last played just now",
                "a private member — 1 play",
            ]
            shown = await public(fake, "profile", {}, users={"member": (CAT, "cat")})
            assert shown["title"] == "\\*\\*Cat\\*\\* <@\u200b700000000000000001>'s profile"
            content = await refused(fake, "recent", {}, users={"member": (BOB, "everyone")})
            assert content == "Sorry — @\u200beveryone keeps their listening private."

    run(scenario())


def test_limits_with_25_long_names(service: Service, settings: Settings) -> None:
    artist = "*_" * 99  # 198 characters, each escaped to two
    for n in range(25):
        who = member(str(700000000000001000 + n), name=f"{n:02}" + "_*" * 99)
        track = f"{artist} - {'~' * 196}{n:02}"
        for _ in range(1 if n == 24 else 2):  # the last member has the fewest plays: rank 25
            service.played(who, track)
        service.played(who, f"{artist}{n:02}")
    asker = str(700000000000001024)

    def within(shown: dict[str, Any]) -> None:
        assert len(shown.get("title", "")) <= EMBED_TITLE_LIMIT
        assert len(shown.get("description", "")) <= EMBED_DESCRIPTION_LIMIT
        assert all(len(f["value"]) <= 1024 for f in shown.get("fields", []))
        size = len(shown.get("title", "")) + len(shown.get("description", ""))
        size += len(shown.get("footer", {}).get("text", ""))
        size += sum(len(f["name"]) + len(f["value"]) for f in shown.get("fields", []))
        assert size <= 6000

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "whoknows", {"what": artist}, user=asker)
            within(shown)
            ranks = [line.split(" ", 1)[0] for line in shown["description"].splitlines()]
            assert ranks == [f"**{n}.**" for n in range(1, 11)] + ["…", "**25.**"]  # every row fits
            assert shown["footer"] == {"text": "25 listeners, 49 plays in all"}
            within(await public(fake, "whoknows", {"what": f"{artist} - {'~' * 196}03"}, user=asker))
            for name in ("top", "recent", "profile"):
                within(await public(fake, name, {}, user=asker))
            within(await public(fake, "top", {"kind": "tracks"}, user=asker))

    run(scenario())


def test_two_guilds_never_mix(service: Service, settings: Settings) -> None:
    service.played(member(ADA), "Radiohead")
    service.played(member(BOB, GUILD_B, "Bea"), "Radiohead")
    service.played(member(BOB, GUILD_B, "Bea"), "Mogwai")

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "whoknows", {"what": "mogwai"})
            assert shown["description"] == "Nobody here has played mogwai yet."
            shown = await public(fake, "whoknows", {"what": "radiohead"})
            assert shown["description"] == "**1.** **Ada** — 1 play, last played just now"
            assert shown["footer"] == {"text": "1 listener, 1 play in all"}
            content = await refused(fake, "profile", {}, users={"member": (BOB, "bea")})
            assert content == "Sorry — That member has not logged any plays here yet."
            shown = await public(fake, "whoknows", {"what": "radiohead"}, guild=GUILD_B, user=BOB)
            assert "Ada" not in str(shown)

    run(scenario())


def test_help_is_ephemeral_and_generated_from_the_service(service: Service, settings: Settings) -> None:
    async def scenario() -> dict[str, Any]:
        async with running_bot(service, settings) as fake:
            payload = command_interaction("help", {}, guild_id=GUILD_A)
            (answer,) = await send(fake, payload, answers=1)
            assert answer.json["type"] == 4  # answered at once: no database
            data = answer.json["data"]
            assert data["flags"] == 64 and data["allowed_mentions"] == {"parse": []}
            return dict(data["embeds"][0])

    shown = run(scenario())
    assert shown["title"] == "tastemaker — log what you listen to, see what your server is into."
    text = shown["description"]
    for entry in service.help():
        if entry.command in ("played", "recommend", "taste", "top", "link", "unlink", "digest"):
            continue  # Discord's own shape of these
        assert f"`/{entry.command}" in text, entry.command
        if entry.example:
            assert f"(e.g. `/{entry.command} {entry.example}`)" in text
    assert "`/played artist:<…> [track:<…>]` — log a play" in text
    assert (
        "`/recommend [kind:artists|tracks] [count:n] [reset_hidden:True]` — picks for you, each with its "
        "reason and 👍 / 👎 (👎 hides it; reset_hidden brings them back) "
        "(e.g. `/recommend kind:tracks count:5`)"
    ) in text
    assert (
        "`/top [kind:artists|tracks] [period:7d|30d|year|all] [member:@…] [chart:True]` — a member's own "
        "chart (chart: as a picture too) (e.g. `/top kind:tracks period:30d chart:True`)"
    ) in text
    assert "`/tastemaker digest here|off|status` — the daily digest in this channel (Manage Server)" in text
    assert "`/whoknows <artist | artist - title>` — who here plays it most (e.g. `/whoknows Björk`)" in text
    assert (
        "`/link source:ListenBrainz|Last.fm user:<user name>` — link your ListenBrainz or Last.fm account "
        "here: its plays arrive by themselves (e.g. `/link source:ListenBrainz user:rob`)"
    ) in text
    assert (
        "`/unlink [source:…] [plays:keep|delete]` — stop syncing a linked account; its synced plays stay "
        "(keep, the default) or go (delete) (e.g. `/unlink source:Last.fm plays:delete`)"
    ) in text
