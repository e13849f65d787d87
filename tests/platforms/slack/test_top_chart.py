"""/tastemaker top … chart, end to end: the real Bolt app on 127.0.0.1:0, signed slash commands, the
fake Web API's ``files_upload_v2`` (getUploadURLExternal → upload → completeUploadExternal) asserted
exactly: the PNG shared into the command's channel with the chart as its comment. Where Slack
refuses the picture, the text chart still goes out and the member alone is told why. Real service,
real SQLite file, two workspaces."""

from __future__ import annotations

import json
import time

from bot.chart import member_chart_png
from bot.service import Service
from tests.platforms.fake_slack import Call, FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, at, slack_who
from tests.platforms.slack.test_member_commands import CHANNEL, played, section
from tests.scheduler.test_digest import png_size

PICTURE = "tastemaker-top.png"


def crew(slack: SlackClient, fake: FakeSlack) -> None:
    """Workspace T0FAKE: Ada Radiohead; Bob Radiohead x2, Radiohead - Airbag (3 Radiohead plays),
    Mogwai. T0BBB: Bea The Kills x2."""
    played(slack, fake, "U0ADA", "ada", "Radiohead")
    played(slack, fake, "U0BOB", "bob", "Radiohead", "Radiohead", "Radiohead - Airbag", "Mogwai")
    played(slack, fake, "U0BEA", "bea", "The Kills", "The Kills", team_id="T0BBB", team_domain="beta")


