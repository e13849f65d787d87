"""Fixtures of the Slack tests: the fake Web API, settings pointing at it, and the real Bolt app
on its HTTP-mode server (``make_http_server``: waitress) on 127.0.0.1:0."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.platforms.slack.app import build_app
from bot.platforms.slack.server import make_http_server
from bot.service import Service
from config.settings import Settings
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import SECRET, TOKEN, SlackClient


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def slack_settings(settings: Settings, fake: FakeSlack) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SECRET,
            "slack_api_url": fake.api_url.rstrip("/"),  # the adapter adds the trailing slash
        }
    )


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-listener")
    yield pool
    pool.shutdown(wait=True)  # listeners finish before the database is disposed


@pytest.fixture
def slack(service: Service, slack_settings: Settings, fake: FakeSlack, executor: ThreadPoolExecutor):  # type: ignore[no-untyped-def]
    app = build_app(service, slack_settings, listener_executor=executor)
    server = make_http_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    client = SlackClient(server.server_port, fake)
    yield client
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
