"""The engine's jobs: the micro-batch (trend fold, exactly once) and the ALS retrain.

Each is a function of an :class:`EngineContext`: Spark computes, :mod:`storage` persists. The
job registry that names, schedules and records them lives above the engine, in :mod:`bot.jobs`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from config.settings import Settings
from storage import catalog, recs, removals, trends, visibility
from storage import feedback as pick_feedback
from storage.clock import utcnow
from storage.db import Database
from storage.models import Play, PlayRemoval
from storage.trends import Fault, no_fault

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from engine.select import Selection

TRENDS_JOB = trends.TRENDS_WATERMARK
KINDS = ("artist", "track")


@dataclass
class EngineContext:
    """What an engine job may use. ``spark`` is a factory so jobs that need no Spark never start it;
    the caller owns the session (one per process) and passes the same factory every time."""

    settings: Settings
    db: Database
    spark: Callable[[], SparkSession]
    clock: Callable[[], dt.datetime] = utcnow
    fault: Fault = no_fault  # crash-injection hook for tests


@dataclass(frozen=True)
class BatchResult:
    from_id: int
    to_id: int
    new_plays: int
    count_rows: int
    new_listeners: int
    retrained: tuple[str, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()
    removed: int = 0  # removed plays subtracted from the aggregates

    def summary(self) -> str:
        if self.to_id == self.from_id:
            s = "no new plays"
        else:
            s = (
                f"folded plays {self.from_id + 1}..{self.to_id} ({self.new_plays} rows) into "
                f"{self.count_rows} aggregate rows"
            )
        if self.removed:
            s += f"; subtracted {self.removed} removed play{'s' if self.removed != 1 else ''}"
        if self.timings:
            s += " (" + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings) + ")"
        if self.retrained:
            s += f"; retrained {', '.join(self.retrained)}"
        return s


@dataclass(frozen=True)
class RetrainResult:
    kind: str
    generation: int
    members: int
    items: int
    picks: int
    model: str = "als"
    selection: str = ""  # the model selection's one-line summary ("" when it is off)


def fold_trends(ctx: EngineContext, upto: int | None = None) -> BatchResult:
    """Fold the next chunk of plays after the watermark (at most ``batch_max_plays`` ids, and not
    past ``upto``) into the trend aggregates, exactly once.

    One Spark pass computes the deltas of every ``batch_merge_plays``-id part of the chunk; each
    part then commits in its own short transaction together with its watermark step, so readers
    (``/trending``'s pending tail) always see aggregates that match the watermark, and a batch never
    holds the write lock for long. A crash between parts leaves the watermark after the last
    committed part: the rerun starts there."""
    from pyspark.sql import functions as F

    from engine.reader import high_water, plays_between
    from engine.trends_job import trend_deltas_by_part

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
    shuffle = max(1, min(ctx.settings.spark_shuffle_partitions, n_plays // 100_000 + 1))
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle))
    step = ctx.settings.batch_merge_plays
    deltas = trend_deltas_by_part(
        plays.withColumn("part", F.floor((F.col("id") - low - 1) / step).cast("int"))
    )
    t2 = time.perf_counter()
    ctx.fault("after-compute")
    new_listeners = 0
    touched: set[tuple[int, str, dt.date, int]] = set()  # aggregate rows this chunk changes
    for part, start in enumerate(range(low, high, step)):
        end = min(start + step, high)
        counts, presence = deltas.get(part, ([], []))
        with ctx.db.write() as conn:
            new_listeners += trends.merge_batch(
                conn, TRENDS_JOB, start, end, counts, presence, fault=ctx.fault, counts_as_batch=part == 0
            )
            ctx.fault("before-commit")
        touched.update((c[0], c[1], c[2], c[3]) for c in counts)
        ctx.fault("after-commit")
    t3 = time.perf_counter()
    timings = (("read", t1 - t0), ("compute", t2 - t1), ("merge", t3 - t2))
    return BatchResult(low, high, n_plays, len(touched), new_listeners, timings=timings)


def fold_removals(ctx: EngineContext) -> int:
    """Subtract the removed plays the aggregates still count, exactly once: each chunk's deltas are
    the same function of its plays as the fold's, and commit together with marking those removals
    folded (:func:`storage.removals.subtract`). Returns how many were subtracted."""
    from engine.reader import removed_plays
    from engine.trends_job import trend_deltas

    done = 0
    while True:
        with ctx.db.read() as conn:
            folded_upto, _ = trends.watermark(conn, TRENDS_JOB)
            if not removals.pending(conn, folded_upto, 1):
                return done
        plays, removal_ids = removed_plays(ctx.spark(), ctx.db, folded_upto, ctx.settings.batch_merge_plays)
        counts, presence = trend_deltas(plays)
        ctx.fault("removals-after-compute")
        with ctx.db.write() as conn:
            removals.subtract(conn, removal_ids, counts, presence, fault=ctx.fault)
            ctx.fault("removals-before-commit")
        done += len(removal_ids)
        ctx.fault("removals-after-commit")


def fold_all(ctx: EngineContext) -> BatchResult:
    """Fold everything logged so far, chunk by chunk, so that memory stays bounded after a large
    import; each chunk commits with its own watermark, so an interruption loses nothing. Then
    subtract the plays members removed (:func:`fold_removals`)."""
    from engine.reader import high_water

    target = high_water(ctx.db)
    total = fold_trends(ctx, target)
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
    return dataclasses.replace(total, removed=fold_removals(ctx))


def retrain_due(ctx: EngineContext) -> list[str]:
    """Kinds whose model is due: none yet (and some play names an item of that kind: plays without a
    track, as HetRec's, train no track model), every N batches, or when new plays pass a share."""
    due = []
    with ctx.db.read() as conn:
        _, batches = trends.watermark(conn, TRENDS_JOB)
        total = conn.execute(select(func.count(Play.id))).scalar_one()
        for kind in KINDS:
            gen = recs.active_generation(conn, kind)
            if gen is None:
                item = Play.artist_id if kind == "artist" else Play.track_id
                if conn.execute(select(Play.id).where(item.is_not(None)).limit(1)).first() is not None:
                    due.append(kind)
                continue
            newer = conn.execute(select(func.count(Play.id)).where(Play.id > gen.last_play_id)).scalar_one()
            # A play removed since the retrain counts as a change, like a new one.
            newer += conn.execute(
                select(func.count(PlayRemoval.id)).where(PlayRemoval.id > gen.last_removal_id)
            ).scalar_one()
            every = ctx.settings.retrain_every_batches
            if newer and (batches % every == 0 or newer / max(total, 1) >= ctx.settings.retrain_new_share):
                due.append(kind)
    return due


def retrain(ctx: EngineContext, kind: str) -> RetrainResult | None:
    """Fit the recommender for ``kind`` on all plays up to the current high-water mark, store every
    member's picks among their community's visible items, their vectors and taste neighbours (of
    their own community) and each community's similar items (:mod:`engine.neighbours`), and switch
    generations.

    With ``model_selection`` on, the blend weight of ALS and the item model is first chosen on the
    members' held-out recent plays (:mod:`engine.select`) and the validation numbers are stored
    with the generation; track picks keep at most ``track_artist_cap`` per artist.

    On any failure nothing is written: the last good generation keeps serving."""
    from engine.als import histories, params_from_settings
    from engine.cooc import blend_from_settings
    from engine.feedback import feedback_frame
    from engine.neighbours import member_neighbours, similar_items
    from engine.reader import high_water, member_item_totals
    from engine.recommender import AlsRecommender
    from engine.select import ease_from_settings

    s = ctx.settings
    with ctx.db.read() as conn:
        # Read before the plays: a removal after this point makes the member's stored picks stale.
        removal_mark = removals.removal_high(conn)
        # 👍 / 👎 on picks: ALS input (engine.feedback); 👎 items are never stored as picks. One
        # given later is left out of the stored picks by the service when it reads them.
        verdicts = pick_feedback.verdicts(conn, kind)
    upto = high_water(ctx.db)
    pairs = member_item_totals(ctx.spark(), ctx.db, kind, upto).cache()
    try:
        if pairs.limit(1).count() == 0:
            return None
        feedback = feedback_frame(ctx.spark(), verdicts) if verdicts else None
        als = params_from_settings(s)
        ease = ease_from_settings(s)
        chosen = _select(ctx, kind, upto, pairs) if s.model_selection else None
        weight = chosen.weight if chosen is not None else s.item_weight
        # Optional co-occurrence blend of the picks (off by default: no gain on validation data).
        rec = AlsRecommender(
            als,
            blend=blend_from_settings(s),
            ease=ease if weight > 0 else None,
            item_weight=weight,
        ).fit(pairs, feedback=feedback)
        hist = histories(pairs)
        hidden = pick_feedback.hidden_by_member(verdicts)
        ctx.fault("after-train")
        with ctx.db.read() as conn:
            seen_by = visibility.visible_items_by_community(conn, kind)
            community_of = catalog.member_communities(conn)
            if kind == "track" and s.track_artist_cap > 0:
                rec.with_groups(*catalog.track_artists(conn), s.track_artist_cap)
        nothing = np.empty(0, dtype=np.int64)

        def visible(member: int) -> np.ndarray:
            return seen_by.get(community_of.get(member, -1), nothing)

        gen = recs.write_generation(
            ctx.db,
            kind=kind,
            last_play_id=upto,
            last_removal_id=removal_mark,
            model=dataclasses.replace(
                rec.to_generation(), validation=chosen.to_json() if chosen is not None else None
            ),
            picks=rec.recommend_all(
                without_hidden(hist, hidden),
                s.top_n,
                visible_for_member=visible,
                hidden_for_member=hidden.get,
            ),
            neighbours=member_neighbours(rec.user_ids, rec.user_factors, community_of),
            similar=similar_items(rec.item_ids, rec.unit, hist, community_of, seen_by),
            now=ctx.clock(),
            fault=ctx.fault,
        )
    finally:
        pairs.unpersist()
    members, items = len(rec.user_ids), len(rec.item_ids)
    return RetrainResult(
        kind, gen, members, items, members * s.top_n, rec.model_name, chosen.summary() if chosen else ""
    )


def _select(ctx: EngineContext, kind: str, upto: int, pairs: DataFrame) -> Selection:
    """Run the model selection on the retrain's pairs, each with its last dated play."""
    from engine.als import params_from_settings
    from engine.reader import last_played
    from engine.select import ease_from_settings, select, selection_from_settings

    s = ctx.settings
    table = pairs.select("user", "item", "plays").toArrow()
    rows = np.column_stack(
        [table.column(c).to_numpy().astype(np.int64) for c in ("user", "item", "plays")]
    ).reshape(-1, 3)
    users, items, when = last_played(ctx.db, kind, upto)
    span = int(max(items.max(initial=0), rows[:, 1].max(initial=0))) + 1
    known = dict(zip((users * span + items).tolist(), when.tolist(), strict=True))
    row_when = np.array([known.get(k, -1.0) for k in (rows[:, 0] * span + rows[:, 1]).tolist()])
    return select(
        ctx.spark(),
        rows,
        row_when,
        params_from_settings(s),
        ease_from_settings(s),
        selection_from_settings(s),
    )


def without_hidden(
    hist: dict[int, dict[int, int]], hidden: dict[int, np.ndarray]
) -> dict[int, dict[int, int]]:
    """Histories less the items each member hid: a hidden item they played counts as not played
    for their picks (it pulls nothing and is no reason), as it does in the fold-in."""
    if not hidden:
        return hist
    out = dict(hist)
    for member, items in hidden.items():
        if member in out:
            gone = {int(i) for i in items}
            out[member] = {i: p for i, p in out[member].items() if i not in gone}
    return out


def idle_result(ctx: EngineContext, retrain_now: bool = False) -> BatchResult | None:
    """What :func:`batch` would return when it has nothing to do (no play after the watermark, no
    removed play to subtract, no model due), found with database reads only, no Spark; ``None`` when
    there is work. Lets a caller skip starting Spark (or a Spark worker process) for an idle tick."""
    from engine.reader import high_water

    with ctx.db.read() as conn:
        low, _ = trends.watermark(conn, TRENDS_JOB)
        removing = bool(removals.pending(conn, low, 1))
    if removing or high_water(ctx.db) > low or retrain_now or retrain_due(ctx):
        return None
    return BatchResult(low, low, 0, 0, 0)


def batch(ctx: EngineContext, retrain_now: bool = False) -> BatchResult:
    """The micro-batch: fold trends, then retrain the models that are due (or all, if forced)."""
    result = fold_all(ctx)
    kinds = list(KINDS) if retrain_now else retrain_due(ctx)
    done = []
    for kind in kinds:
        r = retrain(ctx, kind)
        if r is not None:
            line = f"{kind} (generation {r.generation}, {r.members} members, {r.items} items, model {r.model}"
            done.append(line + (f"; {r.selection})" if r.selection else ")"))
    return dataclasses.replace(result, retrained=tuple(done))
