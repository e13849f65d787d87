"""/link, /unlink, /links and the own /profile's linked accounts, end to end: the real client against the
fake Discord, slash commands (choices as Discord sends their values) delivered over the gateway, the
exact HTTP asserted. Real service and SQLite file; the sync runs against the loopback ListenBrainz
and Last.fm fakes (linking itself fetches nothing)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.platforms.discord.sync import sync_commands_async
from bot.service import Service, Who
from config.settings import Settings
from storage.db import Database
from tests.conftest import Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.platforms.discord.harness import (
    ADA,
    BOB,
    GUILD_A,
    GUILD_B,
    fake_settings,
    run,
    running_bot,
    send,
)
from tests.platforms.fake_discord import APP_ID, FakeDiscord, command_interaction
from tests.sync.conftest import T0, run_sync

COLOR = 0x8B5CF6
TITLE = "Your linked accounts here"
LINKED_ROB = (
    "Linked your ListenBrainz account rob. Its listening history is copied into your plays here over "
    "the next syncs, then its new listens as they come; they count like the plays you log. "
    "`/links` shows how far it is."
)
NO_LINKS = (
    "You have no ListenBrainz or Last.fm account linked here. Link one and its plays arrive by themselves: "
    "`/link source:ListenBrainz user:<user name>` or `/link source:Last.fm user:<user name>`."
)
FOOTER_LB = (
    "Their plays count here like the ones you log. `/unlink source:ListenBrainz plays:keep` stops syncing "
    "it and keeps its plays; `/unlink source:ListenBrainz plays:delete` removes them too."
)
PROFILE_NOTE = "Only you see this: your profile in the channel leaves your linked accounts out."


def member(user: str, guild: str = GUILD_A) -> Who:
    return Who("discord", guild, user, community_name="Guild A", member_name="Ada" if user == ADA else "Bob")


def embed(title: str, description: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"flags": 0, "color": COLOR, "type": "rich", "title": title, **more}
    if description is not None:
        out["description"] = description
    return out


def notice(text: str) -> dict[str, Any]:
    return {"name": "Notice", "value": text, "inline": False}


def _listens(n: int) -> list[FakeListen]:
    return [FakeListen(T0 + 60 * k, f"Artist {k % 5}", f"Song {k}") for k in range(n)]


async def private(
    fake: FakeDiscord, name: str, options: dict[str, Any], *, user: str = ADA, guild: str = GUILD_A
) -> dict[str, Any]:
    """Exactly: an ephemeral defer, then one ephemeral followup (no mentions). Returns its body."""
    payload = command_interaction(name, options, guild_id=guild, user_id=user)
    reqs = await send(fake, payload)
    token = payload["token"]
    assert [(r.method, r.path) for r in reqs] == [
        ("POST", f"/interactions/{payload['id']}/{token}/callback"),
        ("POST", f"/webhooks/{APP_ID}/{token}"),
    ]
    assert reqs[0].json == {"type": 5, "data": {"flags": 64}}
    body = reqs[1].json
    assert body["flags"] == 64 and body["allowed_mentions"] == {"parse": []}
    await asyncio.sleep(0.05)
    assert len(fake.for_interaction(payload)) == 2  # nothing trails in
    return dict(body)


async def shown(fake: FakeDiscord, name: str, options: dict[str, Any], **kw: Any) -> dict[str, Any]:
    body = await private(fake, name, options, **kw)
    (only,) = body["embeds"]
    return dict(only)


async def profile(fake: FakeDiscord, *, user: str = ADA, follow: bool) -> tuple[dict[str, Any], Any]:
    """/profile: the defer, the public profile and (``follow``) an ephemeral followup with the
    member's own linked accounts. Returns the public embed and the private one (or None)."""
    payload = command_interaction("profile", {}, guild_id=GUILD_A, user_id=user)
    reqs = await send(fake, payload, answers=3 if follow else 2)
    await asyncio.sleep(0.1)
    reqs = fake.for_interaction(payload)
    token = payload["token"]
    webhook = ("POST", f"/webhooks/{APP_ID}/{token}")
    expected = [("POST", f"/interactions/{payload['id']}/{token}/callback"), webhook]
    assert [(r.method, r.path) for r in reqs] == expected + ([webhook] if follow else [])
    assert reqs[0].json == {"type": 5}
    assert not reqs[1].json.get("flags")  # the profile is public
    if not follow:
        return reqs[1].json["embeds"][0], None
    assert reqs[2].json["flags"] == 64 and reqs[2].json["allowed_mentions"] == {"parse": []}
    return reqs[1].json["embeds"][0], reqs[2].json["embeds"][0]


