"""History import formats: small fixture files per format (malformed lines, BOM, CRLF, empty fields,
duplicates, alias chains and cycles), canonicalisation shared with chat, and the inlined dedupe key
(the name rules themselves and the name check's fast path: tests/storage/test_names.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

import ingest.formats as formats
from bot.service import Service, Who
from ingest.formats import import_path, json_records
from ingest.importers import (
    Rejected,
    Row,
    import_alias_file,
    resolve_chains,
)
from storage import catalog
from storage.db import Database
from storage.models import Artist, ArtistAlias, Member, Play, Track

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _community(db: Database, name: str = "crew") -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", name, name)


def _count(db: Database, col) -> int:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.execute(select(func.count(col))).scalar_one()


def _plays(db: Database) -> list[tuple[str, str, str | None, dt.datetime | None, int]]:
    """(member, artist name, track title, played_at, count) of every play, sorted."""
    with db.read() as conn:
        rows = conn.execute(
            select(Member.external_id, Artist.name, Track.title, Play.played_at, Play.count)
            .join(Member, Member.id == Play.member_id)
            .join(Artist, Artist.id == Play.artist_id)
            .outerjoin(Track, Track.id == Play.track_id)
        ).all()
    return sorted((tuple(r) for r in rows), key=repr)  # type: ignore[misc]


def _key_cluster(user: str, played_at: dt.datetime | None) -> str:
    """The leading part of an imported play's dedupe key: its time (``2025-01-31T14:05:00``) or, for
    an undated play, its user (``u`` + the user id)."""
    return "u" + user if played_at is None else played_at.isoformat()[:19]


def _dedupe_key(source: str, community: int, r: Row, a_key: str, t_key: str | None) -> str:
    """Reference form of the key ``import_rows`` builds inline for a play: ``source:cluster:sha1``
    over the play's fields, so the same row imported again maps to the same key."""
    parts = [
        str(community),
        r.user,
        a_key,
        t_key or "",
        r.played_at.isoformat() if r.played_at else "",
        str(r.count),
    ]
    if r.ident:
        parts.append(r.ident)
    digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()
    return f"{source}:{_key_cluster(r.user, r.played_at)}:{digest}"


# --- canonicalisation -------------------------------------------------------------------------


def test_chat_played_and_import_resolve_to_one_artist_and_track(
    service: Service, who: Who, db: Database, tmp_path: Path
) -> None:
    first = service.played(who, "Smiths, The - Panic")
    assert (first.artist, first.track) == ("The Smiths", "Panic")
    with db.read() as conn:
        cid = catalog.find_community(conn, who.platform, who.community_id)
    assert cid is not None
    f = tmp_path / "plays.csv"
    f.write_text("user,artist,track\nm1,The Smiths,Panic\nm2,SMITHS, THE,panic\n", encoding="utf-8")
    # "SMITHS, THE" is split by the CSV comma: quote it to keep the comma.
    f.write_text('user,artist,track\nm1,The Smiths,Panic\nm2,"SMITHS, THE",panic\n', encoding="utf-8")
    s = import_path(db, cid, "csv", f, now=NOW)
    assert (s.imported, s.rejected) == (2, 0)
    again = service.played(who, "the smiths – PANIC")
    assert again.plays_by_member == 3  # m1: chat, import, chat again — one track
    assert _count(db, Artist.id) == 1 and _count(db, Track.id) == 1
    assert {a for _m, a, *_ in _plays(db)} == {"The Smiths"}


def test_chat_after_import_uses_the_imported_entry(
    service: Service, who: Who, db: Database, tmp_path: Path
) -> None:
    with db.write() as conn:
        cid = catalog.community_id(conn, who.platform, who.community_id, "Crew")
    f = tmp_path / "plays.csv"
    f.write_text('user,artist,track\nm1,"Beatles, The",Help!\n', encoding="utf-8")
    import_path(db, cid, "csv", f, now=NOW)
    r = service.played(who, "Beatles, The - Help!")
    assert (r.artist, r.track, r.plays_by_member, r.corrected_from) == ("The Beatles", "Help!", 2, None)
    assert _count(db, Artist.id) == 1


