"""Micro-batch cost on a warm Spark session: batches of 1k/10k/100k new plays, and a fixed 10k batch
at growing stored history — the cost should follow the new plays, not the history."""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from common import Section, median, synthetic_rows

from config.settings import Settings
from engine.batch import EngineContext, fold_all, fold_trends
from engine.session import build_session
from ingest.importers import import_rows
from storage import catalog
from storage.db import open_database

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _load(db, community: int, n: int, seed: int, offset: int) -> None:  # type: ignore[no-untyped-def]
    import_rows(
        db, community, synthetic_rows(n, seed=seed, now=NOW, line_offset=offset), source=f"bench{seed}"
    )


def run(quick: bool) -> Section:
    histories = [10_000, 100_000] if quick else [100_000, 1_000_000, 5_000_000]
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    reps = 2 if quick else 3
    cmd = "python bench/batch_incremental.py" + (" --quick" if quick else "")
    sec = Section(
        "Micro-batch on a warm session",
        cmd,
        [
            "stored history (plays)",
            "new plays in batch",
            "batch time, median (s)",
            "read / compute / merge (s)",
            "runs",
        ],
    )
    settings = Settings(spark_master="local[2]", spark_shuffle_partitions=4)
    spark = build_session(settings)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            ctx = EngineContext(settings, db, spark=lambda: spark)
            with db.write() as conn:
                cid = catalog.community_id(conn, "local", "bench", "bench")
            loaded, seed = 0, 100
            # Warm the session (JIT, Python workers) once, untimed.
            _load(db, cid, 2_000, seed, 0)
            fold_all(ctx)
            loaded += 2_000
            per_history: dict[int, float] = {}
            for hist in histories:
                if hist > loaded:
                    seed += 1
                    _load(db, cid, hist - loaded, seed, loaded)
                    fold_all(ctx)  # fold the history itself (untimed)
                    loaded = hist
                for size in sizes if hist == histories[0] else [10_000]:
                    times, phases = [], []
                    for _ in range(reps):
                        seed += 1
                        _load(db, cid, size, seed, loaded)
                        loaded += size
                        t = time.perf_counter()
                        result = fold_trends(ctx)
                        times.append(time.perf_counter() - t)
                        phases.append(dict(result.timings))
                    med = median(times)
                    split = " / ".join(
                        f"{median([p[k] for p in phases]):.2f}" for k in ("read", "compute", "merge")
                    )
                    sec.rows.append([hist, size, med, split, reps])
                    if size == 10_000:
                        per_history[hist] = med
            db.dispose()
    finally:
        spark.stop()
    for small, big in zip(histories, histories[1:], strict=False):
        growth = per_history[big] / per_history[small] - 1
        factor = big / small
        verdict = ("met" if growth < 0.30 else "MISSED") if factor >= 10 else "no target for this step"
        sec.notes.append(
            f"10k-play batch at {big:,} stored plays vs {small:,} ({factor:.0f}x the history): {growth:+.0%} "
            f"(target < +30% when the history grows 10x: {verdict})."
        )
    first, last = histories[0], histories[-1]
    sec.notes.append(
        f"Across the whole range ({last // first}x the history) the 10k batch went "
        f"{per_history[last] / per_history[first] - 1:+.0%}; the growth is in the merge phase (SQLite "
        "upserts into the presence and count indexes, which grow with the history), not in reading or "
        "Spark compute, which follow the new plays."
    )
    ten_k = per_history[histories[0]]
    verdict = "met" if ten_k <= 2 else "MISSED"
    sec.notes.append(f"10k new plays on a warm session: {ten_k:.2f} s (target <= 2 s; {verdict}).")
    sec.notes.append(
        "Each run appends new plays (30-day timestamps, power-law artists/tracks, 2,000 members) through "
        "ingest.importers and times engine.batch.fold_trends: read plays after the watermark, Spark "
        "aggregation, one-transaction merge with the watermark. Stored history sits in the same SQLite file."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
