"""/neighbours, /similar and /taste, end to end: the real client against the fake Discord, slash
commands delivered over the gateway, the exact HTTP asserted. Real service, real SQLite file; the
retrain's output (member vectors, taste neighbours, similar items) is written as a generation through
:func:`storage.recs.write_generation`, the way the engine writes it, so every answer is known exactly.

Guild A: Ada (Radiohead 3, Björk 1, Air 1), Bob (Radiohead 2, Björk 2, Mogwai 1), Cat (Björk 1,
Portishead 2), Dan (Radiohead 4, private). Guild B: Bea (Radiohead 1, Gamma Band 3). The stored
generation ties Ada to Dan, Bea, Bob and Cat, and Radiohead to Mogwai, Gamma Band and Portishead: Dan
(private) and Bea and Gamma Band (guild B only) must never show in guild A.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.platforms.discord.embeds import TRY_NAME_LIMIT, fit
from bot.service import Service
from config.settings import Settings
from storage import catalog, recs, taste
from storage.db import Database
from storage.names import normalise
from tests.conftest import Clock
from tests.platforms.discord.harness import ADA, BOB, GUILD_A, GUILD_B, run, running_bot, send
from tests.platforms.discord.test_member_commands import CAT, DAN, embed, member, public, refused
from tests.platforms.fake_discord import command_interaction

EVE = "700000000000000005"  # Bea, in guild B only
FAY = "700000000000000006"  # known in guild A, without a play
HOSTILE = "@everyone **loud** <@700000000000000002>"
HOSTILE_SHOWN = "@\u200beveryone \\*\\*loud\\*\\* <@\u200b700000000000000002>"  # as typed, defused
MATCH = "Match: how alike your listening is, by the recommender's model (as of the last retrain)."

Member = tuple[str, str]  # (guild, user)


def listen(service: Service) -> None:
    plays = {
        (GUILD_A, ADA, "Ada"): ["Radiohead"] * 3 + ["Björk", "Air"],
        (GUILD_A, BOB, "Bob"): ["Radiohead"] * 2 + ["Björk"] * 2 + ["Mogwai - Hunted By A Freak"],
        (GUILD_A, CAT, "Cat"): ["Björk"] + ["Portishead"] * 2,
        (GUILD_A, DAN, "Dan"): ["Radiohead"] * 4,
        (GUILD_B, EVE, "Bea"): ["Radiohead"] + ["Gamma Band"] * 3,
    }
    for (guild, user, name), texts in plays.items():
        for text in texts:
            service.played(member(user, guild, name), text)
    service.privacy(member(DAN), "private")


def train(
    db: Database,
    clock: Clock,
    vectors: dict[Member, list[float]],
    neighbours: dict[Member, list[tuple[Member, float]]],
    similar: dict[tuple[str, str], list[str]],
) -> None:
    """Write an active artist generation: the members' user vectors, their stored neighbours (in
    order) and each ``(guild, artist)``'s similar artists (in order), as a retrain would."""
    with db.read() as conn:

        def member_of(m: Member) -> int:
            community = catalog.find_community(conn, "discord", m[0])
            found = catalog.find_member(conn, community, m[1]) if community is not None else None
            assert found is not None, m
            return found

        def artist(name: str) -> int:
            found = catalog.find_artist(conn, normalise(name))
            assert found is not None, name
            return found.id

        def community(guild: str) -> int:
            found = catalog.find_community(conn, "discord", guild)
            assert found is not None
            return found

        users = [member_of(m) for m in vectors]
        near = [
            (member_of(m), rank, member_of(other), score)
            for m, rows in neighbours.items()
            for rank, (other, score) in enumerate(rows, 1)
        ]
        alike = [
            (community(guild), artist(name), rank, artist(other), 0.9 - rank / 10)
            for (guild, name), others in similar.items()
            for rank, other in enumerate(others, 1)
        ]
        # The item factors: every artist the trained members play (the picks are not asked for).
        items = sorted({a for plays in taste.artist_plays(conn, users).values() for a in plays})
    model = recs.GenerationData(
        rank=3,
        reg_param=0.1,
        alpha=2.0,
        conf_scale=1.0,
        item_ids=items,
        factors=np.eye(len(items), 3, dtype=np.float32),
        popularity=[1.0] * len(items),
        user_ids=users,
        user_factors=np.array(list(vectors.values()), dtype=np.float32),
    )
    recs.write_generation(
        db,
        kind="artist",
        last_play_id=10**6,
        model=model,
        picks=[],
        neighbours=near,
        similar=alike,
        now=clock(),
    )


