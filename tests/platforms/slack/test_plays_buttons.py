"""/tastemaker plays (a "Remove" button per play) and /tastemaker undo, end to end: the real Bolt app
on 127.0.0.1:0, signed slash commands and signed ``block_actions`` presses (``payload=<JSON>``, the
way Slack sends them), answered through a loopback fake of the response_url endpoints. Real
service, real SQLite file; what was removed is checked through the service."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from bot.platforms.slack.blocks import (
    MAX_BLOCKS,
    REMOVE_ACTION,
    SECTION_LIMIT,
    plays_message,
    removal_message,
)
from bot.service import LoggedPlay, Removal, Service
from storage import trends
from tests.platforms.fake_slack import Call, FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, at, plays, slack_who

OTHER_TEAM = "T0OTHER"
NOT_YOURS = "That play is not one of yours, so it was not removed."


def _command(slack: SlackClient, fake: FakeSlack, command: str, text: str, **over: str) -> Call:
    reply, form = slack.command(command, text, **over)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    [call] = fake.wait_for(at(form))
    return call


def _log(slack: SlackClient, fake: FakeSlack, *texts: str, **over: str) -> None:
    for text in texts:
        assert "Logged" in _command(slack, fake, "/played", text, **over).payload["text"]


def _plays(slack: SlackClient, fake: FakeSlack, **over: str) -> Call:
    call = _command(slack, fake, "/tastemaker", "plays", **over)
    assert call.payload["response_type"] == "ephemeral"
    return call


def remove_buttons(call: Call) -> list[dict[str, Any]]:
    """The "Remove" buttons of a /tastemaker plays message, top to bottom."""
    return [
        b["accessory"]
        for b in call.payload["blocks"]
        if b.get("type") == "section" and b.get("accessory", {}).get("action_id") == REMOVE_ACTION
    ]


def _press(slack: SlackClient, fake: FakeSlack, button: dict[str, Any], **kw: Any) -> Call:
    reply, press = slack.press(button, block_id=f"play_{button['value']}", **kw)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    path = press["response_url"][press["response_url"].index("/response/") :]
    [call] = fake.wait_for(lambda c: c.path == path)
    return call


def _what(service: Service, **who: str) -> list[str]:
    return [p.what for p in service.my_plays(slack_who(**who))]


def _sorry(text: str) -> dict[str, Any]:
    """An ephemeral refusal as the press's answer, exactly."""
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": f"Sorry — {text}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f":warning: Sorry — {text}"}}],
    }


def _removed(what: str, left: str, *, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": f"Removed {what} (logged just now). {left}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":wastebasket: Removed *{what}* (logged just now). {left}",
                },
            },
            *(extra or []),
        ],
    }


# --- listing -----------------------------------------------------------------------------------


def test_plays_lists_each_play_with_a_remove_button_carrying_its_id(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "Radiohead - Karma Police", "<!channel> & Friends - Song", "Radiohead - Karma Police")
    ids = [p.id for p in service.my_plays(slack_who())]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    call = _plays(slack, fake)

    def row(n: int, what: str, play_id: int) -> dict[str, Any]:
        return {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{n}.* {what} — logged just now"},
            "block_id": f"play_{play_id}",
            "accessory": {
                "type": "button",
                "action_id": "tastemaker_remove_play",
                "text": {"type": "plain_text", "text": "Remove", "emoji": False},
                "value": str(play_id),
                "style": "danger",
            },
        }

    assert call.payload == {
        "response_type": "ephemeral",
        "text": "Your last 3 plays, newest first:\n"
        " 1. Radiohead – Karma Police — logged just now\n"
        " 2. &lt;!channel&gt; &amp; Friends – Song — logged just now\n"
        " 3. Radiohead – Karma Police — logged just now",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Your last 3 plays, newest first*"}},
            row(1, "Radiohead – Karma Police", ids[0]),
            row(2, "&lt;!channel&gt; &amp; Friends – Song", ids[1]),
            row(3, "Radiohead – Karma Police", ids[2]),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "*Remove* takes that play back; `/tastemaker undo` takes back the last one.",
                    }
                ],
            },
        ],
    }


