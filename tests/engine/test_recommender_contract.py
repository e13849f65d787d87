"""The recommender contract, for every model configuration the engine has (plain ALS, ALS blended with
co-occurrence, ALS blended with the EASE^R item model, the item model alone), on the checkerboard of
``test_als``: two taste groups (parity), member ``u`` played every artist of their group except
artist ``u``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.als import AlsParams
from engine.cooc import BlendParams
from engine.ease import EaseParams
from engine.recommender import AlsRecommender, PickRow
from storage import recs
from storage.db import Database

pytestmark = pytest.mark.spark

N = 24  # members and items
ROWS = [(u, i, 1 + (i * 7 + u) % 5) for u in range(N) for i in range(N) if i % 2 == u % 2 and i != u]
HISTORIES = {u: {i: p for uu, i, p in ROWS if uu == u} for u in range(N)}
PARAMS = AlsParams(rank=8, reg_param=0.1, alpha=1.0, iterations=10, seed=1)
EASE = EaseParams(lam=1.0)
VARIANTS: dict[str, dict] = {
    "als": {},
    "als+cooc": {"blend": BlendParams(weight=0.5)},
    "als+ease": {"ease": EASE, "item_weight": 0.5},
    "ease": {"ease": EASE, "item_weight": 1.0},
}
EVEN = np.arange(0, N, 2, dtype=np.int64)


@pytest.fixture(scope="module", params=list(VARIANTS))
def fitted(request: pytest.FixtureRequest, spark) -> AlsRecommender:  # type: ignore[no-untyped-def]
    pairs = spark.createDataFrame(ROWS, "user int, item int, plays long")
    rec = AlsRecommender(PARAMS, **VARIANTS[request.param]).fit(pairs)
    assert (rec.blender is not None) == (request.param == "als+cooc")
    assert rec.model_name == request.param.replace("+cooc", "")
    return rec


def _by_member(rows: list[PickRow]) -> dict[int, list[PickRow]]:
    out: dict[int, list[PickRow]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r)
    return out


def test_fit_keeps_the_model(fitted: AlsRecommender) -> None:
    rec = fitted
    assert rec.item_ids.tolist() == list(range(N)) and rec.user_ids.tolist() == list(range(N))
    assert rec.item_factors.dtype == np.float32 and rec.item_factors.shape == (N, PARAMS.rank)
    np.testing.assert_array_equal(rec.yty, rec.item_factors.astype(np.float64).T @ rec.item_factors)
    assert rec.popularity.tolist() == [N / 2 - 1] * N  # every artist: its group, minus its own member


def test_recommend_excludes_played_items(fitted: AlsRecommender) -> None:
    for u, h in HISTORIES.items():
        picks = fitted.recommend(h, N, visible=None)
        assert len(picks) == N - len(h)  # every unplayed item, none played
        assert not {p.item_id for p in picks} & set(h)
        assert picks[0].item_id == u  # the held-out diagonal comes first
        assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
    for member, _rank, item, _score, _reason in fitted.recommend_all(HISTORIES, N, visible_for_member=None):
        assert item not in HISTORIES[member]


def test_recommend_respects_visible(fitted: AlsRecommender) -> None:
    visible = np.array([0, 1, 3, 5, 8], dtype=np.int64)
    h = HISTORIES[0]  # played 2, 4, …, 22 (so 8 too)
    picks = fitted.recommend(h, 10, visible=visible)
    assert [p.item_id for p in picks][:1] == [0] and {p.item_id for p in picks} == {0, 1, 3, 5}
    assert fitted.recommend(h, 10, visible=np.empty(0, dtype=np.int64)) == []
    # Stored picks: each member among their own group's items only (a community of one parity).
    odd = np.arange(1, N, 2, dtype=np.int64)
    rows = list(fitted.recommend_all(HISTORIES, 10, visible_for_member=lambda m: EVEN if m % 2 == 0 else odd))
    assert rows and all(item % 2 == member % 2 for member, _, item, _, _ in rows)
    assert all(len(r) == 1 and r[0][2] == m for m, r in _by_member(rows).items())  # only the diagonal left


def test_reasons_are_played_items(fitted: AlsRecommender) -> None:
    for h in HISTORIES.values():
        for p in fitted.recommend(h, 5, visible=None):
            assert p.reason_item_id in h
            assert fitted.explain(h, p.item_id) == p.reason_item_id
    for member, _rank, item, _score, reason in fitted.recommend_all(HISTORIES, 5, visible_for_member=None):
        assert reason in HISTORIES[member]
        assert reason == fitted.explain(HISTORIES[member], item)
    assert fitted.explain({}, 0) is None


def test_fold_in_agrees_with_the_trained_members(fitted: AlsRecommender) -> None:
    """``recalculate_user`` is the ALS user step, so a member who has not played since the fit gets
    the vector Spark trained, and fold-in picks are the stored picks."""
    stored = _by_member(list(fitted.recommend_all(HISTORIES, N, visible_for_member=None)))
    for u, h in HISTORIES.items():
        trained = fitted.trained_vector(u)
        assert trained is not None
        folded = fitted.recalculate_user(h)
        assert folded.dtype == np.float32
        cos = float(folded @ trained) / float(np.linalg.norm(folded) * np.linalg.norm(trained))
        assert cos > 0.9999
        np.testing.assert_allclose(folded, trained, rtol=2e-3, atol=2e-4)
        picks = fitted.recommend(h, N, visible=None)
        mine = stored[u]
        assert [p.item_id for p in picks][0] == mine[0][2]
        assert [p.reason_item_id for p in picks][0] == mine[0][4]
        fold_scores = {p.item_id: p.score for p in picks}
        stored_scores = {item: score for _, _, item, score, _ in mine}
        assert fold_scores.keys() == stored_scores.keys()
        top = max(abs(s) for s in stored_scores.values())
        for item, score in stored_scores.items():
            assert fold_scores[item] == pytest.approx(score, abs=2e-3 * top)
        # With the trained vector, recommend is the stored path: one scoring function, float32 (a
        # one-row product and a blocked one may round differently in the last bit).
        same = fitted.recommend(h, N, visible=None, user_vector=trained)
        assert [(p.item_id, p.reason_item_id) for p in same] == [(i, r) for _, _, i, _, r in mine]
        assert [p.score for p in same] == pytest.approx([s for _, _, _, s, _ in mine], rel=1e-5, abs=1e-6)


def test_similar_items_are_visible_and_ranked_by_cosine(fitted: AlsRecommender) -> None:
    y = fitted.item_factors.astype(np.float64)
    unit = y / np.linalg.norm(y, axis=1, keepdims=True)
    for item in (0, 7):
        sims = fitted.similar_items(item, N, visible=None)
        ids = [s.item_id for s in sims]
        assert item not in ids and len(ids) == N - 1
        scores = [s.score for s in sims]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, unit[ids] @ unit[item], atol=1e-5)
        assert all(i % 2 == item % 2 for i in ids[: N // 2 - 1])  # its own group first
        shown = fitted.similar_items(item, 5, visible=EVEN)
        assert shown and all(s.item_id in EVEN and s.item_id != item for s in shown)
    assert fitted.similar_items(999, 5, visible=None) == []


def test_round_trip_through_storage(fitted: AlsRecommender, db: Database) -> None:
    rows = list(fitted.recommend_all(HISTORIES, 10, visible_for_member=None))
    gen_id = recs.write_generation(
        db,
        kind="artist",
        last_play_id=0,
        model=fitted.to_generation(),
        picks=rows,
        now=dt.datetime(2026, 1, 1),
    )
    with db.read() as conn:
        gen = recs.generation(conn, gen_id)
        assert gen is not None
        factors = recs.load_factors(conn, gen)
        links = recs.load_item_weights(conn, gen)
        stored = {u: recs.stored_picks(conn, gen_id, u, 10) for u in range(N)}
    for u, mine in _by_member(rows).items():
        assert stored[u] == [(i, s, r) for _, _, i, s, r in mine]
    served = AlsRecommender.from_generation(gen, factors, links)
    np.testing.assert_array_equal(served.item_ids, fitted.item_ids)
    np.testing.assert_array_equal(served.item_factors, fitted.item_factors)
    np.testing.assert_array_equal(served.yty, fitted.yty)
    np.testing.assert_array_equal(served.popularity, fitted.popularity)
    assert served.blender is None  # a generation keeps no co-occurrence: served fold-in is plain ALS
    assert served.model_name == fitted.model_name and gen.model == fitted.model_name
    # ... but it keeps the item model: the served fold-in blends like the fitted model
    plain = (
        AlsRecommender.from_factors(fitted.params, fitted.item_ids, fitted.item_factors)
        if fitted.blender is not None
        else fitted
    )
    for u, h in HISTORIES.items():
        np.testing.assert_array_equal(served.recalculate_user(h), fitted.recalculate_user(h))
        picks = served.recommend(h, 10, visible=None)
        assert picks == plain.recommend(h, 10, visible=None)
        assert served.similar_items(u, 5, visible=None) == fitted.similar_items(u, 5, visible=None)
        if fitted.blender is None:  # the served picks of a member who has not played are the stored ones
            assert [p.item_id for p in picks][0] == stored[u][0][0]
            assert [p.score for p in picks] == pytest.approx([s for _, s, _ in stored[u]], abs=2e-3)
