"""The recommender without Spark: building from factors, edge cases of a history, the service's cache."""

from __future__ import annotations

import datetime as dt

import numpy as np

from bot.service import Service
from engine.als import AlsParams
from engine.recommender import AlsRecommender, product, top_n
from storage import recs
from storage.db import Database

PARAMS = AlsParams(rank=3, reg_param=0.1, alpha=2.0)
# Items 30, 10, 20 (given out of order): 10 and 30 point the same way, 20 elsewhere.
IDS = [30, 10, 20]
Y = np.array([[1.0, 0.1, 0.0], [0.9, 0.0, 0.1], [0.0, 1.0, 0.0]], dtype=np.float32)


def _rec() -> AlsRecommender:
    return AlsRecommender.from_factors(PARAMS, IDS, Y, popularity=[3.0, 1.0, 2.0])


def test_from_factors_sorts_rows_with_their_ids() -> None:
    rec = _rec()
    assert rec.item_ids.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(rec.item_factors, Y[[1, 2, 0]])
    assert rec.popularity.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(rec.yty, recs.gram(Y))
    data = rec.to_generation()
    assert (data.rank, data.reg_param, data.alpha) == (3, 0.1, 2.0)


def test_histories_with_unknown_or_no_items() -> None:
    rec = _rec()
    assert rec.recommend([], 5, visible=None) == []
    assert rec.recommend([(999, 4)], 5, visible=None) == []  # played only what the model does not know
    assert not rec.recalculate_user({999: 4}).any()
    picks = rec.recommend([(10, 5), (999, 4)], 5, visible=None)
    assert [p.item_id for p in picks] == [30, 20]  # 30 is like 10
    assert all(p.reason_item_id == 10 for p in picks)
    assert rec.recommend({10: 5}, 5, visible=np.array([20, 999])) == [picks[1]]
    np.testing.assert_array_equal(rec.recalculate_user({10: 5, 999: 4}), rec.recalculate_user([(10, 5)]))


def test_one_scoring_dtype() -> None:
    rec = _rec()
    assert product(np.ones((2, 3)), rec.item_factors).dtype == np.float32
    assert rec.recalculate_user({10: 1}).dtype == np.float32
    assert top_n(np.array([0.5, 0.9, 0.1], dtype=np.float32), np.array([1]), 5).tolist() == [0, 2]


def test_service_keeps_one_recommender_per_kind(service: Service, db: Database) -> None:
    def write() -> int:
        return recs.write_generation(
            db,
            kind="artist",
            last_play_id=0,
            model=_rec().to_generation(),
            picks=[],
            now=dt.datetime(2026, 1, 1),
        )

    first = write()
    with db.read() as conn:
        model = service._model_for(conn, "artist", first)
        assert isinstance(model, AlsRecommender)
        assert service._model_for(conn, "artist", first) is model  # loaded once per generation
        assert model.recommend({10: 2}, 1, visible=None)[0].item_id == 30
    second = write()
    with db.read() as conn:
        newer = service._model_for(conn, "artist", second)
        assert newer is not None and newer is not model
        assert service._model_for(conn, "artist", first) is not None  # an older one is still served …
    assert service._models == {"artist": (second, newer)}  # … but only the newest stays cached