def test_inlined_dedupe_and_datetime_text_match_the_reference(db: Database, tmp_path: Path) -> None:
    cid = _community(db)
    f = tmp_path / "p.csv"
    f.write_text(
        "user,artist,track,played_at,count\na,X,Y,2026-01-02T03:04:05,2\na,X,,2026-01-02T03:04:05.25,1\n"
        "b,X,Y,,3\n",
        encoding="utf-8",
    )
    import_path(db, cid, "csv", f, now=NOW)
    dialect = db.engine.dialect
    proc = Play.__table__.c.played_at.type.dialect_impl(dialect).bind_processor(dialect)
    with db.read() as conn:
        stored = dict(conn.exec_driver_sql("SELECT count, played_at FROM plays").all())
        keys = set(conn.execute(select(Play.dedupe_key)).scalars())
    t1, t2 = dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 2, 3, 4, 5, 250000)
    if db.sqlite:  # SQLite stores the text SQLAlchemy would bind; Postgres a timestamp
        assert proc is not None and stored == {2: proc(t1), 1: proc(t2), 3: None}
    else:
        assert stored == {2: t1, 1: t2, 3: None}
    assert keys == {
        _dedupe_key("csv", cid, Row(0, "a", "X", "Y", t1, 2), "x", "y"),
        _dedupe_key("csv", cid, Row(0, "a", "X", None, t2, 1), "x", None),
        _dedupe_key("csv", cid, Row(0, "b", "X", "Y", None, 3), "x", "y"),  # undated: clustered by user
    }


# --- aliases ----------------------------------------------------------------------------------


def test_resolve_chains_and_cycles() -> None:
    resolved, cyclic = resolve_chains({"a": "b", "b": "c", "x": "y", "y": "x", "p": "x", "q": "q2"})
    assert resolved == {"a": "c", "b": "c", "q": "q2"}
    assert cyclic["x"] == ["x", "y", "x"] and set(cyclic) == {"x", "y", "p"}


def test_alias_file_chain_cycle_and_reimport(
    service: Service, who: Who, db: Database, tmp_path: Path
) -> None:
    f = tmp_path / "aliases.tsv"
    f.write_bytes(
        "\ufeffalias\tcanonical\r\n"
        "Smyths\tSmiths, The\r\n"  # a → b → c: Smyths → The Smiths → The Smiths (Band)
        "the smiths\tThe Smiths (Band)\r\n"
        "Foo\tBar\r\n"  # cycle Foo → Bar → Foo
        "Bar\tFoo\r\n"
        "same\tSAME\r\n"
        "lonely field\r\n"
        "\r\n".encode()
    )
    s = import_alias_file(db, f)
    assert (s.imported, s.rejected) == (2, 3)
    assert s.skipped == {"alias and canonical name are the same artist": 1}
    lines = dict(s.first_rejects)
    assert "cycle" in lines[4] and "cycle" in lines[5] and "2 fields" in lines[7]
    assert s.rejects_file and Path(s.rejects_file).read_text().count("\n") == 3
    with db.read() as conn:
        assert set(conn.execute(select(ArtistAlias.alias_key)).scalars()) == {"smyths", "the smiths"}
    # Chat resolves both spellings to the chain's end; import does the same and says so.
    assert service.played(who, "Smyths - Panic").artist == "The Smiths (Band)"
    assert service.played(who, "Smiths, The - Panic").artist == "The Smiths (Band)"
    with db.read() as conn:
        cid = catalog.find_community(conn, who.platform, who.community_id)
    assert cid is not None
    csvf = tmp_path / "p.csv"
    csvf.write_text("user,artist,track\nm1,SMYTHS,Panic\nm1,Foo,x\n", encoding="utf-8")
    imp = import_path(db, cid, "csv", csvf, now=NOW)
    assert (imp.imported, imp.merged_by_alias) == (2, 1)
    assert service.played(who, "Foo").artist == "Foo"  # the cycle stored nothing
    again = import_alias_file(db, f)
    assert (again.imported, again.duplicates) == (0, 2)


def test_alias_cycle_with_a_stored_alias_is_rejected(db: Database, tmp_path: Path) -> None:
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("Alpha\tBeta\n", encoding="utf-8")
    b.write_text("Beta\tAlpha\n", encoding="utf-8")
    assert import_alias_file(db, a).imported == 1
    s = import_alias_file(db, b)
    assert s.imported == 0 and s.rejected == 1 and "cycle" in s.first_rejects[0][1]


