"""Would a third model family lift HetRec towards NDCG@10 0.27? A probe, not production code.

Two steps, both on the validation split (carved from the training part only) unless ``--test``:

* ``points``: iALS with the objective of Rendle et al. 2021 ("Revisiting the performance of iALS on
  item recommendation benchmarks"): binary targets, one weight ``a0`` for every unobserved pair,
  regularisation ``reg · (n + a0 · N)^nu`` (n = the row's observed count, N = the other side's size),
  solved exactly per row in numpy. Spark's implicit ALS differs in the last two (its unobserved
  weight is fixed at 1, so ``a0`` ≈ 1 / (1 + α·log1p(plays)), and its regularisation is ``reg · n``).
* ``blend``: per-member max-normalised scores of production's Spark ALS (one seed and three seeds
  averaged), the best iALS point and EASE^R (λ 100, artists with ≥ 2 listeners), added with weights.

The scorer is ``bench/als_confidence.ndcg_at_10`` (a plain dot product for ALS), so compare rows
with each other. One JSON line per point goes to ``--log``.

    .venv/bin/python bench/ials_probe.py points '{"d": 64, "a0": 0.1, "reg": 0.01}' ...
    .venv/bin/python bench/ials_probe.py blend            # the weight grid, validation
    .venv/bin/python bench/ials_probe.py blend --test     # the chosen blend, once on test
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.probes import (  # noqa: E402
    als_bases,
    ease_scores,
    log_point,
    normalised,
)
from bench.probes import load as load_probe_data  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"
BEST_IALS = {"d": 128, "a0": 0.05, "reg": 0.015, "iterations": 8}
# Measured once on test: each base alone, and the best blend on validation with one and three ALS seeds.
CHOSEN_BLEND = (("als", 0.0, 0.0), ("als3", 0.0, 0.0), ("als", 1.0, 0.2), ("als3", 0.5, 0.5))


def _solve_side(
    other: np.ndarray, rows: np.ndarray, cols: np.ndarray, n_rows: int, a0: float, reg: float, nu: float
) -> np.ndarray:
    """Each row's exact least-squares factor given the other side's factors ``other``."""
    d = other.shape[1]
    gram = a0 * other.T @ other
    counts = np.bincount(rows, minlength=n_rows).astype(np.float64)
    lam = reg * (counts + a0 * len(other)) ** nu
    order = np.argsort(rows, kind="stable")
    cols = cols[order]
    starts = np.searchsorted(rows[order], np.arange(n_rows + 1))
    out = np.empty((n_rows, d))
    for lo in range(0, n_rows, 2048):
        hi = min(n_rows, lo + 2048)
        a = np.broadcast_to(gram, (hi - lo, d, d)).copy()
        rhs = np.empty((hi - lo, d))
        for k in range(hi - lo):
            v = other[cols[starts[lo + k] : starts[lo + k + 1]]]
            a[k] += (1 - a0) * v.T @ v
            rhs[k] = v.sum(axis=0)
        a[:, np.arange(d), np.arange(d)] += lam[lo:hi, None]
        out[lo:hi] = np.linalg.solve(a, rhs[:, :, None])[:, :, 0]
    return out


def ials_scores(
    u: np.ndarray, i: np.ndarray, shape: tuple[int, int], *, d: int, a0: float, reg: float,
    nu: float = 1.0, iterations: int = 8, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    rng = np.random.default_rng(seed)
    users = rng.normal(0, 0.1 / math.sqrt(d), (shape[0], d))
    items = rng.normal(0, 0.1 / math.sqrt(d), (shape[1], d))
    for _ in range(iterations):
        users = _solve_side(items, u, i, shape[0], a0, reg, nu)
        items = _solve_side(users, i, u, shape[1], a0, reg, nu)
    return users @ items.T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("points", "blend"))
    ap.add_argument("points", nargs="*", help="iALS points as JSON objects (step 'points')")
    ap.add_argument("--test", action="store_true", help="the protocol's test split (chosen points only)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--log", type=Path, default=ROOT / "var" / "ials_probe.jsonl")
    args = ap.parse_args()
    d = load_probe_data(args.data, test=args.test)
    if d is None:
        return
    os.environ.setdefault("TASTEMAKER_SPARK_MASTER", "local[2]")
    u, i, shape, score = d.u, d.i, d.shape, d.score

    def log(rec: Mapping[str, object]) -> None:
        log_point(args.log, d.split_name, rec)

    if args.step == "points":
        for text in args.points:
            point = json.loads(text)
            t0 = time.perf_counter()
            value = score(ials_scores(u, i, shape, **point))
            log(
                {
                    "model": "ials",
                    **point,
                    "ndcg": round(value, 4),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
        return
    models = {
        **als_bases(d),
        "ials": normalised(ials_scores(u, i, shape, **BEST_IALS), u, i),
        "ease": normalised(ease_scores(u, i, shape, 100.0), u, i),
    }
    for name, s in models.items():
        log({"model": name, "ndcg": round(score(s), 4)})
    grid = (
        CHOSEN_BLEND
        if args.test
        else [(b, wi, we) for b in ("als", "als3") for wi in (0, 0.5, 1.0) for we in (0.1, 0.2, 0.35, 0.5)]
    )
    for base, wi, we in grid:
        value = score(models[base] + wi * models["ials"] + we * models["ease"])
        log({"model": f"{base} + {wi}·ials + {we}·ease", "ndcg": round(value, 4)})


if __name__ == "__main__":
    main()
