"""storage.visibility.VisibleItems, the per-process cache of what a community may be shown: brought
up to date by each look (a new play here shows its items, another community's play does not, a
removed play and a community made public rebuild the entry), the same through ``get_many`` as
through ``get``, with two communities side by side."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import Connection

from storage import catalog, removals, visibility
from storage.db import Database

NOW = dt.datetime(2026, 11, 20, 12, 0)
_keys = itertools.count()


def _play(conn: Connection, community: int, member: int, artist: str, track: str) -> tuple[int, int, int]:
    a = catalog.create_artist(conn, artist, artist.lower())
    t = catalog.create_track(conn, a.id, track, track.lower())
    pid, _ = catalog.add_play(
        conn,
        community=community,
        member=member,
        artist=a.id,
        track=t.id,
        played_at=NOW,
        count=1,
        source="test",
        dedupe_key=f"test:{next(_keys)}",
    )
    return pid, a.id, t.id


def test_the_cache_follows_plays_removals_and_public_communities(db: Database) -> None:
    cache = visibility.VisibleItems()
    with db.write() as conn:
        here = catalog.community_id(conn, "local", "here", "here")
        there = catalog.community_id(conn, "local", "there", "there")
        me = catalog.member_id(conn, here, "me", "me")
        them = catalog.member_id(conn, there, "them", "them")
        _p, own_a, own_t = _play(conn, here, me, "Ours", "Song")

    def seen(community: int) -> tuple[set[int], set[int]]:
        with db.read() as conn:
            artists, tracks = cache.get_many(conn, community, ("artist", "track"))
            assert list(artists) == list(cache.get(conn, community, "artist"))
            assert list(tracks) == list(cache.get(conn, community, "track"))
            assert list(artists) == list(visibility.visible_items(conn, community, "artist"))
            assert list(tracks) == list(visibility.visible_items(conn, community, "track"))
        return {int(i) for i in artists}, {int(i) for i in tracks}

    assert seen(here) == ({own_a}, {own_t})
    with db.write() as conn:  # another community's play: not shown here
        _p, their_a, their_t = _play(conn, there, them, "Theirs", "Tune")
    assert seen(here) == ({own_a}, {own_t})
    assert seen(there) == ({their_a}, {their_t})
    with db.write() as conn:  # played here too: shown here from now on
        pid, _a, _t = _play(conn, here, me, "Theirs", "Tune")
    assert seen(here) == ({own_a, their_a}, {own_t, their_t})
    with db.write() as conn:  # removed again: gone
        assert removals.remove(conn, me, pid, NOW)[0] == removals.REMOVED
    assert seen(here) == ({own_a}, {own_t})
    with db.write() as conn:  # the other community made public: its items are shown here
        visibility.set_public(conn, there, True)
    assert seen(here) == ({own_a, their_a}, {own_t, their_t})
    assert seen(there) == ({their_a}, {their_t})  # and not the other way round
