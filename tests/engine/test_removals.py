"""Removed plays leave the trend aggregates exactly once: the batch subtracts what it folded, a crash
at any point of a batch that folds removals still ends equal to a from-scratch recompute, and plays
removed while a batch runs are neither lost nor subtracted twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select

from bot.jobs import JobContext, run_job
from config.settings import Settings
from engine.batch import TRENDS_JOB, fold_all, fold_trends
from storage import removals, trends
from storage.db import Database
from storage.models import DailyCount, DailyListener, Play, Watermark
from tests.engine.helpers import add_plays, reference_aggregates
from tests.engine.test_batch import CRASH_POINTS, FIRST, SECOND, Crash

pytestmark = pytest.mark.spark

NOW = dt.datetime(2026, 11, 20, 12, 0)
REMOVAL_POINTS = [
    "removals-after-compute",
    "removals-mid-merge",
    "removals-before-commit",
    "removals-after-commit",
]
# Play ids: FIRST is 1..5, SECOND 6..8 (see tests.engine.test_batch).
# 1: c1 ann Karma Police (ann has plays 2 and 6 of it the same day: she stays a listener)
# 3: c1 bob Airbag (his only play of it, and his only Radiohead play that day: the bucket goes)
# 8: c2 dan Jóga (not folded yet when removed: added and subtracted in the same batch)
REMOVE = (1, 3, 8)


def _ctx(settings: Settings, db: Database, spark, fault=None) -> JobContext:  # type: ignore[no-untyped-def]
    ctx = JobContext(settings, db, spark=lambda: spark)
    if fault is not None:
        ctx.fault = fault
    return ctx


def _remove(db: Database, play_id: int) -> str:
    with db.write() as conn:
        member = conn.execute(select(Play.member_id).where(Play.id == play_id)).scalar_one()
        outcome, _ = removals.remove(conn, member, play_id, NOW)
    return outcome


def _aggregates(db: Database) -> tuple[list[tuple], list[tuple]]:
    with db.read() as conn:
        return trends.all_aggregates(conn)


def _refold_from_scratch(settings: Settings, db: Database, spark) -> tuple[list[tuple], list[tuple]]:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        conn.execute(delete(DailyCount))
        conn.execute(delete(DailyListener))
        conn.execute(delete(Watermark))
        removals.reset_folded(conn)
    fold_all(_ctx(settings, db, spark))
    return _aggregates(db)


def test_removed_plays_leave_the_aggregates(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, FIRST, tag="a")
    fold_trends(_ctx(settings, db, spark))
    add_plays(db, SECOND, tag="b")
    before = {(s, k, d, i): (p, n) for s, k, d, i, p, n in _aggregates(db)[0]}
    assert before[(1, "track", FIRST[0][4].date(), 2)] == (1, 1)  # bob's Airbag on D1
    for play in REMOVE:
        assert _remove(db, play) == removals.REMOVED
    assert _remove(db, 3) == removals.ALREADY_REMOVED  # a second press changes nothing
    result = fold_all(_ctx(settings, db, spark))
    assert result.removed == 3 and "subtracted 3 removed plays" in result.summary()
    counts, presence = _aggregates(db)
    assert (counts, presence) == reference_aggregates(db)
    after = {(s, k, d, i): (p, n) for s, k, d, i, p, n in counts}
    d1 = FIRST[0][4].date()
    assert (1, "track", d1, 2) not in after  # Airbag: no play left, no row
    assert after[(1, "track", d1, 1)] == (3, 1)  # Karma Police D1: ann 2 + 1 (play 6), still ann only
    assert after[(1, "artist", d1, 1)] == (3, 1)  # Radiohead D1: bob is no listener any more
    assert not any(m == 5 for *_, m in presence)  # dan's only play went
    assert fold_all(_ctx(settings, db, spark)).removed == 0  # nothing is subtracted twice
    assert _aggregates(db) == (counts, presence)


@pytest.mark.parametrize("point", CRASH_POINTS + REMOVAL_POINTS)
def test_a_crash_anywhere_in_a_batch_with_removals_is_exactly_once(  # type: ignore[no-untyped-def]
    settings: Settings, db: Database, spark, point: str
) -> None:
    add_plays(db, FIRST, tag="a")
    fold_trends(_ctx(settings, db, spark))
    add_plays(db, SECOND, tag="b")
    for play in REMOVE:
        _remove(db, play)

    def crash(p: str) -> None:
        if p == point:
            raise Crash(p)

    outcome = run_job("batch", _ctx(settings, db, spark, crash))
    assert not outcome.ok and point in outcome.detail
    with db.read() as conn:
        left = len(removals.pending(conn, 10**9, 100))
    # The subtraction commits all or nothing: before its commit all three are still pending.
    assert left == (0 if point == "removals-after-commit" else 3)
    fold_all(_ctx(settings, db, spark))  # the rerun
    incremental = _aggregates(db)
    assert incremental == reference_aggregates(db)
    assert _refold_from_scratch(settings, db, spark) == incremental


def test_a_play_removed_while_the_fold_runs_is_subtracted_once(
    settings: Settings, db: Database, spark
) -> None:  # type: ignore[no-untyped-def]
    """Removed after the fold read it but before the merge: the merge adds it, the removal step takes
    it out again."""
    add_plays(db, FIRST + SECOND, tag="a")

    def remove_during_fold(p: str) -> None:
        if p == "after-compute":
            _remove(db, 7)

    result = fold_all(_ctx(settings, db, spark, remove_during_fold))
    assert result.removed == 1
    assert _aggregates(db) == reference_aggregates(db)


def test_a_play_removed_while_removals_are_subtracted_is_subtracted_after_them(  # type: ignore[no-untyped-def]
    settings: Settings, db: Database, spark
) -> None:
    """Removed after the removal step read its chunk: not in that chunk's transaction (which still
    counts it as present, so the member's listener row stays), subtracted on its own afterwards."""
    add_plays(db, FIRST + SECOND, tag="a")
    fold_all(_ctx(settings, db, spark))
    _remove(db, 1)
    removed_late = []
    chunks = []

    def remove_during_subtraction(p: str) -> None:
        if p == "removals-after-compute":
            chunks.append(p)
            if not removed_late:
                removed_late.append(_remove(db, 2))  # ann's other D1 play of the same track

    result = fold_all(_ctx(settings, db, spark, remove_during_subtraction))
    assert removed_late == [removals.REMOVED] and result.removed == 2 and len(chunks) == 2
    assert _aggregates(db) == reference_aggregates(db)
    assert fold_all(_ctx(settings, db, spark)).removed == 0


