"""/tastemaker neighbours, similar and taste, end to end: the real Bolt app on 127.0.0.1:0, signed
slash commands as Slack sends them (mentions as ``<@U…|name>``), exact payloads posted to the
channel or answered to the member alone. Real service, real SQLite file; the retrain's output (member
vectors, taste neighbours, similar items) is written with the storage functions the engine uses
(:func:`storage.recs.write_generation`), so every answer is a known one without running Spark."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from sqlalchemy import Connection

from bot.parsing import parse_played
from bot.platforms.slack.commands import LAZY_SUBCOMMANDS, SHARED_SUBCOMMANDS
from bot.platforms.slack.ids import community_key
from bot.service import Service
from storage import catalog, recs
from storage.db import Database
from tests.platforms.fake_slack import TEAM_ID, FakeSlack, encode_command_text
from tests.platforms.slack.harness import SlackClient, at
from tests.platforms.slack.test_member_commands import (
    CHANNEL,
    _check_limits,
    context,
    played,
    private,
    section,
    shared,
    sorry,
)
from tests.platforms.slack.test_replay import posts, settle

BETA = {"team_id": "T0BBB", "team_domain": "beta"}
HOSTILE = "<!channel> & <@U123>"  # an artist name, as typed
HOSTILE_SHOWN = "&lt;!channel&gt; &amp; &lt;@U123&gt;"
MATCH = "how alike your listening is, by the recommender's model (as of the last retrain)"
FOOTER = context(f"Match: {MATCH}.")
NO_MODEL = "No taste model has been trained yet: this comes with the next retrain."
OVERLAP = "how much of both your plays go to the same artists"


def world(slack: SlackClient, fake: FakeSlack) -> None:
    """Workspace A: ada (Radiohead 3 incl. Airbag 2, Björk 1, Air 2), "bob & co" (Radiohead 2,
    Björk 2 as Joga, Portishead 1, the hostile name 1), cat (Radiohead, Low; private). Workspace B:
    bea (Radiohead, Mogwai)."""
    played(slack, fake, "U0ADA", "ada", "Radiohead - Airbag", "Radiohead - Airbag", "Radiohead")
    played(slack, fake, "U0ADA", "ada", "Björk", "Air", "Air")
    played(slack, fake, "U0BOB", "bob & co", "Radiohead", "Radiohead", "Björk - Joga", "Björk - Joga")
    played(slack, fake, "U0BOB", "bob & co", "Portishead", HOSTILE)
    played(slack, fake, "U0CAT", "cat", "Radiohead", "Low")
    played(slack, fake, "U0BEA", "bea", "Radiohead", "Mogwai", **BETA)
    private(slack, fake, "privacy private", user_id="U0CAT", user_name="cat")


def _community(conn: Connection, team: str = TEAM_ID) -> int:
    found = catalog.find_community(conn, "slack", community_key(None, team))
    assert found is not None
    return found


def _member(conn: Connection, user: str, team: str = TEAM_ID) -> int:
    found = catalog.find_member(conn, _community(conn, team), user)
    assert found is not None
    return found


def _artist(conn: Connection, name: str) -> int:
    found = catalog.find_artist(conn, parse_played(name).artist_key)
    assert found is not None
    return found.id


def _track(conn: Connection, text: str) -> int:
    parsed = parse_played(text)
    assert parsed.title_key is not None
    found = catalog.find_track(conn, _artist(conn, parsed.artist), parsed.title_key)
    assert found is not None
    return found.id


def write_retrain(
    db: Database,
    now: dt.datetime,
    kind: str,
    items: list[int],
    *,
    vectors: dict[int, list[float]] | None = None,
    neighbours: Iterable[recs.NeighbourRow] = (),
    similar: Iterable[recs.SimilarRow] = (),
) -> None:
    """A generation as a retrain writes it (storage.recs.write_generation), switched active: items
    with (unused here) factors, the members' user vectors, taste neighbours, similar items."""
    users = vectors or {}
    recs.write_generation(
        db,
        kind=kind,
        last_play_id=0,
        model=recs.GenerationData(
            rank=2,
            reg_param=0.1,
            alpha=1.0,
            conf_scale=1.0,
            item_ids=items,
            factors=np.ones((len(items), 2), dtype=np.float32),
            popularity=[1.0] * len(items),
            user_ids=list(users),
            user_factors=np.array(list(users.values()), dtype=np.float32) if users else None,
        ),
        picks=(),
        neighbours=neighbours,
        similar=similar,
        now=now,
    )


