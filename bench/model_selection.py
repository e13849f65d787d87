"""Model selection (engine/select.py) on HetRec variants, over several seeds: which weight it picks on
the training part's own held-out slice, and what ALS alone, EASE^R alone, every blend of the grid and
the chosen weight score on the protocol's test split.

Variants (built from ``user_artists.dat`` before the split):

* ``full``: every user;
* ``small-heavy``: the 60 users with the most artists (HetRec caps a user at 50, so ties are broken by
  most listens), with all their artists: a small community of heavy listeners;
* ``sparse-large``: every user keeps 10 of their artists (a seeded draw): many light listeners.

Per seed ``s`` (0..n-1): the test split uses ``default_rng(42 + s)``, ALS seed ``42 + s``, and the
selection's holdout seed ``7 + s``. ALS and EASE^R are fitted once on the training part and scored at
every grid weight (the chosen one is read off that row: the production retrain fits the same models
with the chosen weight). Appends one JSON line per (variant, seed) to ``--log``.

    .venv/bin/python bench/model_selection.py --variants small-heavy,sparse-large --seeds 5
    .venv/bin/python bench/model_selection.py --variants full --seeds 1
    .venv/bin/python bench/model_selection.py --table
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from config.settings import Settings  # noqa: E402
from engine.als import params_from_settings  # noqa: E402
from engine.evaluate import histories_of, load_pairs, metrics, pairs_frame, split  # noqa: E402
from engine.recommender import AlsRecommender  # noqa: E402
from engine.select import ease_from_settings, select, selection_from_settings  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"
DEFAULT_LOG = ROOT / "var" / "model_selection.jsonl"


def variant(pairs: np.ndarray, name: str) -> np.ndarray:
    if name == "full":
        return pairs
    users, counts = np.unique(pairs[:, 0], return_counts=True)
    if name == "small-heavy":
        listens = np.array([pairs[pairs[:, 0] == u, 2].sum() for u in users])
        top = users[np.lexsort((-listens, -counts))][:60]
        return pairs[np.isin(pairs[:, 0], top)]
    if name == "sparse-large":
        rng = np.random.default_rng(2011)
        keep = np.zeros(len(pairs), dtype=bool)
        for u in users:
            rows = np.flatnonzero(pairs[:, 0] == u)
            keep[rng.choice(rows, size=min(10, len(rows)), replace=False)] = True
        return pairs[keep]
    raise SystemExit(f"unknown variant {name!r}")


def run(spark, pairs: np.ndarray, name: str, seed: int) -> dict:  # type: ignore[no-untyped-def]
    settings = Settings()
    rows = variant(pairs, name)
    n_items = len(np.unique(rows[:, 1]))
    s = split(rows, seed=42 + seed)
    als = dataclasses.replace(params_from_settings(settings), seed=42 + seed)
    ease = ease_from_settings(settings)
    sel = dataclasses.replace(selection_from_settings(settings), seed=7 + seed)
    t0 = time.perf_counter()
    chosen = select(spark, s.train, np.full(len(s.train), -1.0), als, ease, sel)
    t1 = time.perf_counter()
    frame = pairs_frame(spark, s.train).cache()
    try:
        rec = AlsRecommender(als, ease=ease).fit(frame)
    finally:
        frame.unpersist()
    t2 = time.perf_counter()
    history = histories_of(s.train)
    test_ndcg = {}
    for w in sel.grid:
        out: dict[int, list[int]] = {}
        for m, _r, i, _s, _y in rec.with_item_weight(w).recommend_all(
            history, 10, visible_for_member=None, explain=False
        ):
            out.setdefault(m, []).append(i)
        test_ndcg[f"{w:g}"] = metrics(out, s.test, n_items).ndcg
    return {
        "variant": name,
        "seed": seed,
        "users": len(np.unique(rows[:, 0])),
        "items": n_items,
        "pairs": len(rows),
        "chosen": chosen.weight,
        "skipped": chosen.skipped,
        "validation": {f"{w:g}": v for w, v in chosen.ndcg.items()},
        "test": test_ndcg,
        "select_s": round(t1 - t0, 1),
        "select_fit_s": round(chosen.fit_seconds, 1),
        "fit_s": round(t2 - t1, 1),
    }


def table(log: list[dict]) -> str:
    out = []
    for name in ("full", "small-heavy", "sparse-large"):
        recs = [r for r in log if r["variant"] == name]
        if not recs:
            continue
        grid = list(recs[0]["test"])
        out.append(
            f"**{name}** ({recs[0]['users']} users, {recs[0]['items']} artists, {recs[0]['pairs']} pairs)"
        )
        out.append("")
        out.append(
            "| seed | chosen weight | "
            + " | ".join(f"val w={w}" for w in grid)
            + " | "
            + " | ".join(f"test w={w}" for w in grid)
            + " | test chosen − ALS | select s | fit s |"
        )
        out.append("|" + "---|" * (2 * len(grid) + 5))
        deltas = []
        for r in sorted(recs, key=lambda r: r["seed"]):
            c = f"{r['chosen']:g}"
            d = r["test"][c] - r["test"]["0"]
            deltas.append(d)
            val = " | ".join(f"{r['validation'].get(w, float('nan')):.4f}" for w in grid)
            tst = " | ".join(f"{r['test'][w]:.4f}" for w in grid)
            out.append(f"| {r['seed']} | {c} | {val} | {tst} | {d:+.4f} | {r['select_s']} | {r['fit_s']} |")
        mean = {w: np.mean([r["test"][w] for r in recs]) for w in grid}
        sd = {w: np.std([r["test"][w] for r in recs], ddof=1) if len(recs) > 1 else 0.0 for w in grid}
        out.append(
            "| mean ± sd | | "
            + " | ".join("" for _ in grid)
            + " | "
            + " | ".join(f"{mean[w]:.4f} ± {sd[w]:.4f}" for w in grid)
            + f" | {np.mean(deltas):+.4f} ± {np.std(deltas, ddof=1) if len(deltas) > 1 else 0:.4f} | | |"
        )
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--variants", default="small-heavy,sparse-large")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    log_path = Path(args.log)
    if args.table:
        log = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
        print(table(log))
        return
    from engine.session import build_session

    spark = build_session(
        Settings(spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g")
    )
    pairs = load_pairs(args.data)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for name in args.variants.split(","):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rec = run(spark, pairs, name, seed)
            with log_path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
