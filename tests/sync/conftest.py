"""Fixtures for the sync tests (the loopback fakes and settings pointing at them are in
tests/conftest.py, shared with the /link command tests) and helpers to link accounts and read back
what was stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.service import Who
from config.settings import Settings
from ingest.sync import runner
from storage.db import Database
from storage.models import Artist, Community, Member, Play, Track
from tests.conftest import Clock

T0 = 1_780_000_000  # 2026-05-28, before the tests' clock (2026-11-20)


class Sleeps:
    """An injectable ``sleep`` that records the waits and does not wait, with the matching
    ``monotonic`` clock (it moves by the waits only)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def run_sync(db: Database, settings: Settings, clock: Clock, **kw) -> runner.SyncReport:  # type: ignore[no-untyped-def]
    sleeps = kw.pop("sleeps", None) or Sleeps()
    return runner.sync(db, settings, clock=clock, sleep=sleeps, monotonic=sleeps.monotonic, **kw)


def who(community: str, member: str) -> Who:
    return Who("local", community, member, community_name=community, member_name=member)


def stored(db: Database, community: str | None = None, member: str | None = None) -> list[tuple]:
    """``(community, member, played_at as Unix seconds, artist, track)`` of the plays not removed,
    sorted."""
    stmt = (
        select(Community.external_id, Member.external_id, Play.played_at, Artist.name, Track.title)
        .join(Community, Community.id == Play.community_id)
        .join(Member, Member.id == Play.member_id)
        .join(Artist, Artist.id == Play.artist_id)
        .outerjoin(Track, Track.id == Play.track_id)
        .where(Play.removed.is_(False))
    )
    if community is not None:
        stmt = stmt.where(Community.external_id == community)
    if member is not None:
        stmt = stmt.where(Member.external_id == member)
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return sorted((c, m, int(at.replace(tzinfo=dt.UTC).timestamp()), a, t) for c, m, at, a, t in rows)
