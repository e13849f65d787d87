"""Every request Slack sent is answered at most once: copies of a signed request replayed within the
signature window, and Slack's retries (``X-Slack-Retry-Num``) of one already answered, get an empty
ack and run nothing — for every command, over HTTP and Socket Mode."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from bot.platforms.slack.app import build_app
from bot.platforms.slack.replay import DEFAULT_TTL, SIGNATURE_WINDOW, SeenRequests, request_key
from bot.platforms.slack.server import make_http_server, socket_mode_handler
from bot.service import Service
from config.settings import Settings
from tests.platforms.fake_slack import FakeSlack, FakeSocketMode
from tests.platforms.slack.harness import Reply, SlackClient, at, plays, slack_who

REPLAYS = 5


def settle(slack: SlackClient, fake: FakeSlack) -> None:
    """Wait until everything sent so far has run: a fresh command's answer arrives after the lazy
    work of the requests before it has started, and a pause lets that work finish."""
    _, form = slack.command("/recommend", "")
    fake.wait_for(at(form))
    time.sleep(0.5)


def posts(fake: FakeSlack) -> list[str]:
    return [c.payload["text"] for c in fake.delivered(lambda c: c.method == "chat.postMessage")]


# --- the bounded memory -------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_seen_requests_remember_for_the_ttl_then_forget() -> None:
    clock = Ticks()
    seen = SeenRequests(ttl=DEFAULT_TTL, clock=clock)
    assert DEFAULT_TTL >= 2 * SIGNATURE_WINDOW  # a copy signed up to 5 min ahead stays valid 10 min
    assert seen.first("trigger_id:a") is True
    assert seen.first("trigger_id:a") is False
    clock.now += DEFAULT_TTL - 1
    assert seen.first("trigger_id:a") is False
    assert seen.first("trigger_id:b") is True
    clock.now += 1
    assert len(seen) == 1  # a expired, b is 1 s old
    assert seen.first("trigger_id:a") is True


def test_seen_requests_are_bounded() -> None:
    seen = SeenRequests(max_entries=100, clock=Ticks())
    for n in range(1000):
        assert seen.first(f"trigger_id:{n}")
    assert len(seen) == 100
    assert seen.first("trigger_id:999") is False  # the newest are kept …
    assert seen.first("trigger_id:0") is True  # … the oldest forgotten first
    with pytest.raises(ValueError, match="replay window"):
        SeenRequests(ttl=SIGNATURE_WINDOW - 1)


def test_request_key() -> None:
    assert request_key({"trigger_id": "123.456.abc", "event_id": "Ev1"}) == "trigger_id:123.456.abc"
    assert request_key({"event_id": "Ev1"}) == "event_id:Ev1"
    assert request_key({"trigger_id": "", "text": "x"}) is None
    assert request_key({"trigger_id": ["not", "a", "string"]}) is None


# --- over HTTP ----------------------------------------------------------------------------------


def test_replayed_trending_posts_once(slack: SlackClient, fake: FakeSlack) -> None:
    _, form = slack.command("/played", "Radiohead - Creep")
    fake.wait_for(at(form))
    body = urlencode(slack.form("/trending", "all", trigger_id="13345224609.738474920.8088930838d88"))
    headers = slack.signed_headers(body)
    replies = [slack.post(body, headers) for _ in range(1 + REPLAYS)]  # byte-identical copies
    assert [(r.status, r.body) for r in replies] == [(200, "")] * (1 + REPLAYS)
    settle(slack, fake)
    assert len(posts(fake)) == 1, posts(fake)
    print(f"chat.postMessage calls after 1 /trending + {REPLAYS} replays: {len(posts(fake))}")


def test_replayed_played_logs_once(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    form = slack.form("/played", "Radiohead - Creep", trigger_id="13345224609.738474920.8088930838d88")
    body = urlencode(form)
    for n in range(1 + REPLAYS):  # re-signed with a fresh timestamp each time: still the same request
        reply = slack.post(body, slack.signed_headers(body, timestamp=int(time.time()) + n))
        assert (reply.status, reply.body) == (200, "")
    settle(slack, fake)
    [answer] = fake.delivered(at(form))
    assert answer.payload["text"] == "Logged Radiohead – Creep — your 1st play."
    assert plays(service, slack_who()) == {"Radiohead – Creep": 1}


def test_concurrent_copies_run_once(slack: SlackClient, fake: FakeSlack, service: Service) -> None:
    form = slack.form("/played", "Bjork - Joga")
    body = urlencode(form)
    headers = slack.signed_headers(body)
    replies: list[Reply] = []
    lock = threading.Lock()

    def send() -> None:
        reply = slack.post(body, headers)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [r.status for r in replies] == [200] * 8
    settle(slack, fake)
    assert len(fake.delivered(at(form))) == 1
    assert plays(service, slack_who()) == {"Bjork – Joga": 1}


def test_slack_retry_of_an_answered_request_is_acked_and_not_rerun(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    form = slack.form("/trending", "all")
    body = urlencode(form)
    assert slack.post(body, slack.signed_headers(body)).status == 200
    fake.wait_for(lambda c: c.method == "chat.postMessage")
    retry = {**slack.signed_headers(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    reply = slack.post(body, retry)
    assert (reply.status, reply.body) == (200, "")
    settle(slack, fake)
    assert len(posts(fake)) == 1 and not fake.delivered(at(form))


def test_slack_retry_of_a_request_never_seen_runs_once(
    slack: SlackClient, fake: FakeSlack, service: Service
) -> None:
    form = slack.form("/played", "Low - Words")
    body = urlencode(form)
    for n in (1, 2):  # the first delivery never arrived; Slack's retries do
        headers = {
            **slack.signed_headers(body),
            "X-Slack-Retry-Num": str(n),
            "X-Slack-Retry-Reason": "timeout",
        }
        assert slack.post(body, headers).status == 200
    settle(slack, fake)
    assert len(fake.delivered(at(form))) == 1
    assert plays(service, slack_who()) == {"Low – Words": 1}


def test_each_app_remembers_its_own_requests(
    slack: SlackClient,
    fake: FakeSlack,
    service: Service,
    slack_settings: Settings,
    executor: ThreadPoolExecutor,
) -> None:
    """The memory belongs to an app instance (no module state): another app answers the same copy."""
    body = urlencode(slack.form("/trending", "all", channel_id="C0OTHER"))
    headers = slack.signed_headers(body)
    assert slack.post(body, headers).status == 200
    server = make_http_server(build_app(service, slack_settings, listener_executor=executor), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        other = SlackClient(server.server_port, fake)
        assert other.post(body, headers).status == 200
        assert other.post(body, headers).status == 200
        settle(other, fake)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    settle(slack, fake)
    assert len(posts(fake)) == 2  # one per app, none for the replays


# --- over Socket Mode ---------------------------------------------------------------------------


def test_socket_mode_redelivery_is_acked_and_not_rerun(
    service: Service, slack_settings: Settings, fake: FakeSlack, executor: ThreadPoolExecutor
) -> None:
    settings = slack_settings.model_copy(
        update={"slack_signing_secret": None, "slack_app_token": "xapp-fake"}
    )
    ws = FakeSocketMode().start()
    fake.socket_url = ws.url
    handler = socket_mode_handler(
        build_app(service, settings, socket_mode=True, listener_executor=executor), settings
    )
    try:
        handler.connect()
        form = SlackClient(0, fake).form("/played", "Portishead - Roads")
        for n in range(3):  # the same command delivered again in new envelopes (Slack's retries)
            envelope = {
                "envelope_id": f"env-{n}",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": form,
                **({"retry_attempt": n, "retry_reason": "timeout"} if n else {}),
            }
            ws.send(envelope)
            assert ws.wait_ack(f"env-{n}") == {"envelope_id": f"env-{n}"}
        fake.wait_for(at(form))
        time.sleep(0.5)
        assert len(fake.delivered(at(form))) == 1
    finally:
        handler.close()
        ws.stop()
    assert plays(service, slack_who()) == {"Portishead – Roads": 1}
