"""The Slack adapter end to end: the real Bolt app on its HTTP-mode server on 127.0.0.1:0, signed
slash-command requests, and a loopback fake of Slack's Web API / response_url endpoints."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot import logs
from bot.platforms import PlatformError, Process
from bot.platforms.slack.app import build_app
from bot.platforms.slack.blocks import escape
from bot.platforms.slack.client import web_client
from bot.platforms.slack.server import serve, socket_mode_handler
from bot.service import Service
from config.settings import Settings
from tests.platforms.bot_process import wait_for_job_runs
from tests.platforms.fake_slack import FakeSlack, FakeSocketMode
from tests.platforms.slack.harness import (
    ACK_BUDGET,
    TOKEN,
    Reply,
    SlackClient,
    all_text,
    at,
    c_base,
    plays,
    slack_http_bot,
    slack_who,
)

ROOT = Path(__file__).resolve().parents[3]


# --- acceptance ---------------------------------------------------------------------------------


def test_signed_played_acks_fast_and_answers_with_escaped_blocks(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    reply, form = slack.command("/played", "<!channel> & Friends - <@U0BOB> Song")
    assert reply.status == 200
    assert reply.seconds < ACK_BUDGET
    assert reply.body == ""  # an empty ack: the answer follows on response_url
    [call] = fake.wait_for(at(form))
    msg = call.payload
    assert msg["response_type"] == "ephemeral"
    assert msg["text"].startswith("Logged &lt;!channel&gt; &amp; Friends – &lt;@U0BOB&gt; Song")
    assert "1st play" in msg["text"]
    assert [b["type"] for b in msg["blocks"]] == ["section"]
    shown = all_text(call)
    assert "&lt;!channel&gt; &amp; Friends – &lt;@U0BOB&gt; Song" in shown
    assert "<!channel>" not in json.dumps(msg) and "<@U0BOB>" not in json.dumps(msg)
    assert plays(service, slack_who()) == {"<!channel> & Friends – <@U0BOB> Song": 1}


def test_trending_posts_to_the_channel_with_blocks_and_fallback(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    for text in ("Radiohead - Karma Police", "Radiohead - Karma Police", "<b>Bjork</b> - Joga"):
        _, form = slack.command("/played", text)
        fake.wait_for(at(form))
    reply, form = slack.command("/trending", "all tracks")
    assert reply.status == 200 and reply.seconds < ACK_BUDGET
    [post] = fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    msg = post.payload
    assert msg["channel"] == "C0CHAN"
    assert msg["text"].startswith("Trending tracks in fakecrew — all time")
    assert " 1. Radiohead – Karma Police — 2 plays, 1 listener" in msg["text"]
    assert " 2. &lt;b&gt;Bjork&lt;/b&gt; – Joga — 1 play, 1 listener" in msg["text"]
    types = [b["type"] for b in msg["blocks"]]
    assert types[0] == "header" and "section" in types
    assert "*1.* Radiohead – Karma Police — 2 plays, 1 listener" in all_text(post)
    assert "*2.* &lt;b&gt;Bjork&lt;/b&gt; – Joga — 1 play, 1 listener" in all_text(post)
    assert "<b>" not in json.dumps(msg)
    assert not fake.delivered(at(form))  # posted to the channel, not on the response_url

    slack.command("/trending", "artists all")
    posts = fake.wait_for(lambda c: c.method == "chat.postMessage", count=2)
    assert posts[1].payload["text"].startswith("Trending artists in fakecrew — all time")
    assert "*2.* &lt;b&gt;Bjork&lt;/b&gt; — 1 play" in all_text(posts[1])


def test_trending_falls_back_to_response_url_when_bot_is_not_in_channel(
    slack: SlackClient, fake: FakeSlack
) -> None:
    fake.not_in_channel.add("C0PRIVATE")
    _, form = slack.command("/trending", "", channel_id="C0PRIVATE")
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "in_channel"
    assert call.payload["text"].startswith("Trending tracks in fakecrew — since 7 days ago (UTC)")
    assert call.payload["blocks"][0]["type"] == "header"


def test_recommend_and_bad_arguments_answer_ephemerally(slack: SlackClient, fake: FakeSlack) -> None:
    _, form = slack.command("/played", "Portishead - Roads", user_id="U0BOB")
    fake.wait_for(at(form))
    _, form = slack.command("/recommend", "artists 5")
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "ephemeral"
    assert "Portishead" in call.payload["text"]
    assert call.payload["blocks"][0]["type"] == "header"
    assert "*1.* Portishead" in all_text(call)

    _, form = slack.command("/trending", "<!here>")
    [call] = fake.wait_for(at(form))
    assert call.payload["response_type"] == "ephemeral"
    assert call.payload["text"] == "Sorry — Unknown window `&lt;!here&gt;`. Use one of: 24h, 7d, 30d, all."
    assert not fake.delivered(lambda c: c.method == "chat.postMessage")


def test_help_is_answered_in_the_ack(slack: SlackClient, fake: FakeSlack) -> None:
    reply, _ = slack.command("/tastemaker", "help")
    assert reply.status == 200 and reply.seconds < ACK_BUDGET
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert "/tastemaker help" in body["text"] and "/played &lt;artist - title&gt;" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    reply, _ = slack.command("/tastemaker", "<!everyone>")
    assert "Unknown subcommand `&lt;!everyone&gt;`" in reply.json()["text"]


@pytest.mark.parametrize("case", ["forged", "stale", "no-signature", "no-timestamp", "no-headers"])
def test_unverified_requests_get_401_and_never_run(
    slack: SlackClient, fake: FakeSlack, service: Service, case: str
) -> None:
    form = slack.form("/played", "Radiohead - Creep")
    body = urlencode(form)
    headers = slack.signed_headers(body)
    if case == "forged":
        headers = SlackClient(slack.port, fake, secret="not-the-secret").signed_headers(body)
    elif case == "stale":  # correctly signed, but 5 minutes and 1 second old
        headers = slack.signed_headers(body, timestamp=int(time.time()) - 301)
    elif case == "no-signature":
        del headers["X-Slack-Signature"]
    elif case == "no-timestamp":
        del headers["X-Slack-Request-Timestamp"]
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = slack.post(body, headers)
    assert reply.status == 401
    # A well-signed request afterwards runs, so by the time its answer arrives the rejected one would
    # have too, had it been dispatched.
    _, ok = slack.command("/played", "Portishead - Roads")
    fake.wait_for(at(ok))
    assert not fake.delivered(at(form))
    assert plays(service, slack_who()) == {"Portishead – Roads": 1}


def test_workspaces_with_the_same_user_id_are_isolated(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    # Same user id in two workspaces, and the same team id under two enterprise grids.
    spaces = [
        ({"team_id": "T0AAA", "team_domain": "alpha"}, "Radiohead - Creep"),
        ({"team_id": "T0BBB", "team_domain": "beta"}, "Bjork - Joga"),
        ({"team_id": "T0AAA", "team_domain": "gridded", "enterprise_id": "E0GRID"}, "Low - Words"),
    ]
    for over, text in spaces:
        _, form = slack.command("/played", text, user_id="U0SAME", **over)
        assert fake.wait_for(at(form))[0].payload["text"].endswith("your 1st play.")
    assert plays(service, slack_who("T0AAA", "U0SAME")) == {"Radiohead – Creep": 1}
    assert plays(service, slack_who("T0BBB", "U0SAME")) == {"Bjork – Joga": 1}
    assert plays(service, slack_who("T0AAA", "U0SAME", "E0GRID")) == {"Low – Words": 1}

    for n, (over, _text) in enumerate(spaces, 1):
        slack.command("/trending", "all", user_id="U0SAME", **over)
        posts = fake.wait_for(lambda c: c.method == "chat.postMessage", count=n)
        text = posts[-1].payload["text"]
        assert text.startswith(f"Trending tracks in {over['team_domain']}")
        shown = [name for name in ("Creep", "Joga", "Words") if name in text]
        assert shown == [{"alpha": "Creep", "beta": "Joga", "gridded": "Words"}[over["team_domain"]]]

    # /recommend falls back to the workspace's own trending: only alpha's plays are candidates.
    _, form = slack.command("/played", "Bjork - Joga", user_id="U0OTHER", team_id="T0AAA")
    fake.wait_for(at(form))
    _, form = slack.command("/recommend", "tracks", user_id="U0SAME", team_id="T0AAA")
    [rec] = fake.wait_for(at(form))
    assert "Joga" in rec.payload["text"] and "Words" not in rec.payload["text"]


def test_rate_limited_post_is_retried_and_delivered_once(slack: SlackClient, fake: FakeSlack) -> None:
    fake.fail_next("/api/chat.postMessage", status=429, retry_after=0)
    slack.command("/trending", "all")
    [post] = fake.wait_for(lambda c: c.method == "chat.postMessage")
    attempts = [c.status for c in fake.calls if c.method == "chat.postMessage"]
    assert attempts == [429, 200]
    time.sleep(0.3)  # nothing else trickles in afterwards
    assert len(fake.delivered()) == 1 and post.payload["channel"] == "C0CHAN"


def test_rate_limited_response_url_is_retried_and_delivered_once(slack: SlackClient, fake: FakeSlack) -> None:
    form = slack.form("/played", "Radiohead - Creep")
    path = form["response_url"][len(c_base(form)) :]
    fake.fail_next(path, status=429, retry_after=0)
    body = urlencode(form)
    slack.post(body, slack.signed_headers(body))
    fake.wait_for(at(form))
    time.sleep(0.3)
    assert [c.status for c in fake.calls if c.path == path] == [429, 200]
    assert len(fake.delivered(at(form))) == 1


def test_ack_latency_under_concurrent_load(slack: SlackClient, fake: FakeSlack) -> None:
    results: list[Reply] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        reply, _ = slack.command("/played", f"Artist {i} - Song {i}")
        with lock:
            results.append(reply)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [200] * 20
    worst = max(r.seconds for r in results)
    assert worst < ACK_BUDGET, worst
    fake.wait_for(count=20, timeout=15)
    print(f"ack latency over 20 concurrent /played: worst {worst * 1000:.1f} ms")


def test_socket_mode_acks_envelopes_and_answers(
    service: Service, slack_settings: Settings, fake: FakeSlack, executor: ThreadPoolExecutor
) -> None:
    """Socket Mode needs no signing secret: the app token authenticates the WebSocket."""
    socket_settings = slack_settings.model_copy(
        update={"slack_signing_secret": None, "slack_app_token": "xapp-fake"}
    )
    ws = FakeSocketMode().start()
    fake.socket_url = ws.url
    handler = socket_mode_handler(
        build_app(service, socket_settings, socket_mode=True, listener_executor=executor), socket_settings
    )
    try:
        handler.connect()
        ws.wait_connected()
        [opened] = [c for c in fake.calls if c.method == "apps.connections.open"]
        assert opened.headers["Authorization"] == "Bearer xapp-fake"
        form = SlackClient(0, fake).form("/played", "<!here> - Ping")
        started = time.perf_counter()
        ws.send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": form,
            }
        )
        ack = ws.wait_ack("env-1")
        assert time.perf_counter() - started < ACK_BUDGET
        assert ack == {"envelope_id": "env-1"}
        [call] = fake.wait_for(at(form))
        assert call.payload["text"] == "Logged &lt;!here&gt; – Ping — your 1st play."
        ws.send(
            {
                "envelope_id": "env-2",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": SlackClient(0, fake).form("/tastemaker", "help"),
            }
        )
        assert "/tastemaker help" in ws.wait_ack("env-2")["payload"]["text"]
    finally:
        handler.close()  # ~3 s: slack_sdk's client waits out its socket receive timeout
        ws.stop()
    assert plays(service, slack_who()) == {"<!here> – Ping": 1}


def test_serve_in_socket_mode_connects_and_stops(
    service: Service, slack_settings: Settings, fake: FakeSlack
) -> None:
    """What `tastemaker run` does without --http-port: serve() connects before it returns, the
    connection answers commands, and stop() closes it."""
    socket_settings = slack_settings.model_copy(
        update={"slack_signing_secret": None, "slack_app_token": "xapp-fake"}
    )
    ws = FakeSocketMode().start()
    fake.socket_url = ws.url
    lines: list[str] = []
    try:
        served = serve(Process(service, socket_settings, out=lines.append))
        try:
            assert lines == ["tastemaker: Slack Socket Mode connected"]
            assert [c.method for c in fake.calls][:2] == ["auth.test", "apps.connections.open"]
            form = SlackClient(0, fake).form("/played", "Low - Words")
            ws.send(
                {
                    "envelope_id": "e1",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": form,
                }
            )
            assert ws.wait_ack("e1") == {"envelope_id": "e1"}
            assert fake.wait_for(at(form))[0].payload["text"] == "Logged Low – Words — your 1st play."
            assert not served.done.is_set()
        finally:
            served.stop()
        assert served.done.is_set() and served.failure is None
    finally:
        ws.stop()


def test_refused_bot_token_is_one_line(service: Service, slack_settings: Settings, fake: FakeSlack) -> None:
    fake.fail_next(
        "/api/auth.test", status=200, retry_after=None, body='{"ok": false, "error": "invalid_auth"}'
    )
    with pytest.raises(PlatformError, match="^Slack rejected SLACK_BOT_TOKEN: invalid_auth$"):
        serve(Process(service, slack_settings, http_port=0, http_host="127.0.0.1"))


# --- configuration ------------------------------------------------------------------------------


def test_escape_neutralises_mentions_and_entities() -> None:
    assert escape("<!channel> & <@U1|ada> &amp;") == "&lt;!channel&gt; &amp; &lt;@U1|ada&gt; &amp;amp;"


def test_web_client_honours_api_url_and_retries_rate_limits(slack_settings: Settings) -> None:
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    client = web_client(slack_settings)
    assert client.base_url == slack_settings.slack_api_url + "/"
    assert any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers)


def test_manifest_declares_the_commands_and_scopes() -> None:
    manifest = (ROOT / "config" / "slack-manifest.yml").read_text(encoding="utf-8")
    for command in ("/played", "/recommend", "/trending", "/tastemaker"):
        assert f"- command: {command}\n" in manifest
    for scope in ("commands", "chat:write", "files:write"):
        assert f"      - {scope} " in manifest
    assert "socket_mode_enabled: true" in manifest
    assert "  interactivity:\n    is_enabled: true" in manifest  # the buttons reach the app


def test_http_mode_without_signing_secret_is_a_friendly_error(service: Service, settings: Settings) -> None:
    no_secret = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": None})
    with pytest.raises(PlatformError, match="SLACK_SIGNING_SECRET"):
        serve(Process(service, no_secret, http_port=0))
    nothing = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_app_token": None})
    with pytest.raises(PlatformError, match="SLACK_APP_TOKEN"):
        serve(Process(service, nothing, http_port=None))
    with pytest.raises(PlatformError, match="SLACK_BOT_TOKEN"):
        serve(Process(service, settings, http_port=0))


# --- the real command line --------------------------------------------------------------------


def test_cli_run_http_mode_end_to_end(tmp_path: Path, fake: FakeSlack) -> None:
    bot = slack_http_bot(tmp_path, fake)
    try:
        port = int(bot.wait_for_line(r"listening on http://127\.0\.0\.1:(\d+)/slack/events").group(1))
        bot.wait_for_line(r"tastemaker: serving slack")
        wait_for_job_runs(f"sqlite:///{tmp_path / 'x.db'}", "batch")  # the start-up batch: nothing to fold
        assert fake.calls and fake.calls[0].method == "auth.test"  # token checked at start-up
        client = SlackClient(port, fake)
        reply, form = client.command("/played", "<!channel> - Anthem")
        assert reply.status == 200 and reply.seconds < ACK_BUDGET
        [call] = fake.wait_for(at(form), timeout=10)
        assert call.payload["text"] == "Logged &lt;!channel&gt; – Anthem — your 1st play."
        reply, _ = client.command("/trending", "all")
        [post] = fake.wait_for(lambda c: c.method == "chat.postMessage", timeout=10)
        assert "Anthem — 1 play" in post.payload["text"]
        forged = urlencode(client.form("/played", "x"))
        assert (
            client.post(forged, {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"}).status
            == 401
        )
        # What the internet sends gets a 4xx, and the log stays free of tracebacks.
        for _ in range(20):
            bad = client.post(
                forged, {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "abc"}
            )
            assert bad.status == 401
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/slack/events", body=b"text=Bj\xf6rk", headers=client.signed_headers("x"))
        assert conn.getresponse().status == 400
        conn.close()
    finally:
        code = bot.stop()
    assert code == 0, (bot.stdout, bot.stderr)
    assert bot.stdout.endswith("tastemaker: stopped"), bot.stdout
    assert "Traceback" not in bot.stderr and "will be unused" not in bot.stderr, bot.stderr
    log = logs.default_log_file()  # the bot inherits this test's per-user folders (tests/conftest.py)
    assert log.exists() and "Traceback" not in log.read_text(encoding="utf-8")


@pytest.mark.spark
def test_recommend_after_a_retrain_never_names_another_workspaces_artists(  # type: ignore[no-untyped-def]
    slack: SlackClient, fake: FakeSlack, service: Service, slack_settings: Settings, spark
) -> None:
    from engine.batch import EngineContext, batch
    from tests.isolation import ONLY_A, assert_clean
    from tests.isolation import plays as world

    teams = {"A": "T0AAA", "B": "T0BBB"}
    for community, team in teams.items():
        for member, artist, track, count in world(community):
            for _ in range(min(count, 2)):
                _, form = slack.command("/played", f"{artist} - {track}", user_id=member, team_id=team)
                fake.wait_for(at(form))
    batch(
        EngineContext(slack_settings, service.db, spark=lambda: spark, clock=service.clock), retrain_now=True
    )

    def answers(member: str) -> list[str]:
        texts = []
        for kind in ("artists", "tracks"):
            _, form = slack.command("/recommend", kind, user_id=member, team_id=teams["A"])
            [call] = fake.wait_for(at(form))
            texts += [
                json.dumps(call.payload, ensure_ascii=False),
                call.payload.get("text", ""),
                all_text(call),
            ]
        return texts

    shown = [t for m in range(6) for t in assert_clean(answers(f"a{m}"))]  # stored picks
    assert any(name in " ".join(shown) for name in ONLY_A)
    _, form = slack.command("/played", "Radiohead - Radiohead Song 0", user_id="a-new", team_id=teams["A"])
    fake.wait_for(at(form))
    assert_clean(answers("a-new"))  # fold-in
