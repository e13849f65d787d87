"""Per-deployment model selection: which blend of ALS and the item model fits this community's plays.

At a full retrain the deployment's own data is split: every member with at least ``min_items`` items
holds out ``floor(holdout × items)`` of them, **the most recently played first** (by the last dated
play of each item; undated items count as the oldest, ties and all-undated histories broken by a
seeded draw, so an imported history without dates gets a random slice). ALS and EASE^R are fitted
once on the rest (one extra Spark fit), every weight of the grid (0 = ALS alone, 1 = the item model
alone, blends between) ranks each member's top 10 with the production blend
(:meth:`engine.recommender.AlsRecommender.rank_blends`: each model's scores once per member, every
weight from them; no reasons and no visibility cut: nothing here is shown to anyone), and the
weight with the best NDCG@10 on the held-out items wins (ties: the smaller weight) — unless its
gain over ALS alone is within ``margin_se`` paired standard errors, in which case ALS alone is kept
(a gain that small is a coin toss: on HetRec's small-heavy variant the argmax moved between weights
from seed to seed; docs/tuning.md). The retrain then fits on everything with that weight.

**Too small to validate.** With fewer than ``min_members`` members holding out an item, NDCG@10 over
them is mostly noise: selection is skipped, the configured weight is used, and the reason is
recorded with the generation.

Cost: one more ALS fit on ~80% of the pairs, two EASE^R fits and one scoring of every
member (docs/benchmarks.md has the measured ratio to a plain retrain).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.als import AlsParams
from engine.ease import EaseParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from config.settings import Settings

K = 10


@dataclass(frozen=True)
class SelectionParams:
    grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
    holdout: float = 0.2
    min_items: int = 5
    min_members: int = 10
    seed: int = 7
    fallback: float = 0.0  # the weight when selection is skipped
    margin_se: float = 1.0  # a weight must beat ALS alone by this many paired standard errors


def selection_from_settings(settings: Settings) -> SelectionParams:
    """The selection settings (``item_weight_grid``, ``item_weight`` as the fallback)."""
    grid = tuple(sorted({float(x) for x in settings.item_weight_grid.split(",") if x.strip()}))
    bad = [w for w in grid if not 0 <= w <= 1]
    if bad or not grid:
        raise ValueError(
            f"item_weight_grid must list weights within [0, 1], got {settings.item_weight_grid!r}"
        )
    return SelectionParams(grid=grid, fallback=settings.item_weight)


def ease_from_settings(settings: Settings) -> EaseParams:
    return EaseParams(lam=settings.ease_lambda, max_items=settings.ease_max_items, keep=settings.ease_keep)


@dataclass(frozen=True)
class Selection:
    """The outcome: the chosen weight and the validation numbers behind it."""

    weight: float
    members: int  # members holding out at least one item
    held_out: int  # held-out (member, item) pairs
    ndcg: Mapping[float, float] = field(default_factory=dict)  # weight → validation NDCG@10
    stderr: Mapping[float, float] = field(default_factory=dict)  # weight → SE of (weight − ALS), paired
    seconds: float = 0.0
    skipped: str | None = None  # why no selection ran
    fit_seconds: float = 0.0  # of ``seconds``: fitting ALS and EASE^R on the training slice

    @property
    def model(self) -> str:
        return "als" if self.weight <= 0 else "ease" if self.weight >= 1 else "als+ease"

    def to_json(self) -> str:
        return json.dumps(
            {
                "weight": self.weight,
                "model": self.model,
                "members": self.members,
                "held_out": self.held_out,
                "ndcg": {f"{w:g}": round(v, 5) for w, v in self.ndcg.items()},
                "stderr": {f"{w:g}": round(v, 5) for w, v in self.stderr.items()},
                "seconds": round(self.seconds, 2),
                "fit_seconds": round(self.fit_seconds, 2),
                "skipped": self.skipped,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Selection:
        d = json.loads(text)
        return cls(
            weight=float(d["weight"]),
            members=int(d["members"]),
            held_out=int(d["held_out"]),
            ndcg={float(w): float(v) for w, v in d.get("ndcg", {}).items()},
            stderr={float(w): float(v) for w, v in d.get("stderr", {}).items()},
            seconds=float(d.get("seconds", 0.0)),
            fit_seconds=float(d.get("fit_seconds", 0.0)),
            skipped=d.get("skipped"),
        )

    def summary(self) -> str:
        """One line for ``tastemaker jobs`` / ``eval models``."""
        name = f"{self.model} (item weight {self.weight:g})"
        if self.skipped:
            return f"{name}; selection skipped: {self.skipped}"
        scores = ", ".join(f"{w:g}: {v:.3f}" for w, v in sorted(self.ndcg.items()))
        return (
            f"{name} chosen on {self.held_out} held-out plays of {self.members} members, "
            f"validation NDCG@10 by item weight {scores} ({self.seconds:.0f}s)"
        )


def holdout(
    users: np.ndarray, items: np.ndarray, when: np.ndarray, params: SelectionParams
) -> tuple[np.ndarray, dict[int, set[int]]]:
    """The time-aware split: a mask of the training rows and each member's held-out items."""
    n = len(users)
    draws = np.random.default_rng(params.seed).random(n)
    order = np.lexsort((draws, when, users))  # by member, then oldest first, then the draw
    train = np.ones(n, dtype=bool)
    test: dict[int, set[int]] = {}
    u_sorted = users[order]
    _, starts, counts = np.unique(u_sorted, return_index=True, return_counts=True)
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        if count < params.min_items:
            continue
        n_test = math.floor(params.holdout * count)
        if n_test <= 0:
            continue
        held = order[start + count - n_test : start + count]  # the most recent
        train[held] = False
        test[int(users[held[0]])] = {int(i) for i in items[held]}
    return train, test


