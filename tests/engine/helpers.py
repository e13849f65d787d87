"""Helpers for engine tests: write plays straight through the storage layer."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select

from storage import catalog
from storage.db import Database
from storage.models import GLOBAL_SCOPE, UNDATED, Play
from storage.names import normalise


def add_plays(
    db: Database,
    rows: list[tuple[str, str, str, str | None, dt.datetime | None, int]],
    *,
    tag: str = "t",
) -> None:
    """``(community, member, artist, track, played_at, count)`` rows, one transaction."""
    with db.write() as conn:
        for n, (comm, member, artist, track, at, count) in enumerate(rows):
            cid = catalog.community_id(conn, "local", comm, comm)
            mid = catalog.member_id(conn, cid, member, member)
            a = catalog.resolve_artist(conn, artist, normalise(artist))
            t = catalog.resolve_track(conn, a.id, track, normalise(track)) if track else None
            catalog.add_play(
                conn,
                community=cid,
                member=mid,
                artist=a.id,
                track=t.id if t else None,
                played_at=at,
                count=count,
                source="test",
                dedupe_key=f"{tag}:{n}",
            )


def reference_aggregates(db: Database) -> tuple[list[tuple], list[tuple]]:
    """The trend aggregates recomputed in plain Python from every play not removed (the from-scratch
    answer)."""
    plays: dict[tuple, int] = defaultdict(int)
    members: dict[tuple, set[int]] = defaultdict(set)
    with db.read() as conn:
        rows = conn.execute(
            select(
                Play.community_id, Play.member_id, Play.artist_id, Play.track_id, Play.played_at, Play.count
            ).where(Play.removed.is_(False))
        ).all()
    for comm, member, artist, track, at, count in rows:
        day = at.date() if at else UNDATED
        for scope in (comm, GLOBAL_SCOPE):
            for kind, item in (("artist", artist), ("track", track)):
                if item is None:
                    continue
                plays[(scope, kind, day, item)] += count
                members[(scope, kind, day, item)].add(member)
    counts = sorted((*k, p, len(members[k])) for k, p in plays.items())
    presence = sorted((*k, m) for k, ms in members.items() for m in ms)
    return counts, presence