def upload_calls(fake: FakeSlack, since: int, timeout: float = 10.0) -> list[Call]:
    """The three calls of one files_upload_v2 made after call number ``since`` (waits for them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = [
            c for c in fake.calls[since:] if c.method.startswith("files.") or c.path.startswith("/upload/")
        ]
        if len(calls) == 3:
            return calls
        time.sleep(0.02)
    raise AssertionError(f"no complete upload; calls: {[(c.path, c.status) for c in fake.calls[since:]]}")


def tastemaker(slack: SlackClient, encoded: str, **over: str) -> tuple[int, dict[str, str]]:
    since = len(slack.fake.calls)
    reply, form = slack.command("/tastemaker", encoded=encoded, **over)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    return since, form


def test_chart_shares_the_png_with_the_chart_as_its_comment(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    crew(slack, fake)
    since, form = tastemaker(slack, "top <@U0BOB|bob> chart 7d")
    get_url, upload, done = upload_calls(fake, since)
    assert get_url.method == "files.getUploadURLExternal" and get_url.ok
    png = member_chart_png(service.top(slack_who(), "artist", "7d", "U0BOB"), shared=True)
    assert png is not None and png_size(png) == (1000, 200)
    assert {k: get_url.payload[k] for k in ("filename", "length", "alt_txt")} == {
        "filename": PICTURE,
        "length": str(len(png)),
        "alt_txt": "Bar chart: bob's top artists — the last 7 days",
    }
    file_id = upload.path.removeprefix("/upload/")
    assert fake.uploads == {file_id: png}
    assert done.method == "files.completeUploadExternal" and done.ok
    assert done.payload["channel_id"] == "C0CHAN"
    assert done.payload["initial_comment"] == (
        ":bar_chart: *bob's top artists — the last 7 days*\n*1.* Radiohead — 3 plays\n*2.* Mogwai — 1 play"
    )
    assert json.loads(done.payload["files"]) == [
        {"id": file_id, "title": "bob's top artists — the last 7 days"}
    ]
    time.sleep(0.2)
    # The picture carries the chart: no second message, nothing on the response_url.
    assert [c.method for c in fake.calls[since:]] == [get_url.method, upload.path, done.method]
    assert fake.delivered(at(form)) == []


def test_chart_word_in_any_case_beside_a_mention_and_ones_own_chart(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    crew(slack, fake)
    since, _ = tastemaker(slack, "top CHART <@U0BOB|bob> tracks")
    _, upload, done = upload_calls(fake, since)
    assert done.payload["initial_comment"] == (
        ":bar_chart: *bob's top tracks — all time*\n*1.* Radiohead – Airbag — 1 play"
    )
    tracks = member_chart_png(service.top(slack_who(), "track", "all", "U0BOB"), shared=True)
    assert fake.uploads[upload.path.removeprefix("/upload/")] == tracks

    since, _ = tastemaker(slack, "top chart")
    _, upload, done = upload_calls(fake, since)
    assert (
        done.payload["initial_comment"]
        == ":bar_chart: *ada's top artists — all time*\n*1.* Radiohead — 1 play"
    )
    own = member_chart_png(service.top(slack_who(), "artist", "all"), shared=True)
    assert fake.uploads[upload.path.removeprefix("/upload/")] == own


def test_nothing_to_draw_is_the_text_chart_alone(slack: SlackClient, fake: FakeSlack) -> None:
    crew(slack, fake)
    since, _ = tastemaker(slack, "top tracks 7d chart")
    [post] = fake.wait_for(
        lambda c: c.method == "chat.postMessage"
    )  # the only one: /played answers on response_urls
    assert post.payload == {
        **CHANNEL,
        "text": "ada has no plays in the last 7 days.",
        "blocks": [section("ada has no plays in the last 7 days.")],
    }
    assert [c.method for c in fake.calls[since:]] == ["chat.postMessage"]  # no upload at all


def test_outside_the_channel_the_text_chart_arrives_and_the_member_is_told_why(
    slack: SlackClient, fake: FakeSlack
) -> None:
    crew(slack, fake)
    fake.not_in_channel.add("C0PRIVATE")
    since, form = tastemaker(slack, "top chart <@U0BOB|bob> 7d", channel_id="C0PRIVATE")
    chart, why = fake.wait_for(at(form), count=2)
    assert chart.payload == {
        "response_type": "in_channel",
        "text": "bob's top artists — the last 7 days\n 1. Radiohead — 3 plays\n 2. Mogwai — 1 play",
        "blocks": [
            section(":bar_chart: *bob's top artists — the last 7 days*"),
            section("*1.* Radiohead — 3 plays\n*2.* Mogwai — 1 play"),
        ],
    }
    line = (
        "The chart picture could not be posted (not_in_channel): invite me to this channel "
        "(`/invite @tastemaker`) and ask again."
    )
    assert why.payload == {"response_type": "ephemeral", "text": line, "blocks": [section(line)]}
    methods = [
        (c.method if c.path.startswith("/api/") else c.path.split("/")[1], c.ok) for c in fake.calls[since:]
    ]
    assert methods == [
        ("files.getUploadURLExternal", True),
        ("upload", True),
        ("files.completeUploadExternal", False),  # nothing shared
        ("chat.postMessage", False),
        ("response", True),
        ("response", True),
    ]
    assert fake.shared() == []


def test_a_failed_upload_still_sends_the_text_chart(slack: SlackClient, fake: FakeSlack) -> None:
    crew(slack, fake)
    fake.fail_next("/api/files.getUploadURLExternal", status=500, retry_after=None, body="oops")
    since, form = tastemaker(slack, "top chart")
    [post] = fake.wait_for(
        lambda c: c.method == "chat.postMessage"
    )  # the only one: /played answers on response_urls
    assert post.payload["text"] == "ada's top artists — all time\n 1. Radiohead — 1 play"
    [why] = fake.wait_for(at(form))
    line = "The chart picture could not be posted: the chart is shared as text instead."
    assert why.payload == {"response_type": "ephemeral", "text": line, "blocks": [section(line)]}
    assert fake.shared() == [] and fake.uploads == {}


def test_two_workspaces_draw_only_their_own(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    crew(slack, fake)
    since, _ = tastemaker(slack, "top chart", team_id="T0BBB", team_domain="beta", user_id="U0BEA")
    _, upload, done = upload_calls(fake, since)
    assert (
        done.payload["initial_comment"]
        == ":bar_chart: *bea's top artists — all time*\n*1.* The Kills — 2 plays"
    )
    theirs = member_chart_png(service.top(slack_who("T0BBB", "U0BEA"), "artist", "all"), shared=True)
    assert theirs is not None and png_size(theirs) == (1000, 150)  # one bar: nothing of T0FAKE's
    assert fake.uploads[upload.path.removeprefix("/upload/")] == theirs
    # Bob, mentioned from the other workspace, is nobody there: refused, nothing uploaded.
    since, form = tastemaker(slack, "top chart <@U0BOB|bob>", team_id="T0BBB", team_domain="beta")
    [refusal] = fake.wait_for(at(form))
    assert refusal.payload["text"] == "Sorry — That member has not logged any plays here yet."
    assert [c.method for c in fake.calls[since:]] == ["/response/" + form["response_url"].rsplit("/", 1)[1]]
