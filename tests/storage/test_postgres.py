"""The storage layer on Postgres (opt-in): set ``TASTEMAKER_TEST_POSTGRES_URL`` to a server URL such
as ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (a role that may create databases;
``pip install -e '.[postgres]'``). Each run creates and drops its own database."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from ingest.importers import csv_rows, import_aliases, import_rows
from storage import catalog
from storage.db import Database, open_database
from storage.migrations import alembic_config
from storage.models import Artist, ArtistAlias, Member, Play

SERVER = os.environ.get("TASTEMAKER_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not SERVER, reason="set TASTEMAKER_TEST_POSTGRES_URL to run against Postgres")
NOW = dt.datetime(2026, 11, 20, 12, 0)


@pytest.fixture
def pg() -> Iterator[Database]:
    assert SERVER is not None
    name = f"tastemaker_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db = open_database(make_url(SERVER).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}"')
        admin.dispose()


def _csv(n: int) -> str:
    lines = ["user,artist,track,played_at,count"]
    for i in range(n):
        when = "" if i % 4 == 0 else f"2026-11-{1 + i % 18:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        artist = ["The Smiths", '"Smiths, The"', "Björk", "Smyths"][i % 4]
        lines.append(f"u{i % 7},{artist},Track {i},{when},1")
    return "\n".join(lines) + "\n"


def test_import_counts_dedupe_and_migration_0003_on_postgres(pg: Database) -> None:
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


def test_pick_feedback_on_postgres(pg: Database) -> None:
    """The 👍 / 👎 upsert on the composite key, hidden items per member, the reset (migration 0013)."""
    from storage import feedback

    with pg.write() as conn:
        c1 = catalog.community_id(conn, "local", "c1", "c1")
        c2 = catalog.community_id(conn, "local", "c2", "c2")
        ann, eve = catalog.member_id(conn, c1, "ann", "Ann"), catalog.member_id(conn, c2, "ann", "Eve")
        assert feedback.record(conn, ann, "artist", 7, feedback.DOWN, NOW) is None
        assert feedback.record(conn, ann, "artist", 7, feedback.DOWN, NOW) == feedback.DOWN
        assert feedback.record(conn, ann, "artist", 3, feedback.DOWN, NOW) is None
        assert feedback.record(conn, ann, "track", 7, feedback.UP, NOW) is None
        assert feedback.record(conn, eve, "artist", 9, feedback.UP, NOW) is None
        assert feedback.record(conn, eve, "artist", 9, feedback.DOWN, NOW) == feedback.UP
    with pg.read() as conn:
        assert feedback.hidden(conn, ann, "artist").tolist() == [3, 7]
        assert feedback.hidden(conn, ann, "track").tolist() == []
        assert feedback.hidden_counts(conn, eve) == {"artist": 1, "track": 0}
        assert feedback.verdicts(conn, "artist") == [(ann, 3, "down"), (ann, 7, "down"), (eve, 9, "down")]
    with pg.write() as conn:
        assert feedback.reset_hidden(conn, ann) == {"artist": 2, "track": 0}
    with pg.read() as conn:
        assert feedback.verdicts(conn, "artist") == [(eve, 9, "down")]
        assert feedback.verdicts(conn, "track") == [(ann, 7, "up")]
