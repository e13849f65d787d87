"""/tastemaker whoknows, top, recent, profile, privacy and help, end to end: the real Bolt app on
127.0.0.1:0, signed slash commands (member arguments as Slack sends them with ``should_escape: true``:
``<@U…|name>``), exact payloads posted to the channel (``chat.postMessage``) or answered on the
command's response_url. Real service, real SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.platforms.slack.blocks import MAX_BLOCKS, SECTION_LIMIT
from bot.platforms.slack.commands import LAZY_SUBCOMMANDS
from bot.platforms.slack.encoding import split_mentions
from bot.service import Service
from tests.platforms.fake_slack import Call, FakeSlack, encode_command_text
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, at

CHANNEL = {"channel": "C0CHAN", "unfurl_links": False, "unfurl_media": False, "team_id": "T0FAKE"}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def sorry(text: str) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "text": f"Sorry — {text}",
        "blocks": [section(f":warning: Sorry — {text}")],
    }


def played(slack: SlackClient, fake: FakeSlack, user: str, name: str, *texts: str, **over: str) -> None:
    for text in texts:
        _, form = slack.command("/played", text, user_id=user, user_name=name, **over)
        assert "Logged" in fake.wait_for(at(form))[0].payload["text"]


def shared(slack: SlackClient, fake: FakeSlack, encoded: str, **over: str) -> dict[str, Any]:
    """A /tastemaker subcommand (text as Slack sends it) whose answer is posted in the channel."""
    before = len(fake.delivered(lambda c: c.method == "chat.postMessage"))
    reply, form = slack.command("/tastemaker", encoded=encoded, **over)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    posts = fake.wait_for(lambda c: c.method == "chat.postMessage", count=before + 1)
    assert not fake.delivered(at(form))  # nothing on the response_url
    return dict(posts[-1].payload)


def private(slack: SlackClient, fake: FakeSlack, encoded: str, **over: str) -> dict[str, Any]:
    """A /tastemaker subcommand answered only to the member (response_url, ephemeral)."""
    before = len(fake.delivered(lambda c: c.method == "chat.postMessage"))
    reply, form = slack.command("/tastemaker", encoded=encoded, **over)
    assert reply.status == 200 and reply.body == ""
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "ephemeral"
    assert len(fake.delivered(lambda c: c.method == "chat.postMessage")) == before  # nothing shared
    return dict(call.payload)


def crew(slack: SlackClient, fake: FakeSlack) -> None:
    """Ada Radiohead x1, Bob Radiohead x2 + Airbag, Cat Björk; Bob goes private."""
    played(slack, fake, "U0ADA", "ada", "Radiohead")
    played(slack, fake, "U0BOB", "bob", "Radiohead", "Radiohead", "Radiohead - Airbag")
    played(slack, fake, "U0CAT", "cat", "Björk")


def test_whoknows_is_posted_in_the_channel_and_a_private_member_is_not_named(
    slack: SlackClient, fake: FakeSlack
) -> None:
    crew(slack, fake)
    assert shared(slack, fake, "whoknows radiohead") == {
        **CHANNEL,
        "text": "Who knows Radiohead?\n 1. bob — 3 plays, last played just now\n"
        " 2. ada — 1 play, last played just now\n2 listeners, 4 plays in all",
        "blocks": [
            section(":headphones: *Who knows Radiohead?*"),
            section("*1.* bob — 3 plays, last played just now\n*2.* *ada* — 1 play, last played just now"),
            context("2 listeners, 4 plays in all"),
        ],
    }
    assert private(slack, fake, "privacy private", user_id="U0BOB", user_name="bob") == {
        "response_type": "ephemeral",
        "text": "Your listening is now private. Others no longer see your name in whoknows (you show as "
        "“a private member”, your plays still counted), nor your top, recent plays or profile, "
        "and you are left out of their neighbours and taste. Your plays still count anonymously in "
        "/trending and the daily digest. `/tastemaker privacy public` undoes it.",
        "blocks": [
            section(
                ":lock: Your listening is now private. Others no longer see your name in whoknows (you show "
                "as “a private member”, your plays still counted), nor your top, recent plays or profile, "
                "and you are left out of their neighbours and taste. Your plays still count anonymously "
                "in /trending and the daily digest. `/tastemaker privacy public` undoes it."
            )
        ],
    }
    post = shared(slack, fake, "whoknows Radiohead", user_id="U0CAT", user_name="cat")
    assert post["blocks"][1] == section(
        "*1.* a private member — 3 plays\n*2.* ada — 1 play, last played just now"
    )
    assert "bob" not in json.dumps(post)
    # Bob still sees himself; and the track form.
    post = shared(slack, fake, "whoknows Radiohead - Airbag", user_id="U0BOB", user_name="bob")
    assert post["blocks"][:2] == [
        section(":headphones: *Who knows Radiohead – Airbag?*"),
        section("*1.* *bob* — 1 play, last played just now"),
    ]
    # Another member's profile, recent plays and top: the private message, only to the asker.
    for sub in ("profile", "recent", "top tracks"):
        assert private(slack, fake, f"{sub} <@U0BOB|bob>") == sorry("bob keeps their listening private.")
    assert private(slack, fake, "privacy public", user_id="U0BOB", user_name="bob")["text"] == (
        "Your listening is public: others see your name in whoknows, your top, recent plays and "
        "profile, and may find you in neighbours and taste. `/tastemaker privacy private` hides them."
    )
    assert "bob" in json.dumps(shared(slack, fake, "whoknows radiohead"))


def test_whoknows_nobody_and_the_askers_row_below_the_top_ten(slack: SlackClient, fake: FakeSlack) -> None:
    assert shared(slack, fake, "whoknows Simon &amp; Garfunkel") == {
        **CHANNEL,
        "text": "Nobody here has played Simon &amp; Garfunkel yet.",
        "blocks": [section(":shrug: Nobody here has played Simon &amp; Garfunkel yet.")],
    }
    for n in range(12):
        played(slack, fake, f"U0M{n:02}", f"m{n:02}", *["Low"] * (13 - n))
    post = shared(slack, fake, "whoknows low", user_id="U0M11", user_name="m11")
    lines = post["blocks"][1]["text"]["text"].splitlines()
    assert lines[9:] == [
        "*10.* m09 — 4 plays, last played just now",
        "…",
        "*12.* *m11* — 2 plays, last played just now",
    ]
    assert post["blocks"][2] == context("12 listeners, 90 plays in all")
    assert private(slack, fake, "whoknows") == sorry(
        "Which artist or track? Try `/tastemaker whoknows Radiohead` or "
        "`/tastemaker whoknows Radiohead - Airbag`."
    )


def test_top_recent_and_profile_of_a_mentioned_member(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    crew(slack, fake)
    assert shared(slack, fake, "top tracks <@U0BOB|bob> 7d") == {
        **CHANNEL,
        "text": "bob's top tracks — the last 7 days\n 1. Radiohead – Airbag — 1 play",
        "blocks": [
            section(":bar_chart: *bob's top tracks — the last 7 days*"),
            section("*1.* Radiohead – Airbag — 1 play"),
        ],
    }
    assert shared(slack, fake, "top <@U0BOB>")["blocks"][1] == section("*1.* Radiohead — 3 plays")
    assert shared(slack, fake, "recent <@U0BOB|bob>") == {
        **CHANNEL,
        "text": "bob's last 3 plays, newest first\n 1. Radiohead – Airbag — just now\n"
        " 2. Radiohead — just now\n 3. Radiohead — just now",
        "blocks": [
            section(":notes: *bob's last 3 plays, newest first*"),
            section(
                "*1.* Radiohead – Airbag — just now\n*2.* Radiohead — just now\n*3.* Radiohead — just now"
            ),
        ],
    }
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
    assert shared(slack, fake, "profile <@U0BOB|bob>") == {
        **CHANNEL,
        "text": "bob's profile\n" + "\n".join(f"{k}: {v}" for k, v in fields),
        "blocks": [
            section(":bust_in_silhouette: *bob's profile*"),
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
        ],
    }
    # Without a mention: the asker's own answers, named (the whole channel reads them).
    assert shared(slack, fake, "profile")["blocks"][0] == section(":bust_in_silhouette: *ada's profile*")
    assert (
        shared(slack, fake, "top artists all")["text"]
        == "ada's top artists — all time\n 1. Radiohead — 1 play"
    )


def test_a_member_without_plays_gets_a_friendly_line(slack: SlackClient, fake: FakeSlack) -> None:
    crew(slack, fake)
    for sub in ("profile", "recent", "top"):
        post = shared(slack, fake, sub, user_id="U0DAN", user_name="dan")
        assert post["text"] == "dan has no plays here yet: log one with /played."
        assert post["blocks"] == [section("dan has no plays here yet: log one with /played.")]
    assert private(slack, fake, "profile <@U0DAN|dan>") == sorry(
        "That member has not logged any plays here yet."
    )
    private(slack, fake, "privacy public", user_id="U0DAN", user_name="dan")  # known now, still no plays
    assert shared(slack, fake, "profile <@U0DAN|dan>")["text"] == "dan has no plays here yet."
    assert shared(slack, fake, "top tracks 7d")["text"] == "ada has no plays in the last 7 days."


def test_member_arguments_that_are_not_mentions_are_refused(slack: SlackClient, fake: FakeSlack) -> None:
    crew(slack, fake)
    assert private(slack, fake, "profile @bob") == sorry(
        "I can't tell who @bob is: mention the member (type @ and pick them from the list). "
        "Try `/tastemaker profile` or `/tastemaker profile @member`."
    )
    assert private(slack, fake, "top decade") == sorry(
        "I don't understand `decade` here. "
        "Try `/tastemaker top [artists|tracks] [7d|30d|year|all] [@member] [chart]`."
    )
    assert private(slack, fake, "recent <@U0BOB|bob> <@U0CAT|cat>")["text"].startswith(
        "Sorry — One member at a time, please"
    )
    assert private(slack, fake, "privacy &lt;!channel&gt;") == sorry(
        "Use `privacy private` or `privacy public`."
    )


def test_names_never_ping_anyone(slack: SlackClient, fake: FakeSlack) -> None:
    played(slack, fake, "U0EVIL", "<!channel>", "<@U0ADA> & co")
    played(slack, fake, "U0EVER", "@everyone", "<@U0ADA> & co")
    post = shared(slack, fake, "whoknows &lt;@U0ADA&gt; &amp; co")
    assert post["blocks"][0] == section(":headphones: *Who knows &lt;@U0ADA&gt; &amp; co?*")
    # A tie (same plays, same time): either may come first.
    assert sorted(line[5:] for line in post["blocks"][1]["text"]["text"].splitlines()) == [
        "&lt;!channel&gt; — 1 play, last played just now",
        "@everyone — 1 play, last played just now",
    ]
    for payload in (
        post,
        shared(slack, fake, "profile <@U0EVIL|evil>"),
        shared(slack, fake, "recent <@U0EVER>"),
    ):
        raw = json.dumps(payload, ensure_ascii=False)
        assert "<!" not in raw and "<@" not in raw, raw
    assert shared(slack, fake, "profile <@U0EVIL|evil>")["blocks"][0] == section(
        ":bust_in_silhouette: *&lt;!channel&gt;'s profile*"
    )


def _check_limits(payload: dict[str, Any]) -> None:
    assert len(payload["blocks"]) <= MAX_BLOCKS
    for block in payload["blocks"]:
        texts = [block["text"]["text"]] if "text" in block else []
        texts += [f["text"] for f in block.get("fields", [])] + [e["text"] for e in block.get("elements", [])]
        for text in texts:
            assert len(text) <= SECTION_LIMIT
            # Never an entity cut in half by a shortened name.
            assert not re.search(r"&(a|am|l|g|lt|gt|amp)?…", text), text


def test_limits_with_25_long_names(slack: SlackClient, fake: FakeSlack) -> None:
    long_artist = "&<>" * 66  # 198 characters, each escaped to 4–5
    for n in range(25):
        name = f"{n:02}" + "&" * 78  # an 80-character name, escaped to ~390
        track = f"{long_artist} - {'T' * 180}{n:02}"
        twice = [track] if n < 24 else []  # the last member has the fewest plays: rank 25
        played(slack, fake, f"U0L{n:02}", name, track, *twice, f"{long_artist}{n:02}")
    post = shared(slack, fake, encode_command_text(f"whoknows {long_artist}"), user_id="U0L24")
    _check_limits(post)
    rows = [line for b in post["blocks"][1:-1] for line in b["text"]["text"].splitlines()]
    # All ten, the gap and the asker's own row, over as many sections as they need.
    assert [row.split(" ", 1)[0] for row in rows] == [f"*{n}.*" for n in range(1, 11)] + ["…", "*25.*"]
    assert post["blocks"][-1] == context("25 listeners, 49 plays in all")
    for sub in (
        encode_command_text(f"whoknows {long_artist} - {'T' * 180}03"),
        "top tracks <@U0L03>",
        "recent <@U0L03>",
        "profile <@U0L03>",
    ):
        _check_limits(shared(slack, fake, sub))
    reply, _ = slack.command("/tastemaker", "help")
    _check_limits(reply.json())


def test_two_workspaces_never_mix(slack: SlackClient, fake: FakeSlack) -> None:
    played(slack, fake, "U0ADA", "ada", "Radiohead")
    played(slack, fake, "U0BEA", "bea", "Radiohead", "Mogwai", team_id="T0BBB", team_domain="beta")
    assert shared(slack, fake, "whoknows mogwai")["text"] == "Nobody here has played mogwai yet."
    post = shared(slack, fake, "whoknows radiohead")
    assert "bea" not in json.dumps(post) and post["blocks"][-1] == context("1 listener, 1 play in all")
    # The same user id in the other workspace is nobody here.
    assert private(slack, fake, "profile <@U0BEA|bea>") == sorry(
        "That member has not logged any plays here yet."
    )
    post = shared(slack, fake, "whoknows radiohead", team_id="T0BBB", team_domain="beta", user_id="U0BEA")
    assert "ada" not in json.dumps(post)


def test_shared_answers_fall_back_to_the_response_url_outside_the_channel(
    slack: SlackClient, fake: FakeSlack
) -> None:
    fake.not_in_channel.add("C0PRIVATE")
    played(slack, fake, "U0ADA", "ada", "Radiohead")
    _, form = slack.command("/tastemaker", "whoknows Radiohead", channel_id="C0PRIVATE")
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "in_channel"
    assert call.payload["text"].startswith("Who knows Radiohead?")


def test_help_is_generated_from_the_service_with_slacks_prefixes(
    slack: SlackClient, service: Service
) -> None:
    reply, _ = slack.command("/tastemaker", "help")
    body = reply.json()
    shown = "\n".join(b["text"]["text"] for b in body["blocks"])
    for entry in service.help():
        prefix = "/" if entry.command in ("played", "recommend", "trending") else "/tastemaker "
        assert f"• `{prefix}{entry.command}" in shown, entry.command
        if entry.example and entry.command != "digest":
            assert f"(e.g. `{prefix}{entry.command} {entry.example}`)" in shown
    assert "• `/tastemaker whoknows &lt;artist | artist - title&gt;` — who here plays it most" in shown
    assert "(e.g. `/tastemaker digest here 09:00 Europe/Berlin`)" in shown  # Slack's own digest command
    assert (
        "/tastemaker top [artists|tracks] [7d|30d|year|all] [member] [chart] — a member's own chart "
        "(chart: as a picture too) (e.g. /tastemaker top tracks 30d chart)" in body["text"]
    )
    for sub in ("whoknows", "top", "recent", "profile", "privacy"):
        assert sub in LAZY_SUBCOMMANDS


def test_calls_are_made_with_the_bot_token(fake: FakeSlack, slack: SlackClient) -> None:
    played(slack, fake, "U0ADA", "ada", "Radiohead")
    shared(slack, fake, "recent")
    posts: list[Call] = fake.delivered(lambda c: c.method == "chat.postMessage")
    assert posts[-1].headers["Authorization"].startswith("Bearer xoxb-")


def test_mentions_are_read_before_the_text_is_decoded() -> None:
    assert split_mentions("top <@U0BOB|bob> tracks &amp; 7d") == (["U0BOB"], "top   tracks & 7d")
    assert split_mentions("profile <@W0GRID>") == (["W0GRID"], "profile  ")
    # Not a member: a user group, a channel, a special mention, an entity-encoded "mention" as typed.
    assert split_mentions("<!subteam^S1|@team> <#C1|general> <!here> &lt;@U0BOB&gt;") == (
        [],
        "@team #general @here <@U0BOB>",
    )


def test_manifest_escapes_tastemaker_so_mentions_arrive_as_ids() -> None:
    manifest = (Path(__file__).resolve().parents[3] / "config" / "slack-manifest.yml").read_text(
        encoding="utf-8"
    )
    entry = manifest.split("- command: /tastemaker\n", 1)[1].split("oauth_config:", 1)[0]
    assert "should_escape: true" in entry
    for sub in ("whoknows", "top", "recent", "profile", "privacy"):
        assert sub in entry
