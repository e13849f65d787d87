"""Reading plays into Spark.

The default path reads through SQLAlchemy on the driver and hands Spark an Arrow table: it works for
any database URL (SQLite file, Postgres) and any ``spark.master``, and a micro-batch only ever reads
the plays after the watermark, so the driver-side read is small. Retraining reads member × item
totals that the database has already summed (one row per pair, not per play).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Executable, func, select

from storage.db import Database
from storage.models import PLAY_FOLD_COLUMNS, Play

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PLAY_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("community_id", pa.int64()),
        ("member_id", pa.int64()),
        ("artist_id", pa.int64()),
        ("track_id", pa.int64()),
        ("played_at", pa.timestamp("us")),
        ("count", pa.int64()),
    ]
)
PAIR_SCHEMA = pa.schema([("user", pa.int32()), ("item", pa.int32()), ("plays", pa.int64())])
# The same, as Spark DDL: Spark Connect cannot infer a schema from an empty Arrow table.
PLAY_DDL = (
    "id long, community_id long, member_id long, artist_id long, track_id long, "
    "played_at timestamp, count long"
)
PAIR_DDL = "user int, item int, plays long"

_FETCH = 50_000


def _to_arrow(rows: list, schema: pa.Schema) -> pa.Table:
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)], schema=schema)


def _read_arrow(db: Database, stmt: Executable, schema: pa.Schema) -> pa.Table:
    """Stream a query's rows into one Arrow table, ``_FETCH`` rows at a time."""
    tables = []
    with db.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(stmt)
        for part in result.partitions(_FETCH):
            tables.append(_to_arrow(list(part), schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def high_water(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(Play.id), 0))).scalar_one())


def plays_between(spark: SparkSession, db: Database, after: int, upto: int) -> tuple[DataFrame, int]:
    """Plays with ``after < id <= upto`` as a Spark DataFrame, and how many there are."""
    stmt = select(*PLAY_FOLD_COLUMNS).where(Play.id > after, Play.id <= upto).order_by(Play.id)
    table = _read_arrow(db, stmt, PLAY_SCHEMA)
    return spark.createDataFrame(table, PLAY_DDL), table.num_rows


def member_item_totals(spark: SparkSession, db: Database, kind: str, upto: int) -> DataFrame:
    """``(user, item, plays)`` summed over all plays with ``id <= upto`` for ``kind``, less the
    removed ones."""
    col = Play.artist_id if kind == "artist" else Play.track_id
    stmt = (
        select(Play.member_id, col, func.sum(Play.count))
        .where(Play.id <= upto, col.is_not(None), Play.removed.is_(False))
        .group_by(Play.member_id, col)
    )
    return spark.createDataFrame(_read_arrow(db, stmt, PAIR_SCHEMA), PAIR_DDL)


def removed_plays(spark: SparkSession, db: Database, upto: int, limit: int) -> tuple[DataFrame, list[int]]:
    """The removed plays the trend aggregates still count (see :mod:`storage.removals`), oldest
    removal first, as a DataFrame shaped like :func:`plays_between`'s, and their removal ids."""
    from storage import removals

    with db.read() as conn:
        rows = removals.pending(conn, upto, limit)
    table = _to_arrow([r[1:] for r in rows], PLAY_SCHEMA)
    return spark.createDataFrame(table, PLAY_DDL), [int(r[0]) for r in rows]


def last_played(db: Database, kind: str, upto: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user, item, seconds since the epoch of the member's last dated play of the item)`` over
    the plays with ``id <= upto`` not removed, as arrays (``-1`` where every play is undated): the
    model selection holds out each member's most recent items."""
    col = Play.artist_id if kind == "artist" else Play.track_id
    stmt = (
        select(Play.member_id, col, func.max(Play.played_at))
        .where(Play.id <= upto, col.is_not(None), Play.removed.is_(False))
        .group_by(Play.member_id, col)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    users = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    items = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    when = np.fromiter(
        (r[2].replace(tzinfo=dt.UTC).timestamp() if r[2] is not None else -1.0 for r in rows),
        dtype=np.float64,
        count=len(rows),
    )
    return users, items, when
