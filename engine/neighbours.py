"""Taste neighbours and similar items, computed at each retrain from the fitted model.

Both are vectorised numpy on the driver, from what the retrain already holds after the Spark fit: the
user and item factors (:class:`engine.recommender.AlsRecommender`) and every member's history
(``engine.als.histories``). No second Spark pass: the work is a few blocked float32 products per
community, bounded by that community's own size (its members; the items *it* played), and the rows are
handed lazily to ``storage.recs.write_generation`` so they are computed between its short write
transactions and go live in the same switch as the picks.

**Neighbours** (:func:`member_neighbours`): for each trained member, the ``k`` members **of the same
community** whose user vectors have the highest cosine with theirs (self excluded, only positive
cosines). Members are grouped by community before any product is taken, so a member can never have a
neighbour in another community. Privacy is not decided here: a member may make themselves private
after the retrain, so the service leaves private members out when it shows the list.

**Similar items** (:func:`similar_items`): for each community, the items it may be asked about and
shown are the items **its own members played** in the training data by at least ``min_listeners``
members (2: one member's whole history is not "what people here play together"), that are still
visible to it now (:mod:`storage.visibility`; a play removed since the retrain only narrows the set).
Both sides of every pair come from that set, so a list never names an item another community played
and this one did not. For items ``i`` and ``j`` of community ``c``::

    score(i, j) = (1 − w) · cos(y_i, y_j) + w · c_ij / sqrt(n_i · n_j)

``cos(y_i, y_j)``: cosine of the ALS item factors (trained on every community, so it knows what goes
together in general); ``c_ij``: members *of c* who played both, ``n_i``, ``n_j``: members of ``c``
who played each, so the second term is the cosine of the two items' listener sets within the
community (what goes together *here*). Both terms are cosines (in [-1, 1] and [0, 1]); ``w`` is
``COLISTEN_WEIGHT`` (0.5, equal parts). Each item keeps its ``k`` best items with a positive score.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from engine.recommender import SCORE_DTYPE, normalised, product
from storage.recs import NeighbourRow, SimilarRow

NEIGHBOURS_K = 10
SIMILAR_K = 10
MIN_LISTENERS = 2
COLISTEN_WEIGHT = 0.5
_CELLS = 1 << 22  # score cells per block (4M float32: 16 MB), whatever the community's size


def _block_rows(n: int, cap: int = 1024) -> int:
    return max(1, min(cap, _CELLS // max(n, 1)))


def _best(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``scores``: column indices of the ``k`` best, best first, and their scores."""
    k = min(k, scores.shape[1])
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)


def _positive(cols: np.ndarray, scores: np.ndarray) -> Iterator[tuple[int, int, float]]:
    """``(rank, column, score)`` of one row's best entries (best first) while the score is positive."""
    for rank, (j, s) in enumerate(zip(cols, scores, strict=True), 1):
        if not s > 0:
            return
        yield rank, int(j), float(s)


