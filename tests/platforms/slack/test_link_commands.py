"""/tastemaker link, unlink and links, and the own profile's linked accounts, end to end: the real Bolt
app on 127.0.0.1:0, signed slash commands (account names and profile URLs as Slack sends them:
entity-encoded, ``<https://…|…>`` links), exact payloads answered ephemerally on the command's
response_url. Real service and SQLite file; the sync runs against the loopback ListenBrainz and
Last.fm fakes (linking itself fetches nothing)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.platforms.slack.commands import LAZY_SUBCOMMANDS
from bot.service import Service
from config.settings import Settings
from storage.db import Database
from tests.conftest import Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SlackClient, at, slack_who
from tests.sync.conftest import T0, run_sync

ADA = slack_who()
BETA = {"team_id": "T0BBB", "team_domain": "beta"}
LINKED_ROB = (
    "Linked your ListenBrainz account rob. Its listening history is copied into your plays here over "
    "the next syncs, then its new listens as they come; they count like the plays you log. "
    "`/tastemaker links` shows how far it is."
)
NO_LINKS = (  # "<user name>" escaped, as every text Slack shows
    "You have no ListenBrainz or Last.fm account linked here. Link one and its plays arrive by themselves: "
    "`/tastemaker link listenbrainz &lt;user name&gt;` or `/tastemaker link lastfm &lt;user name&gt;`."
)
LINKS_FOOTER = (
    "Their plays count here like the ones you log. `/tastemaker unlink listenbrainz keep` stops syncing "
    "it and keeps its plays; `/tastemaker unlink listenbrainz delete` removes them too."
)
PROFILE_NOTE = "Only you see this: your profile in the channel leaves your linked accounts out."
PRIVATE_NOTICE = (
    "Notice: Your Last.fm account “shybob” hides its recent listening, so its listens stopped arriving "
    "here. Untick “Hide recent listening information” in Last.fm's privacy settings and they come back "
    "within a day, by themselves."
)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def ephemeral(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def sorry(text: str) -> dict[str, Any]:
    return ephemeral(f"Sorry — {text}", [section(f":warning: Sorry — {text}")])


def _listens(n: int) -> list[FakeListen]:
    return [FakeListen(T0 + 60 * k, f"Artist {k % 5}", f"Song {k}") for k in range(n)]


@pytest.fixture
def service(db: Database, sync_settings: Settings, clock: Clock) -> Service:
    """The service the Bolt app answers with: Last.fm accounts can be linked (the operator's key)."""
    return Service(db, sync_settings, clock=clock)


def private(slack: SlackClient, fake: FakeSlack, encoded: str, **over: str) -> dict[str, Any]:
    """A /tastemaker subcommand answered only to the member: an empty ack, then one ephemeral
    answer on the response_url, nothing shared."""
    before = len(fake.delivered(lambda c: c.method == "chat.postMessage"))
    reply, form = slack.command("/tastemaker", encoded=encoded, **over)
    assert reply.status == 200 and reply.body == "" and reply.seconds < ACK_BUDGET
    [call] = fake.wait_for(at(form))
    assert len(fake.delivered(lambda c: c.method == "chat.postMessage")) == before
    return dict(call.payload)


def own_profile(
    slack: SlackClient, fake: FakeSlack, *, follow: bool, **over: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``/tastemaker profile``: the post in the channel, and the ephemeral follow-up (``follow``:
    one is expected; otherwise none arrives)."""
    before = len(fake.delivered(lambda c: c.method == "chat.postMessage"))
    _, form = slack.command("/tastemaker", encoded="profile", **over)
    post = fake.wait_for(lambda c: c.method == "chat.postMessage", count=before + 1)[-1]
    if not follow:
        slack_settle(fake)
        assert not fake.delivered(at(form))
        return dict(post.payload), None
    [mine] = fake.wait_for(at(form))
    return dict(post.payload), dict(mine.payload)


def slack_settle(fake: FakeSlack) -> None:
    """Give a lazy listener time to send anything it would still send."""
    time.sleep(0.3)


def test_link_links_and_unlink_answer_only_the_member(
    slack: SlackClient, fake: FakeSlack, service: Service, clock: Clock
) -> None:
    for sub in ("link", "unlink", "links"):
        assert sub in LAZY_SUBCOMMANDS
    assert private(slack, fake, "links") == ephemeral(NO_LINKS, [section(NO_LINKS)])
    assert private(slack, fake, "link listenbrainz rob") == ephemeral(
        LINKED_ROB, [section(f":link: {LINKED_ROB}")]
    )
    clock.advance(minutes=4)
    line = "ListenBrainz: rob — linked 4 min ago, waiting for its first sync"
    assert private(slack, fake, "links") == ephemeral(
        f"Your linked accounts here:\n{line}\n{LINKS_FOOTER}",
        [section(":link: *Your linked accounts here*"), section(line), context(LINKS_FOOTER)],
    )
    kept = (
        "Unlinked your ListenBrainz account rob: no new listens arrive from it. The plays it synced stay "
        "in your history, like imported plays. To remove them as well, link it again and unlink it with "
        "delete: `/tastemaker link listenbrainz rob`, then `/tastemaker unlink listenbrainz delete`."
    )
    assert private(slack, fake, "unlink") == ephemeral(kept, [section(f":scissors: {kept}")])
    assert private(slack, fake, "unlink") == sorry("You have no ListenBrainz or Last.fm account linked here.")
    assert private(slack, fake, "unlink lastfm listenbrainz") == sorry(
        "I don't understand `lastfm listenbrainz` here. Try `/tastemaker unlink`, "
        "`/tastemaker unlink listenbrainz` or `/tastemaker unlink lastfm delete`."
    )
    assert private(slack, fake, "link") == sorry(
        "Which account? Try `/tastemaker link listenbrainz &lt;user name&gt;` or "
        "`/tastemaker link lastfm &lt;user name&gt;`."
    )
    assert service.links(ADA) == []


def test_account_names_arrive_encoded_and_profile_urls_work(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    # Typed "r&b<3": Slack sends "r&amp;b&lt;3"; the reply shows it escaped again.
    reply = private(slack, fake, "link listenbrainz r&amp;b&lt;3")
    assert reply["blocks"][0]["text"]["text"].startswith(
        ":link: Linked your ListenBrainz account r&amp;b&lt;3. "
    )
    assert [(s.source, s.account) for s in service.links(ADA)] == [("listenbrainz", "r&b<3")]
    # A URL arrives as a link sequence (with should_escape: true): its text is read.
    reply = private(slack, fake, "link lastfm <https://www.last.fm/user/RobFM|last.fm/user/RobFM>")
    assert reply["text"].startswith("Linked your Last.fm account RobFM. ")
    assert private(slack, fake, "unlink", user_id="U0BOB") == sorry(
        "You have no ListenBrainz or Last.fm account linked here."
    )
    reply = private(
        slack, fake, "link listenbrainz <https://listenbrainz.org/user/mr%20monkey/>", user_id="U0BOB"
    )
    assert reply["text"].startswith("Linked your ListenBrainz account mr monkey. ")
    deleted = (
        "Unlinked your Last.fm account RobFM: no new listens arrive from it. It had not synced any plays, "
        "so none were removed."
    )
    assert private(slack, fake, "unlink last.fm delete") == ephemeral(
        deleted, [section(f":scissors: {deleted}")]
    )
    kept = (
        "Unlinked your ListenBrainz account r&amp;b&lt;3: no new listens arrive from it. The plays it "
        "synced stay in your history, like imported plays. To remove them as well, link it again and "
        "unlink it with delete: `/tastemaker link listenbrainz r&amp;b&lt;3`, then "
        "`/tastemaker unlink listenbrainz delete`."
    )
    assert private(slack, fake, "unlink") == ephemeral(kept, [section(f":scissors: {kept}")])


def test_a_lastfm_link_without_the_operators_key_is_refused(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    service.settings = service.settings.model_copy(update={"lastfm_api_key": None})
    assert private(slack, fake, "link lastfm robfm") == sorry(
        "Last.fm accounts cannot be linked on this bot yet: its operator has to set LASTFM_API_KEY."
    )
    assert service.links(ADA) == []


def test_two_workspaces_never_see_each_others_links(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    private(slack, fake, "link listenbrainz rob")
    assert private(slack, fake, "links", **BETA)["text"] == NO_LINKS
    assert private(slack, fake, "unlink", **BETA) == sorry(
        "You have no ListenBrainz or Last.fm account linked here."
    )
    # The same account in the other workspace is that workspace's own link.
    assert private(slack, fake, "link listenbrainz rob", **BETA)["text"] == LINKED_ROB
    assert private(slack, fake, "link listenbrainz ROB", user_id="U0BOB") == sorry(
        "Another member here has linked the ListenBrainz account “ROB”."
    )
    assert [s.account for s in service.links(slack_who(team="T0BBB"))] == ["rob"]


def test_unlink_delete_removes_the_synced_plays(
    slack: SlackClient,
    fake: FakeSlack,
    service: Service,
    db: Database,
    sync_settings: Settings,
    lb: FakeListenBrainz,
    clock: Clock,
) -> None:
    lb.add_user("rob", _listens(25))
    private(slack, fake, "link listenbrainz rob")
    _, form = slack.command("/played", "Typed Band - Typed Song")
    fake.wait_for(at(form))
    run_sync(db, sync_settings, clock)
    assert service.profile(ADA).plays == 26
    clock.advance(minutes=1)
    line = "ListenBrainz: rob — last synced 1 min ago, 25 plays"
    assert private(slack, fake, "links")["blocks"][1] == section(line)
    removed = (
        "Unlinked your ListenBrainz account rob: no new listens arrive from it. The 25 plays it synced are "
        "removed from your history. Linking it again (`/tastemaker link listenbrainz rob`) brings its "
        "whole history back."
    )
    assert private(slack, fake, "unlink delete listenbrainz") == ephemeral(
        removed, [section(f":scissors: {removed}")]
    )
    assert [p.what for p in service.my_plays(ADA)] == ["Typed Band – Typed Song"]
    assert service.profile(ADA).plays == 1


def test_the_own_profile_leaves_the_links_out_and_sends_them_privately_with_a_notice_once(
    slack: SlackClient,
    fake: FakeSlack,
    service: Service,
    db: Database,
    sync_settings: Settings,
    lfm: FakeLastfm,
    clock: Clock,
) -> None:
    _, form = slack.command("/played", "Radiohead")
    fake.wait_for(at(form))
    post, mine = own_profile(slack, fake, follow=False)  # nothing linked: the profile alone
    assert "linked" not in json.dumps(post)
    lfm.add_user("shybob", [Scrobble(T0, "A", "B")])
    lfm.private.add("shybob")
    private(slack, fake, "link lastfm shybob")
    run_sync(db, sync_settings, clock)
    post, mine = own_profile(slack, fake, follow=True)
    assert post["blocks"][0] == section(":bust_in_silhouette: *ada's profile*")
    assert "shybob" not in json.dumps(post)  # the channel does not see the account
    line = "Last.fm: shybob — the account hides its listening, so nothing new arrives; nothing synced yet"
    assert mine == ephemeral(
        f"Your linked accounts here:\n{line}\n{PROFILE_NOTE}\n{PRIVATE_NOTICE}",
        [
            section(":link: *Your linked accounts here*"),
            section(line),
            context(PROFILE_NOTE),
            section(f":warning: {PRIVATE_NOTICE}"),
        ],
    )
    # Shown once: the next answers have the link, not the notice.
    _, mine = own_profile(slack, fake, follow=True)
    assert mine is not None and mine["text"] == f"Your linked accounts here:\n{line}\n{PROFILE_NOTE}"
    assert "Notice" not in private(slack, fake, "links")["text"]
    # Another member's profile of Ada: neither the account nor a follow-up.
    _, form = slack.command("/played", "Radiohead", user_id="U0BOB", user_name="bob")
    fake.wait_for(at(form))
    before = len(fake.delivered(lambda c: c.method == "chat.postMessage"))
    _, form = slack.command("/tastemaker", encoded="profile <@U0ADA|ada>", user_id="U0BOB", user_name="bob")
    post = fake.wait_for(lambda c: c.method == "chat.postMessage", count=before + 1)[-1]
    slack_settle(fake)
    assert not fake.delivered(at(form)) and "shybob" not in json.dumps(post.payload)


def test_a_notice_comes_with_the_next_link_answer(
    slack: SlackClient, fake: FakeSlack, db: Database, sync_settings: Settings, clock: Clock
) -> None:
    private(slack, fake, "link listenbrainz nobody_here")
    run_sync(db, sync_settings, clock)
    notice = (
        "Notice: ListenBrainz says there is no account “nobody_here” (any more), so its listens stopped "
        "arriving here. If you renamed it, unlink it and link the new name with "
        "/link listenbrainz &lt;name&gt;."
    )
    reply = private(slack, fake, "link listenbrainz nobody_here")
    already = (
        "Your ListenBrainz account nobody_here is already linked here: ListenBrainz has no such account "
        "(any more), so nothing new arrives; nothing synced yet."
    )
    assert reply["blocks"] == [section(f":link: {already}"), section(f":warning: {notice}")]
    assert "Notice" not in private(slack, fake, "link listenbrainz nobody_here")["text"]
