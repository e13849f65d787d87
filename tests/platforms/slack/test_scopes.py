"""The bot against a Web API that enforces scopes as Slack does: the fake grants the manifest's bot
scopes (``bot.platforms.slack.manifest.BOT_SCOPES``) and answers anything else ``missing_scope``.

The daily digest is set up by workspace admins and posted, in two workspaces, with exactly those
scopes; an app installed without ``users:read`` tells the admin which scope is missing."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import pytest
from slack_sdk.errors import SlackApiError

from bot.digest import DigestRuntime, deliver_due
from bot.jobs import JobContext
from bot.platforms.slack.app import build_app
from bot.platforms.slack.client import web_client
from bot.platforms.slack.digest import SlackDigestSender
from bot.platforms.slack.ids import community_key
from bot.platforms.slack.manifest import BOT_SCOPES
from bot.platforms.slack.server import make_http_server
from bot.service import Service, Who
from config.settings import Settings
from storage import digests
from storage.db import Database
from tests.conftest import Clock
from tests.platforms.fake_slack import TEAM_ID, FakeSlack
from tests.platforms.slack.harness import TOKEN, SlackClient, at

OTHER_TEAM = "T0OTHER"
DIGEST_HERE = "digest here 09:00 Europe/Berlin"
NO_USERS_READ = (
    "I can't tell who is a workspace admin: this Slack app lacks the `users:read` scope. "
    "Add it (config/slack-manifest.yml) and reinstall the app, or list admin ids in "
    "TASTEMAKER_SLACK_ADMIN_IDS."
)


def subs(db: Database) -> list[tuple[str, str, str, str]]:
    with db.read() as conn:
        return [(s.external_id, s.channel, s.local_time, s.tz) for s in digests.subscriptions(conn)]


def refused(fake: FakeSlack) -> list[str]:
    """The methods of the Web API calls the fake refused."""
    return [c.method for c in fake.calls if c.path.startswith("/api/") and not c.ok]


@pytest.fixture
def listed(service: Service, slack_settings: Settings, fake: FakeSlack) -> Iterator[SlackClient]:
    """The bot with ``U0LISTED`` on its admin list (``TASTEMAKER_SLACK_ADMIN_IDS``)."""
    cfg = slack_settings.model_copy(update={"slack_admin_ids": ("U0LISTED",)})
    pool = ThreadPoolExecutor(max_workers=2)
    server = make_http_server(build_app(service, cfg, listener_executor=pool), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SlackClient(server.server_port, fake)
    server.shutdown()
    server.server_close()
    thread.join(5)
    pool.shutdown(wait=True)


def test_the_fake_refuses_a_method_outside_the_granted_scopes(
    fake: FakeSlack, slack_settings: Settings
) -> None:
    client = web_client(slack_settings)
    assert (
        fake.scopes
        == {"commands", "chat:write", "files:write", "users:read", "files:read", "im:history"}
        == set(BOT_SCOPES)
    )
    assert client.users_info(user="U0ADA")["ok"] is True

    fake.scopes.discard("users:read")
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U0ADA")
    assert err.value.response.status_code == 200
    assert err.value.response.data == {
        "ok": False,
        "error": "missing_scope",
        "needed": "users:read",
        "provided": "chat:write,commands,files:read,files:write,im:history",
    }
    assert (
        err.value.response.headers["X-OAuth-Scopes"]
        == "chat:write,commands,files:read,files:write,im:history"
    )
    assert err.value.response.headers["X-Accepted-OAuth-Scopes"] == "users:read"

    with pytest.raises(SlackApiError) as err:  # a method the table does not know
        client.conversations_info(channel="C0CHAN")
    assert err.value.response.data == {"ok": False, "error": "unknown_method"}
    # the app-level token (Socket Mode) holds connections:write, the bot token does not
    assert client.apps_connections_open(app_token="xapp-fake")["ok"] is True
    with pytest.raises(SlackApiError, match="missing_scope"):
        client.apps_connections_open(app_token=TOKEN)


def test_digest_is_set_up_by_admins_and_posted_with_the_manifests_scopes(
    slack: SlackClient,
    fake: FakeSlack,
    service: Service,
    db: Database,
    slack_settings: Settings,
    clock: Clock,
) -> None:
    # a week of plays in two workspaces, each with its own favourite
    for team, song in ((TEAM_ID, "Radiohead - Karma Police"), (OTHER_TEAM, "Portishead - Roads")):
        who = Who("slack", community_key(None, team), "U0ANY")
        for back in range(7):
            service.played(who, song, played_at=dt.datetime(2026, 11, 20, 10) - dt.timedelta(days=back))
    fake.admins.update({"U0ADA", "U0BEA"})
    clock.now = dt.datetime(2026, 11, 20, 12, 0)

    _, a = slack.command("/tastemaker", DIGEST_HERE, user_id="U0ADA")
    _, b = slack.command(
        "/tastemaker", DIGEST_HERE, user_id="U0BEA", team_id=OTHER_TEAM, team_domain="other", channel_id="C0B"
    )
    for form in (a, b):
        [answer] = fake.wait_for(at(form))
        assert answer.payload["response_type"] == "ephemeral"
        assert "every day at 09:00 Europe/Berlin" in answer.payload["text"]
    assert subs(db) == [
        (f"-:{TEAM_ID}", "C0CHAN", "09:00", "Europe/Berlin"),
        (f"-:{OTHER_TEAM}", "C0B", "09:00", "Europe/Berlin"),
    ]
    assert [c.payload["user"] for c in fake.calls if c.method == "users.info"] == ["U0ADA", "U0BEA"]

    # the next morning's digests go out through files_upload_v2 with the same scopes
    clock.now = dt.datetime(2026, 11, 21, 8, 0, 30)  # 09:00:30 in Berlin
    runtime = DigestRuntime({"slack": SlackDigestSender(web_client(slack_settings))}, started_at=clock())
    report = deliver_due(
        JobContext(slack_settings, db, spark=_no_spark, clock=clock, digest=runtime), runtime
    )
    assert (len(report.sent), report.failed, report.skipped) == (2, [], [])
    shared = {c.payload["channel_id"]: c.payload["initial_comment"] for c in fake.shared()}
    assert sorted(shared) == ["C0B", "C0CHAN"]
    assert "Karma Police" in shared["C0CHAN"] and "Roads" not in shared["C0CHAN"]
    assert "Roads" in shared["C0B"] and "Karma Police" not in shared["C0B"]
    assert len(fake.uploads) == 2
    assert refused(fake) == []  # nothing the bot called lay outside the manifest's scopes


def test_without_users_read_the_admin_is_told_which_scope_is_missing(
    slack: SlackClient, fake: FakeSlack, db: Database
) -> None:
    fake.admins.add("U0ADA")
    fake.scopes.discard("users:read")
    _, form = slack.command("/tastemaker", DIGEST_HERE, user_id="U0ADA")
    [answer] = fake.wait_for(at(form))
    assert answer.payload["response_type"] == "ephemeral"
    assert answer.payload["text"] == f"Sorry — {NO_USERS_READ}"
    assert "Only workspace admins" not in answer.payload["text"] and "\n" not in answer.payload["text"]
    assert subs(db) == []
    [call] = [c for c in fake.calls if c.method == "users.info"]
    assert call.ok is False

    fake.scopes.add("users:read")  # reinstalled with the manifest's scopes
    _, form = slack.command("/tastemaker", DIGEST_HERE, user_id="U0ADA")
    [answer] = fake.wait_for(at(form))
    assert "every day at 09:00 Europe/Berlin" in answer.payload["text"]
    assert subs(db) == [(f"-:{TEAM_ID}", "C0CHAN", "09:00", "Europe/Berlin")]


def test_a_listed_admin_needs_no_users_read(listed: SlackClient, fake: FakeSlack, db: Database) -> None:
    fake.scopes.discard("users:read")
    _, form = listed.command("/tastemaker", DIGEST_HERE, user_id="U0LISTED")
    [answer] = fake.wait_for(at(form))
    assert "every day at 09:00 Europe/Berlin" in answer.payload["text"]
    assert subs(db) == [(f"-:{TEAM_ID}", "C0CHAN", "09:00", "Europe/Berlin")]
    assert [c.method for c in fake.calls if c.method == "users.info"] == []  # never asked Slack


def _no_spark() -> NoReturn:
    raise AssertionError("the digest needs no Spark")
