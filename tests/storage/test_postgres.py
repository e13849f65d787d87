"""What only Postgres can get wrong in the storage layer (psycopg's executemany rowcounts, migration
0003 on a server). Runs in the Postgres run of the suite (``make test-postgres``, or
``TASTEMAKER_TEST_DATABASE_URL`` set to a server URL: tests/databases.py), like every other
storage test; skipped on SQLite."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from alembic import command
from sqlalchemy import func, select

from ingest.importers import csv_rows, import_aliases, import_rows
from storage import catalog
from storage.db import Database
from storage.migrations import alembic_config
from storage.models import Artist, ArtistAlias, Member, Play
from tests.databases import ON_POSTGRES, SERVER_ENV

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason=f"set {SERVER_ENV} to run against Postgres")
NOW = dt.datetime(2026, 11, 20, 12, 0)


def _csv(n: int) -> str:
    lines = ["user,artist,track,played_at,count"]
    for i in range(n):
        when = "" if i % 4 == 0 else f"2026-11-{1 + i % 18:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        artist = ["The Smiths", '"Smiths, The"', "Björk", "Smyths"][i % 4]
        lines.append(f"u{i % 7},{artist},Track {i},{when},1")
    return "\n".join(lines) + "\n"


def test_import_counts_dedupe_and_migration_0003_on_postgres(db: Database) -> None:
    pg = db
    with pg.write() as conn:
        cid = catalog.community_id(conn, "local", "crew", "crew")
    # Exact counts: an executemany's rowcount is -1 on psycopg unless asked to keep it.
    for expected in ((1, 0), (0, 1)):
        aliases = import_aliases(pg, [(1, "Smyths", "The Smiths")])
        assert (aliases.imported, aliases.duplicates) == expected
    data = _csv(500)
    first = import_rows(pg, cid, csv_rows(io.StringIO(data), NOW), source="csv", batch_rows=64)
    assert (first.read, first.imported, first.duplicates, first.rejected) == (500, 500, 0, 0)
    assert first.merged_by_alias == 125
    with pg.read() as conn:
        assert conn.execute(select(func.count(Member.id))).scalar_one() == 7
        assert conn.execute(select(Artist.name).order_by(Artist.name)).scalars().all() == [
            "Björk",
            "The Smiths",
        ]
        assert conn.execute(select(func.count()).select_from(ArtistAlias)).scalar_one() == 1
        keys = dict(conn.execute(select(Play.id, Play.dedupe_key)).all())
    assert all(re.fullmatch(r"csv:(uu\d|2026-11-\d\dT\d\d:\d\d:00):[0-9a-f]{40}", k) for k in keys.values())
    command.downgrade(alembic_config(pg.engine), "0002")
    with pg.read() as conn:
        assert all(
            re.fullmatch(r"csv:[0-9a-f]{40}", k) for k in conn.execute(select(Play.dedupe_key)).scalars()
        )
    pg.upgrade()
    with pg.read() as conn:
        assert dict(conn.execute(select(Play.id, Play.dedupe_key)).all()) == keys
    again = import_rows(pg, cid, csv_rows(io.StringIO(data), NOW), source="csv", batch_rows=10_000)
    assert (again.imported, again.duplicates) == (0, 500)


def test_pick_feedback_on_postgres(db: Database) -> None:
    """The 👍 / 👎 upsert on the composite key, hidden items per member, the reset (migration 0013)."""
    from storage import feedback

    with db.write() as conn:
        c1 = catalog.community_id(conn, "local", "c1", "c1")
        c2 = catalog.community_id(conn, "local", "c2", "c2")
        ann, eve = catalog.member_id(conn, c1, "ann", "Ann"), catalog.member_id(conn, c2, "ann", "Eve")
        assert feedback.record(conn, ann, "artist", 7, feedback.DOWN, NOW) is None
        assert feedback.record(conn, ann, "artist", 7, feedback.DOWN, NOW) == feedback.DOWN
        assert feedback.record(conn, ann, "artist", 3, feedback.DOWN, NOW) is None
        assert feedback.record(conn, ann, "track", 7, feedback.UP, NOW) is None
        assert feedback.record(conn, eve, "artist", 9, feedback.UP, NOW) is None
        assert feedback.record(conn, eve, "artist", 9, feedback.DOWN, NOW) == feedback.UP
    with db.read() as conn:
        assert feedback.hidden(conn, ann, "artist").tolist() == [3, 7]
        assert feedback.hidden(conn, ann, "track").tolist() == []
        assert feedback.hidden_counts(conn, eve) == {"artist": 1, "track": 0}
        assert feedback.verdicts(conn, "artist") == [(ann, 3, "down"), (ann, 7, "down"), (eve, 9, "down")]
    with db.write() as conn:
        assert feedback.reset_hidden(conn, ann) == {"artist": 2, "track": 0}
    with db.read() as conn:
        assert feedback.verdicts(conn, "artist") == [(eve, 9, "down")]
        assert feedback.verdicts(conn, "track") == [(ann, 7, "up")]
