"""The one APScheduler 3.x scheduler of a running bot.

Jobs come from the named-job registry (``bot.jobs.REGISTRY``) and are stored in the
project database (APScheduler's ``SQLAlchemyJobStore``, table ``apscheduler_jobs``), so a run that
was due while the bot was down is still known after a restart:

* ``batch`` — the micro-batch, every ``settings.batch_interval_minutes``.
* ``digest`` — a one-minute tick that posts the daily digests that are due (``bot.digest``: the
  ledger, not the scheduler, decides what is due, so a slot is never posted twice).
* ``sync`` — every ``settings.sync_interval_minutes``, copies new listens of linked ListenBrainz /
  Last.fm accounts (``ingest.sync``); a tick with no account due records no run.

All have ``max_instances=1`` and ``coalesce=True`` (a backlog of missed runs runs once) and no
misfire limit (a late run still runs; the digest grace is applied by the ledger planner). On top of
``max_instances`` a per-job lock in :class:`Runtime` refuses a second concurrent run in-process.

Start-up order that keeps missed runs (:func:`start`): start **paused**, add each job **only if it
is missing** (an existing job keeps its stored ``next_run_time``; ``replace_existing=True`` would
recompute it from now and silently drop the missed run), then **resume**.

Only one process may own the job store (see README): two schedulers on one store would both run
every job.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import inspect

from bot import jobs
from bot.jobs import JobContext
from config.settings import Settings
from storage import jobs as job_runs
from storage.db import Database, make_engine

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
DIGEST_TICK = dt.timedelta(minutes=1)
SCHEDULED = ("batch", "digest", "sync")  # registry jobs that `tastemaker run` schedules


class Runtime:
    """What scheduled jobs run with in this process — the job context — and one lock per job, so a
    run never overlaps the previous one (on top of APScheduler's ``max_instances=1``)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._locks = {name: threading.Lock() for name in jobs.REGISTRY}

    def run(self, name: str) -> None:
        """Run registry job ``name`` now, unless it is still running or has nothing to do."""
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            log.warning("job %s is still running; this run is skipped", name)
            return
        try:
            idle = jobs.REGISTRY[name].idle
            if idle is not None and idle(self.ctx):
                return  # nothing to do: no job_runs row for an idle tick
            jobs.run_job(name, self.ctx)  # a failure is logged (one line) and recorded there
        finally:
            lock.release()


class _WithRuntime:
    """A stored job as the executor hands it to APScheduler's ``run_job``: the same job, whose
    function gets this process's :class:`Runtime` first."""

    def __init__(self, job: Job, runtime: Runtime) -> None:
        self._job = job
        self.func = functools.partial(_run_stored, runtime)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)


def _run_stored(runtime: Runtime, name: str) -> None:
    runtime.run(name)


