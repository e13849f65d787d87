"""Linked ListenBrainz and Last.fm accounts: the rows the ``sync`` job works from, and the plays it
added for each.

A link belongs to one member of one community (:class:`~storage.models.LinkedAccount`). The plays a
link adds carry dedupe keys that start with :func:`key_prefix` — the source and the link's ``tag`` —
so a listen synced twice is stored once, and an unlink that deletes the synced plays finds exactly
those (the member's plays under that prefix). They are removed as :func:`storage.removals.remove`
removes a play, in bulk: each is marked ``removed`` and gets a ``play_removals`` row, so the batch
subtracts what it already folded, exactly once.

Every write to a link bumps its ``version``; the sync's own writes (:func:`store_page`,
:func:`set_state`) also check it in the same statement, so :func:`store_page` raises
:class:`CursorMoved` (the caller's transaction rolls back, plays and all) when another sync, an
unlink or a relink changed the row since it was read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, update

from storage import removals
from storage.models import LinkedAccount, Member, Play
from storage.sql import upsert_insert

SOURCES = ("listenbrainz", "lastfm")

# LinkedAccount.status
OK = "ok"
ERROR = "error"  # a failure that is retried with exponential back-off
GONE = "gone"  # the service has no such account (any more)
PRIVATE = "private"  # the account hides its listens


class CursorMoved(RuntimeError):
    """The link changed since it was read (another sync, an unlink): this write is rolled back."""


@dataclass(frozen=True)
class Cursor:
    """Where a link's sync stands, in listen times (Unix seconds).

    ``floor``: every listen up to this time is stored (``None`` until the first pass ends; 0 when
    that pass found no listens). A *pass* reads from the newest listen, ``pass_top``, back in time:
    ListenBrainz by ``pass_before`` (the next request's ``max_ts``), Last.fm by ``pass_page`` (the
    next page; 0 when no pass is running). ``backfilled``: the first pass, the whole history, ended."""

    floor: int | None = None
    pass_top: int | None = None
    pass_before: int | None = None
    pass_page: int = 0
    backfilled: bool = False


@dataclass(frozen=True)
class Link:
    id: int
    community_id: int
    member_id: int
    member_external_id: str
    source: str
    account: str
    account_key: str
    active: bool
    linked_at: dt.datetime
    tag: str
    version: int
    cursor: Cursor
    synced: int
    last_sync_at: dt.datetime | None
    status: str
    failures: int
    next_attempt_at: dt.datetime | None
    last_error: str
    notice: str | None

    @property
    def prefix(self) -> str:
        return key_prefix(self.source, self.tag)


def account_key(account: str) -> str:
    """What identifies an account name: both services ignore case in user names."""
    return account.strip().lower()


def new_tag() -> str:
    return uuid.uuid4().hex[:16]


def key_prefix(source: str, tag: str) -> str:
    """The start of every dedupe key a link with ``tag`` writes (``listenbrainz~<tag>:``). Import
    and chat keys never contain ``~`` before their first ``:``."""
    return f"{source}~{tag}:"


def _synced_by(conn: Connection, link: Link) -> Any:
    """The member's plays whose key starts with the link's prefix. On SQLite (binary collation) as a
    key range, which the unique index answers: from the prefix up to the same text with its final
    ":" raised to ";". Elsewhere as ``LIKE 'prefix%'``: a range would depend on the collation."""
    prefix = link.prefix
    if conn.dialect.name == "sqlite":
        keys = and_(Play.dedupe_key >= prefix, Play.dedupe_key < prefix[:-1] + ";")
    else:
        keys = Play.dedupe_key.startswith(prefix, autoescape=True)
    return and_(Play.member_id == link.member_id, keys)


_COLUMNS = (
    LinkedAccount.id,
    LinkedAccount.community_id,
    LinkedAccount.member_id,
    Member.external_id,
    LinkedAccount.source,
    LinkedAccount.account,
    LinkedAccount.account_key,
    LinkedAccount.active,
    LinkedAccount.linked_at,
    LinkedAccount.tag,
    LinkedAccount.version,
    LinkedAccount.floor,
    LinkedAccount.pass_top,
    LinkedAccount.pass_before,
    LinkedAccount.pass_page,
    LinkedAccount.backfilled,
    LinkedAccount.synced,
    LinkedAccount.last_sync_at,
    LinkedAccount.status,
    LinkedAccount.failures,
    LinkedAccount.next_attempt_at,
    LinkedAccount.last_error,
    LinkedAccount.notice,
)


def _select() -> Select:
    return select(*_COLUMNS).join(Member, Member.id == LinkedAccount.member_id)


def _link(r: Any) -> Link:
    return Link(
        id=int(r[0]),
        community_id=int(r[1]),
        member_id=int(r[2]),
        member_external_id=str(r[3]),
        source=str(r[4]),
        account=str(r[5]),
        account_key=str(r[6]),
        active=bool(r[7]),
        linked_at=r[8],
        tag=str(r[9]),
        version=int(r[10]),
        cursor=Cursor(
            None if r[11] is None else int(r[11]),
            None if r[12] is None else int(r[12]),
            None if r[13] is None else int(r[13]),
            int(r[14]),
            bool(r[15]),
        ),
        synced=int(r[16]),
        last_sync_at=r[17],
        status=str(r[18]),
        failures=int(r[19]),
        next_attempt_at=r[20],
        last_error=str(r[21] or ""),
        notice=r[22],
    )


def get(conn: Connection, link_id: int) -> Link | None:
    row = conn.execute(_select().where(LinkedAccount.id == link_id)).first()
    return _link(row) if row is not None else None


def for_member(conn: Connection, member: int) -> list[Link]:
    """The member's active links, by source."""
    rows = conn.execute(
        _select()
        .where(LinkedAccount.member_id == member, LinkedAccount.active.is_(True))
        .order_by(LinkedAccount.source)
    )
    return [_link(r) for r in rows]


