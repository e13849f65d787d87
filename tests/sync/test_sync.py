"""The sync job against the loopback fakes: bounded backfill runs, incremental syncs that add
exactly the new listens, back-off and notices, exactly once across crashes, and nothing crossing
communities."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.jobs import JobContext, run_job
from bot.service import LINK_BACKFILLING, LINK_OK, LINK_WAITING, Service, Who
from config.settings import Settings
from ingest.importers import Row, import_rows
from ingest.sync import runner
from storage import links
from storage.db import Database
from storage.models import LinkedAccount, Play
from tests.conftest import Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, Sleeps, run_sync, stored, who

ANN = who("crew", "ann")


def _listens(n: int, start: int = T0, step: int = 60, tag: str = "") -> list[FakeListen]:
    return [FakeListen(start + k * step, f"Artist {k % 40}", f"Song {tag}{k}", "Album") for k in range(n)]


def _expected(community: str, member: str, listens: list[FakeListen]) -> list[tuple]:
    return sorted((community, member, x.listened_at, x.artist, x.track) for x in listens)


def _link_row(db: Database, member_ext: str) -> links.Link:
    with db.read() as conn:
        rows = [
            links.get(conn, i)
            for i in conn.execute(select(LinkedAccount.id).order_by(LinkedAccount.id)).scalars()
        ]
    return next(r for r in rows if r is not None and r.member_external_id == member_ext)


def test_25000_listens_backfill_in_bounded_runs_and_a_second_sync_adds_0(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    listens = _listens(25_000)
    lb.add_user("ann_lb", listens)
    settings = sync_settings.model_copy(update={"sync_pages_per_account": 5})
    assert linker.link(ANN, "listenbrainz", "ann_lb").link.state == LINK_WAITING
    added, states, pages, repeats = [], [], [], []
    for _ in range(8):
        report = run_sync(db, settings, clock)
        (account,) = report.accounts
        added.append(account.added)
        repeats.append(account.duplicates)
        states.append(account.state)
        pages.append(account.pages)
        clock.advance(minutes=15)
        if account.state == runner.UP_TO_DATE:
            break
    # At most 5 pages of 1000 listens per run. A full page's oldest second is read again by the next
    # page (one listen here), so a run adds 4995 new plays (4996 in the first), the sixth the last 24
    # with the short last backfill page, then one incremental page (the last hour: all stored).
    assert added == [4996, 4995, 4995, 4995, 4995, 24]
    assert pages == [5, 5, 5, 5, 5, 2]
    assert repeats == [4, 5, 5, 5, 5, 1 + 60]
    assert states == [runner.BACKFILLING] * 5 + [runner.UP_TO_DATE]
    assert stored(db) == _expected("crew", "ann", listens)
    again = run_sync(db, settings, clock)
    assert again.added == 0 and again.accounts[0].duplicates == 60  # the hour before the newest
    assert stored(db) == _expected("crew", "ann", listens)
    (status,) = linker.links(ANN)
    assert (status.state, status.plays) == (LINK_OK, 25_000)


def test_the_history_arrives_newest_first_and_shows_in_the_members_answers(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(30))
    settings = sync_settings.model_copy(update={"listenbrainz_page_size": 10, "sync_pages_per_account": 1})
    linker.link(ANN, "listenbrainz", "ann_lb")
    run_sync(db, settings, clock)
    assert [t for *_, t in stored(db)] == [f"Song {k}" for k in range(20, 30)]
    (status,) = linker.links(ANN)
    assert status.state == LINK_BACKFILLING and status.last_sync == clock.now and status.plays == 10
    # Synced plays are the member's plays: /recent, /plays, /trending (pending tail) count them.
    recent = linker.recent(ANN, limit=3)
    assert [(e.what, e.played_at) for e in recent.entries] == [
        (f"Artist {k} – Song {k}", dt.datetime.fromtimestamp(T0 + 60 * k, dt.UTC).replace(tzinfo=None))
        for k in (29, 28, 27)
    ]
    assert [(p.what, p.source) for p in linker.my_plays(ANN, 1)] == [("Artist 29 – Song 29", "listenbrainz")]
    top = linker.trending(ANN, "all", "track")
    assert top.pending_plays == 10 and len(top.entries) == 10


def test_listens_sharing_a_second_across_a_page_boundary_are_all_stored(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    # Three listens per second: page boundaries (10 a page) cut through seconds.
    listens = [FakeListen(T0 + k // 3, f"Artist {k % 4}", f"Song {k}") for k in range(47)]
    lb.add_user("ann_lb", listens)
    settings = sync_settings.model_copy(update={"listenbrainz_page_size": 10, "sync_pages_per_account": 50})
    linker.link(ANN, "listenbrainz", "ann_lb")
    report = run_sync(db, settings, clock)
    assert report.accounts[0].state == runner.UP_TO_DATE
    assert stored(db) == _expected("crew", "ann", listens)
    # Seconds cut by a page boundary were read twice; the second reading added nothing.
    assert report.added == 47 and report.accounts[0].duplicates > 0


def test_new_listens_arrive_incrementally_including_a_late_one(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    old = _listens(50)
    lb.add_user("ann_lb", old)
    settings = sync_settings.model_copy(update={"listenbrainz_page_size": 20})
    linker.link(ANN, "listenbrainz", "ann_lb")
    run_sync(db, settings, clock)
    newest = old[-1].listened_at
    fresh = _listens(45, start=newest + 30, tag="new ")  # more than two pages
    late = [FakeListen(newest - 600, "Late Band", "Offline Song")]  # submitted late, 10 min older
    lb.add_listens("ann_lb", fresh + late)
    report = run_sync(db, settings, clock)
    assert report.added == 46 and report.accounts[0].state == runner.UP_TO_DATE
    assert stored(db) == _expected("crew", "ann", old + fresh + late)
    assert run_sync(db, settings, clock).added == 0


def test_lastfm_backfill_pages_skip_now_playing_and_listens_without_names(
    db: Database, sync_settings: Settings, linker: Service, lfm: FakeLastfm, clock: Clock
) -> None:
    good = [Scrobble(T0 + 600 * k, f"Band {k % 7}", f"Tune {k}") for k in range(23)]
    nameless = [Scrobble(T0 + 30, None, "No Artist"), Scrobble(T0 + 90, None, None)]
    artist_only = [Scrobble(T0 + 150, "Only Artist", None)]
    lfm.add_user("BobFM", good + nameless + artist_only)
    lfm.now_playing["bobfm"] = ("Band 1", "Playing right now")
    bob = who("crew", "bob")
    settings = sync_settings.model_copy(update={"lastfm_page_size": 5, "sync_pages_per_account": 3})
    linker.link(bob, "lastfm", "bobfm")
    first = run_sync(db, settings, clock).accounts[0]
    assert (first.pages, first.state, first.added) == (3, runner.BACKFILLING, 15)
    assert first.skipped == {"now playing": 1}
    # 26 scrobbles: pages 4-6 end the backfill; then a pass over the last hour (6 scrobbles, 2 pages).
    report = run_sync(db, settings.model_copy(update={"sync_pages_per_account": 20}), clock).accounts[0]
    assert (report.pages, report.state, report.added, report.duplicates) == (5, runner.UP_TO_DATE, 9, 6)
    assert report.skipped == {"no artist name": 2, "now playing": 1}
    # The listen with a title but no artist is skipped; one with an artist and no title is a play
    # of the artist, as an import stores it.
    assert stored(db) == sorted(
        [("crew", "bob", s.uts, s.artist, s.track) for s in good]
        + [("crew", "bob", T0 + 150, "Only Artist", None)]
    )
    # Pages 2.. of a pass are bounded by `to`, so scrobbles arriving meanwhile cannot shift them.
    assert all("to" in r.params for r in lfm.requests[1:3])
    lfm.add_scrobbles("bobfm", [Scrobble(T0 + 20_000, "Band 3", "Brand new")])
    again = run_sync(db, settings, clock)
    assert again.added == 1 and ("crew", "bob", T0 + 20_000, "Band 3", "Brand new") in stored(db)
    assert run_sync(db, settings, clock).added == 0


def test_a_5xx_backs_the_account_off_exponentially_and_a_success_resets_it(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(5))
    linker.link(ANN, "listenbrainz", "ann_lb")
    lb.fail_next(502, times=3)
    first = run_sync(db, sync_settings, clock).accounts[0]
    assert first.state == runner.RETRYING and "HTTP 502" in first.detail
    link = _link_row(db, "ann")
    assert (link.status, link.failures, link.next_attempt_at) == (
        "error",
        1,
        clock.now + dt.timedelta(minutes=15),
    )
    assert linker.links(ANN)[0].state == "retrying" and "502" in linker.links(ANN)[0].detail
    # Not due before its time: the scheduled run skips it (the command line does not).
    assert run_sync(db, sync_settings, clock).accounts == []
    clock.advance(minutes=15)
    lb.malformed_next(times=3)
    assert run_sync(db, sync_settings, clock).accounts[0].state == runner.RETRYING
    link = _link_row(db, "ann")
    assert (link.failures, link.next_attempt_at) == (2, clock.now + dt.timedelta(minutes=30))
    clock.advance(minutes=30)
    ok = run_sync(db, sync_settings, clock).accounts[0]
    assert (ok.state, ok.added) == (runner.UP_TO_DATE, 5)
    link = _link_row(db, "ann")
    assert (link.status, link.failures, link.next_attempt_at, link.last_error) == ("ok", 0, None, "")


def test_the_backoff_is_capped() -> None:
    s = Settings(sync_backoff_minutes=15, sync_backoff_max_hours=24)
    assert [runner.backoff(s, n) for n in (1, 2, 3, 7, 20)] == [
        dt.timedelta(minutes=15),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=1),
        dt.timedelta(hours=16),
        dt.timedelta(hours=24),
    ]


def test_a_rate_limit_defers_the_account_without_a_failure(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(5))
    linker.link(ANN, "listenbrainz", "ann_lb")
    lb.rate_limit_next(reset_in=900)
    result = run_sync(db, sync_settings, clock).accounts[0]
    assert result.state == runner.RATE_LIMITED
    link = _link_row(db, "ann")
    assert (link.status, link.failures, link.next_attempt_at) == (
        "ok",
        0,
        clock.now + dt.timedelta(seconds=900),
    )
    clock.advance(seconds=900)
    assert run_sync(db, sync_settings, clock).added == 5


def test_a_short_rate_limit_is_waited_out_within_the_run(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(5))
    linker.link(ANN, "listenbrainz", "ann_lb")
    lb.rate_limit_next(reset_in=3)
    sleeps = Sleeps()
    assert run_sync(db, sync_settings, clock, sleeps=sleeps).added == 5
    assert sleeps.waits == [3.0]


def test_an_account_that_vanished_is_marked_and_its_member_told_once(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    linker.link(ANN, "listenbrainz", "nobody_here")
    assert run_sync(db, sync_settings, clock).accounts[0].state == runner.GONE
    assert linker.links(ANN)[0].state == "gone"
    link = _link_row(db, "ann")
    assert link.next_attempt_at == clock.now + dt.timedelta(hours=24)
    # Retried (on demand) and still gone: no second notice.
    assert run_sync(db, sync_settings, clock, due_only=False).accounts[0].state == runner.GONE
    notices = linker.pending_notices(ANN)
    assert notices == [
        "ListenBrainz says there is no account “nobody_here” (any more), so its listens stopped arriving "
        "here. If you renamed it, unlink it and link the new name with /link listenbrainz <name>."
    ]
    assert linker.pending_notices(ANN) == []
    clock.advance(hours=24)
    assert run_sync(db, sync_settings, clock).accounts[0].state == runner.GONE
    assert linker.pending_notices(ANN) == []
    # The account appears (again): the next sync picks it up and the link is fine.
    lb.add_user("nobody_here", _listens(3))
    clock.advance(hours=24)
    assert run_sync(db, sync_settings, clock).added == 3
    assert linker.links(ANN)[0].state == LINK_OK


def test_a_private_lastfm_account_is_told_once_and_resumes_when_public(
    db: Database, sync_settings: Settings, linker: Service, lfm: FakeLastfm, clock: Clock
) -> None:
    lfm.add_user("shybob", [Scrobble(T0, "A", "B")])
    lfm.private.add("shybob")
    bob = who("crew", "bob")
    linker.link(bob, "lastfm", "shybob")
    assert run_sync(db, sync_settings, clock).accounts[0].state == runner.PRIVATE
    lfm.error_next(16, times=3)  # a temporary error while private: stays private, no new notice
    assert run_sync(db, sync_settings, clock, due_only=False).accounts[0].state == runner.RETRYING
    assert linker.links(bob)[0].state == "private"
    assert run_sync(db, sync_settings, clock, due_only=False).accounts[0].state == runner.PRIVATE
    (notice,) = linker.pending_notices(bob)
    assert notice.startswith("Your Last.fm account “shybob” hides its recent listening")
    lfm.private.discard("shybob")
    clock.advance(hours=24)
    assert run_sync(db, sync_settings, clock).added == 1
    assert linker.links(bob)[0].state == LINK_OK and linker.pending_notices(bob) == []


def test_an_unseen_notice_is_dropped_when_the_account_comes_back(
    db: Database, sync_settings: Settings, linker: Service, lfm: FakeLastfm, clock: Clock
) -> None:
    lfm.add_user("shybob", [Scrobble(T0, "A", "B")])
    lfm.private.add("shybob")
    bob = who("crew", "bob")
    linker.link(bob, "lastfm", "shybob")
    run_sync(db, sync_settings, clock)
    lfm.private.discard("shybob")
    run_sync(db, sync_settings, clock, due_only=False)
    assert linker.pending_notices(bob) == []


def test_no_lastfm_key_is_an_operator_error_and_other_accounts_still_sync(
    db: Database,
    sync_settings: Settings,
    linker: Service,
    lb: FakeListenBrainz,
    lfm: FakeLastfm,
    clock: Clock,
) -> None:
    lb.add_user("ann_lb", _listens(4))
    lfm.add_user("bobfm", [Scrobble(T0, "A", "B")])
    linker.link(ANN, "listenbrainz", "ann_lb")
    linker.link(who("crew", "bob"), "lastfm", "bobfm")
    keyless = sync_settings.model_copy(update={"lastfm_api_key": None})
    report = run_sync(db, keyless, clock)
    assert report.errors == [
        "LASTFM_API_KEY is not set: 1 linked Last.fm account not synced "
        "(get a key at https://www.last.fm/api/account/create)"
    ]
    assert [(a.source, a.state, a.added) for a in report.accounts] == [
        ("listenbrainz", runner.UP_TO_DATE, 4),
        ("lastfm", runner.NOT_SYNCED, 0),
    ]
    assert lfm.requests == []
    # The Last.fm link is not blamed: no back-off, no notice.
    link = _link_row(db, "bob")
    assert (link.status, link.failures, link.next_attempt_at, link.notice) == ("ok", 0, None, None)
    # A refused key: the same, reported once for the run.
    wrong = sync_settings.model_copy(update={"lastfm_api_key": "wrong"})
    report = run_sync(db, wrong, clock, due_only=False)
    assert len(report.errors) == 1 and "Last.fm refuses the API key" in report.errors[0]
    assert _link_row(db, "bob").failures == 0


def test_the_sync_job_records_its_runs_and_an_operator_error_as_failed(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    from bot.jobs import REGISTRY

    ctx = JobContext(sync_settings, db, spark=lambda: None, clock=clock)  # type: ignore[arg-type, return-value]
    idle = REGISTRY["sync"].idle
    assert idle is not None and idle(ctx)  # nothing linked: an idle tick
    lb.add_user("ann_lb", _listens(3))
    linker.link(ANN, "listenbrainz", "ann_lb")
    assert not idle(ctx)
    outcome = run_job("sync", ctx)
    assert outcome.ok and outcome.detail == (
        "synced 1 account: added 3 plays, already stored 3, skipped 0 (up to date: 1)"
    )
    linker.link(who("crew", "bob"), "lastfm", "bobfm")
    keyless = JobContext(
        sync_settings.model_copy(update={"lastfm_api_key": None}),
        db,
        spark=lambda: None,
        clock=clock,  # type: ignore[arg-type, return-value]
    )
    failed = run_job("sync", keyless)
    assert not failed.ok and "LASTFM_API_KEY is not set" in failed.detail


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("point", ["sync-before-commit", "sync-after-commit"])
def test_a_crash_at_a_page_commit_resumes_with_no_gap_and_no_duplicate(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock, point: str
) -> None:
    listens = _listens(95)
    lb.add_user("ann_lb", listens)
    settings = sync_settings.model_copy(update={"listenbrainz_page_size": 10})
    linker.link(ANN, "listenbrainz", "ann_lb")
    seen = []

    def fault(at: str) -> None:
        if at == point:
            seen.append(at)
            if len(seen) == 4:
                raise Crash(at)

    with pytest.raises(Crash):
        run_sync(db, settings, clock, fault=fault)
    # Before the commit: pages 1-3 are in; after it: pages 1-4 (10 listens, then 9 new a page: each
    # page reads the previous page's oldest second again).
    in_before = 28 if point == "sync-before-commit" else 37
    assert len(stored(db)) == in_before
    assert run_sync(db, settings, clock).added == 95 - in_before
    assert stored(db) == _expected("crew", "ann", listens)


def test_a_write_on_a_link_that_changed_is_rolled_back(db: Database, linker: Service) -> None:
    linker.link(ANN, "listenbrainz", "ann_lb")
    link = _link_row(db, "ann")
    with db.write() as conn:
        links.deactivate(conn, link.id)  # an unlink while the sync was fetching
    play = {
        "community_id": link.community_id,
        "member_id": link.member_id,
        "artist_id": None,
        "track_id": None,
        "played_at": None,
        "count": 1,
        "source": "listenbrainz",
        "dedupe_key": "x",
    }
    with pytest.raises(links.CursorMoved), db.write() as conn:
        links.store_page(conn, link, links.Cursor(floor=1, backfilled=True), [play], link.linked_at)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Play)).scalar_one() == 0


def test_the_dedupe_key_is_the_importers_key(db: Database, linker: Service) -> None:
    linker.link(ANN, "listenbrainz", "Ann_LB")
    link = _link_row(db, "ann")
    when = dt.datetime(2026, 5, 28, 10, 30, 5)
    source = link.prefix.removesuffix(":")
    row = Row(1, "ann", "Radiohead", "Karma Police", when, ident=link.account_key)
    import_rows(db, link.community_id, [row], source=source)
    with db.read() as conn:
        (imported,) = conn.execute(select(Play.dedupe_key)).scalars()
    assert imported == runner.dedupe_key(link, "ann", "radiohead", "karma police", when)
    assert imported.startswith(f"listenbrainz~{link.tag}:2026-05-28T10:30:05:")


# --- communities ---------------------------------------------------------------------------------


def test_one_account_linked_in_two_communities_syncs_into_each_separately(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    listens = _listens(25)
    lb.add_user("shared_lb", listens)
    a, b = who("alpha", "ann"), who("beta", "zed")
    linker.link(a, "listenbrainz", "shared_lb")
    linker.link(b, "listenbrainz", "SHARED_LB")
    linker.played(who("beta", "yan"), "Other Band - Other Song")
    report = run_sync(db, sync_settings, clock)
    assert [(x.member, x.added) for x in report.accounts] == [("ann", 25), ("zed", 25)]
    assert stored(db, "alpha") == _expected("alpha", "ann", listens)
    beta = stored(db, "beta")
    assert [r for r in beta if r[1] == "zed"] == _expected("beta", "zed", listens)
    assert [r[3:] for r in beta if r[1] == "yan"] == [("Other Band", "Other Song")]
    assert run_sync(db, sync_settings, clock).added == 0
    # Unlinking (and deleting) in alpha leaves beta's copy alone.
    assert linker.unlink(a, "listenbrainz", keep_plays=False).removed == 25
    assert stored(db, "alpha") == []
    assert len(stored(db, "beta")) == 26


def test_a_link_in_one_community_never_puts_plays_in_another(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(8))
    linker.link(who("alpha", "ann"), "listenbrainz", "ann_lb")
    beta = who("beta", "ann")  # the same member id, another community
    linker.played(beta, "Beta Band - Beta Song")
    run_sync(db, sync_settings, clock)
    assert len(stored(db, "alpha", "ann")) == 8
    assert [r[3:] for r in stored(db, "beta")] == [("Beta Band", "Beta Song")]
    assert linker.links(beta) == []
    assert [e.name for e in linker.trending(beta, "all", "artist").entries] == ["Beta Band"]
    assert "Artist 0" in [e.name for e in linker.trending(who("alpha", "x"), "all", "artist").entries]


def test_a_scoped_run_syncs_only_that_community_or_member(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("one", _listens(2))
    lb.add_user("two", _listens(3))
    linker.link(who("alpha", "ann"), "listenbrainz", "one")
    linker.link(who("beta", "bob"), "listenbrainz", "two")
    beta = _link_row(db, "bob")
    report = run_sync(db, sync_settings, clock, community=beta.community_id)
    assert [(a.account, a.added) for a in report.accounts] == [("two", 3)]
    report = run_sync(db, sync_settings, clock, member=_link_row(db, "ann").member_id)
    assert [(a.account, a.added) for a in report.accounts] == [("one", 2)]


def test_who_is_a_member_of_their_community() -> None:
    assert Who("local", "crew", "ann", community_name="crew", member_name="ann") == ANN
