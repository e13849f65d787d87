"""Spark side of the ALS recommender: the parameters, the MLlib fit, and what is pulled to the driver.

Used through :class:`engine.recommender.AlsRecommender` (``fit``); nothing here scores or ranks.

Confidence is ``c = 1 + α·r`` with ``r = log1p(plays) / conf_scale`` (Spark's implicit ALS uses
``1 + α·rating``), so a member who played an artist 10,000 times does not drown everything else.

PySpark is imported inside the functions: the service imports the recommender to serve a stored
generation and must not pay for (or need) Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

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
    # ALS user and item blocks; 0: the session's spark.default.parallelism (at least 2). The result
    # depends on it, so the engine derives it from settings, never from the cluster's size.
    blocks: int = 0


def params_from_settings(settings: Settings) -> AlsParams:
    """The ALS parameters the engine trains with (``als_*`` settings). Confidence scale stays 1:
    only ``alpha / conf_scale`` matters to Spark's implicit ALS, so ``als_alpha`` carries it. Blocks:
    the default parallelism :func:`engine.session.build_session` gives a session, the same on a
    laptop, a cluster or over Spark Connect (so all three train the same model)."""
    return AlsParams(
        rank=settings.als_rank,
        reg_param=settings.als_reg,
        alpha=settings.als_alpha,
        iterations=settings.als_iterations,
        conf_scale=1.0,
        seed=settings.als_seed,
        blocks=max(2, settings.spark_shuffle_partitions),
    )


@dataclass(frozen=True)
class TrainedFactors:
    """Factors pulled to the driver (float32, as Spark keeps them): ids sorted ascending, rows aligned."""

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


def train_factors(
    pairs: DataFrame, params: AlsParams, *, blocks: int | None = None, feedback: DataFrame | None = None
) -> TrainedFactors:
    """Fit Spark MLlib implicit ALS on ``(user, item, plays)`` rows, and the members' 👍 / 👎
    ``(user, item, verdict)`` rows when given (:mod:`engine.feedback`).

    ``blocks`` (user and item blocks) defaults to ``params.blocks``, else the session's
    ``spark.default.parallelism``: Spark's default of 10 blocks only adds shuffle overhead on a
    machine with a few cores. The fit checkpoints into a folder of its own, removed when it ends
    (:func:`engine.session.checkpoints`)."""
    from pyspark.ml.recommendation import ALS

    from engine.feedback import ratings as feedback_ratings
    from engine.session import checkpoints

    spark = pairs.sparkSession
    n_blocks = blocks or params.blocks or max(2, int(spark.conf.get("spark.default.parallelism", "2") or 2))
    ratings = feedback_ratings(pairs, params.conf_scale, feedback)
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
    with checkpoints(spark):  # the factors' lineage reaches into the checkpoints: pull them first
        model = als.fit(ratings)
        item_ids, item_factors = _factors(model.itemFactors, params.rank)
        user_ids, user_factors = _factors(model.userFactors, params.rank)
    return TrainedFactors(item_ids, item_factors, user_ids, user_factors)


def item_listeners(pairs: DataFrame) -> dict[int, int]:
    """Distinct members per item (the generation's popularity column)."""
    return {
        int(r.item): int(r.n) for r in pairs.groupBy("item").count().withColumnRenamed("count", "n").collect()
    }


def histories(pairs: DataFrame) -> dict[int, dict[int, int]]:
    """Each member's ``{item: plays}`` (driver side; one entry per member × item pair)."""
    out: dict[int, dict[int, int]] = {}
    for r in pairs.select("user", "item", "plays").toLocalIterator():
        out.setdefault(int(r.user), {})[int(r.item)] = int(r.plays)
    return out
