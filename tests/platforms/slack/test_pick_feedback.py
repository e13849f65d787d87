"""👍 / 👎 under ``/recommend``, end to end: the real Bolt app on 127.0.0.1:0, the signed slash command
and the signed ``block_actions`` presses (``payload=<JSON>``, as Slack sends them), answered through
the loopback fake of the response_url endpoints — the exact Block Kit of the picks and their buttons,
the empty ack, the ephemeral answer of a press, ``/recommend reset-hidden``. Then the acceptance:
after a 👎 the item never comes back for that member (stored picks, a fold-in after a new play, and
a real Spark retrain), while another workspace keeps it."""

from __future__ import annotations

import re
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
from tests.platforms.fake_slack import TEAM_ID, Call, FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, at, slack_who

OTHER_TEAM = "T0OTHER"
PICK_LINE = re.compile(r"^\s*\d+\. (.+?)(?: — because you played .*)?$")
HIDDEN_NOTE = "artist hidden with 👎 — `/recommend reset-hidden` brings them back."


def seed(service: Service, db: Database, clock: Clock) -> dict[str, int]:
    """Workspace T0FAKE: Ada plays Air and Blur, Bob the other three; T0OTHER: Ada (another member
    there) plays Air, Bob Caribou and Daft Punk. A generation with known factors stores Ada's
    (T0FAKE) picks: Caribou, Daft Punk, Eels."""
    ada, bob = slack_who(), slack_who(user="U0BOB")
    for artist in ("Air", "Blur"):
        service.played(ada, artist)
    for artist in ("Caribou", "Daft Punk", "Eels"):
        service.played(bob, artist)
    service.played(slack_who(team=OTHER_TEAM), "Air")
    for artist in ("Caribou", "Daft Punk"):
        service.played(slack_who(team=OTHER_TEAM, user="U0BOB"), artist)
    return write_known_generation(db, clock(), "slack", ada.community_id, "U0ADA")


def recommend(slack: SlackClient, fake: FakeSlack, text: str = "artists", **over: str) -> Call:
    reply, form = slack.command("/recommend", text, **over)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "ephemeral"
    return call


def pick_buttons(call: Call) -> list[dict[str, Any]]:
    """The 👍 / 👎 buttons of a /recommend answer, top to bottom, 👍 first."""
    return [
        e
        for b in call.payload["blocks"]
        if b.get("type") == "actions" and str(b.get("block_id", "")).startswith("pick_")
        for e in b["elements"]
    ]


def picks_of(call: Call) -> list[str]:
    """The picks' names, from the plain-text fallback (`` 1. Name — because …``)."""
    found = (PICK_LINE.match(line) for line in call.payload["text"].splitlines())
    return [m[1] for m in found if m]


def press(slack: SlackClient, fake: FakeSlack, button: dict[str, Any], rank: int, **kw: Any) -> Call:
    """A signed press, acknowledged empty at once; the ephemeral answer through its own response_url."""
    reply, payload = slack.press(button, block_id=f"pick_{rank}", **kw)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    path = payload["response_url"][payload["response_url"].index("/response/") :]
    [call] = fake.wait_for(lambda c: c.path == path)
    return call


def answer(text: str, mrkdwn: str) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}],
    }


def verdicts(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as conn:
        rows = conn.execute(select(PickFeedback.member_id, PickFeedback.item_id, PickFeedback.verdict))
        return [tuple(r) for r in rows]


def test_thumbs_down_hides_a_pick_for_that_member_only_and_reset_brings_it_back(
    slack: SlackClient, fake: FakeSlack, service: Service, db: Database, clock: Clock
) -> None:
    ids = seed(service, db, clock)
    call = recommend(slack, fake, "artists 3")

    def pick(rank: int, line: str, item: int) -> list[dict[str, Any]]:
        def btn(action: str, emoji: str) -> dict[str, Any]:
            return {
                "type": "button",
                "action_id": action,
                "text": {"type": "plain_text", "text": emoji, "emoji": False},
                "value": f"artist:{item}",
            }

        return [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {
                "type": "actions",
                "block_id": f"pick_{rank}",
                "elements": [btn("recommend_like", "👍"), btn("recommend_hide", "👎")],
            },
        ]

    assert call.payload == {
        "response_type": "ephemeral",
        "text": "Recommended artists for you\n"
        " 1. Caribou — because you played Air\n"
        " 2. Daft Punk — because you played Air\n"
        " 3. Eels — because you played Blur",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "Recommended artists for you", "emoji": True},
            },
            *pick(1, "*1.* Caribou — _because you played Air_", ids["C"]),
            *pick(2, "*2.* Daft Punk — _because you played Air_", ids["D"]),
            *pick(3, "*3.* Eels — _because you played Blur_", ids["E"]),
        ],
    }
    buttons = pick_buttons(call)
    hide_caribou = buttons[1]

    done = press(slack, fake, hide_caribou, 1)
    assert done.payload == answer(
        "Hidden Caribou: it will not be picked for you again. 1 artist hidden with 👎 — "
        "/recommend reset-hidden brings them back.",
        f"👎 Hidden *Caribou*: it will not be picked for you again. 1 {HIDDEN_NOTE}",
    )
    again = press(slack, fake, hide_caribou, 1)  # a second press changes nothing
    assert again.payload["blocks"][0]["text"]["text"] == f"👎 *Caribou* was already hidden. 1 {HIDDEN_NOTE}"

    call = recommend(slack, fake, "artists 2")  # stored picks, less Caribou
    assert picks_of(call) == ["Daft Punk", "Eels"]
    assert call.payload["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"1 {HIDDEN_NOTE}"}],
    }
    assert call.payload["text"].endswith(
        "1 artist hidden with 👎 — /recommend reset-hidden brings them back."
    )
    # The same member id in another workspace still gets Caribou, with nothing hidden there.
    other = recommend(slack, fake, team_id=OTHER_TEAM)
    assert picks_of(other)[0] == "Caribou" and "hidden" not in other.payload["text"]

    liked = press(slack, fake, buttons[2], 2)  # 👍 Daft Punk
    assert liked.payload == answer(
        "Noted: you like Daft Punk. It counts as a play at the next retrain.",
        "👍 Noted: you like *Daft Punk*. It counts as a play at the next retrain.",
    )

    reply, form = slack.command("/recommend", "reset-hidden")
    assert reply.status == 200 and reply.body == ""
    [reset] = fake.wait_for(at(form))
    assert reset.payload == {
        "response_type": "ephemeral",
        "text": "Back in your picks: 1 artist you had hidden with 👎.",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Back in your picks: 1 artist you had hidden with 👎."},
            }
        ],
    }
    call = recommend(slack, fake, "artists 3")
    assert picks_of(call) == ["Caribou", "Daft Punk", "Eels"] and "hidden" not in call.payload["text"]
    assert [v for _, _, v in verdicts(db)] == ["up"]


