"""Trend aggregates: the batch's exactly-once merge and the window queries that answer /trending.

Aggregates are kept per scope (community id, or 0 for global) × UTC day × kind × item. Distinct
listeners cannot be summed across batches or days, so ``daily_listeners`` keeps one presence row per
member × scope × day × kind × item; the merge adds to ``listeners`` only the presence rows that are
new, and multi-day windows count distinct members over presence rows — both without raw plays.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from storage.models import UNDATED, DailyCount, DailyListener, Watermark
from storage.sql import upsert_insert

CountRow = tuple[int, str, dt.date, int, int]  # scope, kind, day, item, plays
PresenceRow = tuple[int, str, dt.date, int, int]  # scope, kind, day, item, member
Fault = Callable[[str], None]

_CHUNK = 2000


class WatermarkMoved(RuntimeError):
    """Another batch committed first; this batch's deltas were rolled back."""


# The watermark of the trend fold: what the batch has folded, and where the pending tail starts.
TRENDS_WATERMARK = "trends"


def no_fault(_point: str) -> None:
    """The default crash-injection hook: no crash."""
    return None


def watermark(conn: Connection, job: str) -> tuple[int, int]:
    """``(last_play_id, batches)`` for ``job``; ``(0, 0)`` before its first batch."""
    row = conn.execute(select(Watermark.last_play_id, Watermark.batches).where(Watermark.job == job)).first()
    return (row[0], row[1]) if row else (0, 0)


def merge_batch(
    conn: Connection,
    job: str,
    expected: int,
    high: int,
    counts: Sequence[CountRow],
    presence: Sequence[PresenceRow],
    fault: Fault = no_fault,
    *,
    counts_as_batch: bool = True,
) -> int:
    """Fold one batch's deltas in and move the watermark ``expected -> high``, all in the caller's
    transaction. Raises :class:`WatermarkMoved` (caller rolls back) if the watermark is not
    ``expected`` any more. Returns the number of new presence rows. ``counts_as_batch``: add one to
    the watermark's batch counter (the retrain cadence); a batch merged in several parts counts once."""
    conn.execute(
        upsert_insert(conn, Watermark).values(job=job, last_play_id=0, batches=0).on_conflict_do_nothing()
    )
    moved = conn.execute(
        update(Watermark)
        .where(Watermark.job == job, Watermark.last_play_id == expected)
        .values(last_play_id=high, batches=Watermark.batches + (1 if counts_as_batch else 0))
    )
    if moved.rowcount != 1:
        raise WatermarkMoved(f"watermark of {job!r} is no longer {expected}")

    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        return _merge_copy(conn, counts, presence, fault)

    # Presence first: RETURNING yields exactly the rows that were new, i.e. the listener deltas.
    new_listeners: dict[tuple[int, str, dt.date, int], int] = defaultdict(int)
    ins = upsert_insert(conn, DailyListener).on_conflict_do_nothing()
    ins = ins.returning(DailyListener.scope, DailyListener.kind, DailyListener.day, DailyListener.item_id)
    for start in range(0, len(presence), _CHUNK):
        params = [
            {"scope": s, "kind": k, "day": d, "item_id": i, "member_id": m}
            for s, k, d, i, m in presence[start : start + _CHUNK]
        ]
        for s, k, d, i in conn.execute(ins, params):
            new_listeners[(s, k, d, i)] += 1
        fault("mid-merge")
    fault("after-staging")

    upsert = upsert_insert(conn, DailyCount)
    upsert = upsert.on_conflict_do_update(
        index_elements=["scope", "kind", "day", "item_id"],
        set_={
            "plays": DailyCount.plays + upsert.excluded.plays,
            "listeners": DailyCount.listeners + upsert.excluded.listeners,
        },
    )
    rows = [
        {
            "scope": s,
            "kind": k,
            "day": d,
            "item_id": i,
            "plays": p,
            "listeners": new_listeners.get((s, k, d, i), 0),
        }
        for s, k, d, i, p in counts
    ]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(upsert, rows[start : start + _CHUNK])
    return sum(new_listeners.values())