def retrain(db: Database, service: Service) -> None:
    """The known answers: ada's neighbours bob (0.83; also a private member and, as the engine never
    writes, another workspace's member — neither is shown); bob's: cat (private) then ada (0.6); the
    user vectors give ada and bob a 60% model match; Radiohead is like Björk, the hostile name and
    Portishead here (and Mogwai, which only workspace B played: never shown here), like Mogwai in B;
    Radiohead – Airbag is like Björk – Joga."""
    with db.read() as conn:
        a, b = _community(conn), _community(conn, BETA["team_id"])
        ada, bob, cat = (_member(conn, u) for u in ("U0ADA", "U0BOB", "U0CAT"))
        bea = _member(conn, "U0BEA", BETA["team_id"])
        names = ("Radiohead", "Björk", "Air", "Portishead", HOSTILE, "Low", "Mogwai")
        radiohead, bjork, air, portishead, hostile, low, mogwai = (_artist(conn, n) for n in names)
        airbag, joga = _track(conn, "Radiohead - Airbag"), _track(conn, "Björk - Joga")
    write_retrain(
        db,
        service.clock(),
        "artist",
        [radiohead, bjork, air, portishead, hostile, low, mogwai],
        vectors={ada: [1.0, 0.0], bob: [0.6, 0.8], cat: [0.8, 0.6], bea: [1.0, 0.0]},
        neighbours=[
            (ada, 1, bea, 0.95),
            (ada, 2, cat, 0.9),
            (ada, 3, bob, 0.83),
            (bob, 1, cat, 0.96),
            (bob, 2, ada, 0.6),
            (cat, 1, ada, 0.9),
        ],
        similar=[
            (a, radiohead, 1, bjork, 0.9),
            (a, radiohead, 2, hostile, 0.5),
            (a, radiohead, 3, portishead, 0.4),
            (a, radiohead, 4, mogwai, 0.3),
            (a, hostile, 1, radiohead, 0.5),
            (b, radiohead, 1, mogwai, 0.7),
        ],
    )
    write_retrain(db, service.clock(), "track", [airbag, joga], similar=[(a, airbag, 1, joga, 0.8)])


def neighbours_post(asker: str, lines: list[str]) -> dict[str, Any]:
    title = f"{asker}'s closest listeners here"
    return {
        **CHANNEL,
        "text": "\n".join([title, *(f" {line}" for line in lines), f"Match: {MATCH}."]),
        "blocks": [
            section(f":busts_in_silhouette: *{title}*"),
            section("\n".join(f"*{line.split('. ', 1)[0]}.* {line.split('. ', 1)[1]}" for line in lines)),
            FOOTER,
        ],
    }


def note(text: str, **over: str) -> dict[str, Any]:
    return {**CHANNEL, **over, "text": text, "blocks": [section(text)]}