def test_subtracting_the_same_removals_twice_is_refused(db: Database) -> None:
    add_plays(db, FIRST, tag="a")
    day = FIRST[2][4].date()
    with db.write() as conn:
        trends.merge_batch(conn, TRENDS_JOB, 0, 5, [(1, "track", day, 2, 1)], [(1, "track", day, 2, 2)])
    _remove(db, 3)
    with db.read() as conn:
        rid = removals.pending(conn, 5, 10)[0][0]
    with db.write() as conn:
        removals.subtract(conn, [rid], [(1, "track", day, 2, 1)], [(1, "track", day, 2, 2)])
    with pytest.raises(removals.RemovalsMoved), db.write() as conn:
        removals.subtract(conn, [rid], [(1, "track", day, 2, 1)], [(1, "track", day, 2, 2)])
    with db.read() as conn:
        assert trends.all_aggregates(conn) == ([], [])


def test_trending_after_a_batch_equals_a_fresh_recompute(
    settings: Settings, db: Database, spark, clock
) -> None:  # type: ignore[no-untyped-def]
    """The member-facing view: /trending all in both communities after removals and a batch is what
    a from-scratch fold of the remaining plays answers — and removing in one community changes
    nothing in the other."""
    from bot.service import Service, Who

    service = Service(db, settings, clock=clock)
    ann, bob = Who("local", "c1", "ann"), Who("local", "c1", "bob")
    eve = Who("local", "c2", "eve")
    for who, text in [
        (ann, "Radiohead - Airbag"),
        (ann, "Radiohead - Airbag"),
        (bob, "Radiohead - Airbag"),
        (bob, "Blur - Song 2"),
        (eve, "Radiohead - Airbag"),
    ]:
        service.played(who, text)
    fold_all(_ctx(settings, db, spark))
    other_before = service.trending(eve, "all", "track")
    service.undo(bob)  # Blur
    service.remove_play(ann, service.my_plays(ann)[0].id)
    service.played(bob, "Blur - Parklife")
    service.undo(bob)  # removed before any batch saw it
    fold_all(_ctx(settings, db, spark))

    def shown(who: Who) -> list[tuple[str, int, int]]:
        return [(e.name, e.plays, e.listeners) for e in service.trending(who, "all", "track").entries]

    assert shown(ann) == [("Radiohead – Airbag", 2, 2)]
    assert service.trending(eve, "all", "track") == other_before
    incremental = (shown(ann), shown(eve), _aggregates(db))
    _refold_from_scratch(settings, db, spark)
    assert (shown(ann), shown(eve), _aggregates(db)) == incremental
    assert _aggregates(db) == reference_aggregates(db)


def test_removed_and_new_plays_are_read_in_the_folds_shape() -> None:
    from engine.reader import PLAY_SCHEMA
    from storage.models import PLAY_FOLD_COLUMNS

    assert [c.name for c in PLAY_FOLD_COLUMNS] == PLAY_SCHEMA.names
