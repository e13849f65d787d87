"""The community reference the command line documents is the one the Slack bot stores: an import
into `--community slack:T0AAA` is what the real Bolt app's `/trending` shows in workspace T0AAA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.service import Service
from config.settings import Settings
from tests.platforms.bot_process import ROOT, clean_env
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import SlackClient, plays, slack_who

CSV = """user,artist,track,played_at,count
U0ADA,Radiohead,Karma Police,2024-05-01T10:00:00Z,3
U0BOB,Portishead,Roads,2024-05-02T10:00:00Z,1
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=clean_env(COLUMNS="200"),
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def test_import_into_slack_reference_is_what_trending_shows(
    slack: SlackClient, fake: FakeSlack, service: Service, settings: Settings, tmp_path: Path
) -> None:
    f = tmp_path / "plays.csv"
    f.write_text(CSV, encoding="utf-8")
    cli("import", "csv", str(f), "--community", "slack:T0AAA", "--db", settings.database_url)
    cli("import", "csv", str(f), "--community", "slack:E0GRID:T0GRD", "--db", settings.database_url)

    slack.command("/trending", "all", team_id="T0AAA", team_domain="alpha")
    [post] = fake.wait_for(lambda c: c.method == "chat.postMessage", timeout=10)
    text = post.payload["text"]
    assert text.startswith("Trending tracks in alpha — all time")
    assert " 1. Radiohead – Karma Police — 3 plays, 1 listener" in text
    assert " 2. Portishead – Roads — 1 play, 1 listener" in text

    # The grid workspace is its own community; a workspace nobody imported into has nothing.
    assert plays(service, slack_who("T0GRD", enterprise="E0GRID")) == {
        "Radiohead – Karma Police": 3,
        "Portishead – Roads": 1,
    }
    assert plays(service, slack_who("T0BBB")) == {}

    # Other commands that take a community find the one the bot writes to, too.
    out = cli("community", "public", "slack:T0AAA", "--db", settings.database_url)
    assert "slack:T0AAA is now public" in out.stdout