def holder(conn: Connection, community: int, source: str, account: str) -> int | None:
    """The member of ``community`` whose active link is this account, if any."""
    return conn.execute(
        select(LinkedAccount.member_id).where(
            LinkedAccount.community_id == community,
            LinkedAccount.source == source,
            LinkedAccount.account_key == account_key(account),
            LinkedAccount.active.is_(True),
        )
    ).scalar_one_or_none()


def activate(
    conn: Connection, community: int, member: int, source: str, account: str, now: dt.datetime
) -> tuple[Link, bool]:
    """Link ``account`` for ``member`` (the caller checked the member has no other active link of
    this source). Returns the link and whether it had been linked before: then its cursor and
    tag are kept, so the sync goes on from where it stopped and adds none of the plays kept at
    the unlink a second time."""
    key = account_key(account)
    values = {
        "active": True,
        "account": account.strip(),
        "linked_at": now,
        "status": OK,
        "failures": 0,
        "next_attempt_at": None,
        "last_error": "",
        "notice": None,
        "version": LinkedAccount.version + 1,
    }
    moved = conn.execute(
        update(LinkedAccount)
        .where(
            LinkedAccount.member_id == member,
            LinkedAccount.source == source,
            LinkedAccount.account_key == key,
        )
        .values(**values)
    ).rowcount
    if not moved:
        conn.execute(
            upsert_insert(conn, LinkedAccount)
            .values(
                community_id=community,
                member_id=member,
                source=source,
                account=account.strip(),
                account_key=key,
                active=True,
                linked_at=now,
                tag=new_tag(),
            )
            .on_conflict_do_nothing()
        )
    row = conn.execute(
        _select().where(
            LinkedAccount.member_id == member,
            LinkedAccount.source == source,
            LinkedAccount.account_key == key,
        )
    ).one()
    return _link(row), bool(moved)


def deactivate(conn: Connection, link_id: int) -> None:
    """Unlink: the sync leaves the account alone; the cursor stays for a later relink."""
    conn.execute(
        update(LinkedAccount)
        .where(LinkedAccount.id == link_id)
        .values(active=False, notice=None, version=LinkedAccount.version + 1)
    )


def remove_synced(conn: Connection, link: Link, now: dt.datetime, limit: int) -> list[int]:
    """Remove up to ``limit`` of the plays this member synced from this account (those not removed
    yet, oldest id first) as :func:`storage.removals.remove` removes one: the play is marked
    ``removed`` and gets a ``play_removals`` row (:func:`storage.removals.remove_ids`), in the
    caller's transaction. Returns their ids."""
    ids = list(
        conn.execute(
            select(Play.id)
            .where(_synced_by(conn, link), Play.removed.is_(False))
            .order_by(Play.id)
            .limit(limit)
        ).scalars()
    )
    removals.remove_ids(conn, link.member_id, ids, now)
    return ids


def forget_synced(conn: Connection, link_id: int) -> None:
    """After the synced plays were removed: a new tag and an empty cursor, so a later link of the
    same account brings the whole history back instead of finding it all "already stored"."""
    conn.execute(
        update(LinkedAccount)
        .where(LinkedAccount.id == link_id)
        .values(
            tag=new_tag(),
            floor=None,
            pass_top=None,
            pass_before=None,
            pass_page=0,
            backfilled=False,
            synced=0,
            version=LinkedAccount.version + 1,
        )
    )


