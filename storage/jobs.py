"""Job runs: what ran, when, and how it ended (the scheduler and `tastemaker jobs` read these).

Each run records the process that ran it (host, pid, process start time). A run still marked
``running`` whose process is gone — killed, or the machine restarted — is reported as
``abandoned``; the next ``tastemaker run`` on that host also writes that down."""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from typing import Any

import psutil
from sqlalchemy import Connection, insert, select, update

from storage.models import JobRun

RUNNING = "running"
ABANDONED = "abandoned"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float  # the process's start time, epoch seconds (a reused pid has another)

    @classmethod
    def current(cls) -> Owner:
        me = psutil.Process()
        return cls(socket.gethostname(), me.pid, me.create_time())

    def alive(self) -> bool | None:
        """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        try:
            return abs(psutil.Process(self.pid).create_time() - self.started) < 1.0
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    detail: str
    owner: Owner | None

    @property
    def shown_status(self) -> str:
        """``status``, except that a ``running`` run whose process is gone is ``abandoned``."""
        if self.status == RUNNING and self.owner is not None and self.owner.alive() is False:
            return ABANDONED
        if self.status == RUNNING and self.owner is not None and self.owner.alive() is None:
            return f"{RUNNING} (on {self.owner.host}, pid {self.owner.pid})"
        return self.status


def start(conn: Connection, job: str, now: dt.datetime, owner: Owner | None = None) -> int:
    who = owner or Owner.current()
    return int(
        conn.execute(
            insert(JobRun)
            .values(
                job=job,
                started_at=now,
                status=RUNNING,
                detail="",
                host=who.host,
                pid=who.pid,
                process_started=who.started,
            )
            .returning(JobRun.id)
        ).scalar_one()
    )


def finish(conn: Connection, run_id: int, status: str, detail: str, now: dt.datetime) -> None:
    conn.execute(
        update(JobRun).where(JobRun.id == run_id).values(status=status, detail=detail[:4000], finished_at=now)
    )


def _run(r: Any) -> Run:
    owner = Owner(r.host, r.pid, r.process_started) if r.host is not None and r.pid is not None else None
    return Run(r.id, r.job, r.started_at, r.finished_at, r.status, r.detail, owner)


def recent(conn: Connection, job: str | None = None, limit: int = 20) -> list[Run]:
    stmt = select(JobRun.__table__).order_by(JobRun.id.desc()).limit(limit)
    if job:
        stmt = stmt.where(JobRun.job == job)
    return [_run(r) for r in conn.execute(stmt)]


def abandon_dead(conn: Connection, now: dt.datetime) -> list[int]:
    """Mark this host's ``running`` rows whose process is gone as ``abandoned``; returns their ids."""
    rows = conn.execute(select(JobRun.__table__).where(JobRun.status == RUNNING)).all()
    dead = [r.id for r in map(_run, rows) if r.owner is None or r.owner.alive() is False]
    if dead:
        conn.execute(
            update(JobRun)
            .where(JobRun.id.in_(dead))
            .values(status=ABANDONED, finished_at=now, detail="its process ended before the run finished")
        )
    return dead