def test_neighbours_are_shared_in_the_channel(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    assert shared(slack, fake, "neighbours") == note(NO_MODEL)
    retrain(db, service)
    # ada: the private member and the other workspace's member are left out.
    assert shared(slack, fake, "neighbours") == {
        **CHANNEL,
        "text": "ada's closest listeners here\n 1. bob &amp; co — 83% match · both play Radiohead, Björk\n"
        "Match: how alike your listening is, by the recommender's model (as of the last retrain).",
        "blocks": [
            section(":busts_in_silhouette: *ada's closest listeners here*"),
            section("*1.* bob &amp; co — 83% match · both play Radiohead, Björk"),
            context(
                "Match: how alike your listening is, by the recommender's model (as of the last retrain)."
            ),
        ],
    }
    # "neighbors" too; the asker's display name with "&" escaped in the title.
    assert shared(slack, fake, "neighbors", user_id="U0BOB", user_name="bob & co") == neighbours_post(
        "bob &amp; co", ["1. ada — 60% match · both play Radiohead, Björk"]
    )
    # A private member still sees their own neighbours.
    assert shared(slack, fake, "neighbours", user_id="U0CAT", user_name="cat") == neighbours_post(
        "cat", ["1. ada — 90% match · both play Radiohead"]
    )


def test_neighbours_friendly_lines(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    # No plays here; plays the retrain has not seen; in the model but nobody close (workspace B).
    assert shared(slack, fake, "neighbours", user_id="U0DAN", user_name="dan") == note(
        "You have not logged any plays here yet. Log a few with /played."
    )
    played(slack, fake, "U0EVE", "eve", "Radiohead")
    assert shared(slack, fake, "neighbours", user_id="U0EVE", user_name="eve") == note(
        "The model does not know your taste yet: it learns from plays logged before its last retrain."
    )
    assert shared(slack, fake, "neighbours", user_id="U0BEA", user_name="bea", **BETA) == note(
        "Nobody here is close enough to your taste yet (or they keep it private).", team_id="T0BBB"
    )
    # Only the asker's own: a mention or another word is refused, to the asker alone.
    assert private(slack, fake, "neighbours <@U0BOB|bob>") == sorry(
        "`/tastemaker neighbours` lists your own closest listeners; to compare your taste with one "
        "member, try `/tastemaker taste @member`."
    )
    assert private(slack, fake, "neighbours all") == sorry(
        "I don't understand `all` here. Try `/tastemaker neighbours`."
    )


def test_similar_artists_and_tracks(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    assert shared(slack, fake, "similar radiohead") == note(NO_MODEL)
    retrain(db, service)
    title = "Artists like Radiohead, from this community's listening"
    assert shared(slack, fake, "similar radiohead") == {
        **CHANNEL,
        "text": f"{title}\n 1. Björk\n 2. {HOSTILE_SHOWN}\n 3. Portishead",
        "blocks": [
            section(f":link: *{title}*"),
            section(f"*1.* Björk\n*2.* {HOSTILE_SHOWN}\n*3.* Portishead"),
        ],
    }
    title = "Tracks like Radiohead – Airbag, from this community's listening"
    assert shared(slack, fake, "similar Radiohead - Airbag", user_id="U0BOB", user_name="bob & co") == {
        **CHANNEL,
        "text": f"{title}\n 1. Björk – Joga",
        "blocks": [section(f":link: *{title}*"), section("*1.* Björk – Joga")],
    }
    # The hostile name as the question: shown, never pinging.
    title = f"Artists like {HOSTILE_SHOWN}, from this community's listening"
    post = shared(slack, fake, encode_command_text(f"similar {HOSTILE}"))
    assert post == {
        **CHANNEL,
        "text": f"{title}\n 1. Radiohead",
        "blocks": [section(f":link: *{title}*"), section("*1.* Radiohead")],
    }
    raw = json.dumps(post, ensure_ascii=False)
    assert "<!" not in raw and "<@" not in raw


def test_similar_friendly_lines_and_two_workspaces(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    assert shared(slack, fake, "similar Air") == note(
        "Not enough to go on yet: similar artists come from what at least two members here have "
        "played, Air included (as of the last retrain)."
    )
    assert shared(slack, fake, "similar Mogwai") == note("Nobody here has played Mogwai yet.")
    assert shared(slack, fake, "similar Simon &amp; Garfunkel") == note(
        "Nobody here has played Simon &amp; Garfunkel yet."
    )
    post = shared(slack, fake, "similar RADIOHEAD", user_id="U0BEA", user_name="bea", **BETA)
    title = "Artists like Radiohead, from this community's listening"
    assert post == {
        **CHANNEL,
        "team_id": "T0BBB",
        "text": f"{title}\n 1. Mogwai",
        "blocks": [section(f":link: *{title}*"), section("*1.* Mogwai")],
    }
    assert private(slack, fake, "similar") == sorry(
        "Which artist or track? Try `/tastemaker similar Radiohead` or "
        "`/tastemaker similar Radiohead - Airbag`."
    )


def taste_post(
    title: str, model: str, overlap: str, common: list[str], tries: list[tuple[str, str]], **over: str
) -> dict[str, Any]:
    """The exact payload of /tastemaker taste: ``common`` and ``tries`` escaped as shown; the text
    fallback is the same text (render.taste_text, escaped)."""
    head, *rows = common
    text = [title, f"Model match: {model}", f"Overlap: {overlap}", head, *(f"  {r}" for r in rows)]
    text += [f"{who}: {what}" for who, what in tries]
    blocks = [
        section(f":handshake: *{title}*"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Model match*\n{model}"},
                {"type": "mrkdwn", "text": f"*Overlap*\n{overlap}"},
            ],
        },
        section("\n".join([f"*{head}*", *(f"• {r}" for r in rows)])),
    ]
    if tries:
        blocks.append(section("\n".join(f"*{who}:* {what}" for who, what in tries)))
    return {**CHANNEL, **over, "text": "\n".join(text), "blocks": blocks}


def test_taste_compares_two_members(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    common = ["2 artists in common:", "Radiohead — ada 3, bob &amp; co 2", "Björk — ada 1, bob &amp; co 2"]
    tries = [
        ("ada could try (from bob &amp; co)", f"Portishead, {HOSTILE_SHOWN}"),
        ("bob &amp; co could try (from ada)", "Air"),
    ]
    title = "ada and bob &amp; co: taste compared"
    overlap = f"33% — {OVERLAP}"  # weighted Jaccard of the shares: (2/6 + 1/6) / (3/6+2/6+2/6+1/6+1/6)
    assert shared(slack, fake, "taste <@U0BOB|bob>") == taste_post(
        title, f"— ({NO_MODEL})", overlap, common, tries
    )
    retrain(db, service)
    post = shared(slack, fake, "taste <@U0BOB>")
    assert post == taste_post(title, f"60% — {MATCH}", overlap, common, tries)
    raw = json.dumps(post, ensure_ascii=False)
    assert "<!" not in raw and "<@" not in raw
    # The other way round: the asker named first, their counts first.
    assert shared(slack, fake, "taste <@U0ADA|ada>", user_id="U0BOB", user_name="bob & co") == taste_post(
        "bob &amp; co and ada: taste compared",
        f"60% — {MATCH}",
        overlap,
        ["2 artists in common:", "Radiohead — bob &amp; co 2, ada 3", "Björk — bob &amp; co 2, ada 1"],
        [("bob &amp; co could try (from ada)", "Air"), ("ada could try (from bob &amp; co)", tries[0][1])],
    )


def test_taste_of_askers_the_model_does_not_know(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    # No plays here at all: nothing in common, all of bob's top three to try.
    assert shared(slack, fake, "taste <@U0BOB>", user_id="U0DAN", user_name="dan") == taste_post(
        "dan and bob &amp; co: taste compared",
        "— (You have not logged any plays here yet. Log a few with /played.)",
        f"0% — {OVERLAP}",
        ["No artists in common yet."],
        [("dan could try (from bob &amp; co)", "Radiohead, Björk, Portishead")],
    )
    played(slack, fake, "U0EVE", "eve", "Air")  # after the retrain
    assert shared(slack, fake, "taste <@U0ADA>", user_id="U0EVE", user_name="eve") == taste_post(
        "eve and ada: taste compared",
        "— (The model does not know both of you yet: it learns from plays logged before a retrain.)",
        f"20% — {OVERLAP}",  # Air is all of eve's plays, a third of ada's: (1/3) / (1 + 3/6 + 1/6)
        ["1 artist in common:", "Air — eve 1, ada 2"],
        [("eve could try (from ada)", "Radiohead, Björk")],
    )


def test_taste_refusals_go_to_the_asker_alone(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    name_another = sorry("Name another member of this community to compare your taste with.")
    assert private(slack, fake, "taste") == name_another
    assert private(slack, fake, "taste <@U0ADA|ada>") == name_another  # oneself
    assert private(slack, fake, "taste <@U0CAT|cat>") == sorry("cat keeps their listening private.")
    assert private(slack, fake, "taste <@U0ZED|zed>") == sorry(
        "That member has not logged any plays here yet."
    )
    # Known here (a privacy setting) but no plays.
    private(slack, fake, "privacy public", user_id="U0DAN", user_name="dan")
    assert private(slack, fake, "taste <@U0DAN>") == sorry("That member has not logged any plays here yet.")
    # A member of workspace A is nobody in workspace B (and the other way round).
    assert private(slack, fake, "taste <@U0ADA|ada>", user_id="U0BEA", user_name="bea", **BETA) == sorry(
        "That member has not logged any plays here yet."
    )
    assert private(slack, fake, "taste <@U0BEA|bea>") == sorry(
        "That member has not logged any plays here yet."
    )
    assert private(slack, fake, "taste bob") == sorry(
        "I can't tell who bob is: mention the member (type @ and pick them from the list). "
        "Try `/tastemaker taste @member`."
    )
    assert private(slack, fake, "taste <@U0BOB|bob> <@U0CAT|cat>") == sorry(
        "One member at a time, please: Try `/tastemaker taste @member`."
    )
    assert private(slack, fake, "taste <@U0BOB|bob> now") == sorry(
        "I don't understand `now` here. Try `/tastemaker taste @member`."
    )


def test_nothing_of_another_workspace_appears(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    for sub in ("neighbours", "similar radiohead", "taste <@U0BOB>"):
        raw = json.dumps(shared(slack, fake, sub))
        assert "bea" not in raw and "Mogwai" not in raw, sub
    for sub in ("neighbours", "similar radiohead"):
        raw = json.dumps(shared(slack, fake, sub, user_id="U0BEA", user_name="bea", **BETA))
        for name in ("ada", "bob", "cat", "Björk", "Portishead", "Airbag"):
            assert name not in raw, (sub, name)


def test_shared_in_a_channel_the_bot_is_not_in(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    fake.not_in_channel.add("C0PRIVATE")
    for sub, first in (
        ("neighbours", "ada's closest listeners here"),
        ("similar radiohead", "Artists like Radiohead"),
        ("taste <@U0BOB>", "ada and bob &amp; co: taste compared"),
    ):
        _, form = slack.command("/tastemaker", encoded=sub, channel_id="C0PRIVATE")
        [call] = fake.wait_for(at(form))
        assert call.payload["response_type"] == "in_channel"
        assert call.payload["text"].startswith(first)


def test_a_retried_command_is_posted_once(
    slack: SlackClient, fake: FakeSlack, db: Database, service: Service
) -> None:
    world(slack, fake)
    retrain(db, service)
    before = len(posts(fake))
    body = urlencode(slack.form("/tastemaker", encoded="taste <@U0BOB|bob>"))
    assert slack.post(body, slack.signed_headers(body)).status == 200
    fake.wait_for(lambda c: c.method == "chat.postMessage", count=before + 1)
    retry = {**slack.signed_headers(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    reply = slack.post(body, retry)
    assert (reply.status, reply.body) == (200, "")
    settle(slack, fake)
    assert len(posts(fake)) == before + 1


def test_limits_with_long_names(slack: SlackClient, fake: FakeSlack, db: Database, service: Service) -> None:
    """Two members with 80-character names of "&" sharing 12 artists of 200 characters of "&<>"
    (each escaped to ~860): every message stays within Slack's limits, no entity cut in half."""
    long_artist = "&<>" * 66
    artists = [f"{long_artist}{n:02}" for n in range(14)]
    one_shown, two_shown = ("1" + "&amp;" * 79), ("2" + "&amp;" * 79)
    for user, name, mine in (("U0L01", "1" + "&" * 79, artists[:13]), ("U0L02", "2" + "&" * 79, artists[1:])):
        for artist in mine:
            played(slack, fake, user, name, artist)
    with db.read() as conn:
        one, two = _member(conn, "U0L01"), _member(conn, "U0L02")
        ids = [_artist(conn, a) for a in artists]
        here = _community(conn)
    write_retrain(
        db,
        service.clock(),
        "artist",
        ids,
        vectors={one: [1.0, 0.0], two: [1.0, 0.0]},
        neighbours=[(one, 1, two, 1.0), (two, 1, one, 1.0)],
        similar=[(here, ids[1], r, ids[r + 1], 1.0 / r) for r in range(1, 11)],
    )
    rows = {}
    for sub in ("neighbours", encode_command_text(f"similar {artists[1]}"), "taste <@U0L02>"):
        post = shared(slack, fake, sub, user_id="U0L01", user_name="1" + "&" * 79)
        _check_limits(post)
        rows[sub[:5]] = [
            line for b in post["blocks"][1:] if "text" in b for line in b["text"]["text"].splitlines()
        ]
    # Every row is there, each name shortened to fit (…), over as many sections as they need.
    assert [r.split(" ", 1)[0] for r in rows["neigh"]] == ["*1.*"]
    assert rows["neigh"][0].count("…") == 3  # the three shared artists (the member's name fits)
    assert [r.split(" ", 1)[0] for r in rows["simil"]] == [f"*{n}.*" for n in range(1, 11)]
    assert rows["taste"][0] == "*12 artists in common (the top 10):*"
    assert [r[:2] for r in rows["taste"][1:11]] == ["• "] * 10
    assert [r.split(":*", 1)[0] for r in rows["taste"][11:]] == [
        f"*{one_shown} could try (from {two_shown})",
        f"*{two_shown} could try (from {one_shown})",
    ]


def test_help_lists_them_as_a_slack_member_types_them(slack: SlackClient) -> None:
    reply, _ = slack.command("/tastemaker", "help")
    shown = "\n".join(b["text"]["text"] for b in reply.json()["blocks"])
    assert "• `/tastemaker neighbours` — the members here whose taste is closest to yours" in shown
    assert (
        "• `/tastemaker taste &lt;member&gt;` — compare your taste with another member's "
        "(e.g. `/tastemaker taste @ann`)"
    ) in shown
    assert (
        "• `/tastemaker similar &lt;artist | artist - title&gt;` — what this community plays that is "
        "like it (e.g. `/tastemaker similar Radiohead`)"
    ) in shown
    _check_limits(reply.json())
    for sub in ("neighbours", "neighbors", "similar", "taste"):
        assert sub in SHARED_SUBCOMMANDS and sub in LAZY_SUBCOMMANDS
        reply, _ = slack.command("/tastemaker", sub)
        assert (reply.status, reply.body) == (200, "")  # acknowledged empty, answered afterwards


def test_manifest_names_them() -> None:
    manifest = (Path(__file__).resolve().parents[3] / "config" / "slack-manifest.yml").read_text(
        encoding="utf-8"
    )
    entry = manifest.split("- command: /tastemaker\n", 1)[1].split("oauth_config:", 1)[0]
    fields = dict(line.strip().split(": ", 1) for line in entry.splitlines() if ": " in line)
    for sub in ("neighbours", "similar", "taste"):
        assert sub in fields["description"]
    assert "neighbours | similar Artist | taste @member" in fields["usage_hint"]
    # Slack's manifest schema: a command's description up to 2000 characters, its hint up to 1000.
    assert len(fields["description"]) <= 2000 and len(fields["usage_hint"]) <= 1000