def synced_plays(conn: Connection, link: Link) -> int:
    """The plays (not removed) this member has from this account."""
    return int(
        conn.execute(
            select(func.count()).select_from(Play).where(_synced_by(conn, link), Play.removed.is_(False))
        ).scalar_one()
    )


def due(
    conn: Connection,
    now: dt.datetime,
    *,
    community: int | None = None,
    member: int | None = None,
    due_only: bool = True,
) -> list[Link]:
    """Active links to sync, the longest unsynced first; ``due_only``: only those whose back-off
    has passed."""
    stmt = _select().where(LinkedAccount.active.is_(True))
    if community is not None:
        stmt = stmt.where(LinkedAccount.community_id == community)
    if member is not None:
        stmt = stmt.where(LinkedAccount.member_id == member)
    if due_only:
        stmt = stmt.where(or_(LinkedAccount.next_attempt_at.is_(None), LinkedAccount.next_attempt_at <= now))
    stmt = stmt.order_by(
        LinkedAccount.last_sync_at.is_not(None), LinkedAccount.last_sync_at, LinkedAccount.id
    )
    return [_link(r) for r in conn.execute(stmt)]


def _write_if_current(conn: Connection, link: Link, **values: Any) -> bool:
    """Update the link if it is still the version that was read, and active; False if it moved."""
    n = conn.execute(
        update(LinkedAccount)
        .where(
            LinkedAccount.id == link.id,
            LinkedAccount.version == link.version,
            LinkedAccount.active.is_(True),
        )
        .values(version=LinkedAccount.version + 1, **values)
    ).rowcount
    return n == 1


def store_page(
    conn: Connection, link: Link, cursor: Cursor, plays: list[dict[str, Any]], now: dt.datetime
) -> tuple[Link, int]:
    """Store one fetched page in the caller's transaction: the cursor after it and its plays (a
    dedupe key already stored is skipped), together. A successful fetch also clears the link's
    failure state (and a notice the member has not seen yet: it is no longer true). Raises
    :class:`CursorMoved`, before writing anything, when the link changed since it was read.
    Returns the link as stored and the number of plays inserted."""
    values: dict[str, Any] = {
        "floor": cursor.floor,
        "pass_top": cursor.pass_top,
        "pass_before": cursor.pass_before,
        "pass_page": cursor.pass_page,
        "backfilled": cursor.backfilled,
        "last_sync_at": now,
        "status": OK,
        "failures": 0,
        "next_attempt_at": None,
        "last_error": "",
    }
    if link.status in (GONE, PRIVATE):
        values["notice"] = None
    if not _write_if_current(conn, link, **values):
        raise CursorMoved(f"link {link.id} changed while it was synced")
    inserted = 0
    if plays:
        stmt = (
            upsert_insert(conn, Play)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .execution_options(preserve_rowcount=True)  # an executemany's rowcount is -1 on psycopg
        )
        inserted = int(conn.execute(stmt, plays).rowcount)
        conn.execute(
            update(LinkedAccount)
            .where(LinkedAccount.id == link.id)
            .values(synced=LinkedAccount.synced + inserted)
        )
    stored = replace(
        link,
        version=link.version + 1,
        cursor=cursor,
        synced=link.synced + inserted,
        last_sync_at=now,
        status=OK,
        failures=0,
        next_attempt_at=None,
        last_error="",
        notice=None if link.status in (GONE, PRIVATE) else link.notice,
    )
    return stored, inserted


def set_state(
    conn: Connection,
    link: Link,
    *,
    status: str,
    failures: int,
    next_attempt_at: dt.datetime | None,
    error: str,
    notice: str | None = None,
) -> bool:
    """Record a failed (or deferred) sync of ``link``; ``notice``, when given, is stored for the
    member. False (nothing written) when the link changed since it was read."""
    values: dict[str, Any] = {
        "status": status,
        "failures": failures,
        "next_attempt_at": next_attempt_at,
        "last_error": error[:1000],
    }
    if notice is not None:
        values["notice"] = notice
    return _write_if_current(conn, link, **values)


def take_notices(conn: Connection, member: int) -> list[str]:
    """The member's notices not shown yet, by source; they are cleared (each is shown once)."""
    rows = conn.execute(
        select(LinkedAccount.id, LinkedAccount.notice)
        .where(LinkedAccount.member_id == member, LinkedAccount.notice.is_not(None))
        .order_by(LinkedAccount.source)
    ).all()
    if rows:
        conn.execute(
            update(LinkedAccount).where(LinkedAccount.id.in_([r[0] for r in rows])).values(notice=None)
        )
    return [str(r[1]) for r in rows]