def trained(db: Database, clock: Clock) -> None:
    """Ada, Bob, Cat, Dan and Bea known to the model; Ada's neighbours: Dan (private), Bea (another
    guild: a row no retrain writes, to show the service's guard), Bob, Cat."""
    a = (GUILD_A, ADA)
    train(
        db,
        clock,
        vectors={
            a: [1.0, 0.0, 0.0],
            (GUILD_A, BOB): [0.6, 0.8, 0.0],  # cosine with Ada: 0.6
            (GUILD_A, CAT): [0.28, 0.0, 0.96],  # 0.28
            (GUILD_A, DAN): [1.0, 0.0, 0.0],
            (GUILD_B, EVE): [1.0, 0.0, 0.0],
        },
        neighbours={
            a: [((GUILD_A, DAN), 1.0), ((GUILD_B, EVE), 0.99), ((GUILD_A, BOB), 0.6), ((GUILD_A, CAT), 0.28)],
            (GUILD_B, EVE): [(a, 1.0)],
        },
        similar={(GUILD_A, "Radiohead"): ["Mogwai", "Gamma Band", "Portishead"]},
    )


def fields(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"inline": False, "name": k, "value": v} for k, v in pairs]


def test_neighbours_similar_and_taste(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    listen(service)
    trained(db, clock)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            assert await public(fake, "neighbours", {}, nick="Ada") == embed(
                "Ada's closest listeners here",
                "**1.** Bob — 60% match · both play Radiohead, Björk\n"
                "**2.** Cat — 28% match · both play Björk",
                footer={"text": MATCH},
            )
            assert await public(fake, "similar", {"what": "radiohead"}) == embed(
                "Artists like Radiohead, from this community's listening", "**1.** Mogwai\n**2.** Portishead"
            )
            assert await public(fake, "taste", {}, nick="Ada", users={"member": (BOB, "bob")}) == embed(
                "Ada and Bob: taste compared",
                fields=fields(
                    (
                        "Model match",
                        "60% — how alike your listening is, by the recommender's model "
                        "(as of the last retrain)",
                    ),
                    ("Overlap", "43% — how much of both your plays go to the same artists"),
                    ("2 artists in common", "Radiohead — Ada 3, Bob 2\nBjörk — Ada 1, Bob 2"),
                    ("Ada could try (from Bob)", "Mogwai"),
                    ("Bob could try (from Ada)", "Air"),
                ),
            )
            # Cat's side: her only shared artist, what each could try, both ways.
            shown = await public(fake, "taste", {}, user=CAT, nick="Cat", users={"member": (ADA, "ada")})
            assert shown["fields"][2:] == fields(
                ("1 artist in common", "Björk — Cat 1, Ada 1"),
                ("Cat could try (from Ada)", "Radiohead, Air"),
                ("Ada could try (from Cat)", "Portishead"),
            )
            assert shown["fields"][0]["value"].startswith("28% — ")
            # Guild B: Bea's only stored neighbour is in guild A, and never shown.
            shown = await public(fake, "neighbours", {}, guild=GUILD_B, user=EVE, nick="Bea")
            assert shown == embed(
                "Bea's closest listeners here",
                "Nobody here is close enough to your taste yet (or they keep it private).",
            )
            shown = await public(fake, "similar", {"what": "Gamma Band"})
            assert shown == embed(
                "Artists like Gamma Band, from this community's listening",
                "Nobody here has played Gamma Band yet.",
            )

    run(scenario())


def test_refusals_are_friendly_and_only_for_the_asker(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    listen(service)
    service.privacy(member(FAY, name="Fay"), "public")  # Fay is known in guild A, without a play
    trained(db, clock)

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            for user, text in (
                (ADA, "Sorry — Name another member of this community to compare your taste with."),
                (DAN, "Sorry — Dan keeps their listening private."),
                (FAY, "Sorry — That member has not logged any plays here yet."),
                ("700000000000000009", "Sorry — That member has not logged any plays here yet."),
            ):
                assert await refused(fake, "taste", {}, users={"member": (user, "x")}) == text, user
            # Bea of guild B: in guild A nobody knows her (her plays there never count here).
            content = await refused(fake, "taste", {}, user=BOB, users={"member": (EVE, "bea")})
            assert content == "Sorry — That member has not logged any plays here yet."
            # Asking without a play here yet.
            shown = await public(fake, "neighbours", {}, user="700000000000000009", nick="Gus")
            assert shown == embed(
                "Gus's closest listeners here",
                "You have not logged any plays here yet. Log a few with /played.",
            )
            shown = await public(fake, "taste", {}, user=FAY, nick="Fay", users={"member": (BOB, "bob")})
            assert shown == embed(
                "Fay and Bob: taste compared",
                fields=fields(
                    ("Model match", "— (You have not logged any plays here yet. Log a few with /played.)"),
                    ("Overlap", "0% — how much of both your plays go to the same artists"),
                    ("In common", "No artists in common yet."),
                    ("Fay could try (from Bob)", "Radiohead, Björk, Mogwai"),
                ),
            )
            # Blank or crafted option values: refused before any work, only to the asker.
            for what, text in (
                ("  ", "Sorry — Which artist or track? Try `/similar what:Radiohead`."),
                ("x" * 404, "Sorry — That artist or track is too long (at most 403 characters)."),
            ):
                payload = command_interaction("similar", {"what": what}, guild_id=GUILD_A)
                (answer,) = await send(fake, payload, answers=1)
                assert answer.json["type"] == 4
                assert answer.json["data"]["flags"] == 64
                assert answer.json["data"]["allowed_mentions"] == {"parse": []}
                assert answer.json["data"]["content"] == text

    run(scenario())


def test_before_any_retrain(service: Service, settings: Settings) -> None:
    listen(service)
    no_model = "No taste model has been trained yet: this comes with the next retrain."

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "neighbours", {}, nick="Ada")
            assert shown == embed("Ada's closest listeners here", no_model)
            shown = await public(fake, "similar", {"what": "Radiohead - Airbag"})
            assert shown == embed(
                "Tracks like Radiohead – Airbag, from this community's listening",
                "Nobody here has played Radiohead – Airbag yet.",
            )
            shown = await public(fake, "similar", {"what": "Mogwai - Hunted By A Freak"})
            assert shown == embed(
                "Tracks like Mogwai – Hunted By A Freak, from this community's listening", no_model
            )
            shown = await public(fake, "taste", {}, nick="Ada", users={"member": (BOB, "bob")})
            assert shown["fields"][:2] == fields(
                ("Model match", f"— ({no_model})"),
                ("Overlap", "43% — how much of both your plays go to the same artists"),
            )

    run(scenario())


def test_a_member_the_model_does_not_know(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    listen(service)
    train(db, clock, vectors={(GUILD_A, BOB): [1.0, 0.0, 0.0]}, neighbours={}, similar={})

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "neighbours", {}, nick="Ada")
            assert shown["description"] == (
                "The model does not know your taste yet: it learns from plays logged before its last retrain."
            )
            shown = await public(fake, "taste", {}, nick="Ada", users={"member": (BOB, "bob")})
            assert shown["fields"][0] == {
                "inline": False,
                "name": "Model match",
                "value": "— (The model does not know both of you yet: it learns from plays logged before a "
                "retrain.)",
            }
            shown = await public(fake, "similar", {"what": "Björk"})
            assert shown["description"] == (
                "Not enough to go on yet: similar artists come from what at least two members here have "
                "played, Björk included (as of the last retrain)."
            )

    run(scenario())


def test_hostile_names_are_shown_as_typed_and_never_ping(
    service: Service, settings: Settings, db: Database, clock: Clock
) -> None:
    for user, name in ((ADA, "Ada"), (BOB, "**Bob** <@700000000000000001>")):
        service.played(member(user, name=name), HOSTILE)
        service.played(member(user, name=name), "Radiohead")
    service.played(member(BOB, name="**Bob** <@700000000000000001>"), "Mogwai")
    train(
        db,
        clock,
        vectors={(GUILD_A, ADA): [1.0, 0.0, 0.0], (GUILD_A, BOB): [1.0, 0.0, 0.0]},
        neighbours={(GUILD_A, ADA): [((GUILD_A, BOB), 1.0)]},
        similar={(GUILD_A, HOSTILE): ["Radiohead"], (GUILD_A, "Radiohead"): [HOSTILE]},
    )
    bob = "\\*\\*Bob\\*\\* <@\u200b700000000000000001>"

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "neighbours", {}, nick="@here")
            assert shown["title"] == "@\u200bhere's closest listeners here"
            # Equal plays in common: the artist with the lower id (logged first) comes first.
            assert shown["description"] == f"**1.** {bob} — 100% match · both play {HOSTILE_SHOWN}, Radiohead"
            shown = await public(fake, "similar", {"what": HOSTILE})
            assert shown == embed(
                f"Artists like {HOSTILE_SHOWN}, from this community's listening", "**1.** Radiohead"
            )
            shown = await public(fake, "similar", {"what": "radiohead"})
            assert shown["description"] == f"**1.** {HOSTILE_SHOWN}"
            shown = await public(fake, "similar", {"what": "<@700000000000000002> **x**"})
            assert (
                shown["description"]
                == "Nobody here has played <@\u200b700000000000000002> \\*\\*x\\*\\* yet."
            )
            shown = await public(fake, "taste", {}, nick="Ada", users={"member": (BOB, "bob")})
            assert shown["title"] == f"Ada and {bob}: taste compared"
            assert shown["fields"][2:] == fields(
                ("2 artists in common", f"{HOSTILE_SHOWN} — Ada 1, {bob} 1\nRadiohead — Ada 1, {bob} 1"),
                ("Ada could try (from " + bob + ")", "Mogwai"),
            )

    run(scenario())


