"""Feedback on picks: a member's 👍 (``up``) or 👎 (``down``) on an artist or track /recommend showed.

One row per member, kind and item (:class:`~storage.models.PickFeedback`), the latest verdict kept.
A member belongs to one community, so feedback is per member per community: the same item hidden
by a member in one community stays in the picks of every other member and community.

The service reads a member's hidden items to leave them out of every pick it shows; the retrain
reads all verdicts of a kind (:func:`verdicts`) to feed them to ALS and to leave hidden items out of
the stored picks (:func:`hidden_by_member`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import Connection, delete, func, select

from storage.models import PickFeedback
from storage.sql import upsert_insert

UP = "up"
DOWN = "down"
VERDICTS = (UP, DOWN)
KINDS = ("artist", "track")


def _check(kind: str, verdict: str | None = None) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if verdict is not None and verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")


def verdict_of(conn: Connection, member: int, kind: str, item: int) -> str | None:
    """The member's stored verdict on an item (``None``: none)."""
    _check(kind)
    return conn.execute(
        select(PickFeedback.verdict).where(
            PickFeedback.member_id == member, PickFeedback.kind == kind, PickFeedback.item_id == item
        )
    ).scalar_one_or_none()


def record(conn: Connection, member: int, kind: str, item: int, verdict: str, now: dt.datetime) -> str | None:
    """Store ``verdict`` (replacing an earlier one on the same item) in the caller's transaction;
    returns the verdict stored before (``None``: none). Two presses racing each other both end with
    the one row (an upsert on the primary key)."""
    _check(kind, verdict)
    before = verdict_of(conn, member, kind, item)
    stmt = upsert_insert(conn, PickFeedback).values(
        member_id=member, kind=kind, item_id=item, verdict=verdict, updated_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["member_id", "kind", "item_id"],
            set_={"verdict": stmt.excluded.verdict, "updated_at": stmt.excluded.updated_at},
        )
    )
    return before


def hidden(conn: Connection, member: int, kind: str) -> np.ndarray:
    """Sorted ids of the ``kind`` items the member hid (👎)."""
    _check(kind)
    rows = conn.execute(
        select(PickFeedback.item_id)
        .where(PickFeedback.member_id == member, PickFeedback.kind == kind, PickFeedback.verdict == DOWN)
        .order_by(PickFeedback.item_id)
    ).scalars()
    return np.fromiter((int(i) for i in rows), dtype=np.int64)


def hidden_counts(conn: Connection, member: int) -> dict[str, int]:
    """How many artists and tracks the member hid: ``{"artist": n, "track": m}`` (both keys always)."""
    rows = conn.execute(
        select(PickFeedback.kind, func.count())
        .where(PickFeedback.member_id == member, PickFeedback.verdict == DOWN)
        .group_by(PickFeedback.kind)
    ).all()
    counts = dict.fromkeys(KINDS, 0)
    counts.update({str(k): int(n) for k, n in rows})
    return counts


def reset_hidden(conn: Connection, member: int) -> dict[str, int]:
    """Forget the member's 👎 verdicts (every kind): those items may be picked again. Returns how
    many were forgotten per kind. 👍 verdicts stay."""
    counts = hidden_counts(conn, member)
    conn.execute(delete(PickFeedback).where(PickFeedback.member_id == member, PickFeedback.verdict == DOWN))
    return counts


def verdicts(conn: Connection, kind: str) -> list[tuple[int, int, str]]:
    """Every ``(member, item, verdict)`` of ``kind``, by member and item (what a retrain learns from)."""
    _check(kind)
    rows = conn.execute(
        select(PickFeedback.member_id, PickFeedback.item_id, PickFeedback.verdict)
        .where(PickFeedback.kind == kind)
        .order_by(PickFeedback.member_id, PickFeedback.item_id)
    ).all()
    return [(int(m), int(i), str(v)) for m, i, v in rows]


def hidden_by_member(rows: list[tuple[int, int, str]]) -> dict[int, np.ndarray]:
    """Each member's sorted hidden item ids, from :func:`verdicts`' rows (members without any left out)."""
    out: dict[int, list[int]] = {}
    for member, item, verdict in rows:
        if verdict == DOWN:
            out.setdefault(member, []).append(item)
    return {m: np.array(sorted(items), dtype=np.int64) for m, items in out.items()}