def member_neighbours(
    user_ids: np.ndarray,
    user_factors: np.ndarray,
    community_of: Mapping[int, int],
    k: int = NEIGHBOURS_K,
) -> Iterator[NeighbourRow]:
    """``(member, rank, neighbour, cosine)`` rows: each member's ``k`` closest members of their own
    community by cosine of user vectors (positive only, the member excluded). Members missing from
    ``community_of`` get none."""
    ids = np.asarray(user_ids, dtype=np.int64)
    unit = normalised(np.asarray(user_factors, dtype=SCORE_DTYPE))
    comm = np.fromiter((community_of.get(int(m), -1) for m in ids), dtype=np.int64, count=len(ids))
    for c in np.unique(comm):
        rows = np.flatnonzero(comm == c)
        if c < 0 or len(rows) < 2:
            continue
        u = unit[rows]
        step = _block_rows(len(rows))
        for lo in range(0, len(rows), step):
            hi = min(lo + step, len(rows))
            scores = product(u[lo:hi], u)
            scores[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
            cols, top = _best(scores, k)
            for r in range(hi - lo):
                for rank, j, s in _positive(cols[r], top[r]):
                    yield int(ids[rows[lo + r]]), rank, int(ids[rows[j]]), s


def _colisten(
    indptr: np.ndarray, cols: np.ndarray, by_col: np.ndarray, lo: int, hi: int, n: int
) -> np.ndarray:
    """Co-listening counts of items ``lo..hi-1`` with every item (``(hi-lo) × n``) from a CSR
    member × item incidence (``indptr``, ``cols``), ``by_col`` being the entries sorted by column:
    for each member who played an item of the block, every item they played counts once."""
    first, last = np.searchsorted(cols[by_col], [lo, hi])
    sel = by_col[first:last]  # entries (member, item in the block)
    owner = np.searchsorted(indptr, sel, side="right") - 1
    starts = indptr[owner]
    lens = indptr[owner + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros((hi - lo, n), dtype=np.int64)
    row = np.repeat(cols[sel] - lo, lens)
    offset = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    col = cols[np.repeat(starts, lens) + offset]
    return np.bincount(row * n + col, minlength=(hi - lo) * n).reshape(hi - lo, n)


def _community_similar(
    community: int,
    histories: list[np.ndarray],
    item_ids: np.ndarray,
    unit: np.ndarray,
    visible: np.ndarray,
    k: int,
    min_listeners: int,
    weight: float,
) -> Iterator[SimilarRow]:
    played, listeners = np.unique(np.concatenate(histories), return_counts=True)
    keep = listeners >= min_listeners
    keep &= np.isin(played, visible, assume_unique=True) & np.isin(played, item_ids, assume_unique=True)
    ids, listeners = played[keep], listeners[keep].astype(np.float64)
    n = len(ids)
    if n < 2:
        return
    # CSR member × item (columns: positions in ``ids``) of the community's members.
    per_member = [np.searchsorted(ids, h[np.isin(h, ids, assume_unique=True)]) for h in histories]
    per_member = [np.sort(p) for p in per_member if len(p)]
    indptr = np.r_[0, np.cumsum([len(p) for p in per_member])].astype(np.int64)
    cols = np.concatenate(per_member).astype(np.int64) if per_member else np.empty(0, dtype=np.int64)
    by_col = np.argsort(cols, kind="stable")
    u = unit[np.searchsorted(item_ids, ids)]
    norm = np.sqrt(listeners)
    step = _block_rows(n, 512)
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        colisten = _colisten(indptr, cols, by_col, lo, hi, n) / np.outer(norm[lo:hi], norm)
        scores = ((1.0 - weight) * product(u[lo:hi], u) + weight * colisten).astype(SCORE_DTYPE)
        scores[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        best, top = _best(scores, k)
        for r in range(hi - lo):
            for rank, j, s in _positive(best[r], top[r]):
                yield community, int(ids[lo + r]), rank, int(ids[j]), s


def similar_items(
    item_ids: np.ndarray,
    unit_factors: np.ndarray,
    histories: Mapping[int, Mapping[int, int]],
    community_of: Mapping[int, int],
    visible_by_community: Mapping[int, np.ndarray],
    *,
    k: int = SIMILAR_K,
    min_listeners: int = MIN_LISTENERS,
    weight: float = COLISTEN_WEIGHT,
) -> Iterator[SimilarRow]:
    """``(community, item, rank, similar item, score)`` rows: for every community, each item its
    members played (at least ``min_listeners`` of them, still visible to it) with its ``k`` most
    similar such items, by the blend of the module docstring. ``item_ids`` are the model's sorted
    item ids, ``unit_factors`` their unit-length factor rows; ``histories`` every trained member's
    ``{item: plays}``; ``visible_by_community`` is ``storage.visibility.visible_items_by_community``."""
    ids = np.asarray(item_ids, dtype=np.int64)
    by_community: dict[int, list[np.ndarray]] = {}
    for member, history in histories.items():
        c = community_of.get(int(member))
        if c is not None and history:
            by_community.setdefault(c, []).append(np.fromiter(history, dtype=np.int64, count=len(history)))
    for c in sorted(by_community):
        visible = visible_by_community.get(c)
        if visible is None or len(visible) == 0:
            continue
        yield from _community_similar(
            c, by_community[c], ids, unit_factors, visible, k, min_listeners, weight
        )
