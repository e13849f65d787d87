"""Per-member figures of one community: who knows an artist, a member's chart, recent plays, profile.

Every query here reads only the plays of one community (``plays.community_id``) that are not
removed; nothing crosses communities. Privacy (who may be named) is the service's decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Date, func, select, update

from storage.models import Artist, Member, Play, Track


@dataclass(frozen=True)
class MemberRow:
    member: int
    external_id: str
    display_name: str
    plays: int
    last_played: dt.datetime | None
    private: bool = False


@dataclass(frozen=True)
class Listeners:
    """Who played an item here: the first listeners in rank order, one member's own rank, totals."""

    top: list[MemberRow]
    member: tuple[int, MemberRow] | None  # (rank, row) of the member asked about, if a listener
    listeners: int
    plays: int


def _item_col(kind: str) -> Any:
    if kind not in ("artist", "track"):
        raise ValueError(f"unknown kind {kind!r}")
    return Play.artist_id if kind == "artist" else Play.track_id


def listeners_of(
    conn: Connection, community: int, kind: str, item: int, limit: int, member: int | None = None
) -> Listeners:
    """The members of ``community`` who played ``item``, most plays first (then the most recent,
    then the member id: a stable order for ties): the first ``limit`` with their names, and
    ``member``'s own rank and row wherever they rank.

    Every listener is ranked in one pass over the ``(community, item)`` index; names and last plays
    are read for the members shown only."""
    col = _item_col(kind)
    plays = func.sum(Play.count)
    where = (Play.community_id == community, col == item, Play.removed.is_(False))
    ranked = conn.execute(
        select(Play.member_id, plays)
        .where(*where)
        .group_by(Play.member_id)
        .order_by(plays.desc(), func.max(Play.played_at).desc().nulls_last(), Play.member_id)
    ).all()
    rank = None
    if member is not None:
        rank = next((n for n, (m, _) in enumerate(ranked, 1) if m == member), None)
    shown = [int(m) for m, _ in ranked[:limit]]
    if member is not None and rank is not None and rank > limit:
        shown.append(member)
    rows = _listener_rows(conn, where, shown)
    return Listeners(
        top=[rows[m] for m in shown[:limit]],
        member=(rank, rows[member]) if member is not None and rank is not None else None,
        listeners=len(ranked),
        plays=sum(int(p) for _, p in ranked),
    )


def _listener_rows(conn: Connection, where: tuple[Any, ...], members: list[int]) -> dict[int, MemberRow]:
    """Names, privacy, plays and last play of ``members`` among an item's listeners (``where``)."""
    if not members:
        return {}
    rows = conn.execute(
        select(
            Member.id,
            Member.external_id,
            Member.display_name,
            Member.private,
            func.sum(Play.count),
            func.max(Play.played_at),
        )
        .join(Member, Member.id == Play.member_id)
        .where(*where, Play.member_id.in_(members))
        .group_by(Member.id, Member.external_id, Member.display_name, Member.private)
    )
    return {int(m): MemberRow(int(m), str(e), str(n), int(p), lp, bool(pr)) for m, e, n, pr, p, lp in rows}


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
    """The member's plays by when they were played (newest first; undated imports last, newest
    logged first). Both parts are read in index order: the dated plays, then the undated ones only
    when there are fewer than ``limit`` dated."""
    base = (
        select(Artist.name, Track.title, Play.played_at, Play.count)
        .join(Artist, Artist.id == Play.artist_id)
        .outerjoin(Track, Track.id == Play.track_id)
        .where(Play.member_id == member, Play.removed.is_(False))
    )
    rows = list(
        conn.execute(
            base.where(Play.played_at.is_not(None))
            .order_by(Play.played_at.desc(), Play.id.desc())
            .limit(limit)
        )
    )
    if len(rows) < limit:
        rows += conn.execute(
            base.where(Play.played_at.is_(None)).order_by(Play.id.desc()).limit(limit - len(rows))
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
    """Plays, distinct artists and tracks, first and last play of the member: the per-artist sums
    and the distinct tracks are streamed from the member's covering indexes, the first and last
    play are two index seeks."""
    mine = (Play.member_id == member, Play.removed.is_(False))
    per_artist = select(func.sum(Play.count).label("plays")).where(*mine).group_by(Play.artist_id).subquery()
    tracks = select(Play.track_id).where(*mine, Play.track_id.is_not(None)).distinct().subquery()
    dated = (*mine, Play.played_at.is_not(None))
    row = conn.execute(
        select(
            func.coalesce(func.sum(per_artist.c.plays), 0),
            func.count(),
            select(func.count()).select_from(tracks).scalar_subquery(),
            select(func.min(Play.played_at)).where(*dated).scalar_subquery(),
            select(func.max(Play.played_at)).where(*dated).scalar_subquery(),
        ).select_from(per_artist)
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
    """The distinct UTC days the member played on, oldest first (for streaks): computed in the
    database from the member's time-ordered index, so only the days (not every play) come back."""
    day = func.date(Play.played_at, type_=Date)
    return list(
        conn.execute(
            select(day)
            .where(Play.member_id == member, Play.removed.is_(False), Play.played_at.is_not(None))
            .distinct()
            .order_by(day)
        ).scalars()
    )


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


def set_private(conn: Connection, member: int, private: bool) -> None:
    conn.execute(update(Member).where(Member.id == member).values(private=private))
