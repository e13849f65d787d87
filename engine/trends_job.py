"""Trend deltas of one micro-batch: a pure function of the new plays' DataFrame."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from storage.models import GLOBAL_SCOPE, UNDATED
from storage.trends import CountRow, PresenceRow

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _long_form(plays: DataFrame) -> DataFrame:
    """One row per (scope, kind, day, item, member, count): each play appears for its community and
    for the global scope, as an artist play and (when it names a track) as a track play."""
    day = F.coalesce(F.to_date("played_at"), F.to_date(F.lit(UNDATED.isoformat())))
    base = plays.select(
        "part",
        "community_id",
        "member_id",
        "artist_id",
        "track_id",
        F.col("count").alias("n"),
        day.alias("day"),
    )
    items = base.select(
        "*",
        F.explode(
            F.array(
                F.struct(F.lit("artist").alias("kind"), F.col("artist_id").alias("item")),
                F.struct(F.lit("track").alias("kind"), F.col("track_id").alias("item")),
            )
        ).alias("ki"),
    ).where(F.col("ki.item").isNotNull())
    scoped = items.select(
        "part",
        F.explode(F.array(F.col("community_id"), F.lit(GLOBAL_SCOPE))).alias("scope"),
        F.col("ki.kind").alias("kind"),
        "day",
        F.col("ki.item").alias("item"),
        "member_id",
        "n",
    )
    return scoped


Deltas = tuple[list[CountRow], list[PresenceRow]]


def trend_deltas(plays: DataFrame) -> Deltas:
    """Per-scope × day × kind × item play sums and member presence rows for a batch of plays."""
    return trend_deltas_by_part(plays.withColumn("part", F.lit(0))).get(0, ([], []))


def trend_deltas_by_part(plays: DataFrame) -> dict[int, Deltas]:
    """:func:`trend_deltas` for each value of the plays' ``part`` column (a play-id range each), in
    one Spark pass: storage merges each part in its own short transaction with its watermark step.

    One Spark aggregation at member granularity, pulled to the driver as Arrow (converting Rows is
    several times slower); play sums per item are then a sum over that small result."""
    per_member = (
        _long_form(plays)
        .groupBy("part", "scope", "kind", "day", "item", "member_id")
        .agg(F.sum("n").alias("plays"))
        .toArrow()
    )
    names = ("part", "scope", "kind", "day", "item", "member_id", "plays")
    cols = [per_member.column(c).to_pylist() for c in names]
    counts: dict[int, dict[tuple[int, str, dt.date, int], int]] = defaultdict(lambda: defaultdict(int))
    presence: dict[int, list[PresenceRow]] = defaultdict(list)
    for part, scope, kind, day, item, member, n in zip(*cols, strict=True):
        counts[part][(scope, kind, day, item)] += n
        presence[part].append((scope, kind, day, item, member))
    return {
        part: (sorted((*k, p) for k, p in counts[part].items()), sorted(presence[part])) for part in counts
    }
