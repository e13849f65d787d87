"""What the health check and the metrics read from the database (:mod:`bot.health`): the last
batch, the plays it has not folded yet, the active models' age and the digest ledger, in one read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from storage.models import DigestLedger, JobRun, Play, RecGeneration
from storage.trends import TRENDS_WATERMARK, watermark

BATCH_JOBS = ("batch", "retrain")  # the registry jobs that run the micro-batch


@dataclass(frozen=True)
class Status:
    """``last_batch_*``: the newest batch run that ended well (``None``: none yet); ``batch_running``:
    one is recorded as running; ``unfolded``: plays after the trend watermark (the batch's lag);
    ``models``: each kind's active generation's creation time; ``digests``: ledger rows by status."""

    last_batch_finished: dt.datetime | None
    last_batch_seconds: float | None
    batch_running: bool
    unfolded: int
    models: dict[str, dt.datetime]
    digests: dict[str, int]


def read(conn: Connection) -> Status:
    last = conn.execute(
        select(JobRun.started_at, JobRun.finished_at)
        .where(JobRun.job.in_(BATCH_JOBS), JobRun.status == "ok")
        .order_by(JobRun.id.desc())
        .limit(1)
    ).first()
    running = conn.execute(
        select(JobRun.id).where(JobRun.job.in_(BATCH_JOBS), JobRun.status == "running").limit(1)
    ).first()
    folded, _ = watermark(conn, TRENDS_WATERMARK)
    unfolded = conn.execute(select(func.count(Play.id)).where(Play.id > folded)).scalar_one()
    models = dict(
        conn.execute(
            select(RecGeneration.kind, func.max(RecGeneration.created_at))
            .where(RecGeneration.active.is_(True))
            .group_by(RecGeneration.kind)
        ).all()
    )
    digests = dict(
        conn.execute(select(DigestLedger.status, func.count()).group_by(DigestLedger.status)).all()
    )
    finished = seconds = None
    if last is not None and last.finished_at is not None:
        finished, seconds = last.finished_at, (last.finished_at - last.started_at).total_seconds()
    return Status(
        last_batch_finished=finished,
        last_batch_seconds=seconds,
        batch_running=running is not None,
        unfolded=int(unfolded),
        models={str(k): v for k, v in models.items()},
        digests={str(k): int(v) for k, v in digests.items()},
    )
