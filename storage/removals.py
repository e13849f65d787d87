"""Removed plays: a member takes a play back (/undo, /plays), and the batch subtracts it exactly once.

A removed play keeps its row, marked ``removed``, and gets a :class:`~storage.models.PlayRemoval`.
Everything a member is shown reads only plays that are not removed. The trend fold adds every play
(removed or not: it cannot know what was removed while it ran), and the batch's removal step then
subtracts each removed play it has already folded, in one transaction per chunk that also marks
those removals ``folded`` — so a crash anywhere leaves either both or neither, and a rerun subtracts
only what is left.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from storage.models import (
    PLAY_FOLD_COLUMNS,
    UNDATED,
    Artist,
    DailyCount,
    DailyListener,
    Play,
    PlayRemoval,
    Track,
    Watermark,
)
from storage.trends import TRENDS_WATERMARK, CountRow, Fault, PresenceRow, no_fault


@dataclass(frozen=True)
class LoggedPlay:
    """One of a member's plays, as they logged or imported it."""

    id: int
    artist: str
    track: str | None
    played_at: dt.datetime | None
    count: int
    source: str

    @property
    def what(self) -> str:
        return f"{self.artist} – {self.track}" if self.track else self.artist


REMOVED = "removed"
ALREADY_REMOVED = "already removed"
NOT_FOUND = "not found"  # no such play, or another member's


def _logged(member: int) -> Select:
    return (
        select(Play.id, Artist.name, Track.title, Play.played_at, Play.count, Play.source, Play.removed)
        .join(Artist, Artist.id == Play.artist_id)
        .outerjoin(Track, Track.id == Play.track_id)
        .where(Play.member_id == member)
    )


def _row(r: Row) -> LoggedPlay:
    return LoggedPlay(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5])


def last_logged(conn: Connection, member: int, limit: int) -> list[LoggedPlay]:
    """The member's plays that are not removed, the last logged (or imported) first."""
    rows = conn.execute(_logged(member).where(Play.removed.is_(False)).order_by(Play.id.desc()).limit(limit))
    return [_row(r) for r in rows]


def remove(conn: Connection, member: int, play_id: int, now: dt.datetime) -> tuple[str, LoggedPlay | None]:
    """Remove one of ``member``'s plays. Returns ``(outcome, play)``: :data:`REMOVED`,
    :data:`ALREADY_REMOVED` (a second press: nothing changes) or :data:`NOT_FOUND` (no such play of
    this member: nothing changes, and nothing says whether it is someone else's)."""
    row = conn.execute(_logged(member).where(Play.id == play_id)).first()
    if row is None:
        return NOT_FOUND, None
    play = _row(row)
    # The conditional UPDATE decides between two presses racing each other: one of them wins.
    moved = conn.execute(
        update(Play).where(Play.id == play_id, Play.removed.is_(False)).values(removed=True)
    ).rowcount
    if moved != 1:
        return ALREADY_REMOVED, play
    conn.execute(insert(PlayRemoval).values(play_id=play_id, member_id=member, removed_at=now))
    return REMOVED, play


def remove_ids(conn: Connection, member: int, ids: Sequence[int], now: dt.datetime) -> None:
    """Remove ``member``'s plays ``ids`` (none removed yet) in bulk, as :func:`remove` removes one:
    each is marked ``removed`` and gets a :class:`~storage.models.PlayRemoval`, in the caller's
    transaction."""
    if not ids:
        return
    conn.execute(update(Play).where(Play.id.in_(list(ids))).values(removed=True))
    conn.execute(insert(PlayRemoval), [{"play_id": i, "member_id": member, "removed_at": now} for i in ids])


def remove_all(conn: Connection, member: int, now: dt.datetime, limit: int) -> list[int]:
    """Remove up to ``limit`` of ``member``'s plays not removed yet (oldest id first), as
    :func:`remove_ids` does. Returns their ids: fewer than ``limit`` means none is left."""
    ids = list(
        conn.execute(
            select(Play.id)
            .where(Play.member_id == member, Play.removed.is_(False))
            .order_by(Play.id)
            .limit(limit)
        ).scalars()
    )
    remove_ids(conn, member, ids, now)
    return ids


def removal_high(conn: Connection) -> int:
    """The newest removal's id (0 before the first)."""
    return int(conn.execute(select(func.coalesce(func.max(PlayRemoval.id), 0))).scalar_one())


def removed_since(conn: Connection, member: int, after_removal: int) -> bool:
    """Whether ``member`` removed a play after removal ``after_removal``."""
    return (
        conn.execute(
            select(PlayRemoval.id)
            .where(PlayRemoval.member_id == member, PlayRemoval.id > after_removal)
            .limit(1)
        ).first()
        is not None
    )


# --- the batch's side --------------------------------------------------------------------------


