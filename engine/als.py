"""Implicit-feedback ALS (Spark MLlib) and the top-N picks it yields.

Confidence is ``c = 1 + α·r`` with ``r = log1p(plays) / conf_scale`` (Spark's implicit ALS uses
``1 + α·rating``), so a member who played an artist 10,000 times does not drown everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from engine.foldin import normalised, reasons, top_n
from storage.visibility import contains

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from config.settings import Settings


@dataclass(frozen=True)
class AlsParams:
    rank: int = 64
    reg_param: float = 0.5  # tuned: docs/tuning.md
    alpha: float = 1.0
    iterations: int = 10
    conf_scale: float = 1.0
    seed: int = 42


def params_from_settings(settings: Settings) -> AlsParams:
    """The ALS parameters the engine trains with (``als_*`` settings). Confidence scale stays 1:
    only ``alpha / conf_scale`` matters to Spark's implicit ALS, so ``als_alpha`` carries it."""
    return AlsParams(
        rank=settings.als_rank,
        reg_param=settings.als_reg,
        alpha=settings.als_alpha,
        iterations=settings.als_iterations,
        conf_scale=1.0,
        seed=settings.als_seed,
    )


@dataclass(frozen=True)
class Model:
    """Factors pulled to the driver: ``item_ids`` sorted ascending, rows of ``item_factors`` aligned."""

    params: AlsParams
    item_ids: np.ndarray
    item_factors: np.ndarray
    user_ids: np.ndarray
    user_factors: np.ndarray


def _factors(df: DataFrame, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Factor rows pulled as Arrow (Row objects would cost seconds at 100k items), sorted by id."""
    table = df.toArrow()
    ids = table.column("id").to_numpy().astype(np.int64)
    flat = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    mat = np.asarray(flat, dtype=np.float32).reshape(len(ids), rank)
    order = np.argsort(ids, kind="stable")
    return ids[order], mat[order]


def train(pairs: DataFrame, params: AlsParams, *, blocks: int | None = None) -> Model:
    """Fit ALS on ``(user, item, plays)`` rows.

    ``blocks`` (user and item blocks) defaults to the session's default parallelism: Spark's default
    of 10 blocks only adds shuffle overhead on a machine with a few cores."""
    n_blocks = blocks or max(2, pairs.sparkSession.sparkContext.defaultParallelism)
    ratings = pairs.select(
        F.col("user").cast("int"),
        F.col("item").cast("int"),
        (F.log1p(F.col("plays").cast("double")) / F.lit(params.conf_scale)).alias("rating"),
    )
    als = ALS(
        rank=params.rank,
        maxIter=params.iterations,
        regParam=params.reg_param,
        alpha=params.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        seed=params.seed,
        coldStartStrategy="drop",
        nonnegative=False,
        numUserBlocks=n_blocks,
        numItemBlocks=n_blocks,
    )
    model = als.fit(ratings)
    item_ids, item_factors = _factors(model.itemFactors, params.rank)
    user_ids, user_factors = _factors(model.userFactors, params.rank)
    return Model(params, item_ids, item_factors, user_ids, user_factors)


def histories(pairs: DataFrame) -> dict[int, dict[int, int]]:
    """Each member's ``{item: plays}`` (driver side; one entry per member × item pair)."""
    out: dict[int, dict[int, int]] = {}
    for r in pairs.select("user", "item", "plays").toLocalIterator():
        out.setdefault(int(r.user), {})[int(r.item)] = int(r.plays)
    return out


def all_picks(
    model: Model,
    history: dict[int, dict[int, int]],
    n: int,
    *,
    visible: Callable[[int], np.ndarray] | None = None,
    block: int = 512,
    extra: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Iterator[tuple[int, int, int, float, int | None]]:
    """Top ``n`` unplayed items per member with the reason item, as
    ``(member, rank, item, score, reason_item)`` rows (blocked matrix products on the driver).

    ``visible(member)``, if given, returns the sorted item ids that member may be shown
    (:mod:`storage.visibility`); picks come only from those. Masks are cached per distinct array.

    ``extra(members, scores)``, if given, returns the block's final scores from the ALS ones (the
    co-occurrence blend of :mod:`engine.cooc`)."""
    y = model.item_factors.astype(np.float64)
    unit = normalised(model.item_factors)
    col_of = {int(i): k for k, i in enumerate(model.item_ids)}
    masks: dict[int, np.ndarray] = {}  # id() of a visible array -> its row mask
    for start in range(0, len(model.user_ids), block):
        users = model.user_ids[start : start + block]
        scores = model.user_factors[start : start + block].astype(np.float64) @ y.T
        if extra is not None:
            scores = extra(users, scores)
        for row, member in enumerate(users):
            played = np.array(
                [col_of[i] for i in history.get(int(member), {}) if i in col_of], dtype=np.int64
            )
            s = scores[row]
            allowed = None
            if visible is not None:
                ids = visible(int(member))
                allowed = masks.get(id(ids))
                if allowed is None:
                    allowed = masks[id(ids)] = contains(ids, model.item_ids)
            best = top_n(s, played, n, allowed=allowed)
            why = reasons(unit, best, played)
            for rank, (b, w) in enumerate(zip(best, why, strict=True), 1):
                yield (
                    int(member),
                    rank,
                    int(model.item_ids[b]),
                    float(s[b]),
                    int(model.item_ids[w]) if w >= 0 else None,
                )
