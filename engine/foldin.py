"""Fold-in: a member's user vector from stored item factors, with the ALS user-step maths.

Spark's implicit ALS solves, for each user ``u`` with ratings ``r`` on items ``I``::

    (YᵀY + Y_Iᵀ diag(α r) Y_I + λ |I| E) x = Y_Iᵀ (1 + α r)

(``λ`` is scaled by the number of positive ratings, as in ALS-WR). Using exactly that here means a
folded-in member gets the vector the next retrain would give them if the items did not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.visibility import contains


@dataclass(frozen=True)
class Pick:
    item_id: int
    score: float
    reason_item_id: int | None


def confidence_ratings(plays: np.ndarray, conf_scale: float) -> np.ndarray:
    """The rating fed to ALS for a member's play count: ``log1p(plays) / scale``."""
    return np.log1p(np.asarray(plays, dtype=np.float64)) / conf_scale


def user_vector(
    yty: np.ndarray, y_items: np.ndarray, ratings: np.ndarray, *, alpha: float, reg_param: float
) -> np.ndarray:
    y = np.asarray(y_items, dtype=np.float64)
    c1 = alpha * np.asarray(ratings, dtype=np.float64)
    k = yty.shape[0]
    a = yty + (y.T * c1) @ y + reg_param * len(c1) * np.eye(k)
    b = y.T @ (1.0 + c1)
    return np.linalg.solve(a, b)


def top_n(scores: np.ndarray, exclude: np.ndarray, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Row indices of the ``n`` best scores, excluding the ``exclude`` row indices and, when an
    ``allowed`` row mask is given, every row outside it."""
    s = scores.astype(np.float64, copy=True)
    s[exclude] = -np.inf
    if allowed is not None:
        s[~allowed] = -np.inf
    n = min(n, int(np.isfinite(s).sum()))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    idx = np.argpartition(-s, n - 1)[:n]
    return idx[np.argsort(-s[idx], kind="stable")]


def normalised(factors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left as they are): cosine similarity is a dot product."""
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (factors / norms).astype(np.float32)


def reasons(unit: np.ndarray, picks: np.ndarray, played: np.ndarray) -> np.ndarray:
    """For each picked row, the played row closest in cosine similarity (the "because you played").
    ``unit`` is :func:`normalised` item factors, computed once per generation."""
    if len(played) == 0 or len(picks) == 0:
        return np.full(len(picks), -1, dtype=np.int64)
    return played[np.argmax(unit[picks] @ unit[played].T, axis=1)]


def recommend_from_factors(
    item_ids: np.ndarray,
    factors: np.ndarray,
    yty: np.ndarray,
    history: list[tuple[int, int]],
    *,
    alpha: float,
    reg_param: float,
    conf_scale: float,
    n: int,
    visible: np.ndarray,
    unit: np.ndarray | None = None,
) -> list[Pick]:
    """Fold a member's ``(item_id, plays)`` history into the model and return their top ``n`` among
    the ``visible`` item ids (sorted; :mod:`storage.visibility`).

    Scoring stays in float32 (one pass over the item matrix); pass ``unit`` (:func:`normalised`
    factors, cached per generation) to avoid recomputing norms on every call."""
    pos = np.searchsorted(item_ids, [i for i, _ in history])
    known = [(p, c) for p, (i, c) in zip(pos, history, strict=True) if p < len(item_ids) and item_ids[p] == i]
    if not known:
        return []
    rows = np.array([p for p, _ in known], dtype=np.int64)
    ratings = confidence_ratings(np.array([c for _, c in known]), conf_scale)
    x = user_vector(yty, factors[rows], ratings, alpha=alpha, reg_param=reg_param)
    scores = factors @ x.astype(factors.dtype)
    best = top_n(scores, rows, n, allowed=contains(visible, item_ids))
    why = reasons(normalised(factors) if unit is None else unit, best, rows)
    return [
        Pick(int(item_ids[b]), float(scores[b]), int(item_ids[w]) if w >= 0 else None)
        for b, w in zip(best, why, strict=True)
    ]
