"""Slash-command text arrives Slack-encoded (``&amp;``, ``<@U1|ada>`` …) and is decoded once in the
adapter: what a member typed and what Slack sent are the same play, mentions and links are plain
text, and nothing the bot answers can ping anyone."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.platforms.slack.encoding import decode
from bot.service import Service
from tests.platforms.fake_slack import FakeSlack, encode_command_text
from tests.platforms.slack.harness import SlackClient, all_text, at, plays, slack_who


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("Simon &amp; Garfunkel - The Boxer", "Simon & Garfunkel - The Boxer"),
        ("&lt;b&gt;Bjork&lt;/b&gt; - Joga", "<b>Bjork</b> - Joga"),
        ("AC&amp;amp;DC", "AC&amp;DC"),  # a typed "&amp;" stays "&amp;": decoded once
        ("&amp;lt;", "&lt;"),
        ("Tom &amp; Jerry &quot;live&quot;", "Tom & Jerry &quot;live&quot;"),  # only Slack's three
        ("<@U0BOB|bob> - Song", "@bob - Song"),
        ("<@U0BOB> - Song", "@U0BOB - Song"),
        ("<#C0CHAN|general> vibes", "#general vibes"),
        ("<#C0CHAN> vibes", "#C0CHAN vibes"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!here|here> <!channel|@channel>", "@here @channel"),
        ("<!subteam^S0TEAM|@crew> <!subteam^S0TEAM>", "@crew @S0TEAM"),
        ("<!date^1392734382^{date_num}|2014-02-18> mix", "2014-02-18 mix"),
        ("<https://example.test/a?b=1&amp;c=2|Simon &amp; Garfunkel>", "Simon & Garfunkel"),
        ("<https://example.test/a?b=1&amp;c=2>", "https://example.test/a?b=1&c=2"),
        ("<mailto:ada@example.test|ada@example.test>", "ada@example.test"),
        ("", ""),
        ("plain text, nothing to do", "plain text, nothing to do"),
    ],
)
def test_decode(sent: str, typed: str) -> None:
    assert decode(sent) == typed


def test_decode_undoes_what_slack_encodes() -> None:
    for typed in ("Simon & Garfunkel", "<!channel> & <@U1>", "&amp;amp; &lt;", "a<b>c&d", "<<>>&&"):
        assert decode(encode_command_text(typed)) == typed


def test_sent_and_typed_ampersand_are_one_artist(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    # What Slack puts on the wire for "Simon & Garfunkel - The Boxer", sent verbatim …
    _, sent = slack.command("/played", encoded="Simon &amp; Garfunkel - The Boxer")
    [first] = fake.wait_for(at(sent))
    # … and the same command typed, which the harness encodes the way Slack does.
    _, typed = slack.command("/played", "Simon & Garfunkel - The Boxer")
    assert typed["text"] == "Simon &amp; Garfunkel - The Boxer"
    [second] = fake.wait_for(at(typed))
    assert first.payload["text"] == "Logged Simon &amp; Garfunkel – The Boxer — your 1st play."
    assert second.payload["text"] == "Logged Simon &amp; Garfunkel – The Boxer — your 2nd play."
    assert plays(service, slack_who()) == {"Simon & Garfunkel – The Boxer": 2}
    artists = service.trending(slack_who(), "all", "artist").entries
    assert [(a.name, a.plays) for a in artists] == [("Simon & Garfunkel", 2)]


def test_mentions_and_links_are_plain_text_and_never_ping(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    _, form = slack.command(
        "/played", encoded="<!here> &amp; <@U0BOB|bob> - <https://example.test/x|Song> for <#C0CHAN|music>"
    )
    [call] = fake.wait_for(at(form))
    stored = "@here & @bob – Song for #music"
    assert plays(service, slack_who()) == {stored: 1}
    wire = json.dumps(call.payload)
    assert call.payload["text"] == "Logged @here &amp; @bob – Song for #music — your 1st play."
    assert "@here &amp; @bob – Song for #music" in all_text(call)
    for control in ("<!", "<@", "<#", "<http"):
        assert control not in wire, control

    slack.command("/trending", "all")
    [post] = fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert post.payload.get("link_names") in (None, False, "0", "false")  # "@here" stays text
    assert post.payload["unfurl_links"] in (False, "0", "false")
    for control in ("<!", "<@", "<#", "<http"):
        assert control not in json.dumps(post.payload), control
    assert "@here &amp; @bob – Song for #music" in all_text(post)


def test_arguments_are_decoded_before_parsing(slack: SlackClient, fake: FakeSlack) -> None:
    _, form = slack.command("/played", "Low - Words")
    fake.wait_for(at(form))
    # "/trending all tracks" with the window written as a link's text: decoded, it parses.
    slack.command("/trending", encoded="<https://example.test/all|all> tracks")
    [post] = fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert post.payload["text"].startswith("Trending tracks in fakecrew — all time")


def test_help_ack_shows_the_typed_subcommand(slack: SlackClient) -> None:
    reply, _ = slack.command("/tastemaker", "a&b")
    assert "Unknown subcommand `a&amp;b`" in reply.json()["text"]  # &amp;amp; would be a double decode
    body = urlencode(slack.form("/tastemaker", encoded="<@U0BOB|bob>"))
    reply = slack.post(body, slack.signed_headers(body))
    assert "Unknown subcommand `@bob`" in reply.json()["text"]
