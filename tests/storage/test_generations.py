"""Writing a recommendation generation: inactive while it is written in short transactions, switched
in one; a failed or killed write leaves nothing a reader could see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import func, select

from storage import recs
from storage.db import Database
from storage.models import (
    ItemFactor,
    MemberFactor,
    MemberNeighbour,
    RecGeneration,
    Recommendation,
    SimilarItem,
)

NOW = dt.datetime(2026, 11, 20, 12)


def _model(n_items: int = 12_000) -> recs.GenerationData:
    rng = np.random.default_rng(1)
    return recs.GenerationData(
        rank=4,
        reg_param=0.1,
        alpha=1.0,
        conf_scale=1.0,
        item_ids=np.arange(1, n_items + 1),
        factors=rng.normal(size=(n_items, 4)).astype(np.float32),
        popularity=np.ones(n_items),
    )


def _picks(
    members: int, *, fail_after: int | None = None
) -> Iterator[tuple[int, int, int, float, int | None]]:
    n = 0
    for m in range(1, members + 1):
        for rank in range(1, 11):
            if fail_after is not None and n >= fail_after:
                raise RuntimeError("the pick computation died")
            n += 1
            yield m, rank, rank, 1.0 / rank, None


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(RecGeneration)).scalar_one(),
            conn.execute(select(func.count()).select_from(ItemFactor)).scalar_one(),
            conn.execute(select(func.count()).select_from(Recommendation)).scalar_one(),
        )


def test_readers_see_the_old_generation_until_the_switch(db: Database) -> None:
    first = recs.write_generation(db, kind="artist", last_play_id=1, model=_model(), picks=_picks(3), now=NOW)
    seen: list[int] = []

    def slow_picks() -> Iterator[tuple[int, int, int, float, int | None]]:
        for row in _picks(1_000):
            if row[1] == 1 and row[0] % 250 == 0:  # between chunk commits, look as a reader would
                with db.read() as conn:
                    ref = recs.active_generation_ref(conn, "artist")
                    assert ref is not None
                    seen.append(ref[0])
            yield row

    second = recs.write_generation(
        db, kind="artist", last_play_id=2, model=_model(), picks=slow_picks(), now=NOW
    )
    assert seen and set(seen) == {first}
    with db.read() as conn:
        assert recs.active_generation_ref(conn, "artist")[:2] == (second, 2)
        assert len(recs.stored_picks(conn, second, 1000, 50)) == 10


def test_a_failed_write_leaves_nothing_behind(db: Database) -> None:
    first = recs.write_generation(db, kind="artist", last_play_id=1, model=_model(), picks=_picks(3), now=NOW)
    before = _counts(db)
    with pytest.raises(RuntimeError, match="died"):
        recs.write_generation(
            db, kind="artist", last_play_id=2, model=_model(), picks=_picks(2_000, fail_after=12_000), now=NOW
        )
    assert _counts(db) == before
    with db.read() as conn:
        assert recs.active_generation_ref(conn, "artist")[:2] == (first, 1)


def test_a_killed_write_is_cleaned_by_the_next_one(db: Database) -> None:
    first = recs.write_generation(db, kind="artist", last_play_id=1, model=_model(), picks=_picks(3), now=NOW)
    # A kill -9 runs no cleanup: leave an inactive generation the way a killed process would.
    with db.write() as conn:
        orphan = conn.execute(
            RecGeneration.__table__.insert()
            .values(
                kind="artist", created_at=NOW, active=False, last_play_id=9, rank=4, reg_param=0.1,
                alpha=1.0, conf_scale=1.0, yty=np.eye(4).tobytes(),
            )
            .returning(RecGeneration.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            Recommendation.__table__.insert(),
            [
                {"generation_id": orphan, "member_id": 1, "rank": r, "item_id": r, "score": 1.0}
                for r in range(1, 6)
            ],
        )
    with db.read() as conn:
        assert recs.active_generation_ref(conn, "artist")[:2] == (first, 1)  # readers never see it
    third = recs.write_generation(db, kind="artist", last_play_id=3, model=_model(), picks=_picks(3), now=NOW)
    with db.read() as conn:
        assert set(conn.execute(select(RecGeneration.id)).scalars()) == {first, third}
        # (SQLite may hand the orphan's id to the new generation: its rows must all be the new ones.)
        assert (
            conn.execute(
                select(func.count()).select_from(Recommendation).where(Recommendation.generation_id == third)
            ).scalar_one()
            == 30
        )
        assert [s for _i, s, _r in recs.stored_picks(conn, third, 1, 10)] == [1.0 / r for r in range(1, 11)]


def _taste_counts(db: Database) -> tuple[int, int, int]:
    with db.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(MemberFactor)).scalar_one(),
            conn.execute(select(func.count()).select_from(MemberNeighbour)).scalar_one(),
            conn.execute(select(func.count()).select_from(SimilarItem)).scalar_one(),
        )


def _with_users(members: int) -> recs.GenerationData:
    rng = np.random.default_rng(2)
    return replace(
        _model(50),
        user_ids=np.arange(1, members + 1),
        user_factors=rng.normal(size=(members, 4)).astype(np.float32),
    )


def test_neighbours_similar_and_member_vectors_go_live_with_the_switch(db: Database) -> None:
    model = _with_users(6_000)
    neighbours = ((m, r, m % 100 + r, 1.0 / r) for m in range(1, 1_001) for r in range(1, 11))
    similar = ((c, i, r, i + r, 0.5 / r) for c in (1, 2) for i in range(1, 3_001) for r in (1, 2))
    first = recs.write_generation(
        db,
        kind="artist",
        last_play_id=1,
        model=model,
        picks=_picks(2),
        neighbours=neighbours,
        similar=similar,
        now=NOW,
    )
    assert _taste_counts(db) == (6_000, 10_000, 12_000)
    with db.read() as conn:
        assert recs.stored_neighbours(conn, first, 7, 3) == [(8, 1.0), (9, 0.5), (10, 1.0 / 3)]
        assert recs.stored_similar(conn, first, 2, 40, 5) == [(41, 0.5), (42, 0.25)]
        assert recs.stored_similar(conn, first, 3, 40, 5) == []
        vectors = recs.member_vectors(conn, first, [3, 9_999])
    assert list(vectors) == [3] and np.array_equal(vectors[3], model.user_factors[2])  # type: ignore[index]

    def dies() -> Iterator[recs.SimilarRow]:
        yield from ((1, i, 1, i + 1, 1.0) for i in range(1, 7_000))
        raise RuntimeError("the similar-item computation died")

    with pytest.raises(RuntimeError, match="died"):
        recs.write_generation(
            db,
            kind="artist",
            last_play_id=2,
            model=_with_users(6_000),
            picks=_picks(2),
            neighbours=((m, 1, m + 1, 0.9) for m in range(1, 6_001)),
            similar=dies(),
            now=NOW,
        )
    # Nothing of the failed generation is left, and the first one still serves.
    assert _taste_counts(db) == (6_000, 10_000, 12_000)
    with db.read() as conn:
        assert recs.active_generation_ref(conn, "artist")[:2] == (first, 1)
        assert recs.stored_neighbours(conn, first, 7, 1) == [(8, 1.0)]
    # Old generations take their rows with them.
    for play in range(3, 6):
        recs.write_generation(db, kind="artist", last_play_id=play, model=_model(9), picks=_picks(1), now=NOW)
    assert _taste_counts(db) == (0, 0, 0)
