"""/played's "did you mean …?" question as Block Kit buttons, end to end: the real Bolt app on
127.0.0.1:0, signed slash commands, and signed ``block_actions`` presses (``payload=<JSON>``, the
way Slack sends them) answered through a loopback fake of the response_url endpoints."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.platforms.slack.app import build_app
from bot.platforms.slack.blocks import BUTTON_LIMIT, question_message
from bot.platforms.slack.questions import (
    ACTION_AS_TYPED,
    ACTION_EXISTING,
    VALUE_LIMIT,
    Asked,
    decode_value,
    encode_value,
)
from bot.platforms.slack.server import make_http_server
from bot.service import Question, Service
from config.settings import Settings
from tests.platforms.fake_slack import Call, FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, all_text, at, buttons, plays, slack_who

OTHER_TEAM = "T0OTHER"


def _log(slack: SlackClient, fake: FakeSlack, text: str, **over: str) -> Call:
    reply, form = slack.command("/played", text, **over)
    assert reply.status == 200 and reply.body == ""
    [call] = fake.wait_for(at(form))
    return call


def _answer(fake: FakeSlack, press: dict[str, Any]) -> Call:
    path = press["response_url"][press["response_url"].index("/response/") :]
    [call] = fake.wait_for(lambda c: c.path == path)
    return call


def _asked(slack: SlackClient, fake: FakeSlack, text: str = "Radiohed - Karma Polise", **over: str) -> Call:
    """Radiohead – Karma Police is known; ``text`` (a near miss) is asked about."""
    _log(slack, fake, "Radiohead - Karma Police")
    question = _log(slack, fake, text, **over)
    assert question.payload["response_type"] == "ephemeral"
    return question


def _press(slack: SlackClient, fake: FakeSlack, button: dict[str, Any], **kw: Any) -> Call:
    reply, press = slack.press(button, **kw)
    assert reply.status == 200 and reply.seconds < ACK_BUDGET
    return _answer(fake, press)


def test_a_near_miss_asks_with_two_buttons_and_logs_nothing(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    question = _asked(slack, fake)
    shown = all_text(question)
    assert "Did you mean *Radiohead – Karma Police*?" in shown and "Nothing is logged yet" in shown
    b = buttons(question)
    assert set(b) == {ACTION_EXISTING, ACTION_AS_TYPED}
    assert b[ACTION_EXISTING]["text"]["text"] == "Yes, Radiohead – Karma Police"
    assert b[ACTION_AS_TYPED]["text"]["text"] == "No, log Radiohed – Karma Polise"
    asked = decode_value(b[ACTION_EXISTING]["value"])
    assert asked is not None and b[ACTION_AS_TYPED]["value"] == b[ACTION_EXISTING]["value"]
    assert (asked.text, asked.asker) == ("Radiohed - Karma Polise", "U0ADA")
    assert 0 < asked.expires - time.time() <= 600
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1}  # nothing logged yet


def test_yes_logs_the_existing_entry_once_and_replaces_the_question(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    answer = _press(slack, fake, yes)
    assert answer.payload["replace_original"] is True
    assert "Logged *Radiohead – Karma Police*" in all_text(answer)
    assert "your 2nd play" in answer.payload["text"]
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_a_second_press_logs_nothing_and_says_already_logged(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    _press(slack, fake, yes)
    again = _press(slack, fake, yes)  # a double click: a new press (its own trigger_id)
    assert again.payload["text"] == "Already logged: Radiohead – Karma Police."
    assert "Already logged *Radiohead – Karma Police*" in all_text(again)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_a_replayed_press_is_answered_once(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    reply, press = slack.press(yes, trigger_id="trig-press-1")
    assert reply.status == 200
    _answer(fake, press)
    reply, copy = slack.press(yes, trigger_id="trig-press-1")  # the same request again
    assert reply.status == 200 and reply.body == ""
    time.sleep(0.3)
    assert fake.delivered(lambda c: c.path == copy["response_url"][len(fake.base) :]) == []
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_no_logs_the_typed_spelling_as_a_new_entry(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    no = buttons(_asked(slack, fake))[ACTION_AS_TYPED]
    answer = _press(slack, fake, no)
    assert answer.payload["replace_original"] is True
    assert "Logged *Radiohed – Karma Polise*" in all_text(answer)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1, "Radiohed – Karma Polise": 1}
    # Known now: the same text logs without a question.
    again = _log(slack, fake, "Radiohed - Karma Polise")
    assert buttons(again) == {} and "your 2nd play" in again.payload["text"]


def test_another_member_cannot_answer(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    refusal = _press(slack, fake, yes, user="U0BOB")
    assert refusal.payload["response_type"] == "ephemeral"
    assert refusal.payload["replace_original"] is False
    assert all_text(refusal) == "Only <@U0ADA> can answer this."
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1}
    assert plays(service, slack_who(user="U0BOB")) == {"Radiohead – Karma Police": 1}
    # The asker still can.
    _press(slack, fake, yes)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_an_expired_question_logs_nothing(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    value = json.loads(yes["value"])
    value["x"] = int(time.time()) - 1
    refusal = _press(slack, fake, yes, value=json.dumps(value))
    assert refusal.payload["response_type"] == "ephemeral" and refusal.payload["replace_original"] is False
    assert "This question has expired — send /played again." in all_text(refusal)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1}


def test_a_value_that_is_not_ours_logs_nothing(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    refusal = _press(slack, fake, yes, value="not json")
    assert "can no longer be answered" in all_text(refusal)
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 1}


def test_shown_names_are_escaped_and_the_value_keeps_the_text_as_typed(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _log(slack, fake, "<!channel> & Friends - Song")
    question = _log(slack, fake, "<!channel> & Friendz - Song")
    dumped = json.dumps({"text": question.payload["text"], "blocks": question.payload["blocks"]})
    b = buttons(question)
    for button in b.values():
        dumped = dumped.replace(json.dumps(button["value"])[1:-1], "")  # the value is data, not shown
    assert "<!channel>" not in dumped
    assert b[ACTION_EXISTING]["text"]["text"] == "Yes, &lt;!channel&gt; &amp; Friends – Song"
    asked = decode_value(b[ACTION_AS_TYPED]["value"])
    assert asked is not None and asked.text == "<!channel> & Friendz - Song"
    _press(slack, fake, b[ACTION_AS_TYPED])
    assert plays(service, slack_who()) == {"<!channel> & Friends – Song": 1, "<!channel> & Friendz – Song": 1}


def test_each_workspace_is_asked_about_its_own_entries_only(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    # Workspace A knows The Killers; workspace B knows The Kills. "The Killes" is a near miss of both.
    bea = {"team_id": OTHER_TEAM, "team_domain": "othercrew", "user_id": "U0BEA", "user_name": "bea"}
    _log(slack, fake, "The Killers - Mr. Brightside")
    _log(slack, fake, "The Kills - Doing It to Death", **bea)
    in_a = _log(slack, fake, "The Killes - Mr. Brightside")
    assert buttons(in_a)[ACTION_EXISTING]["text"]["text"] == "Yes, The Killers – Mr. Brightside"
    in_b = _log(slack, fake, "The Killes - Mr. Brightside", **bea)
    b = buttons(in_b)
    assert b[ACTION_EXISTING]["text"]["text"] == "Yes, The Kills – Mr. Brightside"
    assert "Killers" not in json.dumps(in_b.payload)  # neither shown nor carried in the value
    # B's member says yes: logged under B's own artist; A's catalogue is untouched.
    answer = _press(slack, fake, b[ACTION_EXISTING], user="U0BEA", team=OTHER_TEAM)
    assert "Logged *The Kills – Mr. Brightside*" in all_text(answer)
    assert plays(service, slack_who(team=OTHER_TEAM, user="U0BEA")) == {
        "The Kills – Doing It to Death": 1,
        "The Kills – Mr. Brightside": 1,
    }
    # A press from B's member on A's question is refused and logs nothing in either workspace.
    refusal = _press(slack, fake, buttons(in_a)[ACTION_EXISTING], user="U0BEA", team=OTHER_TEAM)
    assert all_text(refusal) == "Only <@U0ADA> can answer this."
    assert plays(service, slack_who()) == {"The Killers – Mr. Brightside": 1}
    assert len(plays(service, slack_who(team=OTHER_TEAM, user="U0BEA"))) == 2
    # A's member answers A's question: A's entry, once.
    _press(slack, fake, buttons(in_a)[ACTION_EXISTING])
    assert plays(service, slack_who()) == {"The Killers – Mr. Brightside": 2}


def test_long_names_fit_slacks_limits() -> None:
    q = Question("A" * 300 + " – x", "B" * 300 + " – x", "A" * 300, "x")
    value = encode_value(Asked("A" * 300 + " - x", "U0ADA", 1, "trig-1"))
    msg = question_message(q, value)
    for e in msg["blocks"][1]["elements"]:
        assert len(e["text"]["text"]) <= BUTTON_LIMIT and e["text"]["text"].endswith("…")
    amp = Question("&" * 100, "&" * 100, "&" * 100, None)
    for e in question_message(amp, "v")["blocks"][1]["elements"]:
        assert len(e["text"]["text"]) <= BUTTON_LIMIT and not e["text"]["text"].endswith("&amp…")
    # Too long for a button value: the question is asked as text (what to type), without buttons.
    assert encode_value(Asked("A" * VALUE_LIMIT, "U0ADA", 1, "trig-1")) is None
    fallback = question_message(q, None)
    assert [b["type"] for b in fallback["blocks"]] == ["section"] and "/played" in fallback["text"]


def test_yes_then_no_logs_once(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    b = buttons(_asked(slack, fake))
    _press(slack, fake, b[ACTION_EXISTING])
    again = _press(slack, fake, b[ACTION_AS_TYPED])  # the other button of the same (stale) question
    assert again.payload["text"] == "Already logged: Radiohead – Karma Police."  # what was logged
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}


def test_a_press_after_a_restart_still_logs_nothing_twice(
    slack: SlackClient,
    fake: FakeSlack,
    service: Service,
    slack_settings: Settings,
    executor: ThreadPoolExecutor,
) -> None:
    yes = buttons(_asked(slack, fake))[ACTION_EXISTING]
    _press(slack, fake, yes)
    # A new process (nothing remembered in memory): the play's dedupe key still holds.
    app = build_app(service, slack_settings, listener_executor=executor)
    server = make_http_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        again = _press(SlackClient(server.server_port, fake), fake, yes)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert again.payload["text"] == "Already logged: Radiohead – Karma Police."
    assert plays(service, slack_who()) == {"Radiohead – Karma Police": 2}
