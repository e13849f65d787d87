"""Digest subscriptions and the exactly-once ledger.

Every function takes the caller's connection; the ones that claim or change ledger rows must run
inside ``Database.write()`` (``BEGIN IMMEDIATE`` on SQLite), so that reading the row and writing it
is one atomic step with respect to every other writer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import Community, DigestLedger, DigestSubscription


@dataclass(frozen=True)
class Subscription:
    community_id: int
    channel: str
    local_time: str  # "HH:MM"
    tz: str  # IANA zone name
    updated_at: dt.datetime
    platform: str = ""
    external_id: str = ""
    community_name: str = ""


@dataclass(frozen=True)
class LedgerRow:
    community_id: int
    channel: str
    local_date: dt.date
    claimed_at: dt.datetime
    sent_at: dt.datetime | None
    message_ref: str | None
    status: str
    detail: str

    @property
    def key(self) -> tuple[int, str, dt.date]:
        return (self.community_id, self.channel, self.local_date)


# --- subscriptions ------------------------------------------------------------------------------


def subscribe(
    conn: Connection, community_id: int, channel: str, local_time: str, tz: str, now: dt.datetime
) -> bool:
    """Create or change a channel's subscription; True when it was new."""
    existing = conn.execute(
        select(DigestSubscription.local_time).where(
            DigestSubscription.community_id == community_id, DigestSubscription.channel == channel
        )
    ).first()
    if existing is None:
        conn.execute(
            insert(DigestSubscription).values(
                community_id=community_id, channel=channel, local_time=local_time, tz=tz, updated_at=now
            )
        )
        return True
    conn.execute(
        update(DigestSubscription)
        .where(DigestSubscription.community_id == community_id, DigestSubscription.channel == channel)
        .values(local_time=local_time, tz=tz, updated_at=now)
    )
    return False


def unsubscribe(conn: Connection, community_id: int, channel: str | None = None) -> int:
    """Remove one channel's subscription (or all of the community's); returns how many."""
    stmt = delete(DigestSubscription).where(DigestSubscription.community_id == community_id)
    if channel is not None:
        stmt = stmt.where(DigestSubscription.channel == channel)
    return int(conn.execute(stmt).rowcount or 0)


def subscriptions(conn: Connection, community_id: int | None = None) -> list[Subscription]:
    stmt = (
        select(
            DigestSubscription.community_id,
            DigestSubscription.channel,
            DigestSubscription.local_time,
            DigestSubscription.tz,
            DigestSubscription.updated_at,
            Community.platform,
            Community.external_id,
            Community.name,
        )
        .join(Community, Community.id == DigestSubscription.community_id)
        .order_by(DigestSubscription.community_id, DigestSubscription.channel)
    )
    if community_id is not None:
        stmt = stmt.where(DigestSubscription.community_id == community_id)
    return [Subscription(*row) for row in conn.execute(stmt)]


# --- ledger -------------------------------------------------------------------------------------

_COLUMNS = (
    DigestLedger.community_id,
    DigestLedger.channel,
    DigestLedger.local_date,
    DigestLedger.claimed_at,
    DigestLedger.sent_at,
    DigestLedger.message_ref,
    DigestLedger.status,
    DigestLedger.detail,
)


def ledger(conn: Connection, since: dt.date) -> list[LedgerRow]:
    """Ledger rows for local dates from ``since`` on (what the due-digest planner needs)."""
    stmt = select(*_COLUMNS).where(DigestLedger.local_date >= since).order_by(*_COLUMNS[:3])
    return [LedgerRow(*row) for row in conn.execute(stmt)]


def ledger_row(conn: Connection, key: tuple[int, str, dt.date]) -> LedgerRow | None:
    community_id, channel, local_date = key
    row = conn.execute(
        select(*_COLUMNS).where(
            DigestLedger.community_id == community_id,
            DigestLedger.channel == channel,
            DigestLedger.local_date == local_date,
        )
    ).first()
    return LedgerRow(*row) if row is not None else None


def claim(
    conn: Connection,
    key: tuple[int, str, dt.date],
    now: dt.datetime,
    status: str = "claimed",
    detail: str = "",
) -> bool:
    """Insert-if-absent: True only for the one caller that created the row. Call it inside
    ``Database.write()``: under ``BEGIN IMMEDIATE`` the check and the insert cannot interleave with
    another writer, and the primary key is the last line of defence."""
    if ledger_row(conn, key) is not None:
        return False
    community_id, channel, local_date = key
    try:
        with conn.begin_nested():
            conn.execute(
                insert(DigestLedger).values(
                    community_id=community_id,
                    channel=channel,
                    local_date=local_date,
                    claimed_at=now,
                    status=status,
                    detail=detail[:4000],
                )
            )
    except IntegrityError:
        return False
    return True


def retake(
    conn: Connection, key: tuple[int, str, dt.date], expected: LedgerRow, now: dt.datetime, detail: str
) -> bool:
    """Take over an orphaned claim: succeeds only if the row is still exactly as ``expected``
    (same status and claim time), so two recoveries can never both win."""
    community_id, channel, local_date = key
    result = conn.execute(
        update(DigestLedger)
        .where(
            DigestLedger.community_id == community_id,
            DigestLedger.channel == channel,
            DigestLedger.local_date == local_date,
            DigestLedger.status == expected.status,
            DigestLedger.claimed_at == expected.claimed_at,
            DigestLedger.sent_at.is_(None),
        )
        .values(status="claimed", claimed_at=now, detail=detail[:4000])
    )
    return bool(result.rowcount)


def set_status(
    conn: Connection,
    key: tuple[int, str, dt.date],
    status: str,
    *,
    detail: str | None = None,
    sent_at: dt.datetime | None = None,
    message_ref: str | None = None,
) -> None:
    community_id, channel, local_date = key
    values: dict[str, object] = {"status": status}
    if detail is not None:
        values["detail"] = detail[:4000]
    if sent_at is not None:
        values["sent_at"] = sent_at
    if message_ref is not None:
        values["message_ref"] = message_ref[:200]
    conn.execute(
        update(DigestLedger)
        .where(
            DigestLedger.community_id == community_id,
            DigestLedger.channel == channel,
            DigestLedger.local_date == local_date,
        )
        .values(**values)
    )


def release(conn: Connection, key: tuple[int, str, dt.date], expected_claimed_at: dt.datetime) -> bool:
    """Give a claim back (the send definitely did not happen), so a later run may try again."""
    community_id, channel, local_date = key
    result = conn.execute(
        delete(DigestLedger).where(
            DigestLedger.community_id == community_id,
            DigestLedger.channel == channel,
            DigestLedger.local_date == local_date,
            DigestLedger.claimed_at == expected_claimed_at,
            DigestLedger.sent_at.is_(None),
        )
    )
    return bool(result.rowcount)


def keys(rows: Iterable[LedgerRow]) -> dict[tuple[int, str, dt.date], LedgerRow]:
    return {r.key: r for r in rows}
