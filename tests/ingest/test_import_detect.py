"""Exports told by their content (ingest.detect), read from ZIPs in place, refused in one clear error
when they are another format, empty, binary or too big unpacked; the generic entry
(``import_detected``) a chat upload calls. Files are shaped like the real exports (tests/ingest/
exports.py)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.detect import MAX_UNPACKED, UnknownFormat, WrongFormat, detect_format
from ingest.formats import NO_USER_NAME, import_detected, import_path
from ingest.importers import Rejected
from storage import catalog
from storage.db import Database
from storage.models import Artist, Member, Play, Track
from tests.ingest.exports import (
    LASTFM_ROWS,
    LB_LISTENS,
    LB_USER,
    PLAYS_CSV,
    SPOTIFY_AUDIO_0,
    lastfm_csv,
    lb_lines,
    listenbrainz_old_array,
    listenbrainz_zip,
    plays_csv,
    spotify_json,
    spotify_zip,
)

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _community(db: Database, name: str) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", name, name)


def _plays(db: Database, community: int) -> list[tuple[str, str, str | None, dt.datetime | None]]:
    """(member, artist, track, played_at) of every play of one community, sorted."""
    with db.read() as conn:
        rows = conn.execute(
            select(Member.external_id, Artist.name, Track.title, Play.played_at)
            .join(Member, Member.id == Play.member_id)
            .join(Artist, Artist.id == Play.artist_id)
            .outerjoin(Track, Track.id == Play.track_id)
            .where(Play.community_id == community)
        ).all()
    return sorted((tuple(r) for r in rows), key=repr)  # type: ignore[misc]


def _total_plays(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count(Play.id))).scalar_one()


def _lb_expected(member: str) -> list[tuple[str, str, str | None, dt.datetime | None]]:
    return sorted(((member, a, t, at) for a, t, _r, at in LB_LISTENS), key=repr)


# --- detect_format ------------------------------------------------------------------------------


def test_detect_format_reads_the_content_not_the_name(tmp_path: Path) -> None:
    # Every file is named as if it were another format.
    assert detect_format(spotify_json(tmp_path / "scrobbles.csv")) == "spotify"
    (tmp_path / "plays.csv").write_text(lb_lines(LB_LISTENS[:2]), encoding="utf-8")
    assert detect_format(tmp_path / "plays.csv") == "listenbrainz"
    assert detect_format(lastfm_csv(tmp_path / "listens.jsonl")) == "lastfm"
    assert detect_format(plays_csv(tmp_path / "StreamingHistory0.json")) == "csv"
    assert detect_format(listenbrainz_old_array(tmp_path / "x.txt")) == "listenbrainz"
    basic = tmp_path / "basic.json"
    basic.write_text(
        '\ufeff[{"endTime": "2021-02-01 09:00", "artistName": "A", "trackName": "B", "msPlayed": 40000}]',
        encoding="utf-8",
    )
    assert detect_format(basic) == "spotify"
    header = tmp_path / "header.csv"  # a Last.fm export with a header (lastfm.ghan.nl)
    header.write_text("uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n", encoding="utf-8")
    assert detect_format(header) == "lastfm"
    # A ZIP is told by its first bytes, whatever its name; so are the files inside it.
    z = listenbrainz_zip(tmp_path)
    assert detect_format(z.rename(tmp_path / "data.bin")) == "listenbrainz"
    assert detect_format(spotify_zip(tmp_path)) == "spotify"


def test_detect_format_folders(tmp_path: Path) -> None:
    hetrec = tmp_path / "hetrec"
    hetrec.mkdir()
    (hetrec / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13\n", encoding="utf-8")
    (hetrec / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\t\t\n", encoding="utf-8")
    assert detect_format(hetrec) == "hetrec"
    scrobbler = tmp_path / "profiledata"
    scrobbler.mkdir()
    (scrobbler / "user_artist_data.txt").write_text("1 10 5\n", encoding="utf-8")
    (scrobbler / "artist_data.txt").write_text("10\tThe Beatles\n", encoding="utf-8")
    assert detect_format(scrobbler) == "audioscrobbler"
    unpacked = tmp_path / "lb"
    with zipfile.ZipFile(listenbrainz_zip(tmp_path)) as z:
        z.extractall(unpacked)
    (unpacked / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert detect_format(unpacked) == "listenbrainz"


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"", Rejected, "the file is empty"),
        (b"\xef\xbb\xbf \r\n\r\n", Rejected, "the file is empty"),
        (b"[\n]\n", Rejected, "the file is empty (no records)"),
        (
            b"SQLite format 3\0\x10\0\x01\x01",
            Rejected,
            "the file is not text (a ZIP, JSON or CSV export was expected)",
        ),
        (gzip.compress(b"user,artist\n"), Rejected, "the file is gzip-compressed: unpack it first"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", Rejected, "the file is a PDF document"),
        (
            b'{"payload": {"count": 0}}',
            UnknownFormat,
            "x: JSON, but no Spotify or ListenBrainz listen in its first records",
        ),
        (
            b"name,song\nx,y\n",
            UnknownFormat,
            "x: not a CSV tastemaker reads (`tastemaker import csv` needs a header naming user and artist "
            "columns; a Last.fm export is artist,album,track,date)",
        ),
    ],
)
def test_detect_format_refuses_what_it_cannot_read(
    tmp_path: Path, content: bytes, error: type[Exception], message: str
) -> None:
    f = tmp_path / "x"
    f.write_bytes(content)
    with pytest.raises(error) as raised:
        detect_format(f)
    assert str(raised.value) == message


def test_detect_format_refuses_empty_damaged_and_unknown_zips(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(Rejected, match="^the ZIP archive holds no files$"):
        detect_format(empty)
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as z:
        z.writestr("notes.txt", "name,song\nx,y\n")
        z.writestr("photo.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0")
    with pytest.raises(UnknownFormat, match="^the ZIP archive holds no listening history tastemaker reads"):
        detect_format(junk)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(listenbrainz_zip(tmp_path).read_bytes()[:200])  # a download cut short
    with pytest.raises(Rejected, match=r"^the ZIP archive cannot be read \("):
        detect_format(cut)
    flipped = tmp_path / "flipped.zip"  # one byte of a stored member changed: its CRC no longer matches
    with zipfile.ZipFile(flipped, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("listens/2024/1.jsonl", lb_lines(LB_LISTENS[:2]))
    data = bytearray(flipped.read_bytes())
    at = data.index(b"Radiohead")
    data[at] = ord("X")
    flipped.write_bytes(bytes(data))
    with pytest.raises(Rejected, match=r"^listens/2024/1.jsonl: the ZIP archive is damaged \(Bad CRC-32"):
        detect_format(flipped)


# --- ListenBrainz ---------------------------------------------------------------------------------


def test_listenbrainz_zip_imports_in_place_under_the_user_of_user_json(db: Database, tmp_path: Path) -> None:
    z = listenbrainz_zip(tmp_path)
    a, b = _community(db, "a"), _community(db, "b")
    s = import_path(db, a, "listenbrainz", z, now=NOW)
    # 15 listens in listens/2023/12.jsonl, listens/2024/1.jsonl and 2.jsonl; user.json, feedback and
    # pinned recordings are not read as listens.
    assert (s.read, s.imported, s.duplicates, s.rejected, s.skipped) == (15, 15, 0, 0, {})
    assert s.line() == "read 15, imported 15, duplicates 0, rejected 0"
    assert _plays(db, a) == _lb_expected(LB_USER)
    assert _plays(db, b) == []
    assert not list(tmp_path.glob("*.zip.rejects")) and not list(tmp_path.glob("*/"))  # nothing unpacked
    again = import_path(db, a, "listenbrainz", z, now=NOW)
    assert (again.imported, again.duplicates) == (0, 15)
    # The same export unpacked into a folder reads the same; --member names another member.
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(z) as zf:
        zf.extractall(folder)
    s2 = import_path(db, b, "listenbrainz", folder, member="ada", now=NOW)
    assert (s2.read, s2.imported) == (15, 15)
    assert _plays(db, b) == _lb_expected("ada")
    assert _plays(db, a) == _lb_expected(LB_USER)


def test_listenbrainz_single_jsonl_and_older_array(db: Database, tmp_path: Path) -> None:
    c = _community(db, "a")
    month = tmp_path / "1.jsonl"  # one month of the 2024+ export: its listens name no user
    month.write_text(lb_lines(LB_LISTENS[3:9]), encoding="utf-8")
    with pytest.raises(Rejected, match=f"^{NO_USER_NAME}$"):
        import_path(db, c, "listenbrainz", month, now=NOW)
    assert _total_plays(db) == 0
    s = import_path(db, c, "listenbrainz", month, member="ada", now=NOW)
    assert (s.read, s.imported, s.rejected) == (6, 6, 0)
    old = listenbrainz_old_array(tmp_path / "lb_old_lb-2021-02-01.json")
    s = import_path(db, c, "listenbrainz", old, now=NOW)
    assert (s.read, s.imported, s.rejected) == (3, 3, 0)
    assert {m for m, *_ in _plays(db, c)} == {"ada", "lb_old"}
    assert ("lb_old", "Björk", "Jóga", dt.datetime(2023, 12, 31, 10, 0)) in _plays(db, c)


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(db: Database, tmp_path: Path) -> None:
    assert MAX_UNPACKED == 1 << 30
    z = tmp_path / "listenbrainz_rob_1.zip"
    line = lb_lines(LB_LISTENS[:1])
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("listens/2023/12.jsonl", line + "\n" * (3 * 2**20 - len(line.encode())))
    assert z.stat().st_size < 10_000  # 3 MiB of (blank) lines packed into a few KiB
    c = _community(db, "a")
    with pytest.raises(Rejected) as raised:
        import_path(db, c, "listenbrainz", z, member="ada", now=NOW, max_unpacked=2**20)
    assert str(raised.value) == "the ZIP archive unpacks to 3.0 MiB, over the 1.0 MiB limit"
    with pytest.raises(Rejected, match="^the ZIP archive unpacks to 3.0 MiB, over the 1.0 MiB limit$"):
        import_detected(db, c, z, member="ada", now=NOW, max_unpacked=2**20)
    assert _total_plays(db) == 0
    s = import_path(db, c, "listenbrainz", z, member="ada", now=NOW)  # under the default 1 GiB
    assert (s.read, s.imported) == (1, 1)


# --- Spotify --------------------------------------------------------------------------------------


def test_spotify_zip_without_user_name_needs_a_member_then_imports_everything(
    db: Database, tmp_path: Path
) -> None:
    z = spotify_zip(tmp_path)
    a, b = _community(db, "a"), _community(db, "b")
    with pytest.raises(Rejected) as raised:
        import_path(db, a, "spotify", z, now=NOW)
    assert str(raised.value) == "this export has no user name: pass --member NAME"
    assert _total_plays(db) == 0 and not list(tmp_path.glob("*.rejects"))
    s = import_path(db, a, "spotify", z, member="ada", now=NOW)
    # 6 audio entries: 3 plays, and a play under 30 s, a podcast episode and an audiobook skipped by
    # reason; the video history and the read-me PDF are not read.
    assert (s.read, s.imported, s.rejected) == (6, 3, 0)
    assert s.skipped == {"audiobook": 1, "podcast": 1, "shorter than 30 s": 1}
    assert s.line() == (
        "read 6, imported 3, duplicates 0, skipped 3 (audiobook: 1, podcast: 1, shorter than 30 s: 1), "
        "rejected 0"
    )
    assert _plays(db, a) == [
        ("ada", "Björk", "Jóga", dt.datetime(2024, 6, 10, 20, 0)),
        ("ada", "Massive Attack", "Teardrop", dt.datetime(2024, 6, 10, 20, 5)),
        ("ada", "Radiohead", "Lucky", dt.datetime(2024, 3, 1, 8, 0)),
    ]
    assert _plays(db, b) == []


def test_spotify_extended_history_with_a_user_name_needs_no_member(db: Database, tmp_path: Path) -> None:
    c = _community(db, "a")
    s = import_path(db, c, "spotify", spotify_json(tmp_path / "endsong_0.json", username="spot"), now=NOW)
    assert (s.imported, s.rejected) == (1, 0)
    assert _plays(db, c) == [("spot", "Radiohead", "Lucky", dt.datetime(2024, 3, 1, 8, 0))]


# --- one format fed to another importer -------------------------------------------------------------


def _lb_jsonl(tmp_path: Path) -> Path:
    f = tmp_path / "listens.jsonl"
    f.write_text(lb_lines(LB_LISTENS[:4]), encoding="utf-8")
    return f


@pytest.mark.parametrize(
    ("make", "wanted", "message"),
    [
        (
            lambda p: spotify_json(p / "Streaming_History_Audio_2024.json"),
            "lastfm",
            "this looks like a Spotify extended streaming history: use tastemaker import spotify",
        ),
        (
            _lb_jsonl,
            "spotify",
            "this looks like a ListenBrainz listens export: use tastemaker import listenbrainz",
        ),
        (
            lambda p: lastfm_csv(p / "scrobbles.csv"),
            "listenbrainz",
            "this looks like a Last.fm scrobble export: use tastemaker import lastfm --member NAME",
        ),
        (
            lambda p: lastfm_csv(p / "scrobbles.csv"),
            "csv",
            "this looks like a Last.fm scrobble export: use tastemaker import lastfm --member NAME",
        ),
        (
            lambda p: plays_csv(p / "plays.csv"),
            "lastfm",
            "this looks like a CSV of plays with a user column: use tastemaker import csv",
        ),
        (
            listenbrainz_zip,
            "spotify",
            "this looks like a ListenBrainz listens export: use tastemaker import listenbrainz",
        ),
        (
            spotify_zip,
            "listenbrainz",
            "this looks like a Spotify extended streaming history: use tastemaker import spotify",
        ),
    ],
)
def test_another_format_is_one_error_naming_the_right_command(
    db: Database,
    tmp_path: Path,
    make: Callable[[Path], Path],
    wanted: str,
    message: str,
) -> None:
    path = make(tmp_path)
    with pytest.raises(WrongFormat) as raised:
        import_path(
            db, _community(db, "a"), wanted, path, member="ada" if wanted == "lastfm" else None, now=NOW
        )
    assert str(raised.value) == message
    assert raised.value.wanted == wanted
    assert _total_plays(db) == 0 and not list(tmp_path.glob("*.rejects"))


def test_an_unknown_json_is_refused_by_the_json_importers(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "Userdata.json"  # another file of a Spotify account export
    f.write_text(json.dumps({"username": "x", "country": "DE"}), encoding="utf-8")
    for fmt in ("spotify", "listenbrainz"):
        with pytest.raises(
            UnknownFormat, match="^Userdata.json: JSON, but no Spotify or ListenBrainz listen"
        ):
            import_path(db, _community(db, "a"), fmt, f, member="ada", now=NOW)


# --- the generic entry: detect, then import ---------------------------------------------------------


def test_import_detected_dispatches_on_content(db: Database, tmp_path: Path) -> None:
    a, b = _community(db, "a"), _community(db, "b")
    # A chat upload: the uploader is the member of a single-user export …
    s = import_detected(db, a, spotify_zip(tmp_path), member="m1", now=NOW)
    assert (s.imported, s.skipped) == (3, {"audiobook": 1, "podcast": 1, "shorter than 30 s": 1})
    s = import_detected(db, a, listenbrainz_zip(tmp_path), member="m1", now=NOW)
    assert s.imported == 15
    s = import_detected(db, a, lastfm_csv(tmp_path / "scrobbles.csv"), member="m1", now=NOW)
    assert s.imported == 3
    assert {m for m, *_ in _plays(db, a)} == {"m1"} and len(_plays(db, a)) == 21
    # … and without one, the export's own user name is used, or the upload is refused in one line.
    s = import_detected(db, b, listenbrainz_zip(tmp_path), now=NOW)
    assert (s.imported, {m for m, *_ in _plays(db, b)}) == (15, {LB_USER})
    with pytest.raises(Rejected, match=f"^{NO_USER_NAME}$"):
        import_detected(db, b, spotify_zip(tmp_path), now=NOW)
    # A multi-user CSV names its own members: not with a member.
    with pytest.raises(Rejected, match="^csv files carry their own user ids"):
        import_detected(db, b, plays_csv(tmp_path / "plays.csv"), member="m1", now=NOW)
    s = import_detected(db, b, plays_csv(tmp_path / "plays.csv"), now=NOW)
    assert s.imported == 2
    assert {m for m, *_ in _plays(db, b)} == {LB_USER, "ann", "bob"}
    assert len(_plays(db, a)) == 21  # nothing crossed into the other community
    f = tmp_path / "notes.txt"
    f.write_text("name,song\nx,y\n", encoding="utf-8")
    with pytest.raises(UnknownFormat, match="^notes.txt: not a CSV tastemaker reads"):
        import_detected(db, b, f, now=NOW)


def test_a_csv_inside_a_zip(db: Database, tmp_path: Path) -> None:
    c = _community(db, "a")
    z = tmp_path / "scrobbles.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/scrobbles.csv", LASTFM_ROWS)
    s = import_detected(db, c, z, member="ada", now=NOW)
    assert (s.read, s.imported) == (3, 3)
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", PLAYS_CSV)
        zf.writestr("b.csv", PLAYS_CSV)
    with pytest.raises(
        Rejected, match=r"^two.zip holds several CSV files \(a.csv, b.csv\): import them one by one$"
    ):
        import_detected(db, c, two, now=NOW)


def test_spotify_entries_in_the_zip_keep_their_file_name_in_rejects(db: Database, tmp_path: Path) -> None:
    z = tmp_path / "my_spotify_data.zip"
    bad = [*SPOTIFY_AUDIO_0[:1], {"ts": "2024-03-01T08:10:00Z", "ms_played": "long"}]
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/Streaming_History_Audio_2024_0.json", json.dumps(bad))
    s = import_path(db, _community(db, "a"), "spotify", z, member="ada", now=NOW)
    assert (s.imported, s.rejected) == (1, 1)
    assert s.first_rejects == [
        (
            1,
            "Spotify Extended Streaming History/Streaming_History_Audio_2024_0.json: "
            "ms played 'long' is not a whole number of milliseconds",
        )
    ]


def test_a_zip_that_understates_a_size_is_read_no_further_and_reported_damaged(tmp_path: Path) -> None:
    """The cap counts declared sizes: zipfile stops at a member's declared size, then its CRC fails."""
    z = tmp_path / "liar.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("listens/2024/1.jsonl", b"\n" * 1_000_000)
    data = bytearray(z.read_bytes())
    struct.pack_into("<I", data, 22, 1000)  # the local header's uncompressed size
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, 1000)  # the central directory's
    z.write_bytes(bytes(data))
    with zipfile.ZipFile(z) as zf:
        assert zf.infolist()[0].file_size == 1000
    with pytest.raises(Rejected) as raised:
        detect_format(z, max_unpacked=1000)
    assert str(raised.value) == (
        "listens/2024/1.jsonl: the ZIP archive is damaged (Bad CRC-32 for file 'listens/2024/1.jsonl')"
    )


def test_import_detected_reads_the_folder_formats(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "hetrec"
    folder.mkdir()
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13\n", encoding="utf-8")
    (folder / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\t\t\n", encoding="utf-8")
    c = _community(db, "a")
    s = import_detected(db, c, folder, now=NOW)
    assert (s.read, s.imported) == (1, 1)
    assert _plays(db, c) == [("2", "Duran Duran", None, None)]
    packed = tmp_path / "hetrec.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        zf.write(folder / "user_artists.dat", "user_artists.dat")
    with pytest.raises(Rejected, match="^hetrec is read from a folder: unpack the archive"):
        import_path(db, c, "hetrec", packed, now=NOW)
