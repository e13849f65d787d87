"""Deleting a member (``tastemaker member delete``): their plays, linked accounts and everything the
retrain derived for them, and what their plays added to the trend aggregates, exactly once.

A member is one person in one community (:class:`~storage.models.Member`): the same platform id in
another community is another member, and is not touched. Deleting works in two steps:

1. :func:`delete_member`, at once: every play of the member is removed the way /undo removes one
   (:func:`storage.removals.remove_all`: marked ``removed``, logged in ``play_removals``), so
   everything anyone is shown leaves them out immediately; their linked accounts, stored picks,
   taste vector and taste-neighbour rows (theirs, and their place in other members' lists) are
   deleted; the member row loses its name and platform id (it becomes a *tombstone*,
   :func:`tombstone_id`), so the person starts afresh should they log a play again.
2. The next batch subtracts the removed plays from the aggregates (its removal step, exactly once),
   and :func:`erase_deleted`, run after it, deletes the rows of those plays and, once none is left,
   the tombstone. A removed play's row stays until the batch has subtracted it: the batch needs
   the play to know what it had counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, String, cast, delete, func, or_, select, update

from storage import removals
from storage.db import Database
from storage.models import (
    LinkedAccount,
    Member,
    MemberFactor,
    MemberNeighbour,
    Play,
    PlayRemoval,
    Recommendation,
)
from storage.trends import TRENDS_WATERMARK, watermark

DELETED_NAME = "deleted member"
CHUNK = 10_000  # plays removed per transaction


def tombstone_id(member: int) -> str:
    """The external id a deleted member's row carries until it is erased: ``(deleted) <row id>``.
    It names the row itself, so no platform's member can have it."""
    return f"(deleted) {member}"


def is_tombstone() -> ColumnElement[bool]:
    """SQL: the member row is a deleted member's (its external id is its own :func:`tombstone_id`)."""
    return Member.external_id == "(deleted) " + cast(Member.id, String)


@dataclass(frozen=True)
class MemberData:
    """What a member has stored: plays not removed, linked accounts (active or not)."""

    plays: int
    links: int


@dataclass(frozen=True)
class Deleted:
    """What :func:`delete_member` did: ``plays`` removed, of which ``folded`` the aggregates had
    counted (the next batch subtracts those), ``links`` and ``derived`` rows (picks, vector,
    neighbour rows) deleted."""

    plays: int
    folded: int
    links: int
    derived: int


def stored(conn: Connection, member: int) -> MemberData:
    plays = conn.execute(
        select(func.count(Play.id)).where(Play.member_id == member, Play.removed.is_(False))
    ).scalar_one()
    links = conn.execute(
        select(func.count(LinkedAccount.id)).where(LinkedAccount.member_id == member)
    ).scalar_one()
    return MemberData(int(plays), int(links))


def delete_member(db: Database, member: int, now: dt.datetime, *, chunk: int = CHUNK) -> Deleted:
    """Delete the member (step 1 of the module's two): their plays are removed in transactions of
    ``chunk`` plays; the last one also deletes their links and derived rows and makes the row a
    tombstone (erased at once if they had no plays). A crash in between leaves the member as they
    were but for some removed plays, and deleting again finishes; plays the member logs meanwhile
    are removed by that last transaction."""
    plays = folded = 0
    while True:
        with db.write() as conn:
            ids = removals.remove_all(conn, member, now, chunk)
            folded_upto, _ = watermark(conn, TRENDS_WATERMARK)
            plays += len(ids)
            folded += sum(1 for i in ids if i <= folded_upto)
            if len(ids) < chunk:
                links, derived = _forget(conn, member)
                erase_deleted(conn)  # a member without plays goes at once
                return Deleted(plays, folded, links, derived)


def _forget(conn: Connection, member: int) -> tuple[int, int]:
    links = conn.execute(delete(LinkedAccount).where(LinkedAccount.member_id == member)).rowcount
    derived = conn.execute(delete(Recommendation).where(Recommendation.member_id == member)).rowcount
    derived += conn.execute(delete(MemberFactor).where(MemberFactor.member_id == member)).rowcount
    derived += conn.execute(
        delete(MemberNeighbour).where(
            or_(MemberNeighbour.member_id == member, MemberNeighbour.neighbour_id == member)
        )
    ).rowcount
    conn.execute(
        update(Member)
        .where(Member.id == member)
        .values(external_id=tombstone_id(member), display_name=DELETED_NAME, private=True)
    )
    return int(links), int(derived)


def erase_deleted(conn: Connection) -> int:
    """Step 2, after a batch: delete the rows of deleted members' plays the aggregates no longer
    count (the batch subtracted them: their removal is ``folded``; the removal row goes with the
    play), and the tombstones with no play left. Returns the number of plays erased. Removed plays
    of members not deleted stay (their removal log dates the member's stored picks)."""
    gone = select(Member.id).where(is_tombstone())
    erased = conn.execute(
        delete(Play).where(
            Play.member_id.in_(gone),
            Play.id.in_(select(PlayRemoval.play_id).where(PlayRemoval.folded.is_(True))),
        )
    ).rowcount
    conn.execute(
        delete(Member).where(is_tombstone(), ~select(Play.id).where(Play.member_id == Member.id).exists())
    )
    return int(erased)
