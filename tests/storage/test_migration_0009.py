"""Migration 0009 adds tracks.match_key in place and computes it for the rows already stored."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select, text

from bot.service import Service, Who
from storage.db import Database
from storage.migrations import alembic_config
from storage.models import Play, Track
from tests.databases import sync_sequences

# A database at 0008: artists already have match keys, tracks do not. Tracks 1 and 4 are two
# spellings stored before the rule existed: both keep their rows, the lowest id wins.
AT_0008 = [
    "INSERT INTO communities (id, platform, external_id, name) VALUES (1, 'local', 'c', 'c')",
    "INSERT INTO members (id, community_id, external_id, display_name) VALUES (1, 1, 'm', 'm')",
    "INSERT INTO artists (id, key, name, match_key) VALUES (1, 'the killers', 'The Killers', 'the killers')",
    "INSERT INTO artists (id, key, name, match_key) VALUES (2, 'pink floyd', 'Pink Floyd', 'pink floyd')",
    "INSERT INTO tracks (id, artist_id, key, title) VALUES (1, 1, 'mr. brightside', 'Mr. Brightside')",
    "INSERT INTO tracks (id, artist_id, key, title) "
    "VALUES (2, 2, 'another brick in the wall, pt. 1', 'Another Brick in the Wall, Pt. 1')",
    "INSERT INTO tracks (id, artist_id, key, title) "
    "VALUES (3, 2, 'another brick in the wall, pt. 2', 'Another Brick in the Wall, Pt. 2')",
    "INSERT INTO tracks (id, artist_id, key, title) VALUES (4, 1, 'mr brightside', 'Mr Brightside')",
    "INSERT INTO plays (community_id, member_id, artist_id, track_id, count, source, dedupe_key) "
    "VALUES (1, 1, 1, 1, 1, 'local', 'p1')",
]


def test_upgrade_fills_track_match_keys_and_keeps_every_row(db: Database, service: Service, who: Who) -> None:
    command.downgrade(alembic_config(db.engine), "0008")
    with db.write() as conn:
        for sql in AT_0008:
            conn.execute(text(sql))
        sync_sequences(conn)
    db.upgrade()
    with db.read() as conn:
        assert dict(conn.execute(select(Track.id, Track.match_key)).all()) == {
            1: "mr brightside",
            2: "another brick in the wall pt 1",
            3: "another brick in the wall pt 2",
            4: "mr brightside",
        }
        # Added in place: no table copy, so nothing cascaded away and the plays keep their track.
        assert conn.execute(select(Play.track_id)).scalars().all() == [1]
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("tracks")}
        assert indexes["ix_tracks_artist_id_match_key"] == ["artist_id", "match_key"]
    # Another spelling of a backfilled title is the stored entry with the lowest id.
    service.played(who, "The Killers - MR BRIGHTSIDE!")
    service.played(who, "Pink Floyd - Another Brick in the Wall Pt 2")
    with db.read() as conn:
        assert sorted(conn.execute(select(Play.track_id)).scalars()) == [1, 1, 3]
        assert len(conn.execute(select(Track.id)).all()) == 4
    command.downgrade(alembic_config(db.engine), "0008")
    with db.read() as conn:
        assert "match_key" not in {c["name"] for c in inspect(conn).get_columns("tracks")}
        assert len(conn.execute(text("SELECT id FROM tracks")).all()) == 4
    db.upgrade()
