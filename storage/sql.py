"""Small dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(conn: Connection, table: Table | Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing``/``on_conflict_do_update`` on this dialect."""
    t = getattr(table, "__table__", table)
    if conn.dialect.name == "postgresql":
        return postgresql.insert(t)
    return sqlite.insert(t)
