"""Job runs: what ran, when, and how it ended (the scheduler and `tastemaker jobs` read these)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from storage.models import JobRun


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    detail: str


def start(conn: Connection, job: str, now: dt.datetime) -> int:
    return int(
        conn.execute(
            insert(JobRun).values(job=job, started_at=now, status="running", detail="").returning(JobRun.id)
        ).scalar_one()
    )


def finish(conn: Connection, run_id: int, status: str, detail: str, now: dt.datetime) -> None:
    conn.execute(
        update(JobRun).where(JobRun.id == run_id).values(status=status, detail=detail[:4000], finished_at=now)
    )


def recent(conn: Connection, job: str | None = None, limit: int = 20) -> list[Run]:
    stmt = select(JobRun.__table__).order_by(JobRun.id.desc()).limit(limit)
    if job:
        stmt = stmt.where(JobRun.job == job)
    return [Run(r.id, r.job, r.started_at, r.finished_at, r.status, r.detail) for r in conn.execute(stmt)]
