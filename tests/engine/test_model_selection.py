"""Model selection and the track cap through the production retrain (SQLite → Spark → generation →
service and CLI)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.jobs import JobContext, model_statuses, run_job
from bot.service import Service, Who
from config.settings import Settings
from storage import catalog, recs
from storage.db import Database
from storage.models import Recommendation
from tests.conftest import Clock
from tests.engine.helpers import add_plays

pytestmark = pytest.mark.spark

T0 = dt.datetime(2026, 1, 1, 12)


def _retrain(settings: Settings, db: Database, spark) -> str:  # type: ignore[no-untyped-def]
    outcome = run_job("retrain", JobContext(settings, db, spark=lambda: spark))
    assert outcome.ok, outcome.detail
    return outcome.detail


def _groups(n_members: int) -> list[tuple[str, str, str, str | None, dt.datetime | None, int]]:
    """Two taste groups of artists; each member played 8 of their group's 12, dated one day apart."""
    rng = np.random.default_rng(5)
    rows = []
    for u in range(n_members):
        group = u % 2
        for d, a in enumerate(rng.choice(12, size=8, replace=False)):
            rows.append(
                ("crew", f"m{u:02d}", f"G{group} Artist {a:02d}", None, T0 + dt.timedelta(days=int(d)), 2)
            )
    return rows


def test_selection_runs_is_stored_and_shown(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, _groups(30))
    detail = _retrain(settings, db, spark)
    with db.read() as conn:
        gen = recs.active_generation(conn, "artist")
    assert gen is not None and gen.validation is not None
    v = json.loads(gen.validation)
    assert v["skipped"] is None and v["members"] == 30 and v["held_out"] == 30  # floor(20% of 8) each
    grid = [float(w) for w in settings.item_weight_grid.split(",")]
    assert sorted(float(w) for w in v["ndcg"]) == grid
    best = max(v["ndcg"], key=lambda w: (v["ndcg"][w], -float(w)))
    gain, se = v["ndcg"][best] - v["ndcg"]["0"], v["stderr"][best]
    # The winner, or ALS alone when the winner's gain is within one paired standard error.
    assert v["weight"] == (float(best) if gain > se else 0.0)
    assert gen.item_weight == v["weight"] and gen.model == v["model"]
    assert f"model {gen.model}" in detail and "chosen on 30 held-out plays of 30 members" in detail
    (status,) = model_statuses(db)
    assert status.model == gen.model and "validation NDCG@10 by item weight" in status.selection
    out = CliRunner().invoke(app, ["eval", "models", "--db", settings.database_url], catch_exceptions=False)
    assert out.exit_code == 0 and "artist: generation" in out.output and "chosen on 30" in out.output
    jobs = CliRunner().invoke(app, ["jobs", "--db", settings.database_url], catch_exceptions=False)
    assert jobs.exit_code == 0 and f"model    artist: generation {gen.id}" in jobs.output
    assert "validation NDCG@10 by item weight 0:" in jobs.output


def test_selection_is_skipped_when_too_small(settings: Settings, db: Database, spark) -> None:  # type: ignore[no-untyped-def]
    add_plays(db, _groups(6))
    detail = _retrain(settings, db, spark)
    assert "selection skipped: 6 members with at least 5 items, needs 10 to validate" in detail
    with db.read() as conn:
        gen = recs.active_generation(conn, "artist")
    assert gen is not None and gen.model == "als" and gen.item_weight == settings.item_weight == 0
    assert json.loads(gen.validation or "{}")["skipped"]


def test_a_chosen_item_model_serves_fold_in(settings: Settings, db: Database, spark, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """Selection off, item weight fixed: the generation stores the item model, and a member who
    played since the retrain gets fold-in picks blended with it (and named reasons they played)."""
    s = settings.model_copy(update={"model_selection": False, "item_weight": 0.5})
    add_plays(db, _groups(20))
    _retrain(s, db, spark)
    with db.read() as conn:
        gen = recs.active_generation(conn, "artist")
        assert gen is not None and gen.model == "als+ease" and gen.validation is None
        assert recs.load_item_weights(conn, gen)
    add_plays(db, [("crew", "m00", "G0 Artist 00", None, T0 + dt.timedelta(days=30), 1)], tag="late")
    r = Service(db, s, clock).recommend(Who("local", "crew", "m00"), "artist", 3)
    assert r.source == "fold-in" and r.picks
    assert all(p.name.startswith("G0") for p in r.picks)
    assert all(p.reason is not None and p.reason.startswith("G0") for p in r.picks)


def test_track_picks_keep_at_most_two_per_artist(
    settings: Settings, db: Database, spark, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    """Two artists with 10 tracks each and one with 4: every member's stored and fold-in track picks
    hold at most ``track_artist_cap`` (2) tracks of one artist."""
    rows = []
    for u in range(12):
        for a, n_tracks in (("Alpha", 10), ("Beta", 10), ("Gamma", 4)):
            for t in range(n_tracks):
                if (u + t) % 3 == 0:
                    rows.append(
                        ("crew", f"m{u:02d}", a, f"{a} song {t}", T0 + dt.timedelta(hours=t), 1 + t % 2)
                    )
    add_plays(db, rows)
    _retrain(settings, db, spark)
    with db.read() as conn:
        gen = recs.active_generation(conn, "track")
        assert gen is not None
        ids, artists = catalog.track_artists(conn)
        artist_of = dict(zip(ids.tolist(), artists.tolist(), strict=True))
        picks = conn.execute(
            select(Recommendation.member_id, Recommendation.item_id).where(
                Recommendation.generation_id == gen.id
            )
        ).all()
    by_member: dict[int, list[int]] = {}
    for m, i in picks:
        by_member.setdefault(m, []).append(artist_of[i])
    assert by_member
    for arts in by_member.values():
        assert max(arts.count(a) for a in set(arts)) <= 2
        assert len(arts) == min(6, len(arts))  # 3 artists × 2 at most
    assert any(len(arts) == 6 for arts in by_member.values())  # the cap, not a lack of candidates
    add_plays(db, [("crew", "m00", "Alpha", "Alpha song 1", T0 + dt.timedelta(days=30), 1)], tag="late")
    r = Service(db, settings, clock).recommend(Who("local", "crew", "m00"), "track", 10)
    assert r.source == "fold-in" and r.picks
    names = [p.name for p in r.picks]
    for a in ("Alpha", "Beta", "Gamma"):
        assert sum(n.startswith(a) for n in names) <= 2
    # Preferring artists not played in the last 7 days: m00 played Alpha yesterday, the others a
    # month ago, so Alpha's picks move behind the rest (each part in model order).
    fresh = settings.model_copy(update={"fresh_artist_days": 7})
    later = Service(db, fresh, Clock(T0 + dt.timedelta(days=31))).recommend(
        Who("local", "crew", "m00"), "track", 6
    )
    moved = [p.name for p in later.picks]
    alpha = [n for n in moved if n.startswith("Alpha")]
    assert alpha and moved[-len(alpha) :] == alpha and len(moved) == 6
    assert [n for n in moved if not n.startswith("Alpha")] == [n for n in names if not n.startswith("Alpha")][
        : len(moved) - len(alpha)
    ]
