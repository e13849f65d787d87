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
from engine import batch as engine_batch
from engine.batch import EngineContext
from ingest.sync import runner as sync_runner
from storage import jobs as job_store
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class JobContext(EngineContext):
    """An :class:`~engine.batch.EngineContext` plus what the running process provides: the digest
    senders (``None`` where nothing can post, e.g. ``tastemaker batch``)."""

    digest: digest.DigestRuntime | None = None


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[..., Any]  # (ctx, **options) -> a result with .summary(), or anything printable
    description: str
    # For scheduled ticks: True when there is nothing to do, so an idle tick records no run.
    idle: Callable[[JobContext], bool] | None = None


def _batch(ctx: JobContext, retrain_now: bool = False) -> engine_batch.BatchResult:
    return engine_batch.batch(ctx, retrain_now=retrain_now)


def _retrain(ctx: JobContext) -> engine_batch.BatchResult:
    return engine_batch.batch(ctx, retrain_now=True)


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
