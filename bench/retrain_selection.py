"""The cost and the outcome of model selection through the real path on HetRec: the training part as a
CSV → ``tastemaker import csv`` → ``tastemaker batch --retrain`` → ``tastemaker export
recommendations`` (as ``tests/engine/test_hetrec_quality.py``), once with ``model_selection`` off
(a plain ALS retrain) and once on, each in its own SQLite file, in one process (one Spark session).
Prints the retrain seconds, their ratio and the export's NDCG@10 on the test split.

    .venv/bin/python bench/retrain_selection.py [DATA] [--modes off,on,off,on]

Repeating the modes (each run in a fresh SQLite file) shows the spread; the first run also pays for
the Spark session's start, so the comparison uses the runs after it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from bot.cli import app  # noqa: E402
from engine.evaluate import (  # noqa: E402
    export_recs_by_user,
    load_artist_names,
    load_pairs,
    metrics,
    split,
    write_training_csv,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"


def _run(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return result.output


def main() -> None:
    os.environ.setdefault("TASTEMAKER_SPARK_MASTER", "local[2]")
    os.environ.setdefault("TASTEMAKER_SPARK_SHUFFLE_PARTITIONS", "2")
    args = sys.argv[1:]
    modes = ["off", "on"]
    if "--modes" in args:
        at = args.index("--modes")
        modes = args[at + 1].split(",")
        del args[at : at + 2]
    data = Path(args[0]) if args else DEFAULT_DATA
    pairs = load_pairs(data)
    names = load_artist_names(data)
    s = split(pairs)
    n_items = len(np.unique(pairs[:, 1]))
    runner = CliRunner()
    results: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "train.csv"
        write_training_csv(s.train, names, csv_path)
        for run, mode in enumerate(modes):
            os.environ["TASTEMAKER_MODEL_SELECTION"] = "true" if mode == "on" else "false"
            db = f"sqlite:///{Path(tmp) / f'{mode}{run}.db'}"
            _run(runner, ["import", "csv", str(csv_path), "--db", db, "--json"])
            t0 = time.perf_counter()
            summary = _run(runner, ["batch", "--retrain", "--db", db])
            t1 = time.perf_counter()
            out = Path(tmp) / f"{mode}{run}.tsv"
            _run(
                runner,
                ["export", "recommendations", "--kind", "artist", "--k", "10", "--out", str(out), "--db", db],
            )
            m = metrics(export_recs_by_user(out, names, s.test), s.test, n_items)
            models = _run(runner, ["eval", "models", "--db", db])
            result = {"retrain_s": round(t1 - t0, 1), "ndcg": m.ndcg, "metrics": m.line(), "models": models}
            results.setdefault(mode, []).append(result)
            print(run, mode, json.dumps(result), summary, flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
