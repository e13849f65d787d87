"""ALS through the production path (SQLite → Spark → generation → service), with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select

from bot.jobs import JobContext, run_job
from bot.service import Service, Who
from config.settings import Settings
from engine.als import AlsParams
from engine.recommender import AlsRecommender
from storage import jobs as job_store
from storage import recs
from storage.db import Database
from storage.models import Member, Recommendation
from tests.conftest import Clock
from tests.engine.helpers import add_plays

pytestmark = pytest.mark.spark

N = 24  # members and artists


def checkerboard() -> list[tuple[str, str, str, str | None, dt.datetime | None, int]]:
    """Members and artists in two taste groups (parity); member u played every artist of their
    group except artist u (the held-out diagonal)."""
    rows = []
    for u in range(N):
        for i in range(N):
            if i % 2 == u % 2 and i != u:
                rows.append(("crew", f"m{u:02d}", f"Artist {i:02d}", None, None, 1 + (i * 7 + u) % 5))
    return rows


def _retrain(settings: Settings, db: Database, spark, **kw) -> None:  # type: ignore[no-untyped-def]
    outcome = run_job("retrain", JobContext(settings, db, spark=lambda: spark, **kw))
    assert outcome.ok, outcome.detail


def test_checkerboard_held_out_diagonal_is_recovered(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, checkerboard())
    _retrain(settings, db, spark)
    with db.read() as conn:
        gen = recs.active_generation(conn, "artist")
        assert gen is not None
        members = dict(conn.execute(select(Member.id, Member.external_id)).all())
        top = conn.execute(
            select(Recommendation.member_id, Recommendation.item_id, Recommendation.reason_item_id).where(
                Recommendation.generation_id == gen.id, Recommendation.rank == 1
            )
        ).all()
        from storage.catalog import item_names

        names = item_names(
            conn, "artist", [t.item_id for t in top] + [t.reason_item_id for t in top if t.reason_item_id]
        )
    assert len(top) == N
    for member, item, reason in top:
        u = int(members[member][1:])
        assert names[item] == f"Artist {u:02d}"  # the one same-group artist they have not played
        assert int(names[reason][-2:]) % 2 == u % 2  # explained by an artist of the same group


def test_fold_in_reproduces_the_als_user_step(spark) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    rows = [(u, i, int(rng.integers(1, 50))) for u in range(40) for i in range(30) if rng.random() < 0.3]
    pairs = spark.createDataFrame(rows, "user int, item int, plays long")
    params = AlsParams(rank=6, reg_param=0.1, alpha=2.0, iterations=8, conf_scale=1.0, seed=1)
    rec = AlsRecommender(params).fit(pairs)
    for u in rec.user_ids[:10]:
        hist = [(i, p) for uu, i, p in rows if uu == u]
        trained = rec.trained_vector(int(u))
        assert trained is not None
        np.testing.assert_allclose(rec.recalculate_user(hist), trained, rtol=2e-3, atol=2e-4)


def test_new_member_with_one_play_gets_fresh_picks_without_retrain(
    settings: Settings,
    db: Database,
    spark,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    add_plays(db, checkerboard())
    _retrain(settings, db, spark)
    service = Service(db, settings, clock=clock)
    newbie = Who("local", "crew", "newbie")
    assert service.recommend(newbie).source == "trending" or service.recommend(newbie).source == "none"
    service.played(newbie, "Artist 04")
    r = service.recommend(newbie, "artist", 5)
    assert r.source == "fold-in" and len(r.picks) == 5
    assert all(p.reason == "Artist 04" for p in r.picks)
    assert "Artist 04" not in [p.name for p in r.picks]
    # The picks come from the played artist's taste group (even numbers).
    assert all(int(p.name[-2:]) % 2 == 0 for p in r.picks)
    # A member already in the model who plays something new is folded in too.
    m00 = Who("local", "crew", "m00")
    assert service.recommend(m00).source == "model"
    service.played(m00, "Artist 00")
    assert service.recommend(m00).source == "fold-in"
    assert "Artist 00" not in [p.name for p in service.recommend(m00, n=20).picks]


def test_failed_retrain_keeps_the_last_good_generation(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, checkerboard())
    _retrain(settings, db, spark)
    with db.read() as conn:
        good = recs.active_generation(conn, "artist")
    assert good is not None
    add_plays(db, [("crew", "m01", "Artist 02", None, None, 3)], tag="more")

    def boom(point: str) -> None:
        if point == "before-switch-commit":
            raise RuntimeError("executor lost")

    outcome = run_job("retrain", JobContext(settings, db, spark=lambda: spark, fault=boom))
    assert not outcome.ok and "executor lost" in outcome.detail
    with db.read() as conn:
        still = recs.active_generation(conn, "artist")
        last = job_store.recent(conn, "retrain", 1)[0]
        picks = recs.stored_picks(conn, good.id, 1, 3)
    assert still is not None and still.id == good.id
    assert last.status == "failed" and "executor lost" in last.detail
    assert len(picks) == 3
