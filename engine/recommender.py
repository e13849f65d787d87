"""The recommender: one object for ALS and the item model blended with it, from the Spark fit to the
served fold-in.

:class:`AlsRecommender` follows the shape of ``implicit``'s ``RecommenderBase``:

* :meth:`~AlsRecommender.fit` trains implicit ALS on Spark (:mod:`engine.als`), the EASE^R item model
  (:mod:`engine.ease`) when it is configured, and, when a blend weight is set, the item
  co-occurrence of :mod:`engine.cooc`; scores blend ALS and the item model per member with
  ``item_weight`` (0: ALS alone, 1: the item model alone; chosen per deployment by
  :mod:`engine.select`);
* :meth:`~AlsRecommender.recalculate_user` is ALS's own user step for one history (the fold-in);
* :meth:`~AlsRecommender.recommend` is one member's top-n, :meth:`~AlsRecommender.recommend_all`
  every trained member's (the retrain's stored picks);
* :meth:`~AlsRecommender.similar_items` uses the cosine of item factors; every pick's reason
  (:meth:`~AlsRecommender.explain`) is the member's play with the largest term in the pick's score.

A retrain persists it with ``storage.recs.write_generation(model=rec.to_generation(), ...)``; the
service rebuilds it with :meth:`~AlsRecommender.from_generation`. Storage stays the only code that
writes.

**Visibility.** Everything a member is shown is cut to the sorted item ids of
:mod:`storage.visibility` they may see: ``visible`` (``visible_for_member`` for
:meth:`~AlsRecommender.recommend_all`) is a required argument, ``None`` only where nothing is shown to
a member (offline evaluation).

**One scoring path, float32.** Factors are float32 (what Spark trains and what a generation stores),
and every score — retrain picks, fold-in picks, reasons, similar items — is a float32 product through
:func:`product`. A float64 product of float32 factors carries no more information than the factors
have (about 7 significant digits, far below the gaps that decide a ranking), but it would double the
memory traffic of the serving hot path (one pass over 100k × 64 factors per fold-in) and of the
retrain's blocked products, and keep a float64 copy of the item matrix per generation. Only the
fold-in's 64 × 64 normal equations are built and solved in float64 (sums of many products with λ on
the diagonal, where float32 would lose digits), and the solution is rounded to float32 like Spark's
own user factors. Since a member's stored picks and fold-in picks go through the same function on the
same dtype, they differ only by the difference between Spark's user vector and the fold-in's (Spark's
last half-iteration is that same user step, so for a member who has not played since the retrain the
two agree to float32 precision; ``tests/engine/test_recommender_contract.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.als import AlsParams
from engine.cooc import Blender, BlendParams
from engine.ease import EaseParams, ItemWeights
from storage import recs
from storage.visibility import contains

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_DTYPE = np.float32

History = Mapping[int, int] | Iterable[tuple[int, int]]
"""A member's plays: ``{item id: plays}`` or ``(item id, plays)`` pairs."""

PickRow = tuple[int, int, int, float, int | None]
"""``(member id, rank, item id, score, reason item id)``: a stored pick, as ``write_generation`` takes it."""


@dataclass(frozen=True)
class ScoredItem:
    """An item the engine ranked: its score and, for recommendations, the played item that explains it."""

    item_id: int
    score: float
    reason_item_id: int | None = None


