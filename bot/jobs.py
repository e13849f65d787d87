"""The job registry: every named job the scheduler and the command line run.

A job is a function of a :class:`JobContext` — the engine's context (settings, database, Spark) plus
the typed collaborators the running process provides (today: the digest's chat senders). The engine
computes (:mod:`engine.batch`); jobs that post to chat (:mod:`bot.digest`) live here, above it.
:func:`run_job` records every run (and failure) in ``job_runs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot import digest
from bot.errors import explain
from config.settings import Settings
from engine import batch as engine_batch
from engine.batch import EngineContext
from engine.worker import SparkWorker, spark_in_worker
from ingest.sync import runner as sync_runner
from storage import jobs as job_store
from storage import members
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class JobContext(EngineContext):
    """An :class:`~engine.batch.EngineContext` plus what the running process provides: the digest
    senders (``None`` where nothing can post, e.g. ``tastemaker batch``) and the Spark worker that
    runs the Spark jobs (``None``: they run in this process, on ``spark``)."""

    digest: digest.DigestRuntime | None = None
    worker: SparkWorker | None = None

    def close(self) -> None:
        """Stop the Spark worker, if any (a job running in it fails; see :meth:`SparkWorker.close`)."""
        if self.worker is not None:
            self.worker.close()


def worker_context(
    settings: Settings,
    db: Database,
    *,
    digest: digest.DigestRuntime | None = None,
    init: Callable[[], None] | None = None,
) -> JobContext:
    """The job context of a long-running process (``tastemaker run``): Spark jobs go to a
    :class:`~engine.worker.SparkWorker` (``init`` runs first in each worker process), so this
    process never imports pyspark; ``close()`` it when the process stops."""
    return JobContext(
        settings, db, spark=spark_in_worker, digest=digest, worker=SparkWorker(settings, init=init)
    )


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[..., Any]  # (ctx, **options) -> a result with .summary(), or anything printable
    description: str
    # For scheduled ticks: True when there is nothing to do, so an idle tick records no run.
    idle: Callable[[JobContext], bool] | None = None


def _batch(ctx: JobContext, retrain_now: bool = False) -> engine_batch.BatchResult:
    result: engine_batch.BatchResult
    if ctx.worker is None:
        result = engine_batch.batch(ctx, retrain_now=retrain_now)
    else:
        # An idle tick starts no worker; a busy one runs in the worker.
        idle = engine_batch.idle_result(ctx, retrain_now=retrain_now)
        result = idle if idle is not None else ctx.worker.run("batch", retrain_now=retrain_now)
    _erase_deleted(ctx)
    return result


def _retrain(ctx: JobContext) -> engine_batch.BatchResult:
    return _batch(ctx, retrain_now=True)


def _erase_deleted(ctx: JobContext) -> None:
    """After the batch subtracted them: the rows of deleted members' plays (storage.members)."""
    with ctx.db.write() as conn:
        erased = members.erase_deleted(conn)
    if erased:
        log.info("erased %d plays of deleted members", erased)


def _digest(ctx: JobContext) -> digest.DeliveryReport:
    return digest.deliver_due(ctx, ctx.digest)


def _digest_idle(ctx: JobContext) -> bool:
    return not digest.due_actions(ctx, ctx.digest)


class SyncFailed(RuntimeError):
    """A sync run that hit an operator error (no or a refused LASTFM_API_KEY): recorded as failed,
    after every other account was synced."""


def _sync(ctx: JobContext) -> sync_runner.SyncReport:
    report = sync_runner.sync(ctx.db, ctx.settings, clock=ctx.clock)
    if report.errors:
        raise SyncFailed(report.summary())
    return report


def _sync_idle(ctx: JobContext) -> bool:
    return not sync_runner.due_accounts(ctx.db, ctx.clock())


REGISTRY: Mapping[str, Job] = MappingProxyType(
    {
        job.name: job
        for job in (
            Job("batch", _batch, "micro-batch: fold new plays into trends, retrain when due"),
            Job(
                "retrain", _retrain, "micro-batch, then retrain every model now (tastemaker batch --retrain)"
            ),
            Job("digest", _digest, "post the daily digests that are due", idle=_digest_idle),
            Job("sync", _sync, "copy new listens of linked ListenBrainz / Last.fm accounts", idle=_sync_idle),
        )
    }
)


@dataclass(frozen=True)
class JobOutcome:
    job: str
    run_id: int
    ok: bool
    detail: str


def run_job(name: str, ctx: JobContext, **options: Any) -> JobOutcome:
    """Run a registered job, recording start, success or failure in ``job_runs``. A failure is
    logged and recorded, never raised: callers (the scheduler) keep running."""
    try:
        job = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown job {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    with ctx.db.write() as conn:
        run_id = job_store.start(conn, name, ctx.clock())
    try:
        result = job.run(ctx, **options)
    except Exception as exc:  # recorded, then reported to the caller
        detail = explain(exc)
        log.error("job %s failed: %s", name, detail, exc_info=exc)
        with ctx.db.write() as conn:
            job_store.finish(conn, run_id, "failed", detail, ctx.clock())
        return JobOutcome(name, run_id, False, detail)
    detail = result.summary() if hasattr(result, "summary") else str(result)
    with ctx.db.write() as conn:
        job_store.finish(conn, run_id, "ok", detail, ctx.clock())
    return JobOutcome(name, run_id, True, detail)


@dataclass(frozen=True)
class ModelStatus:
    """The active generation of one kind: which model family scores and how it was chosen."""

    kind: str
    generation: int
    created_at: str
    model: str
    item_weight: float
    selection: str  # the model selection's summary ("" when none ran for this generation)


def model_statuses(db: Database) -> list[ModelStatus]:
    """Each kind's active generation with its model selection (``tastemaker jobs`` / ``eval models``)."""
    from engine.batch import KINDS
    from engine.select import Selection
    from storage import recs

    out = []
    with db.read() as conn:
        for kind in KINDS:
            gen = recs.active_generation(conn, kind)
            if gen is None:
                continue
            summary = Selection.from_json(gen.validation).summary() if gen.validation else ""
            out.append(
                ModelStatus(
                    kind, gen.id, f"{gen.created_at:%Y-%m-%d %H:%M:%S}", gen.model, gen.item_weight, summary
                )
            )
    return out
