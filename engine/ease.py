"""EASE^R: the item–item model blended with ALS (Steck, "Embarrassingly Shallow Autoencoders", 2019).

With ``X`` the binary member × item matrix (1 where the member played the item) over the **scope**
(below), ``G = XᵀX + λI`` and ``P = G⁻¹``, the weights are ``B = I − P · diag(1 / diag P)``: a
closed-form ridge regression of every item on all the others with a zero diagonal. A member's score
for item ``i`` is ``Σ_j x_j · B[j, i]`` over the items ``j`` they played, so the item ``j`` whose
term ``B[j, i]`` is largest is the play that contributed most to ``i`` (the pick's reason).

**Scope (the bound).** ``G`` is dense and inverting it costs ``O(K³)`` on the driver, so EASE^R is
fitted over at most ``max_items`` items, those with the most listeners (ties by id), and only items
with at least ``min_listeners`` listeners (an item one member played has no co-listening to learn
from). Items outside the scope get no item-model score: they are ranked by ALS alone (their blended
score is ALS's share only), and plays of them contribute nothing to the item model. With the
defaults (3,000 items) the dense ``G`` is 72 MB in float64 and one fit takes seconds; the Gram
matrix is accumulated member by member from their played items within the scope (``Σ m²`` work for
a member with ``m`` such items), so the member count does not multiply the cost by ``K``.

**Kept weights.** A generation stores, for each item ``j`` in the scope, its ``keep`` largest weights
``B[j, ·]`` by absolute value (``keep · K`` numbers instead of ``K²``), and the recommender scores
with those kept weights everywhere (retrain picks, fold-in, reasons), so stored and served picks
agree. On the HetRec validation split keeping 200 of 3,000 per item changed the blends' NDCG@10 by
at most 0.0008 (inside ALS's seed noise of ±0.001) and EASE^R alone by −0.0017 (docs/tuning.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EaseParams:
    lam: float = 100.0  # L2 on B: tuned on the HetRec validation split, docs/tuning.md
    max_items: int = 3000
    min_listeners: int = 2
    keep: int = 200


def scope(listeners: np.ndarray, params: EaseParams) -> np.ndarray:
    """Row indices of the items EASE^R is fitted over: at most ``max_items`` with the most
    listeners (ties by row, i.e. by item id), each with at least ``min_listeners``; sorted."""
    order = np.lexsort((np.arange(len(listeners)), -np.asarray(listeners)))
    order = order[np.asarray(listeners)[order] >= params.min_listeners][: params.max_items]
    return np.sort(order)


class ItemWeights:
    """Sparse item-model weights over a recommender's item rows: row ``j`` (a played item) adds
    ``weights[k]`` to the score of row ``targets[k]`` for ``k`` in ``indptr[j]:indptr[j+1]``."""

    def __init__(self, n_rows: int, indptr: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> None:
        self.n_rows = n_rows
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.weights = np.asarray(weights, dtype=np.float32)

    @classmethod
    def from_rows(cls, n_rows: int, rows: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> ItemWeights:
        """From ``(source row, target rows, weights)`` triples (any order, each source once)."""
        counts = np.zeros(n_rows, dtype=np.int64)
        parts_t: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        parts_w: list[np.ndarray] = [np.empty(0, dtype=np.float32)]
        for src, tgt, w in sorted(rows, key=lambda r: r[0]):
            counts[src] = len(tgt)
            parts_t.append(np.asarray(tgt, dtype=np.int64))
            parts_w.append(np.asarray(w, dtype=np.float32))
        return cls(n_rows, np.r_[0, np.cumsum(counts)], np.concatenate(parts_t), np.concatenate(parts_w))

    def sources(self) -> np.ndarray:
        """Rows that carry weights."""
        return np.flatnonzero(np.diff(self.indptr))

    def row(self, source: int) -> tuple[np.ndarray, np.ndarray]:
        """``(target rows, weights)`` of one source row."""
        s, e = self.indptr[source], self.indptr[source + 1]
        return self.targets[s:e], self.weights[s:e]

    def dense(self, played: np.ndarray) -> np.ndarray:
        """The ``len(played) × n_rows`` float32 block of the played rows' weights (term ``[j, i]``
        is played item ``j``'s contribution to item ``i``, binary input)."""
        out = np.zeros((len(played), self.n_rows), dtype=np.float32)
        for k, j in enumerate(played):
            t, w = self.row(int(j))
            out[k, t] = w
        return out

    def scores(self, played: np.ndarray) -> np.ndarray:
        """A member's item-model score for every row (float32)."""
        if len(played) == 0:
            return np.zeros(self.n_rows, dtype=np.float32)
        return self.dense(played).sum(axis=0)


def gram(histories: Sequence[np.ndarray], n: int, *, chunk: int = 1 << 22) -> np.ndarray:
    """``XᵀX`` (float64, ``n × n``) of binary rows given as each member's column indices: one
    ``bincount`` per ``chunk`` co-played pairs."""
    g = np.zeros(n * n, dtype=np.float64)
    parts: list[np.ndarray] = []
    size = 0
    for cols in histories:
        if len(cols):
            c = np.asarray(cols, dtype=np.int64)
            parts.append((c[:, None] * n + c[None, :]).ravel())
            size += len(c) * len(c)
        if size >= chunk:
            g += np.bincount(np.concatenate(parts), minlength=n * n)
            parts, size = [], 0
    if parts:
        g += np.bincount(np.concatenate(parts), minlength=n * n)
    return g.reshape(n, n)


def fit(played_rows: Sequence[np.ndarray], n_rows: int, params: EaseParams) -> ItemWeights:
    """EASE^R over the scope of ``n_rows`` items, from each member's played rows; returns the kept
    weights addressed by the same rows."""
    listeners = np.zeros(n_rows, dtype=np.int64)
    for rows in played_rows:
        listeners[np.asarray(rows, dtype=np.int64)] += 1
    cols = scope(listeners, params)
    k = len(cols)
    if k < 2:
        return ItemWeights(n_rows, np.zeros(n_rows + 1, dtype=np.int64), np.empty(0), np.empty(0))
    local = np.full(n_rows, -1, dtype=np.int64)
    local[cols] = np.arange(k)
    g = gram([loc[loc >= 0] for loc in (local[np.asarray(r, dtype=np.int64)] for r in played_rows)], k)
    g[np.diag_indices(k)] += params.lam
    p = np.linalg.inv(g)
    b = p / -np.diag(p)[None, :]
    b[np.diag_indices(k)] = 0.0
    keep = min(params.keep, k - 1)
    kept: list[tuple[int, np.ndarray, np.ndarray]] = []
    for j in range(k):
        w = b[j]
        top = np.argpartition(-np.abs(w), keep - 1)[:keep] if keep < k else np.arange(k)
        top = top[w[top] != 0]
        top = np.sort(top)
        kept.append((int(cols[j]), cols[top], w[top].astype(np.float32)))
    return ItemWeights.from_rows(n_rows, kept)
