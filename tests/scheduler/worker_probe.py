"""Run as ``python -m tests.scheduler.worker_probe DB_URL default|keep-warm`` by test_worker.py: the
bot's scheduler with the job context ``tastemaker run`` builds (:func:`bot.jobs.worker_context`)
runs the micro-batch on plays already in DB_URL (keep-warm: then a second batch on plays logged
after the first), and prints one JSON object: what this chat process holds afterwards."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

import psutil

from bot import scheduler as sched
from bot.jobs import worker_context
from bot.service import Service, Who
from config.settings import Settings
from storage import jobs
from storage.db import open_database


def children() -> list[str]:
    """This process's descendants (the multiprocessing resource tracker left out), by command line."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" not in line:
            out.append(line)
    return out


def finished_batches(db_url: str, count: int) -> list[tuple[str, str]]:
    db = open_database(db_url, migrate=False)
    try:
        deadline = time.monotonic() + 600
        while True:
            with db.read() as conn:
                runs = [r for r in jobs.recent(conn, "batch") if r.finished_at is not None]
            if len(runs) >= count:
                return [(r.status, r.detail) for r in reversed(runs)]
            if time.monotonic() > deadline:
                raise SystemExit(f"the batch ran {len(runs)} times, expected {count}")
            time.sleep(0.2)
    finally:
        db.dispose()


def main(db_url: str, mode: str) -> None:
    settings = Settings(
        database_url=db_url,
        spark_master="local[2]",
        spark_shuffle_partitions=2,
        als_rank=8,
        als_iterations=5,
        retrain_every_batches=100,  # the first batch trains the models; the second only folds
        retrain_new_share=1.0,
        spark_keep_warm=mode == "keep-warm",
    )
    db = open_database(db_url)
    ctx = worker_context(settings, db)
    assert ctx.worker is not None
    report: dict[str, object] = {}
    hourly = [sched.JobSpec("batch", dt.timedelta(hours=1), "micro-batch")]
    scheduler = sched.start(ctx, specs=hourly)  # the first batch runs at once
    try:
        finished_batches(db_url, 1)
        report["after_first"] = {"worker_pid": ctx.worker.pid, "children": children()}
        if mode == "keep-warm":
            service = Service(db, settings)
            for k in range(5):
                service.played(Who("local", "probe", f"m{k}"), f"Probe Artist {k} - Song {k}")
            scheduler.modify_job("batch", next_run_time=dt.datetime.now(dt.UTC))
            finished_batches(db_url, 2)
            report["after_second"] = {"worker_pid": ctx.worker.pid, "children": children()}
        report["runs"] = finished_batches(db_url, 2 if mode == "keep-warm" else 1)
        report["workers_started"] = ctx.worker.started
    finally:
        sched.stop(scheduler)
        ctx.close()
    report["after_close"] = children()
    report["pyspark_imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j"))
    db.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