class RuntimeExecutor(ThreadPoolExecutor):
    """APScheduler stores a job as a reference to an importable function plus picklable arguments
    (the job name); this executor, owned by the one scheduler of the process, supplies the rest
    (settings, database, Spark, chat senders) — no module-level slot."""

    def __init__(self, runtime: Runtime | None, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self.runtime = runtime

    def _do_submit_job(self, job: Job, run_times: list[dt.datetime]) -> None:
        if self.runtime is None:  # a read-only scheduler (job_statuses) never runs anything
            log.error("job %s fired in a scheduler without a runtime; skipped", job.id)
            return
        super()._do_submit_job(_WithRuntime(job, self.runtime), run_times)


@dataclass(frozen=True)
class JobSpec:
    id: str  # the APScheduler job id, also the registry name
    interval: dt.timedelta
    description: str


def job_specs(settings: Settings, *, batch_interval: dt.timedelta | None = None) -> list[JobSpec]:
    specs = [
        JobSpec(
            "batch",
            batch_interval or dt.timedelta(minutes=settings.batch_interval_minutes),
            "micro-batch: fold new plays into trends, retrain when due",
        ),
        JobSpec("digest", DIGEST_TICK, "post the daily digests that are due"),
        JobSpec(
            "sync",
            dt.timedelta(minutes=settings.sync_interval_minutes),
            "copy new listens of linked ListenBrainz / Last.fm accounts",
        ),
    ]
    for spec in specs:
        if spec.id not in jobs.REGISTRY:  # pragma: no cover - a programming error
            raise ValueError(f"job {spec.id!r} is not in the job registry")
    return specs


def run_named(name: str) -> None:
    """The function a stored job names (APScheduler stores it by reference). The scheduler's
    :class:`RuntimeExecutor` calls it with the process's runtime; called on its own, it has none."""
    log.error("job %s called without a runtime (not through the scheduler's executor); skipped", name)


class Scheduler(BackgroundScheduler):
    """``BackgroundScheduler`` minus one APScheduler 3.x shutdown race: ``shutdown()`` sets the state
    to stopped, shuts the executors down and only then wakes the main loop, which makes one more
    ``_process_jobs`` pass. A job due at that moment fails to submit ("cannot schedule new futures
    after shutdown", agronholm/apscheduler#285, #985) but its stored ``next_run_time`` is still
    advanced — the due run is silently lost (a paused start-up then has nothing to catch up on)."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def build_scheduler(database_url: str, runtime: Runtime | None = None) -> BackgroundScheduler:
    """A background scheduler on the project database (its own engine, same SQLite pragmas) whose
    executor runs stored jobs with ``runtime`` (none: it runs nothing)."""
    store = SQLAlchemyJobStore(engine=make_engine(database_url), tablename=JOBSTORE_TABLE)
    return Scheduler(
        jobstores={"default": store},
        executors={"default": RuntimeExecutor(runtime)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=dt.UTC,
    )


def ensure_jobs(scheduler: BackgroundScheduler, specs: list[JobSpec]) -> list[str]:
    """Add each job only if it is missing; returns the ids added. A stored job keeps its
    ``next_run_time`` (so a run missed while the bot was down still happens); only a changed
    interval is updated in place, which does not move the stored next run."""
    added = []
    for spec in specs:
        trigger = IntervalTrigger(seconds=spec.interval.total_seconds(), timezone=dt.UTC)
        job = scheduler.get_job(spec.id)
        if job is None:
            scheduler.add_job(
                run_named,
                trigger=trigger,
                args=[spec.id],
                id=spec.id,
                name=spec.description,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=dt.datetime.now(dt.UTC),  # first run right away
            )
            added.append(spec.id)
        elif getattr(job.trigger, "interval", None) != spec.interval:
            scheduler.modify_job(spec.id, trigger=trigger)
            log.info("job %s: interval changed to %s", spec.id, spec.interval)
    return added


def start(
    ctx: JobContext, *, batch_interval: dt.timedelta | None = None, specs: list[JobSpec] | None = None
) -> BackgroundScheduler:
    """Start the process's one scheduler: paused → add missing jobs → resume. Runs left "running" by
    a process of this host that has died are recorded as abandoned first."""
    with ctx.db.write() as conn:
        dead = job_runs.abandon_dead(conn, ctx.clock())
    if dead:
        log.warning("job runs %s were left running by a process that ended; marked abandoned", dead)
    scheduler = build_scheduler(ctx.db.url, Runtime(ctx))
    scheduler.start(paused=True)
    added = ensure_jobs(scheduler, specs or job_specs(ctx.settings, batch_interval=batch_interval))
    if added:
        log.info("scheduler: added jobs %s", ", ".join(added))
    scheduler.resume()
    return scheduler


def stop(scheduler: BackgroundScheduler, wait: bool = True) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=wait)


@dataclass(frozen=True)
class JobStatus:
    id: str
    description: str
    trigger: str
    next_run: dt.datetime | None
    last_status: str
    last_started: dt.datetime | None
    last_detail: str


def job_statuses(db: Database) -> list[JobStatus]:
    """Stored jobs with their next run, and every job's last recorded run (from ``job_runs``).
    Read-only: opens the store with a paused scheduler that never runs anything, and only when the
    store's table exists (APScheduler would create it)."""
    stored: list[Job] = []
    if inspect(db.engine).has_table(JOBSTORE_TABLE):
        scheduler = build_scheduler(db.url)
        scheduler.start(paused=True)
        try:
            stored = scheduler.get_jobs()
        finally:
            scheduler.shutdown(wait=False)
    out = []
    by_id: dict[str, Any] = {j.id: j for j in stored}
    names = [j.id for j in stored] + sorted(n for n in jobs.REGISTRY if n not in by_id)
    with db.read() as conn:
        for name in names:
            job = by_id.get(name)
            recent = job_runs.recent(conn, name, 1)
            last = recent[0] if recent else None
            out.append(
                JobStatus(
                    name,
                    job.name
                    if job is not None
                    else "(not in the job store yet: `tastemaker run` adds it)"
                    if name in SCHEDULED
                    else "(not scheduled: run on demand)",
                    str(job.trigger) if job is not None else "-",
                    job.next_run_time if job is not None else None,
                    last.shown_status if last is not None else "never run",
                    last.started_at if last is not None else None,
                    last.detail if last is not None else "",
                )
            )
    return out