def test_crafted_or_stale_presses_are_refused_and_name_nothing(
    slack: SlackClient, fake: FakeSlack, service: Service, db: Database, clock: Clock
) -> None:
    ids = seed(service, db, clock)
    service.played(slack_who(team=OTHER_TEAM, user="U0BOB"), "Zola Jesus")  # only T0OTHER played it
    with db.read() as conn:
        zola = catalog.find_artist(conn, "zola jesus").id  # type: ignore[union-attr]
    button = pick_buttons(recommend(slack, fake))[1]
    refusal = answer(
        "Sorry — That pick is not available here any more: ask /recommend again.",
        ":warning: Sorry — That pick is not available here any more: ask /recommend again.",
    )
    for value in (f"artist:{zola}", "artist:x", "album:1", '{"t": 1}'):
        assert press(slack, fake, button, 1, value=value).payload == refusal
    # A press in another workspace on this workspace's item: judged there, where it is invisible.
    assert (
        press(slack, fake, {**button, "value": f"artist:{ids['E']}"}, 1, team=OTHER_TEAM).payload == refusal
    )
    assert verdicts(db) == []


def test_a_fold_in_after_a_new_play_never_brings_a_hidden_pick_back(
    slack: SlackClient, fake: FakeSlack, service: Service, db: Database, clock: Clock
) -> None:
    seed(service, db, clock)
    press(slack, fake, pick_buttons(recommend(slack, fake))[1], 1)  # 👎 Caribou
    service.played(slack_who(), "Air")  # newer than the generation
    call = recommend(slack, fake)
    assert picks_of(call) == ["Daft Punk", "Eels"]
    assert "Fresh picks" in call.payload["text"] and f"1 {HIDDEN_NOTE}" in str(call.payload["blocks"])


@pytest.mark.spark
def test_a_hidden_pick_stays_hidden_after_a_real_retrain(  # type: ignore[no-untyped-def]
    slack: SlackClient, fake: FakeSlack, service: Service, slack_settings: Settings, db: Database, spark
) -> None:
    from engine.batch import EngineContext, batch

    users = [f"U0L{k}" for k in range(6)]
    for k, user in enumerate(users):
        for n in range(8):
            if (n + k) % 3:
                for _ in range(1 + (n * k) % 3):
                    service.played(slack_who(user=user), f"Band {n}")
        service.played(slack_who(team=OTHER_TEAM, user=user), f"Band {k}")
    ada = users[0]
    ctx = EngineContext(slack_settings, db, spark=lambda: spark, clock=service.clock)
    batch(ctx, retrain_now=True)
    call = recommend(slack, fake, user_id=ada)
    shown = picks_of(call)
    assert shown, call.payload
    press(slack, fake, pick_buttons(call)[1], 1, user=ada)  # 👎 the first pick
    assert shown[0] not in picks_of(recommend(slack, fake, user_id=ada))
    batch(ctx, retrain_now=True)  # the 👎 is in the ALS input now, and no stored pick names it
    with db.read() as conn:
        member = catalog.find_member(
            conn, catalog.find_community(conn, "slack", slack_who().community_id), ada
        )  # type: ignore[arg-type]
        item = catalog.find_artist(conn, shown[0].lower()).id  # type: ignore[union-attr]
        ref = recs.active_generation_ref(conn, "artist")
        assert ref is not None
        stored = recs.stored_picks(conn, ref.id, member, 100)  # type: ignore[arg-type]
    assert stored and item not in [i for i, _, _ in stored]
    after = recommend(slack, fake, user_id=ada)
    assert after.payload["text"].startswith("Recommended artists for you")  # the new stored picks
    assert shown[0] not in picks_of(after) and "1 artist hidden" in after.payload["text"]
    other = recommend(slack, fake, user_id=ada, team_id=OTHER_TEAM)
    assert "hidden" not in other.payload["text"]
    assert TEAM_ID != OTHER_TEAM