def test_link_links_and_unlink_answer_only_the_member(
    linker: Service, settings: Settings, clock: Clock
) -> None:
    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            assert await shown(fake, "links", {}) == embed(TITLE, NO_LINKS)
            linked = await shown(fake, "link", {"source": "listenbrainz", "user": "rob"})
            assert linked == embed("Account linked", LINKED_ROB)
            clock.advance(minutes=4)
            line = "ListenBrainz: rob — linked 4 min ago, waiting for its first sync"
            assert await shown(fake, "links", {}) == embed(TITLE, f"{line}\n{FOOTER_LB}")
            already = await shown(
                fake, "link", {"source": "listenbrainz", "user": "https://listenbrainz.org/user/ROB"}
            )
            assert already == embed(
                "Already linked",
                "Your ListenBrainz account rob is already linked here: linked 4 min ago, waiting for its "
                "first sync.",
            )
            kept = (
                "Unlinked your ListenBrainz account rob: no new listens arrive from it. The plays it synced "
                "stay in your history, like imported plays. To remove them as well, link it again and "
                "unlink it with delete: `/link source:ListenBrainz user:rob`, then "
                "`/unlink source:ListenBrainz plays:delete`."
            )
            assert await shown(fake, "unlink", {}) == embed("Account unlinked", kept)
            body = await private(fake, "unlink", {"plays": "delete"})
            assert body["content"] == "Sorry — You have no ListenBrainz or Last.fm account linked here."
            # Crafted values (not one of the choices): the friendly refusal, nothing stored.
            body = await private(fake, "link", {"source": "spotify", "user": "rob"})
            assert (
                body["content"]
                == "Sorry — “spotify” is not a service I can link: use listenbrainz or lastfm."
            )
            body = await private(fake, "unlink", {"plays": "maybe"})
            assert (
                body["content"] == "Sorry — “maybe” is not a choice for the synced plays: use keep or delete."
            )
            body = await private(fake, "link", {"source": "listenbrainz", "user": "x" * 201})
            assert body["content"] == "Sorry — That user name is too long (at most 200 characters)."
        assert linker.links(member(ADA)) == []

    run(scenario())


