"""``tastemaker sync`` on the command line: a line per account and a total; a non-zero exit only for
an operator's error, said in one line."""

from __future__ import annotations

from typer.testing import CliRunner

from bot.cli import app
from bot.service import Service
from config.settings import Settings
from storage.db import Database
from tests.conftest import LASTFM_KEY, Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, who


def _env(lb: FakeListenBrainz, lfm: FakeLastfm, key: str | None = LASTFM_KEY) -> dict[str, str | None]:
    return {
        "TASTEMAKER_LISTENBRAINZ_API_URL": lb.api_url,
        "TASTEMAKER_LASTFM_API_URL": lfm.api_url,
        "LASTFM_API_KEY": key,
        "TASTEMAKER_LOG_FILE": None,
    }


def _link_two(db: Database, settings: Settings, clock: Clock, lb: FakeListenBrainz, lfm: FakeLastfm) -> None:
    lb.add_user("ann_lb", [FakeListen(T0 + 60 * k, "Band", f"Song {k}") for k in range(3)])
    lfm.add_user("bobfm", [Scrobble(T0 + 60 * k, "Group", f"Tune {k}") for k in range(2)])
    service = Service(db, settings.model_copy(update={"lastfm_api_key": LASTFM_KEY}), clock=clock)
    service.link(who("crew", "ann"), "listenbrainz", "ann_lb")
    service.link(who("crew", "bob"), "lastfm", "bobfm")


def test_sync_prints_one_line_per_account_and_a_total(
    db: Database, settings: Settings, clock: Clock, lb: FakeListenBrainz, lfm: FakeLastfm
) -> None:
    _link_two(db, settings, clock, lb, lfm)
    result = CliRunner().invoke(app, ["sync", "--db", settings.database_url], env=_env(lb, lfm))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "listenbrainz ann_lb → member ann: up to date, added 3, already stored 3 (2 pages)",
        "lastfm bobfm → member bob: up to date, added 2, already stored 2 (2 pages)",
        "synced 2 accounts: added 5 plays, already stored 5, skipped 0 (up to date: 2)",
    ]
    only_bob = CliRunner().invoke(
        app,
        ["sync", "--db", settings.database_url, "--community", "crew", "--member", "bob"],
        env=_env(lb, lfm),
    )
    assert only_bob.exit_code == 0, only_bob.output
    assert only_bob.output.splitlines() == [
        "lastfm bobfm → member bob: up to date, added 0, already stored 2 (1 page)",
        "synced 1 account: added 0 plays, already stored 2, skipped 0 (up to date: 1)",
    ]


def test_no_lastfm_key_is_one_error_line_and_exit_1(
    db: Database, settings: Settings, clock: Clock, lb: FakeListenBrainz, lfm: FakeLastfm
) -> None:
    _link_two(db, settings, clock, lb, lfm)
    result = CliRunner().invoke(app, ["sync", "--db", settings.database_url], env=_env(lb, lfm, key=None))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout.splitlines()[0].startswith("listenbrainz ann_lb → member ann: up to date, added 3")
    assert result.stdout.splitlines()[1] == (
        "lastfm bobfm → member bob: not synced, added 0, already stored 0 (0 pages) — no LASTFM_API_KEY"
    )
    assert result.stderr.splitlines() == [
        "error: LASTFM_API_KEY is not set: 1 linked Last.fm account not synced "
        "(get a key at https://www.last.fm/api/account/create)"
    ]


def test_a_failing_account_is_not_an_operator_error(
    db: Database, settings: Settings, clock: Clock, lb: FakeListenBrainz, lfm: FakeLastfm
) -> None:
    Service(db, settings, clock=clock).link(who("crew", "ann"), "listenbrainz", "ghost")
    result = CliRunner().invoke(app, ["sync", "--db", settings.database_url], env=_env(lb, lfm))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(
        "listenbrainz ghost → member ann: account not found, added 0, already stored 0 (0 pages) — "
        "ListenBrainz has no such user; next attempt after "
    )


def test_bad_options_are_one_line(settings: Settings, lb: FakeListenBrainz, lfm: FakeLastfm) -> None:
    runner = CliRunner()
    alone = runner.invoke(app, ["sync", "--db", settings.database_url, "--member", "ann"], env=_env(lb, lfm))
    assert alone.exit_code == 2 and "--member needs --community" in alone.output
    unknown = runner.invoke(
        app, ["sync", "--db", settings.database_url, "--community", "nope"], env=_env(lb, lfm)
    )
    assert unknown.exit_code == 2 and unknown.stderr.strip() == "error: unknown community 'nope'"
    nothing = runner.invoke(app, ["sync", "--db", settings.database_url], env=_env(lb, lfm))
    assert nothing.exit_code == 0 and nothing.output == "no linked accounts to sync\n"
