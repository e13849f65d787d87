"""The EASE^R item model, the per-group cap and the weighted explanations (no Spark: the recommender
is built from given factors)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.als import AlsParams
from engine.ease import EaseParams, fit, gram, scope
from engine.recommender import AlsRecommender, top_n
from engine.select import SelectionParams, holdout

RNG = np.random.default_rng(3)
N_MEMBERS, N_ITEMS = 40, 12
PLAYED = [np.flatnonzero(RNG.random(N_ITEMS) < 0.4) for _ in range(N_MEMBERS)]
FACTORS = RNG.normal(size=(N_ITEMS, 4)).astype(np.float32)


def _dense_ease(played: list[np.ndarray], n: int, lam: float) -> np.ndarray:
    x = np.zeros((len(played), n))
    for u, rows in enumerate(played):
        x[u, rows] = 1.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(n))
    b = np.eye(n) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def test_ease_matches_the_closed_form() -> None:
    b = _dense_ease(PLAYED, N_ITEMS, 5.0)
    w = fit(PLAYED, N_ITEMS, EaseParams(lam=5.0, max_items=N_ITEMS, min_listeners=1, keep=N_ITEMS))
    for j in range(N_ITEMS):
        t, v = w.row(j)
        dense = np.zeros(N_ITEMS, dtype=np.float32)
        dense[t] = v
        np.testing.assert_allclose(dense, b[j], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.scores(PLAYED[0]), b[PLAYED[0]].sum(axis=0), rtol=1e-5, atol=1e-5)


def test_ease_keeps_its_bound() -> None:
    """At most ``max_items`` items (most listeners first), each with ``min_listeners``; the rest get
    and give no item-model weight; at most ``keep`` weights per item."""
    listeners = np.zeros(N_ITEMS, dtype=np.int64)
    for rows in PLAYED:
        listeners[rows] += 1
    params = EaseParams(lam=5.0, max_items=5, min_listeners=2, keep=3)
    cols = scope(listeners, params)
    assert len(cols) == 5 and listeners[cols].min() >= np.sort(listeners)[-5]
    w = fit(PLAYED, N_ITEMS, params)
    assert set(w.sources().tolist()) <= set(cols.tolist())
    assert set(w.targets.tolist()) <= set(cols.tolist())
    assert all(len(w.row(j)[0]) <= 3 for j in range(N_ITEMS))
    outside = np.setdiff1d(np.arange(N_ITEMS), cols)
    assert not w.scores(np.arange(N_ITEMS))[outside].any()
    assert gram([np.array([0, 2])], 3).tolist() == [[1, 0, 1], [0, 0, 0], [1, 0, 1]]


def _model(weight: float) -> AlsRecommender:
    rec = AlsRecommender.from_factors(AlsParams(rank=4, reg_param=0.1), np.arange(N_ITEMS), FACTORS)
    rec.ease = EaseParams(lam=5.0, max_items=N_ITEMS, min_listeners=1, keep=N_ITEMS)
    rec.fit_items(PLAYED)
    return rec.with_item_weight(weight)


def test_reasons_name_the_largest_term() -> None:
    history = {int(i): 3 for i in PLAYED[1]}
    rows = np.array(sorted(history), dtype=np.int64)
    # The item model alone: the reason of pick i is the played j with the largest B[j, i].
    ease = _model(1.0)
    for p in ease.recommend(history, 5, visible=None):
        terms = ease.items.dense(rows)[:, p.item_id]  # type: ignore[union-attr]
        assert p.reason_item_id == rows[np.argmax(terms)]
    # ALS alone: the terms c_j · y_iᵀ W y_j add up to the fold-in score; the reason is the largest.
    als = _model(0.0)
    a, _ = als._normal_equations(rows, np.full(len(rows), 3))
    y = als.item_factors.astype(np.float64)
    c = 1.0 + np.log1p(3.0)
    for p in als.recommend(history, 5, visible=None):
        terms = c * (y[p.item_id] @ np.linalg.solve(a, y[rows].T))
        assert terms.sum() == pytest.approx(p.score, rel=1e-4, abs=1e-5)
        assert p.reason_item_id == rows[np.argmax(terms)]
        assert als.explain(history, p.item_id) == p.reason_item_id


def test_blend_scales_each_model_by_its_maximum() -> None:
    history = {int(i): 2 for i in PLAYED[2]}
    rows = np.array(sorted(history), dtype=np.int64)
    als, ease, half = _model(0.0), _model(1.0), _model(0.5)
    x = als.recalculate_user(history)
    a = als.item_factors @ x
    e = ease.items.scores(rows)  # type: ignore[union-attr]
    expected = 0.5 * a / np.abs(a).max() + 0.5 * e / np.abs(e).max()
    for p in half.recommend(history, 5, visible=None):
        assert p.score == pytest.approx(expected[p.item_id], rel=1e-4, abs=1e-6)
    with pytest.raises(ValueError):
        als.with_item_weight(1.5)


def test_cap_per_group() -> None:
    scores = np.array([9.0, 8, 7, 6, 5, 4, 3, 2])
    groups = np.array([1, 1, 1, 2, 1, 2, 2, -1])
    assert top_n(scores, np.array([], dtype=np.int64), 5, groups=groups, cap=2).tolist() == [0, 1, 3, 5, 7]
    assert top_n(scores, np.array([0]), 3, groups=groups, cap=1).tolist() == [1, 3, 7]
    assert top_n(scores, np.array([], dtype=np.int64), 3).tolist() == [0, 1, 2]
    rec = AlsRecommender.from_factors(
        AlsParams(rank=1, reg_param=0.1), np.arange(8), np.arange(8, 0, -1, dtype=np.float32)[:, None]
    )
    rec.with_groups(np.arange(8), np.zeros(8, dtype=np.int64), 2)
    assert len(rec.recommend({}, 5, visible=None, user_vector=np.ones(1, dtype=np.float32))) == 2


def test_holdout_takes_the_most_recent_items() -> None:
    users = np.array([1] * 10 + [2] * 10 + [3] * 3)
    items = np.array(list(range(10)) + list(range(10)) + [0, 1, 2])
    when = np.array([float(i) for i in range(10)] + [-1.0] * 10 + [5.0, 6.0, 7.0])
    train, test = holdout(users, items, when, SelectionParams())
    assert test[1] == {8, 9}  # the two most recent of ten
    assert len(test[2]) == 2  # undated: a seeded draw
    assert 3 not in test  # fewer than min_items: all kept for training
    assert (~train).sum() == 4
    assert holdout(users, items, when, SelectionParams())[1] == test  # deterministic


def test_rank_blends_ranks_like_recommend_all() -> None:
    """Model selection's one-pass ranking at each weight is the served ranking at that weight."""
    users = RNG.normal(size=(N_MEMBERS, 4)).astype(np.float32)
    rec = AlsRecommender.from_factors(
        AlsParams(rank=4, reg_param=0.1),
        np.arange(N_ITEMS),
        FACTORS,
        user_ids=np.arange(N_MEMBERS),
        user_factors=users,
    )
    rec.ease = EaseParams(lam=5.0, max_items=N_ITEMS, min_listeners=1, keep=N_ITEMS)
    rec.fit_items(PLAYED)
    histories = {u: {int(i): 1 for i in rows} for u, rows in enumerate(PLAYED)}
    grid = (0.0, 0.35, 1.0)
    ranked = rec.rank_blends(histories, list(range(N_MEMBERS)), grid, 4)
    for w in grid:
        served: dict[int, list[int]] = {}
        for m, _r, i, _s, _y in rec.with_item_weight(w).recommend_all(
            histories, 4, visible_for_member=None, explain=False
        ):
            served.setdefault(m, []).append(i)
        assert ranked[w] == served
