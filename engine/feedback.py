"""Pick feedback at the retrain: how members' 👍 and 👎 (``storage.feedback``) enter the ALS input.

ALS is fed one ``(user, item, rating)`` row per member × item, ``rating = log1p(plays) / conf_scale``
(:mod:`engine.als`). Feedback changes the rows of the pairs it names:

* **👎** (``down``): the pair's rating becomes ``-log1p(DISLIKE_PLAYS) / conf_scale`` whatever the
  member played of it. Spark's implicit ALS reads a negative rating as preference 0 with confidence
  ``1 + α·|rating|`` (and leaves it out of the λ scaling, which counts positive ratings only), so a
  👎 is an *observed* "no" as confident as a ``DISLIKE_PLAYS``-play "yes" — where an unplayed pair is
  only an unobserved 0 with confidence 1. It pushes the member's vector and the item's away from
  each other instead of merely not pulling them together.
* **👍** (``up``): the pair counts ``LIKE_PLAYS`` more plays: ``log1p(plays + LIKE_PLAYS)``, a
  positive observation for a liked pick never played.

Neither weight is tuned: no deployment's feedback was available to validate one on. A member or
an item left without any positive rating (a member who only ever pressed 👎, an item only 👎'd) is
left out of the input: Spark could not solve for it (its normal matrix has no λ and may be
singular). The hidden items themselves are kept out of the stored picks by the retrain
(:func:`engine.batch.retrain`) and out of every served pick by the service, whatever the model
scores them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

DISLIKE_PLAYS = 10  # a 👎 is an observed 0 as confident as a 10-play pair is an observed 1
LIKE_PLAYS = 1  # a 👍 counts as one more play of the pair
FEEDBACK_SCHEMA = pa.schema([("user", pa.int32()), ("item", pa.int32()), ("verdict", pa.string())])


def dislike_rating(conf_scale: float = 1.0) -> float:
    """The rating a 👎 pair is fed (negative: preference 0)."""
    return -math.log1p(DISLIKE_PLAYS) / conf_scale


def feedback_frame(spark: SparkSession, rows: list[tuple[int, int, str]]) -> DataFrame:
    """``(user, item, verdict)`` rows (``storage.feedback.verdicts``) as a DataFrame."""
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[], [], []]
    table = pa.table(
        [pa.array(c, type=f.type) for c, f in zip(cols, FEEDBACK_SCHEMA, strict=True)], schema=FEEDBACK_SCHEMA
    )
    return spark.createDataFrame(table)


def ratings(pairs: DataFrame, conf_scale: float, feedback: DataFrame | None = None) -> DataFrame:
    """``(user, item, rating)`` for ALS from ``(user, item, plays)`` pairs and, when given, the
    ``(user, item, verdict)`` feedback rows (see the module docstring)."""
    from pyspark.sql import functions as F

    def rating(plays: Column) -> Column:
        return F.log1p(plays.cast("double")) / F.lit(conf_scale)

    base = pairs.select(F.col("user").cast("int"), F.col("item").cast("int"), F.col("plays"))
    if feedback is None:
        return base.select("user", "item", rating(F.col("plays")).alias("rating"))
    fb = feedback.select(F.col("user").cast("int"), F.col("item").cast("int"), F.col("verdict"))
    joined = base.join(fb, ["user", "item"], "full_outer")
    plays = F.coalesce(F.col("plays"), F.lit(0))
    value = (
        F.when(F.col("verdict") == "down", F.lit(dislike_rating(conf_scale)))
        .when(F.col("verdict") == "up", rating(plays + F.lit(LIKE_PLAYS)))
        .otherwise(rating(plays))
    )
    rated = joined.select("user", "item", value.alias("rating"))
    # A member (or an item) with no positive rating left has no λ in Spark's solve (ALS-WR scales it
    # by the positive ratings) and a normal matrix that may be singular: LAPACK then fails the whole
    # fit. Such rows teach nothing the model could use: they are left out.
    positive = rated.where(F.col("rating") > 0)
    return (
        rated.join(positive.select("user").distinct(), "user", "left_semi")
        .join(positive.select("item").distinct(), "item", "left_semi")
        .select("user", "item", "rating")
    )