def test_plays_without_plays_is_a_friendly_line(slack: SlackClient, fake: FakeSlack) -> None:
    call = _plays(slack, fake)
    assert call.payload == {
        "response_type": "ephemeral",
        "text": "You have no plays here yet: log one with /played.",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "You have no plays here yet: log one with /played."},
            }
        ],
    }


def test_help_lists_plays_and_undo(slack: SlackClient) -> None:
    reply, _ = slack.command("/tastemaker", "help")
    body = reply.json()
    shown = body["blocks"][-1]["text"]["text"]
    assert "• `/tastemaker plays` — your last logged plays, each with a remove button" in shown
    assert "• `/tastemaker undo` — remove your last logged play" in shown
    assert "/tastemaker plays — your last logged plays, each with a remove button" in body["text"]
    assert "/tastemaker undo — remove your last logged play" in body["text"]


# --- pressing Remove -----------------------------------------------------------------------------


def test_remove_takes_back_exactly_that_play_and_a_second_press_changes_nothing(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "Radiohead - Karma Police", "Portishead - Roads", "Radiohead - Karma Police")
    buttons = remove_buttons(_plays(slack, fake))
    assert len(buttons) == 3

    answer = _press(slack, fake, buttons[2])  # the first Karma Police
    assert answer.payload == _removed("Radiohead – Karma Police", "You now have 1 play of it.")
    assert _what(service) == ["Radiohead – Karma Police", "Portishead – Roads"]
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1, "Portishead – Roads": 1}

    again = _press(slack, fake, buttons[2])  # a double click: a new press of the same button
    assert again.payload == _sorry("Radiohead – Karma Police was already removed; nothing changed.")
    assert _what(service) == ["Radiohead – Karma Police", "Portishead – Roads"]
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1, "Portishead – Roads": 1}

    answer = _press(slack, fake, buttons[1])
    assert answer.payload == _removed("Portishead – Roads", "You have no plays of it left.")
    assert _what(service) == ["Radiohead – Karma Police"]


