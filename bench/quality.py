"""Recommendation quality on HetRec 2011 Last.fm-2k (fixed protocol, see engine/evaluate.py):
popularity versus tastemaker's tuned ALS, through the same code as `tastemaker eval hetrec`."""

from __future__ import annotations

import argparse
from pathlib import Path

from common import ROOT, Section

from config.settings import Settings
from engine.als import params_from_settings
from engine.cooc import blend_from_settings
from engine.evaluate import hetrec_report
from engine.session import build_session

DATA = Path(ROOT).parent / "shared" / "data" / "lastfm-2k"


def run(quick: bool) -> Section:
    sec = Section(
        "Recommendation quality, HetRec 2011 Last.fm-2k (held-out 20% per user, top-10)",
        "python bench/quality.py  (same as: tastemaker eval hetrec ../shared/data/lastfm-2k --json)",
        ["model", "P@10", "R@10", "NDCG@10", "MAP@10", "coverage"],
    )
    if not (DATA / "user_artists.dat").is_file():
        sec.notes.append(f"{DATA} is absent on this machine: not measured.")
        return sec
    settings = Settings(spark_master="local[2]", spark_shuffle_partitions=2)
    spark = build_session(settings)
    try:
        params = params_from_settings(settings)
        report = hetrec_report(spark, DATA, params, blend_from_settings(settings))
    finally:
        spark.stop()
    for name, label in (
        ("popularity", "popularity"),
        ("model", f"Spark ALS (rank {params.rank}, reg {params.reg_param}, alpha {params.alpha})"),
    ):
        m = report[name]
        assert isinstance(m, dict)
        sec.rows.append([label, m["precision"], m["recall"], m["ndcg"], m["map"], m["coverage"]])
    secs = report["seconds"]
    assert isinstance(secs, dict)
    sec.notes.append(
        f"Fit {secs['fit']} s, scoring {secs['score']} s. Parameters were tuned on a validation split of "
        "the training part only (docs/tuning.md); the acceptance path import csv → batch --retrain → "
        "export is tests/engine/test_hetrec_quality.py (NDCG@10 >= 0.24)."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