class RemovalsMoved(RuntimeError):
    """Another batch subtracted some of these removals first; this transaction rolls back."""


def pending(conn: Connection, upto_play: int, limit: int) -> list[tuple]:
    """Removals the aggregates still count: ``(removal id, play id, community, member, artist,
    track, played_at, count)`` of removed plays the fold has added (id ≤ ``upto_play``), oldest first."""
    stmt = (
        select(PlayRemoval.id, *PLAY_FOLD_COLUMNS)
        .join(Play, Play.id == PlayRemoval.play_id)
        .where(PlayRemoval.folded.is_(False), Play.id <= upto_play)
        .order_by(PlayRemoval.id)
        .limit(limit)
    )
    return [tuple(r) for r in conn.execute(stmt)]


def _day_filter(day: dt.date) -> ColumnElement[bool]:
    if day == UNDATED:
        return Play.played_at.is_(None)
    start = dt.datetime.combine(day, dt.time())
    return and_(Play.played_at >= start, Play.played_at < start + dt.timedelta(days=1))


def subtract(
    conn: Connection,
    removal_ids: Sequence[int],
    counts: Sequence[CountRow],
    presence: Sequence[PresenceRow],
    fault: Fault = no_fault,
) -> int:
    """Take removed plays out of the trend aggregates, in the caller's transaction: ``counts`` and
    ``presence`` are the removed plays' own deltas (what the fold added for them). Marks the removals
    folded first and raises :class:`RemovalsMoved` (caller rolls back) if any already was. A member's
    presence row goes only when none of their plays still counted in that bucket remain. Returns the
    number of presence rows removed."""
    marked = conn.execute(
        update(PlayRemoval)
        .where(PlayRemoval.id.in_(list(removal_ids)), PlayRemoval.folded.is_(False))
        .values(folded=True)
    ).rowcount
    if marked != len(removal_ids):
        raise RemovalsMoved(
            f"{len(removal_ids) - marked} of {len(removal_ids)} removals were already subtracted"
        )
    folded_upto = int(
        conn.execute(select(Watermark.last_play_id).where(Watermark.job == TRENDS_WATERMARK)).scalar_one()
    )
    # Which (kind, day, item, member) buckets lose their member: the same answer for the community
    # scope and the global one (a member belongs to one community).
    gone: set[tuple[str, dt.date, int, int]] = set()
    for kind, day, item, member in sorted({(k, d, i, m) for _s, k, d, i, m in presence}):
        col = Play.artist_id if kind == "artist" else Play.track_id
        subtracted = select(PlayRemoval.play_id).where(
            PlayRemoval.member_id == member, PlayRemoval.folded.is_(True)
        )
        still = conn.execute(
            select(Play.id)
            .where(
                Play.member_id == member,
                col == item,
                _day_filter(day),
                Play.id <= folded_upto,
                Play.id.not_in(subtracted),
            )
            .limit(1)
        ).first()
        if still is None:
            gone.add((kind, day, item, member))
    lost: dict[tuple[int, str, dt.date, int], int] = defaultdict(int)
    drop = [(s, k, d, i, m) for s, k, d, i, m in presence if (k, d, i, m) in gone]
    if drop:
        conn.execute(
            delete(DailyListener).where(
                DailyListener.scope == bindparam("s"),
                DailyListener.kind == bindparam("k"),
                DailyListener.day == bindparam("d"),
                DailyListener.item_id == bindparam("i"),
                DailyListener.member_id == bindparam("m"),
            ),
            [{"s": s, "k": k, "d": d, "i": i, "m": m} for s, k, d, i, m in drop],
        )
        for s, k, d, i, _m in drop:
            lost[(s, k, d, i)] += 1
    fault("removals-mid-merge")
    key = and_(
        DailyCount.scope == bindparam("s"),
        DailyCount.kind == bindparam("k"),
        DailyCount.day == bindparam("d"),
        DailyCount.item_id == bindparam("i"),
    )
    params = [
        {"s": s, "k": k, "d": d, "i": i, "p": p, "l": lost.get((s, k, d, i), 0)} for s, k, d, i, p in counts
    ]
    if params:
        conn.execute(
            update(DailyCount)
            .where(key)
            .values(plays=DailyCount.plays - bindparam("p"), listeners=DailyCount.listeners - bindparam("l")),
            params,
        )
        # A bucket with no plays left is no bucket: a from-scratch fold would not have it.
        conn.execute(delete(DailyCount).where(key, DailyCount.plays <= 0), params)
    return sum(lost.values())


def reset_folded(conn: Connection) -> None:
    """With the trend aggregates and their watermark cleared (a from-scratch refold), every removal
    is to be subtracted again."""
    conn.execute(update(PlayRemoval).values(folded=False))