def test_a_replayed_press_is_answered_once(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    _log(slack, fake, "Radiohead - Karma Police", "Portishead - Roads")
    [newest, _] = remove_buttons(_plays(slack, fake))
    answer = _press(slack, fake, newest, trigger_id="trig-remove-1")
    assert answer.payload["text"].startswith("Removed Portishead – Roads")
    reply, copy = slack.press(newest, trigger_id="trig-remove-1")  # the same request again
    assert reply.status == 200 and reply.body == ""
    time.sleep(0.3)
    assert fake.delivered(lambda c: c.path == copy["response_url"][len(fake.base) :]) == []
    assert _what(service) == ["Radiohead – Karma Police"]


def test_a_folded_play_says_trending_drops_it_at_the_next_batch(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "Radiohead - Karma Police")
    [button] = remove_buttons(_plays(slack, fake))
    with service.db.write() as conn:  # the batch has folded it into /trending's aggregates
        trends.merge_batch(conn, trends.TRENDS_WATERMARK, 0, int(button["value"]), [], [])
    answer = _press(slack, fake, button)
    note = "/trending has counted it already and drops it at the next batch update."
    expected = _removed(
        "Radiohead – Karma Police",
        "You have no plays of it left.",
        extra=[{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}],
    )
    expected["text"] += " " + note
    assert answer.payload == expected
    assert _what(service) == []


def test_another_member_cannot_remove_a_play(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    _log(slack, fake, "Radiohead - Karma Police")
    _log(slack, fake, "Radiohead - Karma Police", user_id="U0BOB", user_name="bob")
    [adas] = remove_buttons(_plays(slack, fake))
    refusal = _press(slack, fake, adas, user="U0BOB")
    assert refusal.payload == _sorry(NOT_YOURS)
    assert _what(service) == ["Radiohead – Karma Police"]
    assert _what(service, user="U0BOB") == ["Radiohead – Karma Police"]
    # Someone who never logged anything here gets the same answer.
    assert _press(slack, fake, adas, user="U0NEW").payload == _sorry(NOT_YOURS)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_a_member_of_another_workspace_removes_nothing(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    # The same user id in workspace B, with a play of the same name: a press there on A's button
    # (the play id of A's play) must not remove A's play, nor B's.
    _log(slack, fake, "Radiohead - Karma Police")
    _log(slack, fake, "Radiohead - Karma Police", team_id=OTHER_TEAM, team_domain="othercrew")
    [in_a] = remove_buttons(_plays(slack, fake))
    refusal = _press(slack, fake, in_a, team=OTHER_TEAM)
    assert refusal.payload == _sorry(NOT_YOURS)
    assert _what(service) == ["Radiohead – Karma Police"]
    assert _what(service, team=OTHER_TEAM) == ["Radiohead – Karma Police"]
    # Each workspace's own button still works for its own member.
    [in_b] = remove_buttons(_plays(slack, fake, team_id=OTHER_TEAM, team_domain="othercrew"))
    assert in_b["value"] != in_a["value"]
    assert _press(slack, fake, in_b, team=OTHER_TEAM).payload["text"].startswith("Removed")
    assert _what(service, team=OTHER_TEAM) == []
    assert _what(service) == ["Radiohead – Karma Police"]


def test_a_value_that_is_not_a_play_id_removes_nothing(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "Radiohead - Karma Police")
    [button] = remove_buttons(_plays(slack, fake))
    for value in ("not a number", "-1", "1" * 40, ""):
        refusal = _press(slack, fake, button, value=value)
        assert refusal.payload == _sorry(
            "this button no longer works — list your plays again with /tastemaker plays."
        )
    assert _press(slack, fake, button, value="999999").payload == _sorry(NOT_YOURS)
    assert _what(service) == ["Radiohead – Karma Police"]


# --- /tastemaker undo ----------------------------------------------------------------------------


def test_undo_takes_back_the_last_play_and_says_which(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "Radiohead - Karma Police", "Portishead - Roads")
    _log(slack, fake, "Björk - Jóga", user_id="U0BOB", user_name="bob")  # someone else's, later
    call = _command(slack, fake, "/tastemaker", "undo")
    assert call.payload == {
        "response_type": "ephemeral",
        "text": "Removed Portishead – Roads (logged just now). You have no plays of it left.",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":wastebasket: Removed *Portishead – Roads* (logged just now). "
                    "You have no plays of it left.",
                },
            }
        ],
    }
    assert _what(service) == ["Radiohead – Karma Police"]
    assert _what(service, user="U0BOB") == ["Björk – Jóga"]
    assert "Removed Radiohead – Karma Police" in _command(slack, fake, "/tastemaker", "undo").payload["text"]
    call = _command(slack, fake, "/tastemaker", "undo")
    assert call.payload["text"] == "Sorry — Nothing to undo: you have no plays logged here."
    assert _what(service) == [] and _what(service, user="U0BOB") == ["Björk – Jóga"]


# --- limits --------------------------------------------------------------------------------------


def test_long_names_fit_slacks_limits_and_button_text_is_plain() -> None:
    now = dt.datetime(2026, 11, 20, 12)
    worst = [LoggedPlay(k, "&" * 200 + " – " + "<" * 200, now, 1, "slack") for k in range(25, 0, -1)]
    msg = plays_message(worst, now, "slack")
    assert len(msg["blocks"]) == 27 <= MAX_BLOCKS
    for block in msg["blocks"]:
        assert len(block.get("text", {}).get("text", "")) <= SECTION_LIMIT
    rows = [b for b in msg["blocks"] if "accessory" in b]
    assert [b["accessory"]["value"] for b in rows] == [str(k) for k in range(25, 0, -1)]
    assert {json.dumps(b["accessory"]["text"]) for b in rows} == {
        '{"type": "plain_text", "text": "Remove", "emoji": false}'
    }
    assert "<" not in json.dumps(msg["blocks"]) and "&&" not in json.dumps(msg["blocks"])
    removal = removal_message(Removal(worst[0], 0, True), now, "slack")
    assert len(removal["blocks"][0]["text"]["text"]) <= SECTION_LIMIT
    assert "<" not in json.dumps(removal)