def test_names_are_escaped_and_never_ping(linker: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            linked = await shown(fake, "link", {"source": "listenbrainz", "user": "@everyone_*x*"})
            # The service drops a leading "@"; markdown is shown as typed.
            assert linked["description"].startswith("Linked your ListenBrainz account everyone\\_\\*x\\*. ")
            kept = await shown(fake, "unlink", {"source": "listenbrainz"})
            # In the command (code), markdown is literal: the name as typed.
            assert "`/link source:ListenBrainz user:everyone_*x*`" in kept["description"]
            assert kept["description"].startswith("Unlinked your ListenBrainz account everyone\\_\\*x\\*: ")

    run(scenario())


def test_a_lastfm_link_without_the_operators_key_is_refused(
    db: Database, settings: Settings, clock: Clock
) -> None:
    service = Service(db, settings.model_copy(update={"lastfm_api_key": None}), clock=clock)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            body = await private(fake, "link", {"source": "lastfm", "user": "robfm"})
            assert body["content"] == (
                "Sorry — Last.fm accounts cannot be linked on this bot yet: its operator has to set "
                "LASTFM\\_API\\_KEY."
            )

    run(scenario())
    assert service.links(member(ADA)) == []


def test_two_guilds_never_see_each_others_links(linker: Service, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            await shown(fake, "link", {"source": "listenbrainz", "user": "rob"})
            assert await shown(fake, "links", {}, guild=GUILD_B) == embed(TITLE, NO_LINKS)
            body = await private(fake, "unlink", {}, guild=GUILD_B)
            assert body["content"] == "Sorry — You have no ListenBrainz or Last.fm account linked here."
            body = await private(fake, "link", {"source": "listenbrainz", "user": "Rob"}, user=BOB)
            assert body["content"] == "Sorry — Another member here has linked the ListenBrainz account “Rob”."
            # The same account in the other guild is that guild's own link.
            linked = await shown(
                fake, "link", {"source": "listenbrainz", "user": "rob"}, user=BOB, guild=GUILD_B
            )
            assert linked == embed("Account linked", LINKED_ROB)

    run(scenario())
    assert [s.account for s in linker.links(member(BOB, GUILD_B))] == ["rob"]
    assert linker.links(member(BOB)) == []


def test_unlink_delete_removes_the_synced_plays(
    db: Database,
    linker: Service,
    settings: Settings,
    sync_settings: Settings,
    lb: FakeListenBrainz,
    clock: Clock,
) -> None:
    lb.add_user("rob", _listens(25))
    linker.played(member(ADA), "Typed Band - Typed Song")

    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            await shown(fake, "link", {"source": "listenbrainz", "user": "rob"})
            await asyncio.to_thread(run_sync, db, sync_settings, clock)
            clock.advance(hours=2)
            line = "ListenBrainz: rob — last synced 2 h ago, 25 plays"
            assert await shown(fake, "links", {}) == embed(TITLE, f"{line}\n{FOOTER_LB}")
            assert linker.profile(member(ADA)).plays == 26
            removed = await shown(fake, "unlink", {"source": "listenbrainz", "plays": "delete"})
            assert removed == embed(
                "Account unlinked",
                "Unlinked your ListenBrainz account rob: no new listens arrive from it. The 25 plays it "
                "synced are removed from your history. Linking it again "
                "(`/link source:ListenBrainz user:rob`) brings its whole history back.",
            )

    run(scenario())
    assert [p.what for p in linker.my_plays(member(ADA))] == ["Typed Band – Typed Song"]
    assert linker.profile(member(ADA)).plays == 1


def test_the_own_profile_leaves_the_links_out_and_sends_them_privately_with_a_notice_once(
    db: Database, linker: Service, settings: Settings, sync_settings: Settings, lfm: FakeLastfm, clock: Clock
) -> None:
    linker.played(member(ADA), "Radiohead")
    linker.played(member(BOB), "Radiohead")
    lfm.add_user("shy_ada", [Scrobble(T0, "A", "B")])
    lfm.private.add("shy_ada")

    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            public, _ = await profile(fake, follow=False)  # nothing linked: the profile alone
            assert public["title"] == "Ada's profile"
            await shown(fake, "link", {"source": "lastfm", "user": "shy_ada"})
            await asyncio.to_thread(run_sync, db, sync_settings, clock)
            public, mine = await profile(fake, follow=True)
            assert public["title"] == "Ada's profile" and "shy" not in str(public)
            line = (
                "Last.fm: shy\\_ada — the account hides its listening, so nothing new arrives; "
                "nothing synced yet"
            )
            told = (
                "Your Last.fm account “shy\\_ada” hides its recent listening, so its listens stopped "
                "arriving here. Untick “Hide recent listening information” in Last.fm's privacy settings "
                "and they come back within a day, by themselves."
            )
            assert mine == embed(TITLE, line, footer={"text": PROFILE_NOTE}, fields=[notice(told)])
            _, mine = await profile(fake, follow=True)  # told once
            assert mine == embed(TITLE, line, footer={"text": PROFILE_NOTE})
            assert "fields" not in await shown(fake, "links", {})
            # Bob asking for Ada's profile: no accounts, no followup.
            payload = command_interaction(
                "profile", {}, guild_id=GUILD_A, user_id=BOB, users={"member": (ADA, "ada")}
            )
            await send(fake, payload)
            await asyncio.sleep(0.1)
            reqs = fake.for_interaction(payload)
            assert len(reqs) == 2 and "shy" not in str(reqs[1].json)

    run(scenario())


def test_a_notice_comes_with_the_next_link_answer(
    db: Database, linker: Service, settings: Settings, sync_settings: Settings, clock: Clock
) -> None:
    async def scenario() -> None:
        async with running_bot(linker, settings) as fake:
            await shown(fake, "link", {"source": "listenbrainz", "user": "nobody_here"})
            await asyncio.to_thread(run_sync, db, sync_settings, clock)
            answer = await shown(fake, "links", {})
            assert answer["fields"] == [
                notice(
                    "ListenBrainz says there is no account “nobody\\_here” (any more), so its listens "
                    "stopped arriving here. If you renamed it, unlink it and link the new name with "
                    "/link listenbrainz <name>."
                )
            ]
            assert answer["description"].startswith(
                "ListenBrainz: nobody\\_here — ListenBrainz has no such account (any more), so nothing new "
                "arrives; nothing synced yet\n"
            )
            assert "fields" not in await shown(fake, "links", {})

    run(scenario())


def test_the_commands_are_registered_with_their_choices(settings: Settings) -> None:
    async def scenario() -> dict[str, Any]:
        fake = FakeDiscord()
        await fake.start()
        try:
            await sync_commands_async(fake_settings(settings, fake), GUILD_A)
            (put,) = [r for r in fake.requests if r.method == "PUT"]
            return {c["name"]: c for c in put.json}
        finally:
            await fake.stop()

    by_name = run(scenario())
    source, user = by_name["link"]["options"]
    assert (source["name"], source["type"], source["required"]) == ("source", 3, True)
    assert source["choices"] == [
        {"name": "ListenBrainz", "value": "listenbrainz"},
        {"name": "Last.fm", "value": "lastfm"},
    ]
    assert (user["name"], user["required"], user["min_length"], user["max_length"]) == ("user", True, 1, 200)
    source, plays = by_name["unlink"]["options"]
    assert (source["name"], source["required"], len(source["choices"])) == ("source", False, 2)
    assert (plays["name"], plays["required"]) == ("plays", False)
    assert [c["value"] for c in plays["choices"]] == ["keep", "delete"]
    assert by_name["links"]["options"] == []
    for name in ("link", "unlink", "links"):
        assert by_name[name]["default_member_permissions"] is None
        assert by_name[name]["contexts"] == [0]