# Staging tables of the Postgres merge: private to the session, gone at the end of the transaction.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS merge_presence
    (scope integer, kind text, day date, item_id integer, member_id integer) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS merge_counts
    (scope integer, kind text, day date, item_id integer, plays bigint) ON COMMIT DROP;
TRUNCATE merge_presence, merge_counts
"""

# One statement: the presence rows that are new (RETURNING) become the listener deltas of the
# count upsert; the result is how many were new.
_FOLD = """
WITH new AS (
    INSERT INTO daily_listeners (scope, kind, day, item_id, member_id)
    SELECT scope, kind, day, item_id, member_id FROM merge_presence
    ORDER BY scope, kind, day, item_id, member_id
    ON CONFLICT DO NOTHING
    RETURNING scope, kind, day, item_id
), listeners AS (
    SELECT scope, kind, day, item_id, count(*) AS n FROM new GROUP BY scope, kind, day, item_id
), folded AS (
    INSERT INTO daily_counts (scope, kind, day, item_id, plays, listeners)
    SELECT c.scope, c.kind, c.day, c.item_id, c.plays, coalesce(l.n, 0)
    FROM merge_counts c LEFT JOIN listeners l USING (scope, kind, day, item_id)
    ORDER BY c.scope, c.kind, c.day, c.item_id
    ON CONFLICT (scope, kind, day, item_id) DO UPDATE SET
        plays = daily_counts.plays + excluded.plays,
        listeners = daily_counts.listeners + excluded.listeners
)
SELECT count(*) FROM new
"""


def _merge_copy(
    conn: Connection, counts: Sequence[CountRow], presence: Sequence[PresenceRow], fault: Fault
) -> int:
    """:func:`merge_batch`'s deltas on Postgres (psycopg): ``COPY`` both into temporary tables, then
    one set-based statement folds them in. Row-by-row upserts (even batched into multi-row
    ``VALUES``) cost ~5x SQLite's time here; this is within ~1.5x (bench/merge_backends.py)."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(_STAGE)
        with cur.copy("COPY merge_presence FROM STDIN") as copy:
            for row in presence:
                copy.write_row(row)
        fault("mid-merge")
        with cur.copy("COPY merge_counts FROM STDIN") as copy:
            for row in counts:
                copy.write_row(row)
        fault("after-staging")
        cur.execute(_FOLD)
        (new,) = cur.fetchone()
    return int(new)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowRow:
    item_id: int
    plays: int
    listeners: int


def window_days(window: str, today: dt.date) -> tuple[dt.date, dt.date, dt.date | None, dt.date | None]:
    """``(start, end, prev_start, prev_end)`` day buckets (inclusive) for a named window.

    Windows are UTC-day aligned: ``24h`` is today's bucket plus yesterday's, ``7d`` today plus the 7
    days before, and so on; the previous window is the equal span just before. ``all`` includes
    undated plays and has no previous window.
    """
    if window == "all":
        return UNDATED, dt.date.max, None, None
    n = {"24h": 1, "7d": 7, "30d": 30}[window]
    start = today - dt.timedelta(days=n)
    prev_end = start - dt.timedelta(days=1)
    prev_start = prev_end - dt.timedelta(days=n)
    return start, today, prev_start, prev_end


