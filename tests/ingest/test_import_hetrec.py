"""The real HetRec 2011 Last.fm-2k data (../shared/data/lastfm-2k, never copied into the repo):
every one of the 92,834 user–artist pairs lands, and a second import adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from ingest.formats import import_path
from storage import catalog
from storage.db import Database
from storage.models import Artist, Member, Play
from tests.conftest import HETREC_DIR, requires_hetrec

pytestmark = [pytest.mark.hetrec, requires_hetrec]

NOW = dt.datetime(2026, 11, 20, 12, 0)


def test_full_hetrec_import_and_reimport(db: Database) -> None:
    with db.write() as conn:
        cid = catalog.community_id(conn, "local", "hetrec", "hetrec")
    first = import_path(db, cid, "hetrec", HETREC_DIR, now=NOW)
    assert (first.read, first.imported, first.duplicates, first.rejected) == (92_834, 92_834, 0, 0)
    # 18 HetRec ids share a catalog key with a smaller id (14 case/width collisions such as
    # Red/ＲＥＤ, 3 names that differ only by a private-use character): their 22 pairs are kept as
    # plays of the merged artist and counted, so the figures stay honest.
    assert first.merged_by_key == 22
    assert first.merged_by_name == 273  # the pairs of the 73 same-name spellings below, counted too
    with db.read() as conn:
        members = conn.execute(select(func.count(Member.id)).where(Member.community_id == cid)).scalar_one()
        plays = conn.execute(select(func.count(Play.id))).scalar_one()
        listens = conn.execute(select(func.sum(Play.count))).scalar_one()
        artists = conn.execute(select(func.count(Artist.id))).scalar_one()
        pairs = conn.execute(
            select(func.count()).select_from(select(Play.member_id, Play.artist_id).distinct().subquery())
        ).scalar_one()
        undated = conn.execute(select(func.count(Play.id)).where(Play.played_at.is_(None))).scalar_one()
    assert (members, plays, undated) == (1_892, 92_834, 92_834)
    assert listens == 69_183_975  # every weight, summed
    # … and 73 more are the same name under another spelling (storage.names.match_key: Blink 182 /
    # blink-182, Sigur-Rós-style diacritics, Mary J. Blige / Mary J Blige …): one entry each.
    assert artists == 17_632 - 18 - 73
    assert pairs == 92_834 - 8 - 31  # users who listened to two spellings of one merged artist
    second = import_path(db, cid, "hetrec", HETREC_DIR, now=NOW)
    assert (second.imported, second.duplicates, second.rejected) == (0, 92_834, 0)
    with db.read() as conn:
        assert conn.execute(select(func.count(Play.id))).scalar_one() == 92_834
