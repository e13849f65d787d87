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
        "community_id", "member_id", "artist_id", "track_id", F.col("count").alias("n"), day.alias("day")
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
        F.explode(F.array(F.col("community_id"), F.lit(GLOBAL_SCOPE))).alias("scope"),
        F.col("ki.kind").alias("kind"),
        "day",
        F.col("ki.item").alias("item"),
        "member_id",
        "n",
    )
    return scoped


def trend_deltas(plays: DataFrame) -> tuple[list[CountRow], list[PresenceRow]]:
    """Per-scope × day × kind × item play sums and member presence rows for a batch of plays.

    One Spark aggregation at member granularity, pulled to the driver as Arrow (converting Rows is
    several times slower); play sums per item are then a sum over that small result. Results are
    bounded by the new plays, so storage merges them in one transaction with the watermark."""
    per_member = (
        _long_form(plays)
        .groupBy("scope", "kind", "day", "item", "member_id")
        .agg(F.sum("n").alias("plays"))
        .toArrow()
    )
    cols = [per_member.column(c).to_pylist() for c in ("scope", "kind", "day", "item", "member_id", "plays")]
    counts: dict[tuple[int, str, dt.date, int], int] = defaultdict(int)
    presence: list[PresenceRow] = []
    for scope, kind, day, item, member, n in zip(*cols, strict=True):
        counts[(scope, kind, day, item)] += n
        presence.append((scope, kind, day, item, member))
    presence.sort()
    return sorted((*k, p) for k, p in counts.items()), presence
