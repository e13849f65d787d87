"""The micro-batch: golden aggregates, exactly-once under injected crashes, racing batches."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete

from bot.jobs import JobContext, run_job
from config.settings import Settings
from engine.batch import TRENDS_JOB, fold_all, fold_trends
from storage import jobs as job_store
from storage import trends
from storage.db import Database
from storage.models import UNDATED, DailyCount, DailyListener, Watermark
from tests.engine.helpers import add_plays, reference_aggregates

pytestmark = pytest.mark.spark

D1 = dt.datetime(2026, 11, 18, 9, 30)
D2 = dt.datetime(2026, 11, 19, 23, 59, 59)

FIRST = [
    ("c1", "ann", "Radiohead", "Karma Police", D1, 1),
    ("c1", "ann", "Radiohead", "Karma Police", D1 + dt.timedelta(hours=1), 2),
    ("c1", "bob", "Radiohead", "Airbag", D1, 1),
    ("c1", "bob", "Björk", None, None, 7),
    ("c2", "ann", "Radiohead", "Karma Police", D2, 1),  # another community's "ann"
]
SECOND = [
    ("c1", "ann", "Radiohead", "Karma Police", D1 + dt.timedelta(hours=5), 1),  # same day: no new listener
    ("c1", "cat", "Radiohead", "Karma Police", D2, 1),
    ("c2", "dan", "Björk", "Jóga", D2, 3),
]


def _ctx(settings: Settings, db: Database, spark, fault=None) -> JobContext:  # type: ignore[no-untyped-def]
    ctx = JobContext(settings, db, spark=lambda: spark)
    if fault is not None:
        ctx.fault = fault
    return ctx


def test_golden_aggregates(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, FIRST, tag="a")
    r1 = fold_trends(_ctx(settings, db, spark))
    add_plays(db, SECOND, tag="b")
    r2 = fold_trends(_ctx(settings, db, spark))
    r3 = fold_trends(_ctx(settings, db, spark))
    assert (r1.from_id, r1.to_id, r1.new_plays) == (0, 5, 5)
    assert (r2.from_id, r2.to_id, r2.new_plays) == (5, 8, 3)
    assert r3.to_id == r3.from_id == 8 and r3.summary() == "no new plays"
    with db.read() as conn:
        counts, _ = trends.all_aggregates(conn)
    by_key = {(s, k, d.isoformat(), i): (p, n) for s, k, d, i, p, n in counts}
    # Community 1 (id 1), artist Radiohead (id 1) on D1: ann 1+2+1, bob 1 -> 5 plays, 2 listeners.
    assert by_key[(1, "artist", "2026-11-18", 1)] == (5, 2)
    assert by_key[(1, "track", "2026-11-18", 1)] == (4, 1)  # Karma Police on D1: ann only
    assert by_key[(1, "track", "2026-11-19", 1)] == (1, 1)  # cat, late on D2
    assert by_key[(1, "artist", UNDATED.isoformat(), 2)] == (7, 1)  # undated Björk
    assert by_key[(2, "track", "2026-11-19", 1)] == (1, 1)  # the other community's ann
    # Global scope sums both communities; the two "ann"s are different members.
    assert by_key[(0, "track", "2026-11-19", 1)] == (2, 2)
    assert by_key[(0, "artist", "2026-11-19", 2)] == (3, 1)
    assert (counts, trends.all_aggregates(db.engine.connect())[1]) == reference_aggregates(db)


CRASH_POINTS = [
    "before-compute",
    "after-compute",
    "mid-merge",
    "after-staging",
    "before-commit",
    "after-commit",
]


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_anywhere_then_rerun_is_exactly_once(
    settings: Settings,
    db: Database,
    spark,
    point: str,  # type: ignore[no-untyped-def]
) -> None:
    add_plays(db, FIRST, tag="a")
    fold_trends(_ctx(settings, db, spark))
    add_plays(db, SECOND, tag="b")

    def crash(p: str) -> None:
        if p == point:
            raise Crash(p)

    outcome = run_job("batch", _ctx(settings, db, spark, crash))
    assert not outcome.ok and point in outcome.detail
    with db.read() as conn:
        last = job_store.recent(conn, "batch", 1)[0]
        wm, _ = trends.watermark(conn, TRENDS_JOB)
    assert last.status == "failed" and "Crash" in last.detail
    assert wm == (8 if point == "after-commit" else 5)  # the commit is all or nothing
    fold_trends(_ctx(settings, db, spark))  # the rerun
    with db.read() as conn:
        incremental = trends.all_aggregates(conn)
        assert trends.watermark(conn, TRENDS_JOB)[0] == 8
    assert incremental == reference_aggregates(db)
    # And the same as folding everything from scratch in one batch.
    with db.write() as conn:
        conn.execute(delete(DailyCount))
        conn.execute(delete(DailyListener))
        conn.execute(delete(Watermark))
    fold_trends(_ctx(settings, db, spark))
    with db.read() as conn:
        assert trends.all_aggregates(conn) == incremental


def test_a_batch_that_lost_the_race_rolls_back(db: Database) -> None:
    day = dt.date(2026, 11, 18)
    with db.write() as conn:
        trends.merge_batch(conn, TRENDS_JOB, 0, 5, [(1, "artist", day, 1, 3)], [(1, "artist", day, 1, 1)])
    with pytest.raises(trends.WatermarkMoved), db.write() as conn:
        trends.merge_batch(conn, TRENDS_JOB, 0, 7, [(1, "artist", day, 1, 9)], [(1, "artist", day, 1, 2)])
    with db.read() as conn:
        assert trends.all_aggregates(conn) == ([(1, "artist", day, 1, 3, 1)], [(1, "artist", day, 1, 1)])
        assert trends.watermark(conn, TRENDS_JOB) == (5, 1)


def test_a_large_backlog_folds_in_bounded_chunks(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, FIRST + SECOND, tag="a")
    small = settings.model_copy(update={"batch_max_plays": 3})
    result = fold_all(_ctx(small, db, spark))
    assert (result.from_id, result.to_id, result.new_plays) == (0, 8, 8)
    with db.read() as conn:
        assert trends.watermark(conn, TRENDS_JOB) == (8, 3)  # three chunks: 1-3, 4-6, 7-8
        assert trends.all_aggregates(conn) == reference_aggregates(db)


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_batch_merged_in_parts_is_exactly_once_when_a_part_crashes(  # type: ignore[no-untyped-def]
    settings: Settings, db: Database, spark, crash_at: int
) -> None:
    """One Spark pass, merged in 2-play parts (each its own transaction and watermark step): a crash
    before the n-th part's commit keeps the parts before it, and the rerun completes exactly once."""
    add_plays(db, FIRST + SECOND, tag="a")
    parts = settings.model_copy(update={"batch_merge_plays": 3})
    commits = 0

    def crash(point: str) -> None:
        nonlocal commits
        if point == "before-commit":
            commits += 1
            if commits == crash_at:
                raise Crash(point)

    outcome = run_job("batch", _ctx(parts, db, spark, crash))
    assert not outcome.ok
    with db.read() as conn:
        wm, batches = trends.watermark(conn, TRENDS_JOB)
    assert wm == [0, 3, 6][crash_at - 1]  # the parts before the crash stay committed
    result = fold_all(_ctx(parts, db, spark))
    assert (result.from_id, result.to_id) == (wm, 8)
    with db.read() as conn:
        assert trends.watermark(conn, TRENDS_JOB)[0] == 8
        assert trends.all_aggregates(conn) == reference_aggregates(db)
