"""Migration 0006 adds artists.match_key in place and computes it for the rows already stored."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from bot.service import Service, Who
from storage.db import Database
from storage.migrations import alembic_config
from storage.models import Artist, ArtistAlias, Track
from tests.databases import sync_sequences


def test_upgrade_fills_match_keys_and_keeps_every_row(db: Database, service: Service, who: Who) -> None:
    command.downgrade(alembic_config(db.engine), "0005")
    with db.write() as conn:
        conn.execute(text("INSERT INTO artists (id, key, name) VALUES (1, 'blink-182', 'blink-182')"))
        conn.execute(text("INSERT INTO artists (id, key, name) VALUES (2, 'sigur rós', 'Sigur Rós')"))
        conn.execute(text("INSERT INTO artists (id, key, name) VALUES (3, '!!!', '!!!')"))
        conn.execute(text("INSERT INTO tracks (artist_id, key, title) VALUES (1, 'dammit', 'Dammit')"))
        conn.execute(text("INSERT INTO artist_aliases (alias_key, artist_id) VALUES ('blink', 1)"))
        sync_sequences(conn)
    db.upgrade()
    with db.read() as conn:
        assert dict(conn.execute(select(Artist.id, Artist.match_key)).all()) == {
            1: "blink 182",
            2: "sigur ros",
            3: "!!!",
        }
        # Added in place: no table copy, so nothing cascaded away.
        assert conn.execute(select(Track.title)).scalars().all() == ["Dammit"]
        assert conn.execute(select(ArtistAlias.alias_key)).scalars().all() == ["blink"]
    # The same entries (no new rows); this community has no plays of them yet, so its replies show
    # its own spelling rather than the stored one.
    r = service.played(who, "Blink 182 - Dammit")
    assert (r.artist, r.track) == ("Blink 182", "Dammit")
    assert service.played(who, "Blink 182 - Dammit").plays_by_member == 2
    service.played(who, "Sigur Ros")
    with db.read() as conn:
        assert len(conn.execute(select(Artist.id)).all()) == 3
        assert len(conn.execute(select(Track.id)).all()) == 1
    command.downgrade(alembic_config(db.engine), "0005")
    db.upgrade()
