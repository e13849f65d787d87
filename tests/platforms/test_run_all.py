"""`tastemaker run` serves every configured platform in one process: a real subprocess of this
checkout with Slack (HTTP mode) and Discord configured, against the loopback fakes. Both platforms'
plays land in the one database, each in its own community; there is one scheduler; SIGTERM stops
everything cleanly; a platform that cannot start stops the process with one line on stderr."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.service import Service, Who
from config.settings import Settings
from storage import jobs
from storage.db import Database, open_database
from storage.models import Community
from tests.platforms.bot_process import BotProcess, clean_env, wait_for_job_runs
from tests.platforms.discord.harness import GUILD_A, LoopThread, assert_deferred_then_followup, send
from tests.platforms.fake_discord import FakeDiscord, command_interaction
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import ACK_BUDGET, SECRET, TOKEN, SlackClient, at

BATCH_MINUTES = 10


@dataclass
class Fakes:
    slack: FakeSlack
    discord: FakeDiscord
    loop: LoopThread

    def env(self, db_url: str, **extra: str) -> dict[str, str]:
        return clean_env(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            DISCORD_TOKEN="fake-token",
            TASTEMAKER_SLACK_API_URL=self.slack.api_url,
            TASTEMAKER_DISCORD_API_URL=self.discord.api_url,
            TASTEMAKER_DISCORD_GATEWAY_URL=self.discord.gateway_url,
            TASTEMAKER_BATCH_INTERVAL_MINUTES=str(BATCH_MINUTES),
            **extra,
        )


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    slack = FakeSlack().start()
    loop = LoopThread()
    discord = FakeDiscord([(GUILD_A, "Guild A")])
    loop.run(discord.start())
    try:
        yield Fakes(slack, discord, loop)
    finally:
        loop.run(discord.stop())
        loop.stop()
        slack.stop()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


def plays(db: Database, who: Who) -> dict[str, int]:
    service = Service(db, Settings(database_url=db.url))
    return {e.name: e.plays for e in service.trending(who, "all", "track").entries}


def test_one_process_serves_slack_and_discord_with_one_scheduler(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    bot = BotProcess(
        ["run", "--http-port", "0", "--http-host", "127.0.0.1", "--db", db_url], fakes.env(db_url), tmp_path
    )
    try:
        port = int(bot.wait_for_line(r"Slack HTTP mode listening on http://127\.0\.0\.1:(\d+)/").group(1))
        bot.wait_for_line(r"tastemaker: serving slack, discord")
        fakes.loop.run(asyncio.wait_for(fakes.discord.identified.wait(), 30), timeout=35)
        [first_batch] = wait_for_job_runs(db_url, "batch")  # at start-up; nothing to fold yet

        slack = SlackClient(port, fakes.slack)
        reply, form = slack.command(
            "/played", "Radiohead - Karma Police", team_id="T0AAA", team_domain="alpha"
        )
        assert reply.status == 200 and reply.seconds < ACK_BUDGET
        [answer] = fakes.slack.wait_for(at(form), timeout=10)
        assert answer.payload["text"] == "Logged Radiohead – Karma Police — your 1st play."

        payload = command_interaction("played", {"artist": "Björk", "track": "Jóga"}, guild_id=GUILD_A)
        body = assert_deferred_then_followup(fakes.loop.run(send(fakes.discord, payload)), payload)
        assert body["embeds"][0]["description"] == "Logged Björk – Jóga — your 1st play."

        db = open_database(db_url)
        try:
            # Both plays in the one database, each in its own community.
            with db.read() as conn:
                communities = conn.execute(select(Community.platform, Community.external_id)).all()
            assert sorted(tuple(c) for c in communities) == [("discord", GUILD_A), ("slack", "-:T0AAA")]
            assert plays(db, Who("slack", "-:T0AAA", "")) == {"Radiohead – Karma Police": 1}
            assert plays(db, Who("discord", GUILD_A, "")) == {"Björk – Jóga": 1}

            # One scheduler: each job stored once, the batch ran once at start-up and is next due
            # one interval later; the digest and sync ticks had nothing to do (no job_runs row).
            time.sleep(1.0)
            with db.read() as conn:
                stored = conn.execute(
                    text("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id")
                ).all()
                runs = jobs.recent(conn)
        finally:
            db.dispose()
        assert [row.id for row in stored] == ["batch", "digest", "sync"]
        assert [(r.job, r.status) for r in runs] == [("batch", "ok")]
        assert runs[0].id == first_batch.id  # type: ignore[attr-defined]
        started = runs[0].started_at.replace(tzinfo=dt.UTC).timestamp()
        next_batch = dict(stored)["batch"]
        assert BATCH_MINUTES * 60 - 10 <= next_batch - started <= BATCH_MINUTES * 60 + 10
    finally:
        code = bot.stop()  # SIGTERM
    assert code == 0, (bot.stdout, bot.stderr)
    assert bot.stdout.splitlines()[-1] == "tastemaker: stopped", bot.stdout
    assert "Traceback" not in bot.stderr, bot.stderr
    # The bot closed its gateway connection on the way out.
    assert fakes.discord._ws is not None and fakes.discord._ws.closed


def test_a_platform_refused_at_start_stops_the_process_with_one_line(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    fakes.discord.refuse_token = True
    bot = BotProcess(
        ["run", "--http-port", "0", "--http-host", "127.0.0.1", "--db", db_url], fakes.env(db_url), tmp_path
    )
    try:
        code = bot.proc.wait(60)
    finally:
        bot.stop()
    assert code == 1, (bot.stdout, bot.stderr)
    errors = [line for line in bot.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: discord: Discord refused DISCORD_TOKEN (401). Reset the token in the developer portal."
    ], bot.stderr
    assert "Traceback" not in bot.stderr, bot.stderr
    assert "tastemaker: stopped" not in bot.stdout


def test_missing_credentials_stop_before_the_scheduler_starts(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    env = fakes.env(db_url)
    del env["SLACK_SIGNING_SECRET"]
    bot = BotProcess(["run", "--http-port", "0", "--db", db_url], env, tmp_path)
    try:
        code = bot.proc.wait(60)
    finally:
        bot.stop()
    assert code == 1
    assert bot.stderr.strip().splitlines() == [
        "error: slack: HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials → "
        "Signing Secret) to verify that requests come from Slack."
    ]
    assert [c.method for c in fakes.slack.calls] == []  # not even auth.test
    assert not fakes.discord.requests  # Discord was never started
    db = open_database(db_url)
    try:
        with db.read() as conn:
            assert jobs.recent(conn) == []  # no job ran
    finally:
        db.dispose()


def test_nothing_configured_says_what_to_set(db_url: str, tmp_path: Path) -> None:
    bot = BotProcess(["run", "--db", db_url], clean_env(), tmp_path)
    try:
        code = bot.proc.wait(60)
    finally:
        bot.stop()
    assert code == 2
    assert bot.stderr.strip().startswith("error: no chat platform is configured: set SLACK_BOT_TOKEN")
