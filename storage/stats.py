"""Per-member figures of one community: who knows an artist, a member's chart, recent plays, profile.

Every query here reads only the plays of one community (``plays.community_id``) that are not
removed; nothing crosses communities. Privacy (who may be named) is the service's decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from storage.models import Artist, Member, Play, Track


@dataclass(frozen=True)
class MemberRow:
    member: int
    external_id: str
    display_name: str
    plays: int
    last_played: dt.datetime | None


def _item_col(kind: str) -> Any:
    if kind not in ("artist", "track"):
        raise ValueError(f"unknown kind {kind!r}")
    return Play.artist_id if kind == "artist" else Play.track_id


def listeners_of(conn: Connection, community: int, kind: str, item: int) -> list[MemberRow]:
    """Every member of ``community`` who played ``item``, most plays first (then the most recent,
    then the member id: a stable order for ties)."""
    col = _item_col(kind)
    plays = func.sum(Play.count).label("plays")
    last = func.max(Play.played_at).label("last")
    rows = conn.execute(
        select(Member.id, Member.external_id, Member.display_name, plays, last)
        .join(Member, Member.id == Play.member_id)
        .where(Play.community_id == community, col == item, Play.removed.is_(False))
        .group_by(Member.id, Member.external_id, Member.display_name)
    ).all()
    out = [MemberRow(int(m), str(e), str(n), int(p), lp) for m, e, n, p, lp in rows]
    out.sort(key=lambda r: (-r.plays, -(r.last_played or dt.datetime.min).timestamp(), r.member))
    return out


def member_top(
    conn: Connection, member: int, kind: str, since: dt.datetime | None, limit: int
) -> list[tuple[int, int]]:
    """``(item, plays)`` of the member's most played ``kind`` items since ``since`` (all time when
    ``None``, undated imports included), most played first, ties by item id."""
    col = _item_col(kind)
    plays = func.sum(Play.count)
    stmt = select(col, plays).where(Play.member_id == member, col.is_not(None), Play.removed.is_(False))
    if since is not None:
        stmt = stmt.where(Play.played_at >= since)
    rows = conn.execute(stmt.group_by(col).order_by(plays.desc(), col).limit(limit)).all()
    return [(int(i), int(p)) for i, p in rows]


@dataclass(frozen=True)
class RecentPlay:
    artist: str
    track: str | None
    played_at: dt.datetime | None
    count: int


def member_recent(conn: Connection, member: int, limit: int) -> list[RecentPlay]:
    """The member's plays by when they were played (newest first; undated imports last)."""
    rows = conn.execute(
        select(Artist.name, Track.title, Play.played_at, Play.count)
        .join(Artist, Artist.id == Play.artist_id)
        .outerjoin(Track, Track.id == Play.track_id)
        .where(Play.member_id == member, Play.removed.is_(False))
        .order_by(Play.played_at.is_(None), Play.played_at.desc(), Play.id.desc())
        .limit(limit)
    ).all()
    return [RecentPlay(a, t, at, int(c)) for a, t, at, c in rows]


@dataclass(frozen=True)
class Totals:
    plays: int
    artists: int
    tracks: int
    first_played: dt.datetime | None
    last_played: dt.datetime | None


def member_totals(conn: Connection, member: int) -> Totals:
    row = conn.execute(
        select(
            func.coalesce(func.sum(Play.count), 0),
            func.count(func.distinct(Play.artist_id)),
            func.count(func.distinct(Play.track_id)),
            func.min(Play.played_at),
            func.max(Play.played_at),
        ).where(Play.member_id == member, Play.removed.is_(False))
    ).one()
    return Totals(int(row[0]), int(row[1]), int(row[2]), row[3], row[4])


def has_plays(conn: Connection, member: int) -> bool:
    """Whether the member has any play here that was not removed."""
    return (
        conn.execute(
            select(Play.id).where(Play.member_id == member, Play.removed.is_(False)).limit(1)
        ).first()
        is not None
    )


def member_days(conn: Connection, member: int) -> list[dt.date]:
    """The distinct UTC days the member played on, oldest first (for streaks)."""
    days = {
        at.date()
        for at in conn.execute(
            select(Play.played_at)
            .where(Play.member_id == member, Play.removed.is_(False), Play.played_at.is_not(None))
            .distinct()
        ).scalars()
        if at is not None
    }
    return sorted(days)


def streaks(days: list[dt.date], today: dt.date) -> tuple[int, int]:
    """``(current, longest)`` runs of consecutive days. The current run counts while it ends today
    or yesterday (today is not over yet)."""
    longest = run = 0
    prev: dt.date | None = None
    for d in days:
        run = run + 1 if prev is not None and d - prev == dt.timedelta(days=1) else 1
        longest = max(longest, run)
        prev = d
    current = run if prev is not None and (today - prev).days <= 1 else 0
    return current, longest


@dataclass(frozen=True)
class MemberInfo:
    id: int
    external_id: str
    display_name: str
    private: bool


def member_info(conn: Connection, community: int, external_id: str) -> MemberInfo | None:
    row = conn.execute(
        select(Member.id, Member.external_id, Member.display_name, Member.private).where(
            Member.community_id == community, Member.external_id == external_id
        )
    ).first()
    return MemberInfo(int(row[0]), str(row[1]), str(row[2]), bool(row[3])) if row else None


def private_members(conn: Connection, community: int) -> set[int]:
    return set(
        conn.execute(
            select(Member.id).where(Member.community_id == community, Member.private.is_(True))
        ).scalars()
    )


def set_private(conn: Connection, member: int, private: bool) -> None:
    conn.execute(update(Member).where(Member.id == member).values(private=private))
