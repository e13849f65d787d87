"""Bulk import and alias files apply /played's "same name" rule (storage.names.match_key), never a
near miss: both write paths (SQLite's JSON statements and the generic one Postgres uses)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.bulk import Batch, Resolver
from ingest.formats import import_path
from ingest.importers import import_alias_file
from storage import catalog
from storage.db import Database
from storage.models import Artist, ArtistAlias

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _community(db: Database) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", "crew", "crew")


@pytest.mark.parametrize("path", ["sqlite", "generic"])
def test_resolver_maps_same_names_to_one_entry(db: Database, path: str) -> None:
    cid = _community(db)
    with db.write() as conn:
        stored = catalog.create_artist(conn, "Blink-182", "blink-182").id
    r = Resolver(cid)
    batch = Batch(artists={"blink 182": "Blink 182", "lulu": "Lulu", "lulú": "Lulú", "radiohed": "Radiohed"})
    with db.write() as conn:
        (r._resolve_sqlite if path == "sqlite" else r._resolve_generic)(conn, batch)
    assert r.artists["blink 182"] == stored
    assert r.artists["lulu"] == r.artists["lulú"] != stored
    assert r.respelled == {"blink 182", "lulú"}
    with db.read() as conn:
        assert sorted(conn.execute(select(Artist.name)).scalars()) == ["Blink-182", "Lulu", "Radiohed"]


def test_csv_import_logs_a_same_name_on_the_stored_entry(db: Database, tmp_path: Path) -> None:
    cid = _community(db)
    with db.write() as conn:
        catalog.create_artist(conn, "Sigur Rós", "sigur rós")
    f = tmp_path / "plays.csv"
    f.write_text("user,artist\na,Sigur Ros\na,SIGUR ROS\nb,Sigur Rós\na,Sigur\n", encoding="utf-8")
    s = import_path(db, cid, "csv", f, now=NOW)
    assert (s.imported, s.merged_by_name) == (4, 2)
    with db.read() as conn:
        assert sorted(conn.execute(select(Artist.name)).scalars()) == ["Sigur", "Sigur Rós"]


def test_alias_file_canonical_name_finds_the_stored_spelling(db: Database, tmp_path: Path) -> None:
    with db.write() as conn:
        stored = catalog.create_artist(conn, "Blink-182", "blink-182").id
    f = tmp_path / "aliases.tsv"
    f.write_text("Blink\tBlink 182\n", encoding="utf-8")
    assert import_alias_file(db, f).imported == 1
    with db.read() as conn:
        assert conn.execute(select(ArtistAlias.artist_id)).scalars().all() == [stored]
        assert conn.execute(select(Artist.name)).scalars().all() == ["Blink-182"]
