"""SQLite → Spark read path: tastemaker's driver-side Arrow read (engine.reader) versus Spark's JDBC
source with the Debian sqlite-jdbc driver, reading the same id range of plays."""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from common import Section, median, synthetic_rows

from config.settings import Settings
from engine.reader import plays_between
from engine.session import JDBC_JARS, build_session
from engine.trends_job import trend_deltas
from ingest.importers import import_rows
from storage import catalog
from storage.db import open_database

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _jdbc(spark, path: Path, after: int, upto: int):  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    query = (
        "(SELECT id, community_id, member_id, artist_id, track_id, played_at, count FROM plays "
        f"WHERE id > {after} AND id <= {upto}) AS p"
    )
    df = (
        spark.read.format("jdbc")
        .option("url", f"jdbc:sqlite:{path}")
        .option("driver", "org.sqlite.JDBC")
        .option("dbtable", query)
        .option("fetchsize", 50_000)
        .load()
    )
    return df.withColumn("played_at", F.to_timestamp("played_at"))


def run(quick: bool) -> Section:
    sizes = [10_000, 50_000] if quick else [10_000, 100_000, 1_000_000]
    cmd = "python bench/read_path.py" + (" --quick" if quick else "")
    sec = Section(
        "SQLite → Spark read path (plays after a watermark, through the batch's trend aggregation)",
        cmd,
        ["plays read", "Arrow via SQLAlchemy (s)", "Spark JDBC, sqlite-jdbc (s)", "JDBC / Arrow"],
    )
    if not Path(JDBC_JARS[0]).is_file():
        sec.notes.append(f"{JDBC_JARS[0]} is missing (Debian libxerial-sqlite-jdbc-java): JDBC not measured.")
    settings = Settings(spark_master="local[2]", spark_shuffle_partitions=2)
    spark = build_session(settings)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "read.db"
            db = open_database(f"sqlite:///{path}")
            with db.write() as conn:
                cid = catalog.community_id(conn, "local", "bench", "bench")
            import_rows(db, cid, synthetic_rows(max(sizes), seed=3, now=NOW), source="bench")
            for n in sizes:
                arrow, jdbc = [], []
                for _ in range(3):
                    t = time.perf_counter()
                    df, _rows = plays_between(spark, db, 0, n)
                    trend_deltas(df)
                    arrow.append(time.perf_counter() - t)
                    if Path(JDBC_JARS[0]).is_file():
                        t = time.perf_counter()
                        trend_deltas(_jdbc(spark, path, 0, n))
                        jdbc.append(time.perf_counter() - t)
                a = median(arrow)
                j = median(jdbc) if jdbc else float("nan")
                sec.rows.append([n, a, j, j / a])
            db.dispose()
    finally:
        spark.stop()
    sec.notes.append(
        "Median of 3; each run reads the id range and computes the batch's aggregates "
        "(engine.trends_job.trend_deltas), so both paths materialise every column."
    )
    sec.notes.append(
        "The Arrow path works unchanged for Postgres (any SQLAlchemy URL) and any spark.master; a "
        "micro-batch reads only the plays after the watermark, so it stays small."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
