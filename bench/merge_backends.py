"""The batch's merge on SQLite and on PostgreSQL, same batches, same run: the HetRec fold (every
play of ../shared/data/lastfm-2k folded at once; a synthetic stand-in of the same size when it is
absent) and a 10k-play incremental batch on top of it. Only the merge phase is compared (the
``merge`` of :attr:`engine.batch.BatchResult.timings`): reading and Spark compute do not depend on
the backend's write path.

The Postgres server: ``TASTEMAKER_BENCH_POSTGRES_URL`` (a role that may create databases), else a
throwaway one started with ``.ci/postgres`` (Debian's postgresql; durability off, as in CI) and
removed afterwards. Each backend gets a new database."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from common import ROOT, Section, median, synthetic_rows

from config.settings import Settings
from engine.batch import EngineContext, fold_all, fold_trends
from engine.session import build_session
from ingest.formats import import_path
from ingest.importers import Row, import_rows
from storage import catalog
from storage.db import open_database, scratch_database

NOW = dt.datetime(2026, 11, 20, 12, 0)
HETREC = Path(ROOT).parent / "shared" / "data" / "lastfm-2k"
HETREC_PAIRS = 92_834
SERVER_ENV = "TASTEMAKER_BENCH_POSTGRES_URL"


@contextlib.contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """A Postgres server URL: ``$TASTEMAKER_BENCH_POSTGRES_URL``, or a throwaway ``.ci/postgres``."""
    if os.environ.get(SERVER_ENV):
        yield os.environ[SERVER_ENV]
        return
    script, folder = os.path.join(ROOT, ".ci", "postgres"), str(tmp / "pg")
    try:
        url = subprocess.run([script, "start", folder], check=True, capture_output=True, text=True).stdout
        yield url.strip()
    finally:
        subprocess.run([script, "stop", folder], check=False, capture_output=True)


def _hetrec_like(n: int) -> Iterator[Row]:
    """A stand-in for HetRec when it is absent: ``n`` undated member × artist pairs."""
    for k, row in enumerate(synthetic_rows(n, seed=7, members=1_900, artists=17_000, now=NOW)):
        yield Row(k + 1, row.user, row.artist, count=1 + k % 50)


def warm(url: str, spark) -> None:  # type: ignore[no-untyped-def]
    """Fold a few plays once, untimed: the session's first jobs pay for JIT and Python workers."""
    db = open_database(url)
    try:
        with db.write() as conn:
            cid = catalog.community_id(conn, "local", "warm", "warm")
        import_rows(db, cid, synthetic_rows(2_000, seed=1, now=NOW), source="warm")
        fold_all(EngineContext(Settings(database_url=url), db, spark=lambda: spark))
    finally:
        db.dispose()


def measure(url: str, spark, tmp: Path, reps: int) -> tuple[float, list[float], str]:
    """``(HetRec fold merge s, [10k batch merge s, ...], what was folded)`` on the database at ``url``."""
    settings = Settings(database_url=url, spark_master="local[2]", spark_shuffle_partitions=4)
    db = open_database(url)
    try:
        ctx = EngineContext(settings, db, spark=lambda: spark)
        with db.write() as conn:
            cid = catalog.community_id(conn, "local", "bench", "bench")
        if (HETREC / "user_artists.dat").is_file():
            # Through a link, so that nothing (a rejects file) is ever written next to the shared data.
            link = tmp / f"lastfm-2k-{uuid.uuid4().hex[:6]}"
            link.symlink_to(HETREC)
            summary = import_path(db, cid, "hetrec", link, now=NOW)
            what = f"HetRec Last.fm-2k fold ({summary.imported:,} plays)"
        else:
            import_rows(db, cid, _hetrec_like(HETREC_PAIRS), source="standin")
            what = f"HetRec-sized synthetic fold ({HETREC_PAIRS:,} undated plays; HetRec absent)"
        fold = dict(fold_all(ctx).timings)["merge"]
        incremental = []
        for rep in range(reps):
            rows = synthetic_rows(10_000, seed=200 + rep, members=1_900, now=NOW, line_offset=10_000 * rep)
            import_rows(db, cid, rows, source=f"bench{rep}")
            incremental.append(dict(fold_trends(ctx).timings)["merge"])
        return fold, incremental, what
    finally:
        db.dispose()


def run(quick: bool) -> Section:
    reps = 3 if quick else 5
    sec = Section(
        "Batch merge: SQLite and PostgreSQL",
        "python bench/merge_backends.py" + (" --quick" if quick else ""),
        ["batch", "SQLite merge (s)", "PostgreSQL merge (s)", "PostgreSQL / SQLite", "target <= 1.5"],
    )
    spark = build_session(Settings(spark_master="local[2]", spark_shuffle_partitions=4))
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            warm(f"sqlite:///{tmp / 'warm.db'}", spark)
            lite = measure(f"sqlite:///{tmp / 'bench.db'}", spark, tmp, reps)
            with postgres_server(tmp) as server, scratch_database(server, "tastemaker_bench") as url:
                pg = measure(url, spark, tmp, reps)
    finally:
        spark.stop()
    for name, a, b in (
        (lite[2], lite[0], pg[0]),
        (f"10k new plays after it (median of {reps})", median(lite[1]), median(pg[1])),
    ):
        ratio = b / a
        sec.rows.append([name, a, b, f"{ratio:.2f}", "met" if ratio <= 1.5 else "MISSED"])
    sec.notes.append(
        "Merge phase only (engine.batch timings), default batch settings: the fold commits in parts of "
        "10,000 play ids, each one transaction with its watermark step. PostgreSQL 15 from Debian, "
        "started by .ci/postgres (fsync and synchronous_commit off, as in CI); SQLite in WAL mode on "
        "a local file."
    )
    sec.notes.append(
        "On PostgreSQL (psycopg) each part COPYs its deltas into temporary tables and folds them in "
        "with one INSERT … SELECT … ON CONFLICT statement (storage/trends.py); other databases take "
        "the row-wise upserts."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
