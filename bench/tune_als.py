"""Tune Spark ALS on the HetRec validation split (carved from the training part only).

Every point tried is appended to a JSON-lines log (``--log``); a rerun skips points already there,
so a search can be stopped and resumed. ``--table`` prints the log as a Markdown table. ``--test``
measures one parameter set once on the test split (do that only for the chosen point).

    .venv/bin/python bench/tune_als.py --rank 64 --reg 0.03,0.1,0.3 --alpha 0.5,1,2,4,8 --iterations 10
    .venv/bin/python bench/tune_als.py --table
    .venv/bin/python bench/tune_als.py --test --rank 64 --reg 0.1 --alpha 2 --iterations 10
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from config.settings import Settings  # noqa: E402
from engine.als import AlsParams  # noqa: E402
from engine.cooc import BlendParams  # noqa: E402
from engine.evaluate import (  # noqa: E402
    evaluate_model,
    load_pairs,
    metrics,
    popularity_recs,
    split,
    validation_split,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"
DEFAULT_LOG = ROOT / "var" / "tune_als.jsonl"


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x]


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def _key(p: AlsParams, b: BlendParams) -> tuple[float, ...]:
    return (p.rank, p.reg_param, p.alpha, p.iterations, p.conf_scale, p.seed, b.weight, b.shrink, b.damp)


def _blend(rec: dict) -> BlendParams:
    return BlendParams(**rec["blend"]) if rec.get("blend") else BlendParams()


def _load_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(log: list[dict]) -> str:
    rows = [r for r in log if r["split"] == "validation"]
    rows.sort(key=lambda r: -r["ndcg"])
    out = [
        "| # | rank | regParam | alpha | iterations | seed | blocks | cooc weight / shrink / damp "
        "| NDCG@10 | P@10 | R@10 | MAP@10 | coverage | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rows, 1):
        p = r["params"]
        b = _blend(r)
        cooc = f"{b.weight:g} / {b.shrink:g} / {b.damp:g}" if b.weight else "–"
        out.append(
            f"| {n} | {p['rank']} | {p['reg_param']} | {p['alpha']} | {p['iterations']} | {p['seed']} "
            f"| {r.get('als_blocks', '–')} | {cooc} "
            f"| {r['ndcg']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} | {r['map']:.4f} "
            f"| {r['coverage']:.4f} | {r['fit_seconds']:.0f} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG)
    ap.add_argument("--rank", type=_ints, default=[64])
    ap.add_argument("--reg", type=_floats, default=[0.1])
    ap.add_argument("--alpha", type=_floats, default=[1.0])
    ap.add_argument("--iterations", type=_ints, default=[10])
    ap.add_argument("--conf-scale", type=_floats, default=[1.0])
    ap.add_argument("--seed", type=_ints, default=[42])
    ap.add_argument("--blend-weight", type=_floats, default=[0.0], help="co-occurrence blend weights")
    ap.add_argument("--blend-shrink", type=_floats, default=[10.0])
    ap.add_argument("--blend-damp", type=_floats, default=[0.5])
    ap.add_argument("--force", action="store_true", help="rerun points already in the log")
    ap.add_argument("--table", action="store_true", help="print the log as a Markdown table and exit")
    ap.add_argument("--test", action="store_true", help="measure the (single) given point on the test split")
    args = ap.parse_args()

    log = _load_log(args.log)
    if args.table:
        print(table(log))
        return
    if not (args.data / "user_artists.dat").is_file():
        print(f"skipped: {args.data} is not present", file=sys.stderr)
        return

    pairs = load_pairs(args.data)
    n_items = len(np.unique(pairs[:, 1]))
    outer = split(pairs)
    if args.test:
        target_split, name = outer, "test"
    else:
        target_split, name = validation_split(outer.train), "validation"
    axes = (args.rank, args.reg, args.alpha, args.iterations, args.conf_scale, args.seed)
    blend_axes = (args.blend_weight, args.blend_shrink, args.blend_damp)
    blends = [BlendParams(*b) for b in itertools.product(*blend_axes)]
    grid = [
        (AlsParams(rank=r, reg_param=g, alpha=a, iterations=i, conf_scale=c, seed=sd), b)
        for (r, g, a, i, c, sd), b in itertools.product(itertools.product(*axes), blends)
    ]
    if args.test and len(grid) != 1:
        ap.error("--test takes exactly one parameter set")
    done = {_key(AlsParams(**r["params"]), _blend(r)) for r in log if r["split"] == name}

    from engine.session import build_session

    spark = build_session(Settings(spark_master="local[2]", spark_shuffle_partitions=2))
    pop = metrics(popularity_recs(target_split.train, target_split.test), target_split.test, n_items)
    print(f"{name}: {len(target_split.train)} train rows, {len(target_split.test)} users held out")
    print(f"popularity      {pop.line()}", flush=True)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    for p, b in grid:
        if _key(p, b) in done and not (args.test or args.force):
            print(f"skip (logged)   {p} {b}")
            continue
        t0 = time.perf_counter()
        res = evaluate_model(spark, target_split.train, target_split.test, p, n_items=n_items, blend=b)
        rec = {
            "split": name,
            "params": asdict(p),
            "blend": asdict(b),
            "als_blocks": max(2, spark.sparkContext.defaultParallelism),
            **res.metrics.as_dict(),
            "fit_seconds": round(res.fit_seconds, 1),
            "score_seconds": round(res.score_seconds, 1),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with args.log.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(
            f"rank {p.rank:3d} reg {p.reg_param:<6g} alpha {p.alpha:<5g} it {p.iterations:2d} "
            f"seed {p.seed} cooc {b.weight:g}/{b.shrink:g}/{b.damp:g}  {res.metrics.line()}  "
            f"[{time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
    spark.stop()


if __name__ == "__main__":
    main()
