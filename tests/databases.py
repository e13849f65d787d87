"""The database the tests run against: by default a real SQLite file in a temporary folder; with
``TASTEMAKER_TEST_DATABASE_URL`` set to a PostgreSQL server URL (a role that may create databases,
e.g. the one ``.ci/postgres start`` prints; ``make test-postgres`` does this), a database of its own
on that server, created empty for each use and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage.db import scratch_database

SERVER_ENV = "TASTEMAKER_TEST_DATABASE_URL"
SERVER = os.environ.get(SERVER_ENV) or None
ON_POSTGRES = SERVER is not None


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip on the Postgres run: for what only SQLite has (its files, pragmas, WAL), said in ``reason``."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")


@contextmanager
def fresh_database_url(folder: Path, name: str = "tastemaker.db") -> Iterator[str]:
    """The URL of a new, empty database: ``folder/name`` on SQLite, or a new database on the
    Postgres server (dropped on exit, even with connections still open)."""
    if SERVER is None:
        yield f"sqlite:///{folder / name}"
        return
    with scratch_database(SERVER, "tastemaker_test") as url:
        yield url


def sync_sequences(conn: Connection) -> None:
    """After rows were inserted with explicit ids: on Postgres, move every id sequence past the
    largest id (SQLite needs nothing: its next id is always max + 1)."""
    if conn.dialect.name != "postgresql":
        return
    serial = conn.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%%'"
    ).all()
    for table, column in serial:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
            f'coalesce(max("{column}"), 0) + 1, false) FROM "{table}"'
        )
