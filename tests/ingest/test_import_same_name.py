"""Bulk import and alias files apply /played's "same name" rule (storage.names.match_key), never a
near miss: both write paths (SQLite's JSON statements and the generic one Postgres uses). Artists,
and one artist's track titles (Mr Brightside = Mr. Brightside, Pt. 1 ≠ Pt. 2)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.service import NameQuestion, Service, Who
from ingest.bulk import Batch, Resolver
from ingest.formats import import_path
from ingest.importers import csv_rows, import_alias_file, import_rows
from storage import catalog
from storage.db import Database
from storage.models import Artist, ArtistAlias, Play, Track
from tests.databases import sqlite_only

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _community(db: Database) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", "crew", "crew")


SQLITE_PATH = sqlite_only("the resolver's SQLite statements (json_each)")


@pytest.mark.parametrize("path", [pytest.param("sqlite", marks=SQLITE_PATH), "generic"])
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


# --- tracks -------------------------------------------------------------------------------------


def _titles(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(select(Track.title)).scalars())


def _plays_by_title(db: Database) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(
            select(Track.title, func.sum(Play.count)).join(Play, Play.track_id == Track.id).group_by(Track.id)
        ).all()
    return {str(t): int(n) for t, n in rows}


def _csv(tmp_path: Path, *rows: str, name: str = "plays.csv") -> Path:
    f = tmp_path / name
    f.write_text("user,artist,track\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return f


def _community_of(db: Database, who: Who) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, who.platform, who.community_id, who.community_id)


@pytest.mark.parametrize("path", [pytest.param("sqlite", marks=SQLITE_PATH), "generic"])
def test_resolver_maps_same_titles_to_one_track(db: Database, path: str) -> None:
    cid = _community(db)
    with db.write() as conn:
        killers = catalog.create_artist(conn, "The Killers", "the killers").id
        stored = catalog.create_track(conn, killers, "Mr. Brightside", "mr. brightside").id
    r = Resolver(cid)
    k, pf = "the killers", "pink floyd"
    batch = Batch(
        artists={k: "The Killers", pf: "Pink Floyd"},
        tracks={
            (k, "mr brightside"): "Mr Brightside",
            (k, "mr. brightside"): "MR. BRIGHTSIDE",  # the stored key: found as it is
            (k, "mr brightsid"): "Mr Brightsid",  # a near miss: never merged in bulk
            (k, "somebody told me"): "Somebody Told Me",
            (k, "somebody told me!"): "Somebody Told Me!",  # the same new title: the first spelling wins
            (pf, "another brick in the wall, pt. 1"): "Another Brick in the Wall, Pt. 1",
            (pf, "another brick in the wall, pt. 2"): "Another Brick in the Wall, Pt. 2",
            (pf, "another brick in the wall pt 2"): "Another Brick in the Wall Pt 2",
            (pf, "mr. brightside"): "Mr. Brightside",  # a title is the same name only under its artist
        },
    )
    with db.write() as conn:
        (r._resolve_sqlite if path == "sqlite" else r._resolve_generic)(conn, batch)
    t = {key: r.tracks[(r.artists[a], key)] for a, key in batch.tracks}
    assert t["mr brightside"] == stored
    assert t["mr brightsid"] != stored
    assert t["somebody told me"] == t["somebody told me!"]
    assert t["another brick in the wall, pt. 2"] == t["another brick in the wall pt 2"]
    assert t["another brick in the wall, pt. 1"] != t["another brick in the wall, pt. 2"]
    assert r.tracks[(r.artists[pf], "mr. brightside")] != stored
    assert r.respelled_tracks == {
        (killers, "mr brightside"),
        (killers, "somebody told me!"),
        (r.artists[pf], "another brick in the wall pt 2"),
    }
    assert _titles(db) == [
        "Another Brick in the Wall, Pt. 1",
        "Another Brick in the Wall, Pt. 2",
        "Mr Brightsid",
        "Mr. Brightside",
        "Mr. Brightside",
        "Somebody Told Me",
    ]
    with db.read() as conn:
        # Every new row carries its match key, as /played's create_track stores it.
        assert conn.execute(select(Track.key).where(Track.match_key.is_(None))).all() == []


def test_import_after_played_logs_on_the_stored_track(
    db: Database, service: Service, who: Who, tmp_path: Path
) -> None:
    service.played(who, "The Killers - Mr. Brightside")
    f = _csv(
        tmp_path,
        f"{who.member_id},The Killers,Mr Brightside",
        f"{who.member_id},The Killers,MR. BRIGHTSIDE",
        f"{who.member_id},The Killers,Mr Brightsid",
    )
    s = import_path(db, _community_of(db, who), "csv", f, now=NOW)
    assert (s.imported, s.merged_by_name) == (3, 1)
    assert "merged as the same name 1" in s.line()
    # A near miss is not merged by an import (nobody is there to answer the question).
    assert _titles(db) == ["Mr Brightsid", "Mr. Brightside"]
    assert _plays_by_title(db) == {"Mr. Brightside": 3, "Mr Brightsid": 1}
    r = service.played(who, "The Killers - Mr Brightside")
    assert (r.track, r.plays_by_member) == ("Mr. Brightside", 4)


def test_played_after_import_finds_the_imported_track(
    db: Database, service: Service, who: Who, tmp_path: Path
) -> None:
    f = _csv(tmp_path, f"{who.member_id},The Killers,Mr Brightside")
    import_path(db, _community_of(db, who), "csv", f, now=NOW)
    for typed in (
        "The Killers - Mr. Brightside",
        "The Killers - MR. BRIGHTSIDE",
        "the killers - mr brightside",
    ):
        r = service.played(who, typed)
        assert r.track == "Mr Brightside", typed
    assert r.plays_by_member == 4
    assert _titles(db) == ["Mr Brightside"]
    # /played still asks about a near miss of the imported title (the question path is unchanged).
    with pytest.raises(NameQuestion):
        service.played(who, "The Killers - Mr Brightsid")


def test_numbered_titles_stay_different_tracks_through_import(
    db: Database, service: Service, who: Who, tmp_path: Path
) -> None:
    service.played(who, "Pink Floyd - Another Brick in the Wall, Pt. 1")
    service.played(who, "Beethoven - Symphony No. 5")
    f = _csv(
        tmp_path,
        'u,Pink Floyd,"Another Brick in the Wall, Pt. 2"',
        "u,Pink Floyd,Another Brick in the Wall Pt 1",
        "u,Beethoven,Symphony No. 7",
        "u,Beethoven,Symphony No 5",
    )
    s = import_path(db, _community_of(db, who), "csv", f, now=NOW)
    assert (s.imported, s.merged_by_name) == (4, 2)
    assert _plays_by_title(db) == {
        "Another Brick in the Wall, Pt. 1": 2,
        "Another Brick in the Wall, Pt. 2": 1,
        "Symphony No. 5": 2,
        "Symphony No. 7": 1,
    }
    # Either order: a later import of the other numbers stays apart too.
    again = _csv(tmp_path, "u,Pink Floyd,Another Brick in the Wall Part 3", name="more.csv")
    import_path(db, _community_of(db, who), "csv", again, now=NOW)
    assert len(_titles(db)) == 5


def test_two_spellings_in_one_import_are_one_track(db: Database, tmp_path: Path) -> None:
    cid = _community(db)
    f = _csv(
        tmp_path,
        "a,The Killers,Mr. Brightside",
        "b,The Killers,Mr Brightside",
        "c,the killers,MR BRIGHTSIDE",
        "a,The Killers,Mr Brightsid",
    )
    s = import_path(db, cid, "csv", f, now=NOW)
    assert (s.imported, s.merged_by_name) == (4, 2)
    assert _plays_by_title(db) == {"Mr. Brightside": 3, "Mr Brightsid": 1}


def test_spellings_in_different_batches_are_one_track(db: Database) -> None:
    """One row per batch: the writer process resolves each batch's spelling against the rows the
    batches before it stored (first spelling wins), and the import gives what one batch gives."""
    cid = _community(db)
    data = "user,artist,track\na,The Killers,Mr. Brightside\nb,The Killers,Mr Brightside\n"
    data += "c,The Killers,MR BRIGHTSIDE!\nd,The Killers,Mr Brightsid\n"
    s = import_rows(db, cid, csv_rows(io.StringIO(data), NOW), source="csv", batch_rows=1)
    assert (s.imported, s.merged_by_name) == (4, 2)
    assert _plays_by_title(db) == {"Mr. Brightside": 3, "Mr Brightsid": 1}


def test_same_title_is_one_track_across_communities_but_shows_nothing_of_the_other(
    db: Database, service: Service, tmp_path: Path
) -> None:
    """Tracks are one catalog, so the same name resolves storage-wide, as for artists; but nothing
    B is told names or counts A's plays."""
    a, b = Who("local", "A", "ann"), Who("local", "B", "bob")
    service.played(a, "The Killers - Mr. Brightside")
    service.played(a, "The Killers - Mr. Brightside")
    service.played(a, "The Killers - Somebody Told Me")
    f = _csv(tmp_path, "bob,The Killers,Mr Brightside", "bob,The Killers,Mr Brightsid")
    s = import_path(db, _community_of(db, b), "csv", f, now=NOW)
    assert (s.imported, s.merged_by_name) == (2, 1)
    # One Mr. Brightside for both communities; B's near miss of it is B's own new track, not merged.
    assert _titles(db) == ["Mr Brightsid", "Mr. Brightside", "Somebody Told Me"]
    # B's counts are B's own plays only, and B is never offered or asked about A's other title.
    assert service.played(b, "The Killers - Mr Brightside").plays_by_member == 2
    assert service.suggest(b, "somebody", field="track") == []
    with pytest.raises(NameQuestion) as asked:  # in A, a slip is a question about A's title …
        service.played(a, "The Killers - Somebody Tol Me")
    assert asked.value.question.candidate == "The Killers – Somebody Told Me"
    r = service.played(b, "The Killers - Somebody Tol Me")  # … in B it is logged as typed
    assert (r.track, r.plays_by_member, r.corrected_from) == ("Somebody Tol Me", 1, None)
    assert "Told" not in repr(r)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Artist)).scalar_one() == 1


def test_played_in_one_community_after_an_import_in_another_shows_its_own_spelling(
    db: Database, service: Service, tmp_path: Path
) -> None:
    a, b = Who("local", "A", "ann"), Who("local", "B", "bob")
    import_path(db, _community_of(db, b), "csv", _csv(tmp_path, "bob,The Killers,Mr. Brightside"), now=NOW)
    # The same catalog entry, but A has no plays of it: A sees its own spelling and its own count.
    r = service.played(a, "The Killers - Mr Brightside")
    assert (r.track, r.plays_by_member, r.corrected_from) == ("Mr Brightside", 1, None)
    assert "Mr. Brightside" not in repr(r)
    assert _titles(db) == ["Mr. Brightside"]
    assert _plays_by_title(db) == {"Mr. Brightside": 2}