def product(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The one scoring function: ``vectors @ rowsᵀ`` in float32 (see the module docstring)."""
    return np.asarray(vectors, dtype=SCORE_DTYPE) @ np.asarray(rows, dtype=SCORE_DTYPE).T


def confidence(plays: np.ndarray, conf_scale: float) -> np.ndarray:
    """The rating ALS is fed for a play count: ``log1p(plays) / conf_scale``."""
    return np.log1p(np.asarray(plays, dtype=np.float64)) / conf_scale


def normalised(factors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left as they are): cosine similarity is a dot product."""
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (factors / norms).astype(SCORE_DTYPE)


def top_n(
    scores: np.ndarray,
    exclude: np.ndarray,
    n: int,
    allowed: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    cap: int = 0,
) -> np.ndarray:
    """Row indices of the ``n`` best scores, best first, excluding the ``exclude`` row indices and,
    when an ``allowed`` row mask is given, every row outside it. With ``groups`` (a group id per
    row, ``-1`` for none) and ``cap > 0``, at most ``cap`` rows of one group are kept: a row that
    would pass the cap is skipped and the next best row takes its place."""
    s = np.array(scores, copy=True)
    s[exclude] = -np.inf
    if allowed is not None:
        s[~allowed] = -np.inf
    finite = int(np.isfinite(s).sum())
    capped = groups is not None and cap > 0
    m = min(n if not capped else n * (cap + 3) // cap + 16, finite)
    while True:
        if m <= 0:
            return np.empty(0, dtype=np.int64)
        idx = np.argpartition(-s, m - 1)[:m]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        if not capped:
            return idx[:n]
        assert groups is not None
        taken: dict[int, int] = {}
        keep: list[int] = []
        for r in idx.tolist():
            g = int(groups[r])
            if g >= 0:
                if taken.get(g, 0) >= cap:
                    continue
                taken[g] = taken.get(g, 0) + 1
            keep.append(r)
            if len(keep) == n:
                break
        if len(keep) == n or m == finite:
            return np.array(keep, dtype=np.int64)
        m = min(m * 4, finite)


_NO_ROWS = np.empty(0, dtype=np.int64)
_MASKS = 64  # visible-item masks a served recommender keeps (one per community's current array)


class AlsRecommender:
    """Implicit ALS: Spark fit, float32 scoring, fold-in; blends with EASE^R and co-occurrence (optional).

    Fitted state (read-only once built, so one object serves many threads): ``item_ids`` (sorted) and
    ``item_factors`` (float32 rows aligned), ``yty`` (float64 ``YᵀY``), ``user_ids`` (sorted) and
    ``user_factors`` (trained members; empty when served from a generation), ``popularity``
    (listeners per item), ``blender`` (the co-occurrence blend, or ``None``) and ``items`` (the item
    model's kept weights, :class:`engine.ease.ItemWeights`, or ``None``). The only thing it
    changes while serving is a small cache of visible-item masks keyed by the identity of the
    ``visible`` array, so those arrays are treated as immutable (:class:`storage.visibility.VisibleItems`
    hands out a new array whenever a community's visible set changes).

    Both blends apply wherever this object scores a member (``recommend`` and ``recommend_all``).
    A generation stores the item model's kept weights and ``item_weight``, so a recommender rebuilt
    with :meth:`from_generation` blends the item model like the fitted one. It stores no
    co-occurrence: with that blend configured, a member who played since the retrain gets fold-in
    picks without it until the next retrain (it is off by default: docs/tuning.md). ``groups`` and
    ``group_cap`` (:meth:`with_groups`) cap picks per artist for tracks.
    """

    def __init__(
        self,
        params: AlsParams | None = None,
        *,
        blend: BlendParams | None = None,
        ease: EaseParams | None = None,
        item_weight: float = 0.0,
    ) -> None:
        self.params = params or AlsParams()
        self.blend = blend or BlendParams()
        self.blender: Blender | None = None
        self.ease = ease
        self.items: ItemWeights | None = None
        if not 0.0 <= item_weight <= 1.0:
            raise ValueError(f"item_weight must be within [0, 1], got {item_weight}")
        self.item_weight = float(item_weight)
        self.groups: np.ndarray | None = None
        self.group_cap = 0
        self._masks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._set_items(np.empty(0, dtype=np.int64), np.empty((0, self.params.rank), dtype=SCORE_DTYPE))
        self._set_users(np.empty(0, dtype=np.int64), np.empty((0, self.params.rank), dtype=SCORE_DTYPE))

    # --- building -------------------------------------------------------------------------

    def fit(
        self, pairs: DataFrame, *, blocks: int | None = None, feedback: DataFrame | None = None
    ) -> AlsRecommender:
        """Train on Spark from ``(user, item, plays)`` rows (one per member × item), with the
        members' 👍 / 👎 ``(user, item, verdict)`` rows in the ALS input when given
        (:mod:`engine.feedback`), and keep the factors, ``YᵀY``, item popularity and, with a blend
        weight, the co-occurrence (of plays only); returns self."""
        from engine.als import item_listeners, train_factors
        from engine.cooc import blender

        trained = train_factors(pairs, self.params, blocks=blocks, feedback=feedback)
        self._set_items(trained.item_ids, trained.item_factors)
        self._set_users(trained.user_ids, trained.user_factors)
        listeners = item_listeners(pairs)
        self.popularity = np.array([float(listeners.get(int(i), 0)) for i in self.item_ids])
        self.blender = blender(pairs, self.item_ids, self.blend)
        if self.ease is not None:
            self.fit_items(played_rows(pairs, self.item_ids))
        return self

    def fit_items(self, played: Sequence[np.ndarray]) -> AlsRecommender:
        """Fit the item model (EASE^R, :mod:`engine.ease`) from each member's played item rows."""
        from engine.ease import fit

        self.items = fit(played, len(self.item_ids), self.ease or EaseParams())
        return self

    def with_item_weight(self, weight: float) -> AlsRecommender:
        """The same fitted models with another blend weight (shares every array; 0 is ALS alone,
        1 the item model alone)."""
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"item_weight must be within [0, 1], got {weight}")
        other = copy.copy(self)
        other.item_weight = float(weight)
        other._masks = {}
        return other

    def with_groups(self, item_ids: np.ndarray, groups: np.ndarray, cap: int) -> AlsRecommender:
        """Cap picks per group (e.g. per artist for tracks): at most ``cap`` picks whose ``groups``
        id (aligned with ``item_ids``) is the same; items not listed belong to no group. ``cap``
        0 lifts the cap. Returns self (set once, right after building)."""
        rows, known = self._rows(np.asarray(item_ids, dtype=np.int64))
        g = np.full(len(self.item_ids), -1, dtype=np.int64)
        g[rows] = np.asarray(groups, dtype=np.int64)[known]
        self.groups = g
        self.group_cap = int(cap)
        return self

    @property
    def model_name(self) -> str:
        """Which family scores: ``als``, ``ease`` (the item model alone) or ``als+ease``."""
        if self.items is None or self.item_weight <= 0:
            return "als"
        return "ease" if self.item_weight >= 1 else "als+ease"

    @classmethod
    def from_factors(
        cls,
        params: AlsParams,
        item_ids: np.ndarray | Sequence[int],
        item_factors: np.ndarray,
        *,
        user_ids: np.ndarray | Sequence[int] | None = None,
        user_factors: np.ndarray | None = None,
        popularity: np.ndarray | Sequence[float] | None = None,
        yty: np.ndarray | None = None,
    ) -> AlsRecommender:
        """A recommender over given factors (any id order; rows follow their ids)."""
        rec = cls(params)
        order = rec._set_items(np.asarray(item_ids, dtype=np.int64), item_factors, yty=yty)
        if popularity is not None:
            rec.popularity = np.asarray(popularity, dtype=np.float64)[order]
        if user_ids is not None and user_factors is not None:
            rec._set_users(np.asarray(user_ids, dtype=np.int64), user_factors)
        return rec

    @classmethod
    def from_generation(
        cls,
        generation: recs.Generation,
        factors: recs.Factors,
        item_links: Sequence[recs.ItemLinks] = (),
    ) -> AlsRecommender:
        """The served recommender of a stored generation (no user factors, no co-occurrence; the
        item model's kept weights and the blend weight when the generation has them)."""
        params = AlsParams(
            rank=generation.rank,
            reg_param=generation.reg_param,
            alpha=generation.alpha,
            conf_scale=generation.conf_scale,
        )
        rec = cls.from_factors(
            params, factors.ids, factors.matrix, popularity=factors.popularity, yty=generation.yty
        )
        if item_links:
            rec.items = rec._weights_from_links(item_links)
            rec.item_weight = generation.item_weight
        return rec

    def _weights_from_links(self, links: Sequence[recs.ItemLinks]) -> ItemWeights:
        out = []
        for item, targets, weights in links:
            src, known = self._rows(np.array([item]))
            if len(src):
                rows, ok = self._rows(np.asarray(targets, dtype=np.int64))
                out.append((int(src[0]), rows, np.asarray(weights, dtype=np.float32)[ok]))
        return ItemWeights.from_rows(len(self.item_ids), out)

    def item_links(self) -> list[recs.ItemLinks]:
        """The item model's kept weights by item id: ``(item, target items, weights)`` per item."""
        if self.items is None:
            return []
        out = []
        for j in self.items.sources().tolist():
            t, w = self.items.row(j)
            out.append((int(self.item_ids[j]), self.item_ids[t], w))
        return out

    def to_generation(self) -> recs.GenerationData:
        """What ``storage.recs.write_generation`` persists of this model (the trained members'
        vectors included: /taste compares two of them; a served recommender does not load them)."""
        return recs.GenerationData(
            rank=self.params.rank,
            reg_param=self.params.reg_param,
            alpha=self.params.alpha,
            conf_scale=self.params.conf_scale,
            item_ids=self.item_ids,
            factors=self.item_factors,
            popularity=self.popularity,
            user_ids=self.user_ids,
            user_factors=self.user_factors,
            model=self.model_name,
            item_weight=self.item_weight if self.items is not None else 0.0,
            item_links=self.item_links() if self.items is not None and self.item_weight > 0 else (),
        )

    def _set_items(
        self, ids: np.ndarray, factors: np.ndarray, *, yty: np.ndarray | None = None
    ) -> np.ndarray:
        order = np.argsort(ids, kind="stable")
        self._masks.clear()
        self.item_ids = ids[order]
        self.item_factors = np.ascontiguousarray(np.asarray(factors, dtype=SCORE_DTYPE)[order])
        self.yty = recs.gram(self.item_factors) if yty is None else np.asarray(yty, dtype=np.float64)
        self.unit = normalised(self.item_factors)
        self.popularity = np.zeros(len(self.item_ids))
        return order

    def _set_users(self, ids: np.ndarray, factors: np.ndarray) -> None:
        order = np.argsort(ids, kind="stable")
        self.user_ids = ids[order]
        self.user_factors = np.ascontiguousarray(np.asarray(factors, dtype=SCORE_DTYPE)[order])

    # --- the model --------------------------------------------------------------------------

    def _rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``ids`` the model knows, and a mask of which ``ids`` those are."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(self.item_ids) == 0 or len(ids) == 0:
            return _NO_ROWS, np.zeros(len(ids), dtype=bool)
        pos = np.minimum(np.searchsorted(self.item_ids, ids), len(self.item_ids) - 1)
        known = self.item_ids[pos] == ids
        return pos[known], known

    def _played(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """Rows and play counts of the history's items the model knows."""
        pairs = list(history.items()) if isinstance(history, Mapping) else list(history)
        if not pairs:
            return _NO_ROWS, np.empty(0, dtype=np.int64)
        ids = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=len(pairs))
        plays = np.fromiter((p for _, p in pairs), dtype=np.int64, count=len(pairs))
        rows, known = self._rows(ids)
        return rows, plays[known]

    def _allowed(
        self, visible: np.ndarray | None, cache: dict[int, tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray | None:
        """The row mask of the ``visible`` ids (``None``: every row), cached per array object: the
        visibility cache hands out the same array until the community's visible set changes. The
        cache holds the array, so its ``id`` cannot be reused while the entry lives."""
        if visible is None:
            return None
        hit = cache.get(id(visible))
        if hit is None or hit[0] is not visible:
            if len(cache) >= _MASKS and cache is self._masks:
                cache.clear()
            hit = cache[id(visible)] = (visible, contains(visible, self.item_ids))
        return hit[1]

    def _without(self, allowed: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
        """A copy of the row mask ``allowed`` (``None``: every row) with the rows of ``ids`` off."""
        mask = np.ones(len(self.item_ids), dtype=bool) if allowed is None else allowed.copy()
        mask[self._rows(np.asarray(ids, dtype=np.int64))[0]] = False
        return mask

    def _scores(self, vectors: np.ndarray, played: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every item for a block of members (``played[row]``: their played rows), and
        per member the multipliers ``(ALS, item model)`` that turned each model's own score into
        its share of the blended one (``(1, 0)`` for ALS alone), for :meth:`_reasons`.

        The blend with the item model scales each model by its per-member maximum magnitude::

            score = (1 − w) · als / max|als| + w · ease / max|ease|
        """
        scores = product(vectors, self.item_factors)
        mult = np.zeros((len(scores), 2))
        mult[:, 0] = 1.0
        if self.blender is not None:
            top = np.abs(scores).max(axis=1) if scores.shape[1] else np.zeros(len(scores))
            mult[:, 0] = np.where(top > 0, 1.0 / np.where(top > 0, top, 1.0), 1.0)
            scores = self.blender(scores, played)
        w = self.item_weight
        if self.items is None or w <= 0:
            return scores, mult
        out = np.empty_like(scores)
        for row, mine in enumerate(played):
            a = scores[row]
            e = self.items.scores(mine)
            am = float(np.abs(a).max()) if a.size else 0.0
            em = float(np.abs(e).max()) if e.size else 0.0
            ka = (1.0 - w) / am if am > 0 else 0.0
            ke = w / em if em > 0 else 0.0
            out[row] = ka * a + ke * e
            mult[row] = (mult[row, 0] * ka, ke)
        return out, mult

    def _reasons(
        self, picks: np.ndarray, played: np.ndarray, plays: np.ndarray, mult: np.ndarray
    ) -> np.ndarray:
        """For each picked row, the played row whose term contributed most to the pick's score
        (-1 without a played row).

        ALS's share is Hu, Koren & Volinsky's decomposition of the implicit-ALS score: with the
        member's ``W = (YᵀY + Y_Iᵀ diag(α r) Y_I + λ|I| E)⁻¹`` (the fold-in's system), the score of
        ``i`` is ``Σ_j c_j · y_iᵀ W y_j`` over the played items ``j``, ``c_j = 1 + α r_j``. The item
        model's share of ``j`` is ``B[j, i]`` (binary input). Each is multiplied by its weight in
        the blend (``mult``, from :meth:`_scores`); the co-occurrence blend, when on, adds no term."""
        if len(played) == 0 or len(picks) == 0:
            return np.full(len(picks), -1, dtype=np.int64)
        terms = np.zeros((len(picks), len(played)))
        if mult[0] != 0:
            a, _ = self._normal_equations(played, plays)
            y = self.item_factors[played].astype(np.float64)
            m = np.linalg.solve(a, y.T)
            c = 1.0 + self.params.alpha * confidence(plays, self.params.conf_scale)
            terms += mult[0] * (self.item_factors[picks].astype(np.float64) @ m) * c[None, :]
        if mult[1] != 0 and self.items is not None:
            terms += mult[1] * self.items.dense(played)[:, picks].T.astype(np.float64)
        return played[np.argmax(terms, axis=1)]

    def _ranked(
        self,
        scores: np.ndarray,
        played: np.ndarray,
        plays: np.ndarray,
        mult: np.ndarray,
        n: int,
        allowed: np.ndarray | None,
        explain: bool = True,
    ) -> list[ScoredItem]:
        best = top_n(scores, played, n, allowed, groups=self.groups, cap=self.group_cap)
        why = self._reasons(best, played, plays, mult) if explain else np.full(len(best), -1)
        return [
            ScoredItem(int(self.item_ids[b]), float(scores[b]), int(self.item_ids[w]) if w >= 0 else None)
            for b, w in zip(best, why, strict=True)
        ]

    def _normal_equations(self, rows: np.ndarray, plays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` of the implicit-ALS user step for the items ``rows`` with ``plays``, float64."""
        y = self.item_factors[rows].astype(np.float64)
        c1 = self.params.alpha * confidence(plays, self.params.conf_scale)
        k = self.yty.shape[0]
        a = self.yty + (y.T * c1) @ y + self.params.reg_param * len(c1) * np.eye(k)
        return a, y.T @ (1.0 + c1)

    def _solve(self, rows: np.ndarray, plays: np.ndarray) -> np.ndarray:
        """Spark's implicit-ALS user step for the items ``rows`` with ``plays``::

            (YᵀY + Y_Iᵀ diag(α r) Y_I + λ |I| E) x = Y_Iᵀ (1 + α r)

        (``λ`` scaled by the number of rated items, as Spark's ALS-WR does), built and solved in
        float64, returned in float32."""
        if len(rows) == 0:
            return np.zeros(self.params.rank, dtype=SCORE_DTYPE)
        return np.linalg.solve(*self._normal_equations(rows, plays)).astype(SCORE_DTYPE)

    # --- the interface ----------------------------------------------------------------------

    def recalculate_user(self, history: History) -> np.ndarray:
        """The member's vector from their history and the item factors (the fold-in): the vector the
        next retrain would give them if the items did not move. Unknown items are ignored; no known
        item gives the zero vector."""
        return self._solve(*self._played(history))

    def trained_vector(self, member: int) -> np.ndarray | None:
        """A trained member's vector (``None`` when served from a generation or not trained)."""
        pos = int(np.searchsorted(self.user_ids, member))
        if pos < len(self.user_ids) and self.user_ids[pos] == member:
            return np.asarray(self.user_factors[pos])
        return None

    def recommend(
        self,
        history: History,
        n: int,
        *,
        visible: np.ndarray | None,
        user_vector: np.ndarray | None = None,
    ) -> list[ScoredItem]:
        """The member's top ``n`` among ``visible`` (sorted item ids; ``None``: every item), best
        first, none of them played, each with its reason (the played item whose term contributed most).

        The member's vector is ``user_vector`` if given, else :meth:`recalculate_user` of
        ``history``; no known item in the history and no vector give no picks."""
        rows, plays = self._played(history)
        if user_vector is None:
            if len(rows) == 0:
                return []
            user_vector = self._solve(rows, plays)
        scores, mult = self._scores(np.asarray(user_vector)[None, :], [rows])
        return self._ranked(scores[0], rows, plays, mult[0], n, self._allowed(visible, self._masks))

    def recommend_all(
        self,
        histories: Mapping[int, History],
        n: int,
        *,
        visible_for_member: Callable[[int], np.ndarray] | None,
        hidden_for_member: Callable[[int], np.ndarray | None] | None = None,
        block: int = 512,
        explain: bool = True,
    ) -> Iterator[PickRow]:
        """Every trained member's top ``n`` with their trained vectors, as
        ``(member, rank, item, score, reason)`` rows for ``write_generation``: the same ranking as
        :meth:`recommend`, in blocked matrix products.

        ``visible_for_member(member)`` returns the sorted item ids that member may be shown (the
        same array object for members of one community: its mask is computed once); ``None`` only
        for offline evaluation. ``hidden_for_member(member)``, when given, returns item ids that
        member hid (👎; ``None`` or empty: none): they are never picked for them. ``explain=False``
        leaves every reason ``None`` (model selection only ranks)."""
        masks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # one per community, for this run
        for start in range(0, len(self.user_ids), block):
            members = self.user_ids[start : start + block]
            mine = [self._played(histories.get(int(m), ())) for m in members]
            played = [r for r, _ in mine]
            scores, mult = self._scores(self.user_factors[start : start + block], played)
            for row, member in enumerate(members):
                ids = None if visible_for_member is None else visible_for_member(int(member))
                allowed = self._allowed(ids, masks)
                gone = None if hidden_for_member is None else hidden_for_member(int(member))
                if gone is not None and len(gone):
                    allowed = self._without(allowed, gone)
                for rank, p in enumerate(
                    self._ranked(scores[row], played[row], mine[row][1], mult[row], n, allowed, explain), 1
                ):
                    yield (int(member), rank, p.item_id, p.score, p.reason_item_id)

    def rank_blends(
        self, histories: Mapping[int, History], members: Sequence[int], weights: Sequence[float], n: int
    ) -> dict[float, dict[int, list[int]]]:
        """Each trained member's top ``n`` item ids at every item weight of ``weights`` (no
        visibility cut, no reasons, no group cap: model selection only). The same blend as
        :meth:`_scores`, with ALS's and the item model's scores computed once per member for all
        weights instead of once per weight."""
        out: dict[float, dict[int, list[int]]] = {float(w): {} for w in weights}
        known = [int(m) for m in members if self.trained_vector(int(m)) is not None]
        plain = self.with_item_weight(0.0)
        for start in range(0, len(known), 512):
            block = known[start : start + 512]
            played = [self._played(histories.get(m, ()))[0] for m in block]
            pos = np.searchsorted(self.user_ids, block)
            als, _ = plain._scores(self.user_factors[pos], played)
            for row, member in enumerate(block):
                a = als[row].astype(np.float64)
                am = np.abs(a).max() if a.size else 0.0
                a = a / am if am > 0 else a * 0.0
                e = self.items.scores(played[row]).astype(np.float64) if self.items is not None else a * 0.0
                em = np.abs(e).max() if e.size else 0.0
                e = e / em if em > 0 else e * 0.0
                for w in out:
                    scores = a if w <= 0 or self.items is None else (1.0 - w) * a + w * e
                    best = top_n(scores, played[row], n)
                    out[w][member] = [int(self.item_ids[b]) for b in best]
        return out

    def similar_items(self, item: int, n: int, *, visible: np.ndarray | None) -> list[ScoredItem]:
        """The ``n`` items among ``visible`` closest to ``item`` in cosine of their factors, best
        first, ``item`` itself excluded (none when the model does not know ``item``)."""
        rows, _ = self._rows(np.array([item]))
        if len(rows) == 0:
            return []
        scores = product(self.unit[rows], self.unit)[0]
        best = top_n(scores, rows, n, self._allowed(visible, self._masks))
        return [ScoredItem(int(self.item_ids[b]), float(scores[b])) for b in best]

    def explain(self, history: History, item: int) -> int | None:
        """The reason for ``item``: the played item whose term contributed most to its score from
        the member's fold-in vector ("because you played X"; see :meth:`_reasons`)."""
        played, plays = self._played(history)
        rows, _ = self._rows(np.array([item]))
        if len(played) == 0 or len(rows) == 0:
            return None
        _, mult = self._scores(self._solve(played, plays)[None, :], [played])
        why = self._reasons(rows, played, plays, mult[0])
        return int(self.item_ids[why[0]]) if why[0] >= 0 else None


def played_rows(pairs: DataFrame, item_ids: np.ndarray) -> list[np.ndarray]:
    """Each member's played rows of ``item_ids`` (sorted) from ``(user, item, …)`` rows, pulled to
    the driver as Arrow."""
    table = pairs.select("user", "item").toArrow()
    users = table.column("user").to_numpy().astype(np.int64)
    items = table.column("item").to_numpy().astype(np.int64)
    pos = np.minimum(np.searchsorted(item_ids, items), max(len(item_ids) - 1, 0))
    known = item_ids[pos] == items if len(item_ids) else np.zeros(len(items), dtype=bool)
    users, pos = users[known], pos[known]
    order = np.argsort(users, kind="stable")
    users, pos = users[order], pos[order]
    cuts = np.flatnonzero(np.diff(users)) + 1
    return [p for p in np.split(pos, cuts) if len(p)]
