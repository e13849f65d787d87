from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.db import BUSY_TIMEOUT_MS, Database
from storage.migrations import alembic_config
from storage.models import Base
from tests.databases import sqlite_only


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


@sqlite_only("the pragmas tune SQLite's own journal and locking")
def test_sqlite_pragmas(db: Database) -> None:
    with db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS


def test_upgrade_is_idempotent(db: Database) -> None:
    def state() -> tuple[str, list[str], int]:
        with db.read() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            tables = sorted(inspect(conn).get_table_names())
            communities = conn.execute(text("SELECT count(*) FROM communities")).scalar_one()
        return revision, tables, communities

    with db.write() as conn:
        conn.execute(text("INSERT INTO communities (platform, external_id, name) VALUES ('local', 'c', 'c')"))
    before = state()
    db.upgrade()
    db.upgrade()
    assert state() == before
    assert before[0] == ScriptDirectory.from_config(alembic_config(db.engine)).get_current_head()