# --- hetrec -----------------------------------------------------------------------------------


def _hetrec(folder: Path, *, header: bool) -> Path:
    folder.mkdir()
    (folder / "artists.dat").write_bytes(
        "\ufeffid\tname\turl\tpictureURL\r\n"
        "1\tRed\thttp://x\t\r\n"
        "2\tＲＥＤ\thttp://x\t\r\n"
        "3\tBjörk\thttp://x\t\r\n"
        "4\t\thttp://x\t\r\n"  # empty name
        "oops\r\n".encode()
    )
    body = (
        "2\t1\t100\r\n"
        "2\t2\t50\r\n"  # same user, the other spelling of Red: merges into one artist, two plays
        "2\t3  \t7\r\n"  # trailing spaces in the artist id
        "3\t1\t100\r\n"
        "3\t1\t100\r\n"  # duplicate row
        "3\t9\t5\r\n"  # unknown artist id
        "3\t4\t5\r\n"  # artist with an empty name
        "4\t3\tmany\r\n"  # bad weight
        "4\t3\r\n"  # missing field
        "\r\n"
        "5\t3\t0\r\n"  # zero listens
    )
    head = "userID\tartistID\tweight\r\n" if header else ""
    (folder / "user_artists.dat").write_text(head + body, encoding="utf-8", newline="")
    return folder


@pytest.mark.parametrize("header", [False, True])
def test_hetrec_fixture(db: Database, tmp_path: Path, header: bool) -> None:
    folder = _hetrec(tmp_path / "hetrec", header=header)
    cid = _community(db)
    s = import_path(db, cid, "hetrec", folder, now=NOW)
    off = 1 if header else 0
    assert (s.imported, s.duplicates, s.merged_by_key, s.rejected) == (4, 1, 1, 6)
    assert s.read == 11  # 10 data rows + the unreadable artists.dat line
    rej = s.first_rejects
    assert rej[0][0] == 6 and rej[0][1].startswith("artists.dat: not `id")
    by_line = dict(rej[1:])
    assert by_line[6 + off] == "user_artists.dat: artist id '9' is not in artists.dat"
    assert "empty" in by_line[7 + off] and "artists.dat line 5" in by_line[7 + off]
    assert "whole number" in by_line[8 + off] and "3 tab-separated" in by_line[9 + off]
    assert "at least 1" in by_line[11 + off]
    assert _plays(db) == [
        ("2", "Björk", None, None, 7),
        ("2", "Red", None, None, 100),
        ("2", "Red", None, None, 50),
        ("3", "Red", None, None, 100),
    ]
    assert _count(db, Artist.id) == 2
    again = import_path(db, cid, "hetrec", folder, now=NOW)
    assert (again.imported, again.duplicates) == (0, 5)


