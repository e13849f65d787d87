"""The bulk write path of imports: the writer process gives the same result as writing in-process,
failures surface, an interrupted reader leaves whole batches, foreign keys stay on, and migration
0003 keeps plays imported with the old key format from being imported twice."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator

import psutil
import pytest
from alembic import command
from sqlalchemy import select, text

from ingest.bulk import Batch, WriterFailed, WriterProcess
from ingest.importers import Item, Row, Summary, csv_rows, import_aliases, import_rows
from storage import catalog
from storage.db import Database, open_database
from storage.migrations import alembic_config
from storage.models import Artist, Member, Play, Track
from tests.databases import sqlite_only

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _csv(n: int = 60) -> str:
    """Dated and undated plays, name variants of one artist, tracks, repeats and two bad rows."""
    artists = ["The Smiths", "Smiths, The", "the smiths", "Björk", "Radiohead", "Portishead", "Smyths"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["user", "artist", "track", "played_at", "count"])
    for i in range(n):
        track = ["", "Joga", "Karma Police", "There Is a Light"][i % 4]
        when = "" if i % 3 == 0 else f"2026-11-{1 + i % 18:02d}T{i % 24:02d}:00:00Z"
        w.writerow(["abcde"[i % 5], artists[i % len(artists)], track, when, 1 + i % 2])
    w.writerows([["a", "Radiohead", "Karma Police", "2026-11-02T01:00:00Z", 2]] * 3)  # repeats
    w.writerows([["b", "", "Joga", "", 1], ["c", "Björk", "Joga", "not-a-date", 1]])  # rejected
    return out.getvalue()


def _import(db: Database, data: str, batch_rows: int) -> Summary:
    with db.write() as conn:
        cid = catalog.community_id(conn, "local", "crew", "crew")
    import_aliases(db, [(1, "Smyths", "The Smiths")])
    return import_rows(db, cid, csv_rows(io.StringIO(data), NOW), source="csv", batch_rows=batch_rows)


def _state(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every play (member, artist, track, time, count, key) and every catalog row, by name."""
    with db.read() as conn:
        plays = conn.execute(
            select(Member.external_id, Artist.name, Track.title, Play.played_at, Play.count, Play.dedupe_key)
            .join(Member, Member.id == Play.member_id)
            .join(Artist, Artist.id == Play.artist_id)
            .outerjoin(Track, Track.id == Play.track_id)
        ).all()
        catalog_rows = conn.execute(
            select(Artist.key, Artist.name, Track.key, Track.title).outerjoin(
                Track, Track.artist_id == Artist.id
            )
        ).all()
    return sorted((tuple(p) for p in plays), key=repr), sorted((tuple(c) for c in catalog_rows), key=repr)


def test_writer_process_writes_what_the_inline_path_writes(new_database_url: Callable[[str], str]) -> None:
    data = _csv()
    inline, child = open_database(new_database_url("inline.db")), open_database(new_database_url("child.db"))
    try:
        a = _import(inline, data, batch_rows=10_000)  # one batch: written in this process
        b = _import(child, data, batch_rows=7)  # ten batches: written by the writer process
        assert (a.read, a.imported, a.duplicates, a.rejected) == (
            b.read,
            b.imported,
            b.duplicates,
            b.rejected,
        )
        # 60 plays + one of the three repeated rows; two rejected; "Smyths" x 8 via the alias.
        assert (a.read, a.imported, a.duplicates, a.rejected) == (65, 61, 2, 2)
        assert (a.merged_by_alias, a.merged_by_key) == (b.merged_by_alias, b.merged_by_key) == (8, 0)
        assert _state(inline) == _state(child)
        # Names of one artist ("The Smiths", "Smiths, The", "the smiths", alias "Smyths") are one artist.
        with child.read() as conn:
            assert conn.execute(select(Artist.name).where(Artist.key.like("%smiths%"))).scalars().all() == [
                "The Smiths"
            ]
        again = _import(child, data, batch_rows=7)
        assert (again.imported, again.duplicates) == (0, 63)
    finally:
        inline.dispose()
        child.dispose()


@sqlite_only("bulk writes switch SQLite's foreign-key pragma off and on")
def test_bulk_writes_leave_foreign_keys_on_and_consistent(db: Database) -> None:
    with db.write(bulk=True) as conn:  # off inside a bulk transaction, on again after it
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 0
        raw = conn.connection.driver_connection
    assert raw.execute("PRAGMA foreign_keys").fetchone() == (1,)
    _import(db, _csv(), batch_rows=7)  # written by the writer process
    _import(db, _csv(30), batch_rows=10_000)  # written in this process
    with db.write() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []


def test_a_failing_writer_process_is_reported(new_database_url: Callable[[str], str]) -> None:
    writer = WriterProcess(new_database_url("no-schema.db"), 1, "csv", lambda _w: None, ahead=0)
    try:
        with pytest.raises(WriterFailed, match="no such table|does not exist"):
            writer.submit(Batch([("a", "x", None, None, 1, "csv:ua:0", None)], ["a"], {"x": "X"}, {}))
    finally:
        writer.close()


def test_an_interrupted_read_keeps_whole_batches_and_stops_the_writer(db: Database) -> None:
    with db.write() as conn:
        cid = catalog.community_id(conn, "local", "crew", "crew")

    def rows() -> Iterator[Item]:
        for i in range(25):
            yield Row(i + 1, f"u{i % 4}", f"Artist {i}", None, None, 1)
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="disk went away"):
        import_rows(db, cid, rows(), source="csv", batch_rows=10)
    assert not [p for p in psutil.Process().children() if "ingest.bulk" in " ".join(p.cmdline())]
    with db.read() as conn:  # two full batches of 10 were handed over and written; 5 rows never were
        assert conn.execute(select(Play.id)).all().__len__() == 20


def test_migration_0003_keeps_plays_imported_with_old_keys_from_coming_back(db: Database) -> None:
    data = _csv()
    first = _import(db, data, batch_rows=10_000)
    with db.read() as conn:
        keys = dict(conn.execute(select(Play.id, Play.dedupe_key)).all())
    assert all(re.fullmatch(r"csv:(u[a-e]|2026-11-\d\dT\d\d:00:00):[0-9a-f]{40}", k) for k in keys.values())
    cfg = alembic_config(db.engine)
    command.downgrade(cfg, "0002")  # back to 'csv:<sha1>' as the previous release stored them
    with db.read() as conn:
        old = dict(conn.execute(select(Play.id, Play.dedupe_key)).all())
    assert all(re.fullmatch(r"csv:[0-9a-f]{40}", k) for k in old.values())
    assert {i: k.rsplit(":", 1)[1] for i, k in old.items()} == {
        i: k.rsplit(":", 1)[1] for i, k in keys.items()
    }
    db.upgrade()
    with db.read() as conn:
        assert dict(conn.execute(select(Play.id, Play.dedupe_key)).all()) == keys
    again = _import(db, data, batch_rows=7)
    assert first.imported == 61 and again.imported == 0
