"""The secondary indexes on ``plays`` ordered by member or by item (the member commands' covering
indexes of migration 0012, and ``ix_plays_member_id_id``), which a large import takes down while it
writes and builds again at its end.

Every play written updates these six indexes at random places (a history arrives in time order,
they are ordered by member and by item): on SQLite the five of 0012 made a 1M-row import 5.5x
slower (10,758 against 59,130 rows/s, docs/benchmarks.md), while ``CREATE INDEX`` over the finished
table sorts once. :func:`drop` and :func:`ensure` are both idempotent. An import that dies in between
(kill -9) leaves the table without them; :meth:`storage.db.Database.upgrade` runs :func:`ensure`
(each start of the bot and of every CLI command, the rerun of the import included), so they come
back.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Index, Table, inspect

from storage.models import Play

NAMES = (
    "ix_plays_member_id_id",
    "ix_plays_member_artist",
    "ix_plays_member_track",
    "ix_plays_member_played",
    "ix_plays_community_artist",
    "ix_plays_community_track",
)


def _indexes() -> list[Index]:
    by_name = {str(ix.name): ix for ix in cast(Table, Play.__table__).indexes}
    return [by_name[name] for name in NAMES]


def present(conn: Connection) -> set[str]:
    """Which of the six exist now."""
    return {str(ix["name"]) for ix in inspect(conn).get_indexes("plays")} & set(NAMES)


def drop(conn: Connection) -> int:
    """Drop those that exist; returns how many were dropped."""
    there = present(conn)
    for ix in _indexes():
        if ix.name in there:
            ix.drop(conn)
    return len(there)


def ensure(conn: Connection, names: tuple[str, ...] = NAMES) -> int:
    """Create those of ``names`` that are missing; returns how many were created."""
    there = present(conn)
    missing = [ix for ix in _indexes() if ix.name in names and ix.name not in there]
    if not missing:
        return 0
    if conn.dialect.name != "sqlite":
        for ix in missing:
            ix.create(conn)
        return len(missing)
    # SQLite's CREATE INDEX sorts faster with a small page cache: over 1M plays, the six took 11.6 s
    # with the import writer's 64 MiB page cache and 5.5 s with 1 MiB (docs/benchmarks.md).
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size=-1024")
    try:
        for ix in missing:
            ix.create(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache or -2000)}")
    return len(missing)
