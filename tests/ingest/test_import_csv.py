from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from ingest.formats import import_path
from storage import catalog
from storage.db import Database
from storage.models import Artist, Member, Play

NOW = dt.datetime(2026, 11, 20, 12, 0)

GOOD_AND_BAD = """user,artist,track,played_at,count
alice,Radiohead,Karma Police,2026-11-19T10:00:00Z,1
alice,radiohead,karma police,2026-11-19T11:00:00+01:00,2
bob,Björk,,,5
bob,,Hyperballad,,1
carol,Björk,Joga,not-a-date,1
carol,Björk,Joga,2026-11-19T10:00:00,0
dave,Portishead,"Glory
Box",2026-11-18T09:00:00,1
erin,Portishead,Roads,2030-01-01T00:00:00,1
,Portishead,Roads,,1
frank,Massive Attack,Teardrop,,x
gina,Massive Attack,Teardrop,,1,extra
bob,Björk,,,5
"""


def _community(db: Database) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", "crew", "crew")


def test_good_rows_bad_rows_and_line_numbers(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "plays.csv"
    f.write_text(GOOD_AND_BAD, encoding="utf-8")
    s = import_path(db, _community(db), "csv", f, now=NOW)
    # The second undated "bob,Björk,,,5" is a second play (one row per listen), not a duplicate.
    assert (s.read, s.imported, s.duplicates, s.rejected) == (12, 5, 0, 7)
    # Multi-line quoted field: line numbers follow the file, not the record count.
    assert [n for n, _ in s.first_rejects] == [5, 6, 7, 10, 11, 12, 13]
    lines = dict(s.first_rejects)
    assert "artist is empty" in lines[5]
    assert "ISO 8601" in lines[6]
    assert "at least 1" in lines[7]
    assert "future" in lines[10]
    assert "user is empty" in lines[11]
    assert "whole number" in lines[12]
    assert "more fields" in lines[13]
    assert s.rejects_file and Path(s.rejects_file).read_text().count("\n") == s.rejected
    with db.read() as conn:
        assert conn.execute(select(func.count(Artist.id))).scalar_one() == 3
        assert conn.execute(select(func.count(Member.id))).scalar_one() == 3
        undated = conn.execute(select(Play.count).where(Play.played_at.is_(None))).scalars().all()
        assert undated == [5, 5]
        # Offsets are converted to UTC.
        times = conn.execute(select(Play.played_at).where(Play.count == 2)).scalars().all()
        assert times == [dt.datetime(2026, 11, 19, 10, 0)]


def test_reimport_adds_nothing(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "plays.csv"
    f.write_text(GOOD_AND_BAD, encoding="utf-8")
    cid = _community(db)
    first = import_path(db, cid, "csv", f, now=NOW)
    second = import_path(db, cid, "csv", f, now=NOW)
    assert first.imported == 5 and second.imported == 0
    assert second.duplicates == first.imported + first.duplicates
    with db.read() as conn:
        assert conn.execute(select(func.count(Play.id))).scalar_one() == 5


def test_identical_undated_rows_are_repeated_listens(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text(
        "user,artist,track\nann,Low,Words\nann,Low,Words\nbob,Low,Words\nann,Low,Words\nann,Low,Lullaby\n",
        encoding="utf-8",
    )
    cid = _community(db)
    first = import_path(db, cid, "csv", f, now=NOW)
    assert (first.read, first.imported, first.duplicates) == (5, 5, 0)
    again = import_path(db, cid, "csv", f, now=NOW)
    assert (again.imported, again.duplicates) == (0, 5)
    # One more listen appended to the log: only that one is new.
    f.write_text(f.read_text(encoding="utf-8") + "ann,Low,Words\n", encoding="utf-8")
    third = import_path(db, cid, "csv", f, now=NOW)
    assert (third.imported, third.duplicates) == (1, 5)
    with db.read() as conn:
        plays = conn.execute(
            select(Member.external_id, func.sum(Play.count)).join(Member).group_by(Member.external_id)
        ).all()
    assert dict(plays) == {"ann": 5, "bob": 1}


def test_repeated_hetrec_pairs_stay_duplicates(db: Database, tmp_path: Path) -> None:
    (tmp_path / "user_artists.dat").write_text(
        "userID\tartistID\tweight\n2\t51\t13\n2\t51\t13\n", encoding="utf-8"
    )
    (tmp_path / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n51\tDuran Duran\t\t\n", encoding="utf-8"
    )
    s = import_path(db, _community(db), "hetrec", tmp_path, now=NOW)
    assert (s.imported, s.duplicates) == (1, 1)


def test_bulk_import_never_fuzzy_merges(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "plays.csv"
    f.write_text("user,artist\na,Lulu\na,Lulú\na,LULU\na,Radiohed\na,Radiohead\n", encoding="utf-8")
    s = import_path(db, _community(db), "csv", f, now=NOW)
    assert s.merged_by_name == 1 and "merged as the same name 1" in s.line()
    with db.read() as conn:
        # Lulú is the same name as Lulu (diacritics only): one entry, under the first spelling. A
        # typo is never merged in bulk (a question needs someone to answer it).
        assert sorted(conn.execute(select(Artist.name)).scalars()) == ["Lulu", "Radiohead", "Radiohed"]


def test_bom_crlf_and_invalid_utf8(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "plays.csv"
    f.write_bytes(b"\xef\xbb\xbfuser,artist\r\na,Abba\r\nb,Bad \xff name\r\n")
    s = import_path(db, _community(db), "csv", f, now=NOW)
    assert (s.imported, s.rejected) == (1, 1)
    assert "UTF-8" in s.first_rejects[0][1] and s.first_rejects[0][0] == 3


def test_cli_summary_and_json(tmp_path: Path, database_url: str) -> None:
    f = tmp_path / "plays.csv"
    f.write_text(GOOD_AND_BAD, encoding="utf-8")
    url = database_url
    cmd = [sys.executable, "-m", "bot.cli", "import", "csv", str(f), "--db", url, "--community", "crew"]
    env = {**os.environ, "COLUMNS": "300"}
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True, env=env)
    summary = json.loads(out.stdout)
    assert (summary["read"], summary["imported"], summary["rejected"]) == (12, 5, 7)
    again = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    assert "imported 0" in again.stdout and "line 5: artist is empty" in again.stderr
    missing = subprocess.run(
        [*cmd[:5], str(tmp_path / "nope.csv"), "--db", url], capture_output=True, text=True, env=env
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("name,song\nx,y\n", encoding="utf-8")
    r = subprocess.run([*cmd[:5], str(bad_header), "--db", url], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "header" in r.stderr