def test_hetrec_missing_file(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "hetrec"
    folder.mkdir()
    (folder / "artists.dat").write_text("id\tname\turl\tpictureURL\n1\tX\t\t\n", encoding="utf-8")
    with pytest.raises(Rejected, match="user_artists.dat"):
        import_path(db, _community(db), "hetrec", folder, now=NOW)


# --- audioscrobbler ---------------------------------------------------------------------------


def test_audioscrobbler_aliases_chain_cycle_and_names(
    service: Service, who: Who, db: Database, tmp_path: Path
) -> None:
    d = tmp_path / "as"
    d.mkdir()
    (d / "artist_data.txt").write_text(
        "10\tThe Beatles\n11\tBeatles\n12\tBeatles, The\n20\tX\n21\tY\n30\tNirvana\n"
        "not a line\n40 Spaced Name\n",
        encoding="utf-8",
    )
    # 12 → 11 → 10 (a chain), 20 ↔ 21 (a cycle), one malformed line.
    (d / "artist_alias.txt").write_text("12\t11\n11\t10\n20\t21\n21\t20\n\t10\n", encoding="utf-8")
    (d / "user_artist_data.txt").write_text(
        "1 10 5\n1 11 3\n1 12 2\n1 20 1\n1 21 1\n2 30 4\n2 30 4\n2 99 1\n2 40 x\n3 40 1\nbroken\n",
        encoding="utf-8",
    )
    cid = _community(db)
    s = import_path(db, cid, "audioscrobbler", d, now=NOW)
    assert (s.imported, s.duplicates, s.merged_by_alias) == (7, 1, 2)
    reasons = [r for _n, r in s.first_rejects]
    assert sum("alias cycle" in r for r in reasons) == 2
    assert any("artist_data.txt: not `id" in r for r in reasons)
    assert any("artist_alias.txt: not `bad id" in r for r in reasons)
    assert any("artist id 99 is not in artist_data.txt" in r for r in reasons)
    assert any("whole number" in r for r in reasons) and any("3 space-separated" in r for r in reasons)
    plays = _plays(db)
    # The three Beatles ids are three plays of one artist (counts kept, not deduplicated away).
    assert [p for p in plays if p[0] == "1" and p[1] == "The Beatles"] == [
        ("1", "The Beatles", None, None, 2),
        ("1", "The Beatles", None, None, 3),
        ("1", "The Beatles", None, None, 5),
    ]
    assert ("3", "Spaced Name", None, None, 1) in plays
    assert {p[1] for p in plays if p[0] == "1"} == {"The Beatles", "X", "Y"}  # cycle: left unaliased
    # The alias file fed the alias table: "Beatles" typed in chat lands on The Beatles.
    assert service.played(who, "Beatles - Help!").artist == "The Beatles"
    again = import_path(db, cid, "audioscrobbler", d, now=NOW)
    assert (again.imported, again.aliases) == (0, 0)


# --- lastfm -----------------------------------------------------------------------------------


def test_lastfm_without_header(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "scrobbles.csv"
    f.write_bytes(
        "\ufeffRadiohead,OK Computer,Karma Police,31 Jan 2021 14:05\r\n"
        "Radiohead,OK Computer,Karma Police,31 Jan 2021 14:05\r\n"  # duplicate
        "Björk,,Jóga,01 Feb 2021 09:00\r\n"  # empty album
        "Portishead,Dummy,,1612170000\r\n"  # empty track, Unix time
        ",Dummy,Roads,01 Feb 2021 10:00\r\n"
        "Portishead,Dummy,Roads,\r\n"
        "Portishead,Dummy,Roads,yesterday\r\n"
        "Portishead,Dummy\r\n"
        "\r\n"
        "Massive Attack,Mezzanine,Teardrop,2021-02-02T10:00:00+01:00\r\n".encode()
    )
    cid = _community(db)
    s = import_path(db, cid, "lastfm", f, member="ada", now=NOW)
    assert (s.read, s.imported, s.duplicates, s.rejected) == (9, 4, 1, 4)
    lines = dict(s.first_rejects)
    assert "artist is empty" in lines[5] and "date is empty" in lines[6]
    assert "neither" in lines[7] and "expected 4 fields" in lines[8]
    assert _plays(db) == [
        ("ada", "Björk", "Jóga", dt.datetime(2021, 2, 1, 9, 0), 1),
        ("ada", "Massive Attack", "Teardrop", dt.datetime(2021, 2, 2, 9, 0), 1),
        ("ada", "Portishead", None, dt.datetime(2021, 2, 1, 9, 0), 1),
        ("ada", "Radiohead", "Karma Police", dt.datetime(2021, 1, 31, 14, 5), 1),
    ]
    assert import_path(db, cid, "lastfm", f, member="ada", now=NOW).imported == 0


def test_lastfm_with_header_and_member_rules(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "scrobbles.csv"
    f.write_text(
        "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"
        '1612170000,"01 Feb 2021, 09:00",Radiohead,,OK Computer,,Lucky,\n'
        "1612170000\n",
        encoding="utf-8",
    )
    cid = _community(db)
    s = import_path(db, cid, "lastfm", f, member="ada", now=NOW)
    assert (s.imported, s.rejected) == (1, 1) and "fewer than the header" in s.first_rejects[0][1]
    with pytest.raises(Rejected, match="--member"):
        import_path(db, cid, "lastfm", f, now=NOW)
    with pytest.raises(Rejected, match="--member"):
        import_path(db, cid, "hetrec", tmp_path, member="ada", now=NOW)


# --- listenbrainz -----------------------------------------------------------------------------


def _listen(at: object, artist: object, track: object = "T", user: str = "lb_user") -> dict[str, object]:
    return {
        "listened_at": at,
        "user_name": user,
        "track_metadata": {"artist_name": artist, "track_name": track},
    }


def test_listenbrainz_json_lines(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "listens.jsonl"
    good = json.dumps(_listen(1612170000, "Radiohead", "Lucky"))
    f.write_bytes(
        (
            "\ufeff"
            + good
            + "\r\n"
            + good  # duplicate
            + "\r\n\r\n"
            + '{"listened_at": 1612170001, "track_metadata": {\r\n'  # malformed
            + json.dumps(_listen("2021-02-01T09:00:00Z", "Björk", None))
            + "\r\n"
            + json.dumps(_listen(1612170002, ""))
            + "\r\n"
            + json.dumps({"listened_at": 1612170003})
            + "\r\n"
            + json.dumps(_listen(None, "X"))
            + "\r\n"
            + "[1, 2]\r\n"
            + json.dumps(_listen(4102444800, "Future"))
            + "\r\n"
        ).encode()
    )
    cid = _community(db)
    s = import_path(db, cid, "listenbrainz", f, now=NOW)
    assert (s.imported, s.duplicates, s.rejected) == (2, 1, 6)
    lines = dict(s.first_rejects)
    assert "malformed JSON" in lines[4] and "artist_name is empty" in lines[6]
    assert "track_metadata is missing" in lines[7] and "listened_at is missing" in lines[8]
    assert "not a JSON object" in lines[9] and "future" in lines[10]
    assert {p[0] for p in _plays(db)} == {"lb_user"}
    s2 = import_path(db, cid, "listenbrainz", f, member="ada", now=NOW)
    assert s2.imported == 2  # another member's plays
    assert {p[0] for p in _plays(db)} == {"lb_user", "ada"}


def test_listenbrainz_array_streams_across_chunks_and_resyncs(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "_CHUNK", 7)  # every record spans several reads
    monkeypatch.setattr(formats, "_MAX_RECORD", 400)  # records are ~200 characters
    records = [json.dumps(_listen(1612170000 + i, f"Artist {i}"), indent=2) for i in range(4)]
    records.insert(2, '{"listened_at": 1, "track_metadata": {"artist_name": oops}}')
    f = tmp_path / "listens.json"
    f.write_text("[\n" + ",\n".join(records) + "\n]\n", encoding="utf-8")
    s = import_path(db, _community(db), "listenbrainz", f, now=NOW)
    assert (s.imported, s.rejected) == (4, 1)
    bad_line = 2 + sum(r.count("\n") + 1 for r in records[:2])
    assert s.first_rejects[0][0] == bad_line and "malformed JSON" in s.first_rejects[0][1]


def test_json_records_line_numbers_and_truncation() -> None:
    text = '[{"a": 1},\n {"a": 2},\n\n {"a": '
    out = list(json_records(io.StringIO(text)))
    assert [(n, r) for n, r in out[:2]] == [(1, {"a": 1}), (2, {"a": 2})]
    assert out[2][0] == 4 and isinstance(out[2][1], json.JSONDecodeError)


# --- spotify ----------------------------------------------------------------------------------


def test_spotify_basic_and_extended_folder(db: Database, tmp_path: Path) -> None:
    d = tmp_path / "MyData"
    d.mkdir()
    basic = [
        {"endTime": "2021-02-01 09:00", "artistName": "Radiohead", "trackName": "Lucky", "msPlayed": 250000},
        {"endTime": "2021-02-01 09:00", "artistName": "Radiohead", "trackName": "Lucky", "msPlayed": 250000},
        {"endTime": "2021-02-01 09:05", "artistName": "Radiohead", "trackName": "Airbag", "msPlayed": 29999},
        {"endTime": "2021-02-01 09:10", "artistName": "", "trackName": "x", "msPlayed": 40000},
        {"endTime": "2021-02-01 09:15", "artistName": "Björk", "trackName": "Jóga", "msPlayed": "long"},
    ]
    (d / "StreamingHistory_music_0.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(basic, indent=2).replace("\n", "\r\n").encode()
    )
    (d / "StreamingHistory_podcast_0.json").write_text(
        json.dumps(
            [{"endTime": "2021-02-01 09:00", "podcastName": "P", "episodeName": "E", "msPlayed": 1e6}]
        ),
        encoding="utf-8",
    )
    ext = [
        {
            "ts": "2021-02-02T10:00:00Z",
            "username": "spot",
            "ms_played": 200000,
            "master_metadata_track_name": "Teardrop",
            "master_metadata_album_artist_name": "Massive Attack",
            "episode_name": None,
            "spotify_episode_uri": None,
        },
        {
            "ts": "2021-02-02T11:00:00Z",
            "ms_played": 900000,
            "master_metadata_track_name": None,
            "master_metadata_album_artist_name": None,
            "episode_name": "Episode 1",
            "episode_show_name": "Show",
            "spotify_episode_uri": "spotify:episode:1",
        },
        {
            "ts": "2021-02-02T12:00:00Z",
            "ms_played": 1000,
            "master_metadata_track_name": "Angel",
            "master_metadata_album_artist_name": "Massive Attack",
        },
        {"ts": "2021-02-02T13:00:00Z", "ms_played": 60000, "master_metadata_album_artist_name": None},
    ]
    (d / "Streaming_History_Audio_2021.json").write_text(json.dumps(ext), encoding="utf-8")
    (d / "Streaming_History_Video_2021.json").write_text("[not even json", encoding="utf-8")
    cid = _community(db)
    s = import_path(db, cid, "spotify", d, member="ada", now=NOW)
    assert (s.imported, s.duplicates, s.rejected) == (2, 1, 3)
    assert s.skipped == {"podcast": 2, "shorter than 30 s": 2}
    assert s.read == 10
    reasons = [r for _n, r in s.first_rejects]
    assert reasons[0].startswith("StreamingHistory_music_0.json: ") and "artist name is empty" in reasons[0]
    assert "ms played 'long'" in reasons[1]
    assert reasons[2].startswith("Streaming_History_Audio_2021.json: ")
    assert _plays(db) == [
        ("ada", "Massive Attack", "Teardrop", dt.datetime(2021, 2, 2, 10, 0), 1),
        ("ada", "Radiohead", "Lucky", dt.datetime(2021, 2, 1, 9, 0), 1),
    ]
    assert "skipped 4 (podcast: 2, shorter than 30 s: 2)" in s.line()
    assert import_path(db, cid, "spotify", d, member="ada", now=NOW).imported == 0


def test_spotify_single_file_needs_a_member(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "StreamingHistory0.json"
    f.write_text(
        json.dumps([{"endTime": "2021-02-01 09:00", "artistName": "A", "trackName": "B", "msPlayed": 40000}]),
        encoding="utf-8",
    )
    # Basic history never names its user: refused before a row is read, not rejected row by row.
    with pytest.raises(Rejected, match="^this export has no user name: pass --member NAME$"):
        import_path(db, _community(db), "spotify", f, now=NOW)
    assert _count(db, Play.id) == 0 and not list(tmp_path.glob("*.rejects"))


# --- command line -----------------------------------------------------------------------------


def test_cli_formats(tmp_path: Path, database_url: str) -> None:
    url = database_url
    env = {**os.environ, "COLUMNS": "300"}
    base = [sys.executable, "-m", "bot.cli", "import"]
    f = tmp_path / "StreamingHistory0.json"
    f.write_text(
        json.dumps(
            [
                {"endTime": "2021-02-01 09:00", "artistName": "A", "trackName": "B", "msPlayed": 40000},
                {"endTime": "2021-02-01 09:01", "artistName": "A", "trackName": "C", "msPlayed": 4000},
            ]
        ),
        encoding="utf-8",
    )
    cmd = [*base, "spotify", str(f), "--member", "ada", "--db", url, "--community", "crew"]
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True, env=env)
    summary = json.loads(out.stdout)
    assert (summary["imported"], summary["skipped"]) == (1, {"shorter than 30 s": 1})
    again = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    assert "imported 0" in again.stdout and "skipped 1 (shorter than 30 s: 1)" in again.stdout
    scrobbles = tmp_path / "scrobbles.csv"
    scrobbles.write_text("A,Album,B,31 Jan 2021 14:05\n", encoding="utf-8")
    cmd = [*base, "lastfm", str(scrobbles), "--db", url]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert r.stderr == f"error: {scrobbles}: this export has no user name: pass --member NAME\n"
    aliases = tmp_path / "a.csv"
    aliases.write_text("alias,canonical\nA,Band A\n", encoding="utf-8")
    r = subprocess.run([*base, "aliases", str(aliases), "--db", url], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "imported 1" in r.stdout and "aliases stored 1" in r.stdout
