"""A large import writes without the member commands' covering indexes and builds them at its end
(storage.play_indexes); an import killed in between leaves them dropped, and the next open of the
database builds them again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from ingest.bulk import Batch, WriterProcess, drops_indexes
from ingest.importers import Item, Row, import_rows
from storage import catalog, play_indexes
from storage.db import Database, open_database
from storage.models import Play
from tests.databases import ON_POSTGRES

ALL = set(play_indexes.NAMES)


def _present(db: Database) -> set[str]:
    with db.read() as conn:
        return play_indexes.present(conn)


def _community(db: Database, name: str) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", name, name)


def test_the_rule_drops_for_imports_large_against_the_table() -> None:
    assert drops_indexes(1, 0)  # an empty table: from the first batch
    assert drops_indexes(50_000, 200_000)
    assert not drops_indexes(49_999, 200_000)
    assert not drops_indexes(50_000, 10_000_000)


def test_a_large_import_drops_them_while_writing_and_builds_them_at_the_end(
    new_database_url: Callable[[str], str],
) -> None:
    db = open_database(new_database_url("drop.db"))
    try:
        assert _present(db) == ALL
        crew, other = _community(db, "crew"), _community(db, "other")
        seen_while_importing: list[set[str]] = []

        def rows() -> Iterator[Item]:
            for i in range(60):
                if i == 25:  # two batches of 10 handed to the writer: it dropped them before the first
                    deadline = time.monotonic() + 30
                    while _present(db) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    seen_while_importing.append(_present(db))
                yield Row(i + 1, f"u{i % 4}", f"Artist {i % 7}", f"Song {i % 3}", None, 1)

        summary = import_rows(db, crew, rows(), source="csv", batch_rows=10)
        assert seen_while_importing == [set()]
        assert (summary.imported, summary.rejected) == (60, 0)
        assert _present(db) == ALL
        # Another community's import after it: each community's plays are whole and its own.
        import_rows(db, other, iter([Row(1, "u0", "Artist 0", None, None, 3)]), source="csv")
        with db.read() as conn:
            totals = conn.execute(select(Play.community_id, func.sum(Play.count)).group_by(Play.community_id))
            assert dict(totals.all()) == {crew: 60, other: 3}
    finally:
        db.dispose()


def test_a_writer_killed_after_dropping_them_leaves_plays_whole_and_the_next_open_builds_them(
    new_database_url: Callable[[str], str],
) -> None:
    url = new_database_url("killed.db")
    db = open_database(url)
    try:
        crew = _community(db, "crew")
        answers: list[int] = []
        writer = WriterProcess(url, crew, "csv", lambda w: answers.append(w.inserted), ahead=0)
        try:
            rows = [("a", "x", None, None, 1, f"csv:ua:{i}", None) for i in range(5)]
            writer.submit(Batch(rows, ["a"], {"x": "X"}, {}))  # ahead=0: waits for its answer
            assert answers == [5]
            writer._proc.kill()  # SIGKILL: no end-of-import rebuild
            writer._proc.wait()
        finally:
            writer.close()
        assert _present(db) == set()  # what kill -9 leaves behind
        with db.read() as conn:
            assert conn.scalar(select(func.count()).select_from(Play)) == 5  # the batch is whole
    finally:
        db.dispose()
    again = open_database(url)  # what the bot and every CLI command do at start
    try:
        assert _present(again) == ALL
    finally:
        again.dispose()


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: its DROP INDEX waits for the table's readers")
def test_on_postgresql_a_reader_holding_the_table_keeps_them_and_the_import_goes_on(
    new_database_url: Callable[[str], str],
) -> None:
    db = open_database(new_database_url("busy.db"))
    try:
        crew = _community(db, "crew")
        with db.engine.connect() as reader:  # a long read of plays, its transaction left open
            reader.execute(select(func.count()).select_from(Play)).scalar()
            t0 = time.monotonic()
            rows = (Row(i + 1, f"u{i % 4}", f"Artist {i}", None, None, 1) for i in range(30))
            summary = import_rows(db, crew, rows, source="csv", batch_rows=10)
            waited = time.monotonic() - t0
            assert _present(db) == ALL  # never dropped: the lock was not to be had
            reader.rollback()
        assert summary.imported == 30
        assert waited < 30  # one lock_timeout (2 s), not a wait for the reader to finish
    finally:
        db.dispose()