def test_limits_with_long_names(service: Service, settings: Settings, db: Database, clock: Clock) -> None:
    """Eleven members and fifteen artists with 200-character names that escape to twice that: every
    neighbour, every similar artist and every shared artist still gets its line, within Discord's
    limits."""
    users = [str(700000000000002000 + n) for n in range(11)]
    names = {u: f"{n:02}" + "_*" * 99 for n, u in enumerate(users)}
    artists = [f"{k:02}" + "*_" * 99 for k in range(15)]
    for n, user in enumerate(users):
        mine = artists[:12] + ([artists[12]] if n == 0 else artists[13:] if n == 1 else [])
        for artist in mine:
            service.played(member(user, name=names[user]), artist)
    me = (GUILD_A, users[0])
    train(
        db,
        clock,
        vectors={(GUILD_A, u): [1.0, 0.0, 0.0] for u in users},
        neighbours={me: [((GUILD_A, u), 1.0 - n / 100) for n, u in enumerate(users[1:], 1)]},
        similar={(GUILD_A, artists[0]): artists[1:11]},
    )

    def within(shown: dict[str, Any]) -> None:
        assert len(shown["title"]) <= 256 and len(shown.get("description", "")) <= 4096
        assert len(shown.get("fields", [])) <= 25
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in shown.get("fields", []))
        size = len(shown["title"]) + len(shown.get("description", ""))
        size += len(shown.get("footer", {}).get("text", ""))
        size += sum(len(f["name"]) + len(f["value"]) for f in shown.get("fields", []))
        assert size <= 6000

    async def scenario() -> None:
        async with running_bot(service, settings) as fake:
            shown = await public(fake, "neighbours", {}, user=users[0], nick=names[users[0]])
            within(shown)
            lines = shown["description"].splitlines()
            assert [line.split(" ", 1)[0] for line in lines] == [f"**{n}.**" for n in range(1, 11)]
            assert all(line.count("…") == 4 for line in lines)  # each name shortened, none dropped
            assert lines[0].startswith("**1.** 01\\_\\*") and " — 99% match · both play 00\\*\\_" in lines[0]
            shown = await public(fake, "similar", {"what": artists[0]})
            within(shown)
            lines = shown["description"].splitlines()
            assert [line[: len(f"**{n}.** {n:02}")] for n, line in enumerate(lines, 1)] == [
                f"**{n}.** {n:02}" for n in range(1, 11)
            ]
            shown = await public(
                fake, "taste", {}, user=users[0], nick=names[users[0]], users={"member": (users[1], "x")}
            )
            within(shown)
            assert [f["name"] for f in shown["fields"]][:3] == [
                "Model match",
                "Overlap",
                "12 artists in common (the top 10)",
            ]
            assert len(shown["fields"][2]["value"].splitlines()) == 10
            assert [f["value"] for f in shown["fields"][3:]] == [
                ", ".join(fit_name(a) for a in artists[13:]),
                fit_name(artists[12]),
            ]

    run(scenario())


def fit_name(text: str) -> str:
    """An artist name as /taste's "could try" fields show it."""
    return fit(text, TRY_NAME_LIMIT)


def test_help_lists_them_the_discord_way(service: Service, settings: Settings) -> None:
    async def scenario() -> str:
        async with running_bot(service, settings) as fake:
            payload = command_interaction("help", {}, guild_id=GUILD_A)
            (answer,) = await send(fake, payload, answers=1)
            assert answer.json["data"]["flags"] == 64
            return str(answer.json["data"]["embeds"][0]["description"])

    lines = run(scenario()).splitlines()
    assert lines[9:12] == [
        "`/neighbours` — the members here whose taste is closest to yours",
        "`/taste member:<@member>` — compare your taste with another member's (e.g. `/taste member:@ann`)",
        "`/similar <artist | artist - title>` — what this community plays that is like it "
        "(e.g. `/similar Radiohead`)",
    ]
