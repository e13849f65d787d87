"""Item–item co-occurrence, computed in Spark, blended into the ALS scores.

Two artists co-occur when one member played both. With ``n_i`` listeners of ``i`` and ``c_ij``
members who played both, the similarity is ``c_ij / (n_i^damp · n_j^(1-damp) + shrink)``: ``damp``
0.5 is cosine, a smaller ``damp`` penalises popular candidates ``j`` harder, ``shrink`` damps pairs
seen by few members. A member's co-occurrence score for ``j`` sums ``sim(i, j)`` over the items
``i`` they played. The blend adds it to the ALS score, each scaled by its per-member maximum::

    score = als / max|als| + weight · cooc / max cooc

:class:`engine.recommender.AlsRecommender` computes the similarities when it is fitted with a blend
weight (:func:`cooccurrence`, Spark) and applies the :class:`Blender` inside its one scoring function,
so retrain, evaluation and export share one path. A stored generation does not keep the
similarities: a recommender served from one scores with ALS alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from config.settings import Settings


@dataclass(frozen=True)
class BlendParams:
    weight: float = 0.0
    shrink: float = 10.0
    damp: float = 0.5


def blend_from_settings(settings: Settings) -> BlendParams:
    return BlendParams(settings.blend_cooc_weight, settings.blend_cooc_shrink, settings.blend_cooc_damp)


@dataclass(frozen=True)
class Cooc:
    """Similarities as ``(i, j, sim)`` arrays of item ids (``i != j``; both directions present)."""

    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray


def cooccurrence(pairs: DataFrame, *, shrink: float, damp: float) -> Cooc:
    """Co-occurrence similarities of ``(user, item, …)`` rows, computed in Spark, collected."""
    from pyspark.sql import functions as F

    ui = pairs.select(F.col("user").cast("int").alias("user"), F.col("item").cast("int").alias("item"))
    ui = ui.distinct()
    n = ui.groupBy("item").agg(F.count("*").cast("double").alias("n"))
    a = ui.withColumnRenamed("item", "i")
    b = ui.withColumnRenamed("item", "j")
    c = a.join(b, "user").where(F.col("i") != F.col("j")).groupBy("i", "j").agg(F.count("*").alias("c"))
    ni = n.withColumnRenamed("item", "i").withColumnRenamed("n", "ni")
    nj = n.withColumnRenamed("item", "j").withColumnRenamed("n", "nj")
    sim = (
        c.join(ni, "i")
        .join(nj, "j")
        .select(
            "i",
            "j",
            (F.col("c") / (F.pow("ni", F.lit(damp)) * F.pow("nj", F.lit(1.0 - damp)) + F.lit(shrink))).alias(
                "sim"
            ),
        )
    )
    table = sim.toArrow()
    return Cooc(
        table.column("i").to_numpy().astype(np.int64),
        table.column("j").to_numpy().astype(np.int64),
        table.column("sim").to_numpy().astype(np.float64),
    )


class Blender:
    """Co-occurrence similarities as a sparse item × item matrix over a model's rows, and the blend
    of ALS scores with them. Items are addressed by their row in ``item_ids`` (sorted ids)."""

    def __init__(self, item_ids: np.ndarray, cooc: Cooc, weight: float) -> None:
        self.item_ids = np.asarray(item_ids)
        self.weight = weight
        pos = {int(x): k for k, x in enumerate(self.item_ids)}
        keep = np.fromiter(
            (int(i) in pos and int(j) in pos for i, j in zip(cooc.i, cooc.j, strict=True)),
            dtype=bool,
            count=len(cooc.i),
        )
        rows = np.fromiter((pos[int(i)] for i in cooc.i[keep]), dtype=np.int64)
        cols = np.fromiter((pos[int(j)] for j in cooc.j[keep]), dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        self.cols = cols[order]
        self.sims = cooc.sim[keep][order]
        self.indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=len(self.item_ids)))]

    def scores(self, played: np.ndarray) -> np.ndarray:
        """A member's co-occurrence score for every item, from the rows of the items they played."""
        if len(played) == 0:
            return np.zeros(len(self.item_ids))
        cols = np.concatenate([self.cols[self.indptr[r] : self.indptr[r + 1]] for r in played])
        sims = np.concatenate([self.sims[self.indptr[r] : self.indptr[r + 1]] for r in played])
        return np.bincount(cols, weights=sims, minlength=len(self.item_ids))

    def __call__(self, als_scores: np.ndarray, played: Sequence[np.ndarray]) -> np.ndarray:
        """Blended scores of a block of members (one row each; ``played[row]`` their played rows),
        in the dtype of ``als_scores``."""
        out = np.empty_like(als_scores)
        for row, mine in enumerate(played):
            a = als_scores[row].astype(np.float64)
            top = np.abs(a).max() if a.size else 0.0
            a = a / top if top > 0 else a
            k = self.scores(mine)
            kmax = k.max() if k.size else 0.0
            out[row] = a + (self.weight * k / kmax if kmax > 0 else 0.0)
        return out


def blender(pairs: DataFrame, item_ids: np.ndarray, blend: BlendParams) -> Blender | None:
    """The blend of a model fitted on ``pairs`` (Spark computes the similarities), or ``None`` when
    the blend is off."""
    if blend.weight <= 0:
        return None
    cooc = cooccurrence(pairs, shrink=blend.shrink, damp=blend.damp)
    return Blender(item_ids, cooc, blend.weight)
