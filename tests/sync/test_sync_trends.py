"""Synced plays count in the trends like /played, and an unlink that deletes them takes them out of
the aggregates exactly once (the batch's removal step), in their community only."""

from __future__ import annotations

import pytest

from bot.jobs import JobContext
from bot.service import Service
from config.settings import Settings
from engine.batch import fold_all
from storage import trends
from storage.db import Database
from tests.conftest import Clock
from tests.engine.helpers import reference_aggregates
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, run_sync, who

pytestmark = pytest.mark.spark

ALPHA, BETA = who("alpha", "ann"), who("beta", "bob")


def _aggregates(db: Database) -> tuple[list[tuple], list[tuple]]:
    with db.read() as conn:
        return trends.all_aggregates(conn)


def test_synced_plays_fold_into_trends_and_a_deleting_unlink_subtracts_them_once(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock, spark
) -> None:  # type: ignore[no-untyped-def]
    # 40 listens of 4 artists on one day, in alpha; beta logs its own play of one of those artists.
    lb.add_user("ann_lb", [FakeListen(T0 + 60 * k, f"Artist {k % 4}", f"Song {k % 8}") for k in range(40)])
    linker.link(ALPHA, "listenbrainz", "ann_lb")
    linker.played(BETA, "Artist 0 - Song 0")
    assert run_sync(db, sync_settings, clock).added == 40
    ctx = JobContext(sync_settings, db, spark=lambda: spark, clock=clock)
    fold_all(ctx)
    assert _aggregates(db) == reference_aggregates(db)
    top = linker.trending(ALPHA, "all", "artist")
    assert [(e.name, e.plays, e.listeners) for e in top.entries] == [(f"Artist {k}", 10, 1) for k in range(4)]
    assert top.pending_plays == 0  # counted by the batch, not the pending tail
    assert [(e.name, e.plays) for e in linker.trending(BETA, "all", "artist").entries] == [("Artist 0", 1)]

    removed = linker.unlink(ALPHA, keep_plays=False)
    assert (removed.removed, removed.folded) == (40, True)
    result = fold_all(ctx)
    assert result.removed == 40
    assert _aggregates(db) == reference_aggregates(db)
    assert linker.trending(ALPHA, "all", "artist").entries == []
    assert [(e.name, e.plays) for e in linker.trending(BETA, "all", "artist").entries] == [("Artist 0", 1)]
    # A second batch subtracts nothing more.
    assert fold_all(ctx).removed == 0
    assert _aggregates(db) == reference_aggregates(db)