def window_totals(
    conn: Connection, scope: int, kind: str, start: dt.date, end: dt.date, *, limit: int | None = None
) -> list[WindowRow]:
    """Items ranked by plays (then listeners, then id) in ``[start, end]``."""
    plays = func.sum(DailyCount.plays).label("plays")
    stmt = (
        select(DailyCount.item_id, plays)
        .where(DailyCount.scope == scope, DailyCount.kind == kind, DailyCount.day.between(start, end))
        .group_by(DailyCount.item_id)
        .order_by(plays.desc(), DailyCount.item_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    ranked = [(int(i), int(p)) for i, p in conn.execute(stmt)]
    listeners = window_listeners(conn, scope, kind, start, end, [i for i, _ in ranked])
    rows = [WindowRow(i, p, listeners.get(i, 0)) for i, p in ranked]
    rows.sort(key=lambda r: (-r.plays, -r.listeners, r.item_id))
    return rows


def window_listeners(
    conn: Connection, scope: int, kind: str, start: dt.date, end: dt.date, items: Iterable[int]
) -> dict[int, int]:
    out: dict[int, int] = {}
    ids = list(items)
    for s in range(0, len(ids), 500):
        chunk = ids[s : s + 500]
        stmt = (
            select(DailyListener.item_id, func.count(func.distinct(DailyListener.member_id)))
            .where(
                DailyListener.scope == scope,
                DailyListener.kind == kind,
                DailyListener.day.between(start, end),
                DailyListener.item_id.in_(chunk),
            )
            .group_by(DailyListener.item_id)
        )
        out.update({int(i): int(n) for i, n in conn.execute(stmt)})
    return out


def items_seen_before(
    conn: Connection, scope: int, kind: str, before: dt.date, items: Iterable[int]
) -> set[int]:
    """Which of ``items`` have any dated play in ``scope`` before ``before`` (for "new to the community")."""
    ids = list(items)
    seen: set[int] = set()
    for s in range(0, len(ids), 500):
        chunk = ids[s : s + 500]
        stmt = (
            select(DailyCount.item_id)
            .distinct()
            .where(
                DailyCount.scope == scope,
                DailyCount.kind == kind,
                DailyCount.day < before,
                DailyCount.item_id.in_(chunk),
            )
        )
        seen.update(int(i) for (i,) in conn.execute(stmt))
    return seen


def daily_series(
    conn: Connection, scope: int, kind: str, items: Sequence[int], start: dt.date, end: dt.date
) -> dict[int, dict[dt.date, int]]:
    """Plays per day for ``items`` over ``[start, end]`` (for the digest chart)."""
    out: dict[int, dict[dt.date, int]] = {i: {} for i in items}
    if not items:
        return out
    stmt = select(DailyCount.item_id, DailyCount.day, DailyCount.plays).where(
        DailyCount.scope == scope,
        DailyCount.kind == kind,
        DailyCount.day.between(start, end),
        DailyCount.item_id.in_(list(items)),
    )
    for i, d, p in conn.execute(stmt):
        out[int(i)][d] = int(p)
    return out


def all_aggregates(conn: Connection) -> tuple[list[tuple], list[tuple]]:
    """Every aggregate and presence row, sorted (tests compare incremental vs. from-scratch)."""
    counts = conn.execute(
        select(
            DailyCount.scope,
            DailyCount.kind,
            DailyCount.day,
            DailyCount.item_id,
            DailyCount.plays,
            DailyCount.listeners,
        ).order_by(DailyCount.scope, DailyCount.kind, DailyCount.day, DailyCount.item_id)
    ).all()
    pres = conn.execute(
        select(
            DailyListener.scope,
            DailyListener.kind,
            DailyListener.day,
            DailyListener.item_id,
            DailyListener.member_id,
        ).order_by(
            DailyListener.scope,
            DailyListener.kind,
            DailyListener.day,
            DailyListener.item_id,
            DailyListener.member_id,
        )
    ).all()
    return [tuple(r) for r in counts], [tuple(r) for r in pres]


# --- the tail not yet folded in ---------------------------------------------------------------

TAIL_CAP = 100_000


@dataclass
class Tail:
    """Plays of one community after the batch watermark, bucketed like the aggregates, less the
    folded plays removed since (negative plays)."""

    plays: dict[tuple[str, dt.date, int], int]
    members: dict[tuple[str, dt.date, int], set[int]]
    size: int
    truncated: bool


def pending_tail(conn: Connection, community: int, after_play_id: int, cap: int = TAIL_CAP) -> Tail:
    """The community's plays with id > ``after_play_id`` (at most ``cap`` of them).

    Between two micro-batches this is the only part of the history that is read raw, so answers
    reflect a ``/played`` at once while the history itself is only ever read through aggregates.
    """
    from storage.models import Play, PlayRemoval  # local: keeps this module's import surface small

    rows = conn.execute(
        select(Play.artist_id, Play.track_id, Play.played_at, Play.member_id, Play.count)
        .where(Play.community_id == community, Play.id > after_play_id, Play.removed.is_(False))
        .order_by(Play.id)
        .limit(cap + 1)
    ).all()
    truncated = len(rows) > cap
    plays: dict[tuple[str, dt.date, int], int] = defaultdict(int)
    members: dict[tuple[str, dt.date, int], set[int]] = defaultdict(set)
    for artist, track, at, member, count in rows[:cap]:
        day = at.date() if at is not None else UNDATED
        for kind, item in (("artist", artist), ("track", track)):
            if item is None:
                continue
            plays[(kind, day, item)] += count
            members[(kind, day, item)].add(member)
    # Plays removed since the batch folded them: their plays leave the answer at once (listener
    # counts follow at the next batch, which knows whether the member has other plays there).
    removed = conn.execute(
        select(Play.artist_id, Play.track_id, Play.played_at, Play.count)
        .join(PlayRemoval, PlayRemoval.play_id == Play.id)
        .where(Play.community_id == community, Play.id <= after_play_id, PlayRemoval.folded.is_(False))
    ).all()
    for artist, track, at, count in removed:
        day = at.date() if at is not None else UNDATED
        for kind, item in (("artist", artist), ("track", track)):
            if item is not None:
                plays[(kind, day, item)] -= count
    return Tail(dict(plays), dict(members), min(len(rows), cap), truncated)


def window_members(
    conn: Connection, scope: int, kind: str, start: dt.date, end: dt.date, item: int
) -> set[int]:
    return set(
        conn.execute(
            select(DailyListener.member_id)
            .distinct()
            .where(
                DailyListener.scope == scope,
                DailyListener.kind == kind,
                DailyListener.day.between(start, end),
                DailyListener.item_id == item,
            )
        ).scalars()
    )


def window_ranking(
    conn: Connection,
    scope: int,
    kind: str,
    start: dt.date,
    end: dt.date,
    limit: int,
    tail: Tail | None = None,
) -> list[WindowRow]:
    """Top ``limit`` items of a window: stored aggregates plus (optionally) the pending tail."""
    tail_plays: dict[int, int] = defaultdict(int)
    tail_members: dict[int, set[int]] = defaultdict(set)
    if tail is not None:
        for (k, d, i), p in tail.plays.items():
            if k == kind and start <= d <= end:
                tail_plays[i] += p
                tail_members[i] |= tail.members[(k, d, i)]
    # Any item without tail plays that belongs in the top ``limit`` is within the stored top
    # ``limit + len(tail_plays)``: at most that many items can overtake it.
    stored = {
        r.item_id: r for r in window_totals(conn, scope, kind, start, end, limit=limit + len(tail_plays))
    }
    missing = [i for i in tail_plays if i not in stored]
    if missing:
        plays = func.sum(DailyCount.plays)
        extra = conn.execute(
            select(DailyCount.item_id, plays)
            .where(
                DailyCount.scope == scope,
                DailyCount.kind == kind,
                DailyCount.day.between(start, end),
                DailyCount.item_id.in_(missing),
            )
            .group_by(DailyCount.item_id)
        ).all()
        for i, p in extra:
            stored[int(i)] = WindowRow(int(i), int(p), 0)
    merged: dict[int, WindowRow] = dict(stored)
    for i, p in tail_plays.items():
        base = stored.get(i, WindowRow(i, 0, 0))
        merged[i] = WindowRow(i, base.plays + p, base.listeners)
    # Removed plays still waiting for the batch come as negative tail plays: nothing left, no row.
    ranked = sorted(
        (r for r in merged.values() if r.plays > 0), key=lambda r: (-r.plays, -r.listeners, r.item_id)
    )[:limit]
    out = []
    for r in ranked:
        if r.item_id in tail_members:
            listeners = len(
                window_members(conn, scope, kind, start, end, r.item_id) | tail_members[r.item_id]
            )
            r = WindowRow(r.item_id, r.plays, listeners)
        out.append(r)
    out.sort(key=lambda r: (-r.plays, -r.listeners, r.item_id))
    return out
