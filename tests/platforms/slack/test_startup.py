"""Starting Slack: a Web API that cannot be reached is one ``error:`` line and exit status 1 (no
traceback, no SDK chatter), and Bolt is built the way it expects (no "token will be unused")."""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import logs
from bot.platforms.slack.app import build_app
from bot.service import Service
from config.settings import Settings
from tests.platforms.bot_process import BotProcess, clean_env
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import SECRET, TOKEN, SlackClient, at, slack_http_bot


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_unreachable_web_api_at_start_is_one_line(tmp_path: Path, mode: str) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/"
    env = clean_env(
        SLACK_BOT_TOKEN=TOKEN,
        TASTEMAKER_SLACK_API_URL=api,
        TASTEMAKER_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        **({"SLACK_SIGNING_SECRET": SECRET} if mode == "http" else {"SLACK_APP_TOKEN": "xapp-fake"}),
    )
    args = ["run", "--platform", "slack"]
    if mode == "http":
        args += ["--http-port", "0", "--http-host", "127.0.0.1"]
    bot = BotProcess(args, env, tmp_path)
    try:
        code = bot.proc.wait(60)
    finally:
        bot.stop()
    assert code == 1, (bot.stdout, bot.stderr)
    assert bot.stderr.splitlines() == [
        f"error: slack: cannot reach Slack's Web API at {api}: [Errno 111] Connection refused"
    ], bot.stderr
    assert "listening" not in bot.stdout and "connected" not in bot.stdout
    log = logs.default_log_file()  # the run's log file (the default one, under the test's per-user folders)
    assert "Traceback" not in (log.read_text(encoding="utf-8") if log.exists() else "")


def test_bolt_is_built_without_the_token_warning(
    service: Service,
    slack_settings: Settings,
    fake: FakeSlack,
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)  # as in production: Bolt reads it too
    with caplog.at_level(logging.DEBUG):
        app = build_app(service, slack_settings, listener_executor=executor)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "will be unused" not in caplog.text
    # Bolt's own client is the one pointed at TASTEMAKER_SLACK_API_URL, with the bot token.
    assert app.client.base_url == fake.api_url and app.client.token == TOKEN
    assert [c.method for c in fake.calls] == ["auth.test"]  # the token was checked once, at start


def test_first_command_after_start_is_answered(slack: SlackClient, fake: FakeSlack) -> None:
    """Bolt's own auth.test (its authorization of the first request) goes to the same Web API."""
    reply, form = slack.command("/played", "Low - Words")
    assert reply.status == 200
    fake.wait_for(at(form))
    assert {c.headers.get("Authorization") for c in fake.calls if c.method == "auth.test"} == {
        f"Bearer {TOKEN}"
    }


def test_revoked_bot_token_at_start_is_one_line(tmp_path: Path) -> None:
    fake = FakeSlack().start()
    fake.revoked_tokens.add("xoxb-revoked")
    bot = slack_http_bot(tmp_path, fake, token="xoxb-revoked")
    try:
        code = bot.proc.wait(60)
    finally:
        bot.stop()
        fake.stop()
    assert code == 1, (bot.stdout, bot.stderr)
    lines = bot.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: slack:") and "invalid_auth" in lines[0], bot.stderr
    log = logs.default_log_file()
    assert "Traceback" not in (log.read_text(encoding="utf-8") if log.exists() else "")