def ndcg_per_member(
    ranked: Mapping[int, Sequence[int]], test: Mapping[int, set[int]], k: int = K
) -> np.ndarray:
    """NDCG@k (binary gain) of each held-out member's list, in ``sorted(test)`` order."""
    out = np.zeros(len(test))
    for n, u in enumerate(sorted(test)):
        rel = test[u]
        dcg = sum(1.0 / math.log2(p + 2) for p, i in enumerate(list(ranked.get(u, ()))[:k]) if i in rel)
        idcg = sum(1.0 / math.log2(p + 2) for p in range(min(len(rel), k)))
        out[n] = dcg / idcg if idcg else 0.0
    return out


def select(
    spark: SparkSession,
    rows: np.ndarray,
    when: np.ndarray,
    als: AlsParams,
    ease: EaseParams,
    params: SelectionParams,
    *,
    blocks: int | None = None,
) -> Selection:
    """Choose the item weight for ``(user, item, plays)`` ``rows`` whose last dated play is ``when``
    (seconds, ``-1`` undated)."""
    from engine.recommender import AlsRecommender

    t0 = time.perf_counter()
    train, test = holdout(rows[:, 0], rows[:, 1], when, params)
    held = sum(len(t) for t in test.values())
    if len(test) < params.min_members:
        why = (
            f"{len(test)} member{'s' if len(test) != 1 else ''} with at least {params.min_items} items, "
            f"needs {params.min_members} to validate"
        )
        return Selection(params.fallback, len(test), held, skipped=why, seconds=time.perf_counter() - t0)
    frame = _frame(spark, rows[train])
    try:
        rec = AlsRecommender(als, ease=ease).fit(frame.cache(), blocks=blocks)
    finally:
        frame.unpersist()
    t1 = time.perf_counter()
    histories: dict[int, dict[int, int]] = {}
    for u, i, p in rows[train].tolist():
        histories.setdefault(u, {})[i] = p
    ranked = rec.rank_blends(histories, sorted(test), params.grid, K)
    per = {w: ndcg_per_member(ranked[w], test) for w in params.grid}
    ndcg = {w: float(v.mean()) for w, v in per.items()}
    base = per.get(0.0)
    stderr = (
        {w: float((v - base).std(ddof=1) / math.sqrt(len(v))) for w, v in per.items()}
        if base is not None and len(base) > 1
        else {}
    )
    best = max(params.grid, key=lambda w: (round(ndcg[w], 6), -w))
    if (
        base is not None
        and best != 0.0
        and ndcg[best] - ndcg[0.0] <= params.margin_se * stderr.get(best, 0.0)
    ):
        best = 0.0
    return Selection(best, len(test), held, ndcg, stderr, time.perf_counter() - t0, fit_seconds=t1 - t0)


def _frame(spark: SparkSession, rows: np.ndarray) -> DataFrame:
    import pyarrow as pa

    table = pa.table(
        {
            "user": pa.array(rows[:, 0].astype(np.int32)),
            "item": pa.array(rows[:, 1].astype(np.int32)),
            "plays": pa.array(rows[:, 2].astype(np.int64)),
        }
    )
    return spark.createDataFrame(table)
