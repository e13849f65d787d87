"""Acceptance: HetRec Last.fm-2k through the production path, scored with the fixed protocol.

The training part is written as a ``user,artist,count`` CSV (artists by name), then the real CLI
commands run in-process on one database: ``import csv`` → ``batch --retrain`` → ``export
recommendations --kind artist --k 10``. The export is mapped back to HetRec artist ids through the
normalised name key: names that collide after normalisation (``Red``/``RED``) are one artist in our
catalog, so a pick counts as a hit when any id sharing its key is in the member's held-out set.
The CLI's ``getOrCreate`` reuses the session-scoped Spark fixture, so no second JVM starts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from engine.evaluate import (
    export_recs_by_user,
    load_artist_names,
    load_pairs,
    metrics,
    popularity_recs,
    split,
    write_training_csv,
)
from tests.conftest import HETREC_DIR, requires_hetrec

pytestmark = [pytest.mark.hetrec, pytest.mark.spark, requires_hetrec]

NDCG_FLOOR = 0.24


def _run(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_ndcg_through_import_batch_export(  # type: ignore[no-untyped-def]
    spark, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("TASTEMAKER_CONFIG", "TASTEMAKER_ALS_RANK", "TASTEMAKER_ALS_REG", "TASTEMAKER_ALS_ALPHA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TASTEMAKER_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("TASTEMAKER_SPARK_SHUFFLE_PARTITIONS", "2")
    pairs = load_pairs(HETREC_DIR)
    names = load_artist_names(HETREC_DIR)
    s = split(pairs)
    n_items = len(np.unique(pairs[:, 1]))
    csv_path = tmp_path / "hetrec_train.csv"
    assert write_training_csv(s.train, names, csv_path) == len(s.train)
    db = database_url
    out = tmp_path / "recs.tsv"
    runner = CliRunner()

    t0 = time.perf_counter()
    summary = json.loads(_run(runner, ["import", "csv", str(csv_path), "--db", db, "--json"]).strip())
    # rows whose names collide after normalisation with equal counts for one user are one play
    assert summary["rejected"] == 0
    assert summary["imported"] + summary["duplicates"] == len(s.train)
    t1 = time.perf_counter()
    assert "retrained artist" in _run(runner, ["batch", "--retrain", "--db", db])
    t2 = time.perf_counter()
    _run(
        runner, ["export", "recommendations", "--kind", "artist", "--k", "10", "--out", str(out), "--db", db]
    )
    t3 = time.perf_counter()

    recs = export_recs_by_user(out, names, s.test)
    model = metrics(recs, s.test, n_items)
    pop = metrics(popularity_recs(s.train, s.test), s.test, n_items)
    print(
        f"\nimport {t1 - t0:.1f} s, batch --retrain {t2 - t1:.1f} s, export {t3 - t2:.1f} s\n"
        f"model      {model.line()}\npopularity {pop.line()}"
    )
    assert model.users == len(s.test)
    assert all(len(r) == 10 for u, r in recs.items() if u in s.test)
    assert model.ndcg >= NDCG_FLOOR
    assert pop.ndcg < 0.1
    assert model.ndcg > 2.5 * pop.ndcg
