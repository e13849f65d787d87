"""The named-job registry and the micro-batch.

Jobs are plain functions of a :class:`JobContext`; Spark computes, storage persists. The scheduler
and the CLI both run jobs by name through :func:`run_job`, which records every run (and failure) in
``job_runs``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from config.settings import Settings
from storage import catalog, recs, trends, visibility
from storage import jobs as job_store
from storage.db import Database
from storage.models import Play

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

TRENDS_JOB = "trends"  # watermark name of the trend fold (bot.service reads it as BATCH_JOB)
KINDS = ("artist", "track")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _no_fault(_point: str) -> None:
    return None


@dataclass
class JobContext:
    """What a job may use. ``spark`` is a factory so jobs that need no Spark never start it; the
    caller owns the session (one per worker process) and passes the same factory every time."""

    settings: Settings
    db: Database
    spark: Callable[[], SparkSession]
    clock: Callable[[], dt.datetime] = utcnow
    fault: Callable[[str], None] = _no_fault  # crash-injection hook for tests
    # Collaborators the running process provides (e.g. the chat senders the digest job posts with).
    services: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    from_id: int
    to_id: int
    new_plays: int
    count_rows: int
    new_listeners: int
    retrained: tuple[str, ...] = ()
    detail: str = ""
    timings: tuple[tuple[str, float], ...] = ()

    def summary(self) -> str:
        if self.to_id == self.from_id:
            s = "no new plays"
        else:
            s = (
                f"folded plays {self.from_id + 1}..{self.to_id} ({self.new_plays} rows) into "
                f"{self.count_rows} aggregate rows"
            )
        if self.timings:
            s += " (" + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings) + ")"
        if self.retrained:
            s += f"; retrained {', '.join(self.retrained)}"
        return s + (f"; {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class RetrainResult:
    kind: str
    generation: int
    members: int
    items: int
    picks: int


def fold_trends(ctx: JobContext, upto: int | None = None) -> BatchResult:
    """Fold the next chunk of plays after the watermark (at most ``batch_max_plays`` ids, and not
    past ``upto``) into the trend aggregates, exactly once: the deltas and the new watermark commit
    in one transaction."""
    from engine.reader import high_water, plays_between
    from engine.trends_job import trend_deltas

    with ctx.db.read() as conn:
        low, _ = trends.watermark(conn, TRENDS_JOB)
    high = min(high_water(ctx.db) if upto is None else upto, low + ctx.settings.batch_max_plays)
    if high <= low:
        return BatchResult(low, low, 0, 0, 0)
    ctx.fault("before-compute")
    spark = ctx.spark()
    t0 = time.perf_counter()
    plays, n_plays = plays_between(spark, ctx.db, low, high)
    t1 = time.perf_counter()
    # Shuffle partitions sized for this batch, not for the history: ~100k plays per partition.
    parts = max(1, min(ctx.settings.spark_shuffle_partitions, n_plays // 100_000 + 1))
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    counts, presence = trend_deltas(plays)
    t2 = time.perf_counter()
    ctx.fault("after-compute")
    with ctx.db.write() as conn:
        new_listeners = trends.merge_batch(conn, TRENDS_JOB, low, high, counts, presence, fault=ctx.fault)
        ctx.fault("before-commit")
    t3 = time.perf_counter()
    ctx.fault("after-commit")
    timings = (("read", t1 - t0), ("compute", t2 - t1), ("merge", t3 - t2))
    return BatchResult(low, high, n_plays, len(counts), new_listeners, timings=timings)


def fold_all(ctx: JobContext) -> BatchResult:
    """Fold everything logged so far, chunk by chunk, so that memory stays bounded after a large
    import; each chunk commits with its own watermark, so an interruption loses nothing."""
    from engine.reader import high_water

    target = high_water(ctx.db)
    first = fold_trends(ctx, target)
    total = first
    while total.to_id < target:
        nxt = fold_trends(ctx, target)
        if nxt.to_id == nxt.from_id:  # nothing left (another batch got there first)
            break
        summed = {k: dict(total.timings).get(k, 0.0) + v for k, v in nxt.timings}
        total = dataclasses.replace(
            total,
            to_id=nxt.to_id,
            new_plays=total.new_plays + nxt.new_plays,
            count_rows=total.count_rows + nxt.count_rows,
            new_listeners=total.new_listeners + nxt.new_listeners,
            timings=tuple(summed.items()),
        )
    return total


def retrain_due(ctx: JobContext) -> list[str]:
    """Kinds whose model is due: none yet, every N batches, or when new plays pass a share."""
    due = []
    with ctx.db.read() as conn:
        _, batches = trends.watermark(conn, TRENDS_JOB)
        total = conn.execute(select(func.count(Play.id))).scalar_one()
        for kind in KINDS:
            gen = recs.active_generation(conn, kind)
            if gen is None:
                if total:
                    due.append(kind)
                continue
            newer = conn.execute(select(func.count(Play.id)).where(Play.id > gen.last_play_id)).scalar_one()
            every = ctx.settings.retrain_every_batches
            if newer and (batches % every == 0 or newer / max(total, 1) >= ctx.settings.retrain_new_share):
                due.append(kind)
    return due


def retrain(ctx: JobContext, kind: str) -> RetrainResult | None:
    """Fit ALS for ``kind`` on all plays up to the current high-water mark and switch generations.

    On any failure nothing is written: the last good generation keeps serving."""
    from engine.als import all_picks, histories, params_from_settings, train
    from engine.cooc import blend_from_settings, blend_hook
    from engine.reader import high_water, member_item_totals

    s = ctx.settings
    upto = high_water(ctx.db)
    pairs = member_item_totals(ctx.spark(), ctx.db, kind, upto).cache()
    try:
        if pairs.limit(1).count() == 0:
            return None
        params = params_from_settings(s)
        model = train(pairs, params)
        hist = histories(pairs)
        # Optional co-occurrence blend of the stored picks (off by default: no gain on validation data;
        # fold-in picks between retrains are plain ALS).
        extra = blend_hook(pairs, model.item_ids, hist, blend_from_settings(s))
        ctx.fault("after-train")
        listeners = {
            int(r.item): int(r.n)
            for r in pairs.groupBy("item").count().withColumnRenamed("count", "n").collect()
        }
        popularity = [float(listeners.get(int(i), 0)) for i in model.item_ids]
        with ctx.db.read() as conn:
            seen_by = visibility.visible_items_by_community(conn, kind)
            community_of = catalog.member_communities(conn)
        nothing = np.empty(0, dtype=np.int64)

        def visible(member: int) -> np.ndarray:
            return seen_by.get(community_of.get(member, -1), nothing)

        with ctx.db.write() as conn:
            gen = recs.write_generation(
                conn,
                kind=kind,
                last_play_id=upto,
                rank=params.rank,
                reg_param=params.reg_param,
                alpha=params.alpha,
                conf_scale=params.conf_scale,
                item_ids=[int(i) for i in model.item_ids],
                factors=model.item_factors,
                popularity=popularity,
                picks=all_picks(model, hist, s.top_n, visible=visible, extra=extra),
                now=ctx.clock(),
            )
            ctx.fault("before-switch-commit")
    finally:
        pairs.unpersist()
    return RetrainResult(kind, gen, len(model.user_ids), len(model.item_ids), len(model.user_ids) * s.top_n)


def batch(ctx: JobContext, retrain_now: bool = False) -> BatchResult:
    """The micro-batch: fold trends, then retrain the models that are due (or all, if forced)."""
    result = fold_all(ctx)
    kinds = list(KINDS) if retrain_now else retrain_due(ctx)
    done = []
    for kind in kinds:
        r = retrain(ctx, kind)
        if r is not None:
            done.append(f"{kind} (generation {r.generation}, {r.members} members, {r.items} items)")
    return dataclasses.replace(result, retrained=tuple(done))


def _retrain_all(ctx: JobContext) -> BatchResult:
    return batch(ctx, retrain_now=True)


def _digest(ctx: JobContext) -> Any:
    """Post the daily digests that are due (rendering and sending live in ``bot.digest``)."""
    from bot.digest import deliver_due

    return deliver_due(ctx)


JobFn = Callable[..., Any]
REGISTRY: Mapping[str, JobFn] = MappingProxyType(
    {
        "batch": batch,
        "retrain": _retrain_all,
        "digest": _digest,
    }
)


@dataclass(frozen=True)
class JobOutcome:
    job: str
    run_id: int
    ok: bool
    detail: str
    result: Any = field(default=None)


def run_job(name: str, ctx: JobContext, **kwargs: Any) -> JobOutcome:
    """Run a registered job, recording start, success or failure in ``job_runs``. A failure is
    logged and recorded, never raised: callers (the scheduler) keep running."""
    try:
        fn = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown job {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    with ctx.db.write() as conn:
        run_id = job_store.start(conn, name, ctx.clock())
    try:
        result = fn(ctx, **kwargs)
    except Exception as exc:  # recorded, then reported to the caller
        detail = f"{type(exc).__name__}: {exc}"
        log.error("job %s failed: %s\n%s", name, detail, traceback.format_exc())
        with ctx.db.write() as conn:
            job_store.finish(conn, run_id, "failed", detail, ctx.clock())
        return JobOutcome(name, run_id, False, detail)
    detail = result.summary() if hasattr(result, "summary") else str(result)
    with ctx.db.write() as conn:
        job_store.finish(conn, run_id, "ok", detail, ctx.clock())
    return JobOutcome(name, run_id, True, detail, result)
