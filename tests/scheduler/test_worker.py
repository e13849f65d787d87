"""Spark in a worker process (engine.worker): the bot's scheduler runs the micro-batch in a spawned
worker, the chat process never imports pyspark, the worker exits after the batch (or stays, kept
warm), and a worker killed with SIGKILL mid-batch is one log line, after which the next scheduled
batch starts a new worker and folds every play exactly once."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from bot import scheduler as sched
from bot.errors import explain
from bot.jobs import JobContext, run_job, worker_context
from config.settings import Settings, load_settings
from engine.batch import TRENDS_JOB, retrain_due
from engine.reader import high_water
from engine.worker import SparkWorker, WorkerJobFailed
from storage import jobs as job_runs
from storage import trends
from storage.db import Database
from tests.engine.helpers import add_plays, reference_aggregates
from tests.platforms.bot_process import ROOT, clean_env

pytestmark = pytest.mark.spark

DAY = dt.datetime(2026, 11, 18, 9, 30)


def _plays(n: int, community: str = "c1") -> list[tuple[str, str, str, str | None, dt.datetime | None, int]]:
    return [
        (community, f"m{k % 5}", f"Artist {k % 7}", f"Song {k % 11}", DAY + dt.timedelta(minutes=k), 1)
        for k in range(n)
    ]


@dataclass
class ParkOnce:
    """A worker's crash-injection hook: at the ``nth`` ``point`` it writes its process id to ``flag``
    and waits to be killed. Only the first worker parks (later ones find the flag)."""

    flag: str
    point: str = "before-commit"
    nth: int = 2
    seen: int = 0

    def __call__(self, point: str) -> None:
        if point != self.point or os.path.exists(self.flag):
            return
        self.seen += 1
        if self.seen == self.nth:
            Path(self.flag).write_text(str(os.getpid()))
            time.sleep(600)


@dataclass
class FailAt:
    """A worker's crash-injection hook that raises at ``point``."""

    point: str

    def __call__(self, point: str) -> None:
        if point == self.point:
            raise ValueError(f"injected failure at {point}")


def _wait_for(predicate: Callable[[], bool], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _finished(db: Database) -> list[job_runs.Run]:
    with db.read() as conn:
        return [r for r in reversed(job_runs.recent(conn, "batch")) if r.finished_at is not None]


def test_a_worker_killed_mid_batch_is_one_line_and_the_next_batch_folds_exactly_once(
    settings: Settings, db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_plays(db, _plays(30) + _plays(10, "c2"))
    settings = settings.model_copy(update={"batch_merge_plays": 10})  # four parts, each its own commit
    flag = tmp_path / "parked"
    ctx = JobContext(
        settings,
        db,
        spark=lambda: pytest.fail("the scheduler's process started Spark"),
        worker=SparkWorker(settings, fault=ParkOnce(str(flag))),
    )
    assert ctx.worker is not None
    every = [sched.JobSpec("batch", dt.timedelta(seconds=2), "micro-batch")]
    caplog.set_level(logging.WARNING)
    scheduler = sched.start(ctx, specs=every)
    try:
        _wait_for(flag.exists)  # the first worker committed part 1 and holds part 2's transaction
        worker = psutil.Process(int(flag.read_text()))
        descendants = worker.children(recursive=True)  # its JVM
        assert any("java" in " ".join(p.cmdline()) for p in descendants)
        worker.send_signal(signal.SIGKILL)
        _wait_for(lambda: len(_finished(db)) >= 1)
        _, alive = psutil.wait_procs(descendants, timeout=120)
        assert alive == []  # the JVM went with its worker
        _wait_for(lambda: any(r.status == "ok" for r in _finished(db)))
    finally:
        sched.stop(scheduler)
        ctx.close()
    runs = _finished(db)
    assert runs[0].status == "failed"
    assert runs[0].detail.startswith("the Spark worker process was killed by SIGKILL during the job")
    assert runs[1].status == "ok" and "retrained artist" in runs[1].detail
    assert ctx.worker.started == 2 and ctx.worker.pid is None  # a new worker, gone after its batch
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"job batch failed: {runs[0].detail}"]
    with db.read() as conn:
        counts, presence = trends.all_aggregates(conn)
        assert trends.watermark(conn, TRENDS_JOB)[0] == high_water(db) == 40
    assert (counts, presence) == reference_aggregates(db)  # every play folded once, none twice


def test_a_job_failing_in_the_worker_is_explained_and_the_worker_stopped(
    settings: Settings, db: Database
) -> None:
    add_plays(db, _plays(3))
    worker = SparkWorker(settings, keep_warm=True, fault=FailAt("before-compute"))
    ctx = JobContext(settings, db, spark=lambda: pytest.fail("Spark in the caller"), worker=worker)
    try:
        outcome = run_job("batch", ctx)
        assert not outcome.ok
        assert outcome.detail == "ValueError: injected failure at before-compute"
        assert worker.pid is None  # even kept warm: a worker whose job failed is stopped
        with pytest.raises(WorkerJobFailed) as failed:
            worker.run("batch")
        assert failed.value.remote_type == "ValueError"
        assert "injected failure" in str(failed.value.__cause__)  # the worker's traceback
        assert explain(failed.value) == "ValueError: injected failure at before-compute"
    finally:
        ctx.close()


def test_an_idle_batch_starts_no_worker(settings: Settings, db: Database) -> None:
    ctx = worker_context(settings, db)
    assert ctx.worker is not None
    try:
        outcome = run_job("batch", ctx)
        assert outcome.ok and outcome.detail == "no new plays"
        assert ctx.worker.started == 0
    finally:
        ctx.close()
    with pytest.raises(RuntimeError, match="Spark runs in the Spark worker process"):
        ctx.spark()


@pytest.mark.parametrize(("value", "warm"), [(None, False), ("true", True), ("false", False)])
def test_keep_warm_is_an_environment_setting(
    value: str | None, warm: bool, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("TASTEMAKER_SPARK_KEEP_WARM", raising=False)
    else:
        monkeypatch.setenv("TASTEMAKER_SPARK_KEEP_WARM", value)
    ctx = worker_context(load_settings(database_url=db.url), db)
    assert ctx.worker is not None and ctx.worker.keep_warm is warm


def test_plays_without_tracks_make_no_track_model_due(settings: Settings, db: Database) -> None:
    """HetRec-style plays name no track: a track model is never due for them, so once the artist
    model is trained an idle tick stays idle (and starts no worker)."""
    ctx = JobContext(settings, db, spark=lambda: pytest.fail("Spark"))
    add_plays(db, [("c1", "ann", "Björk", None, None, 7)], tag="a")
    assert retrain_due(ctx) == ["artist"]
    add_plays(db, [("c1", "ann", "Björk", "Jóga", DAY, 1)], tag="b")
    assert retrain_due(ctx) == ["artist", "track"]


def _probe(db: Database, mode: str) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "tests.scheduler.worker_probe", db.url, mode],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    report: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return report


def test_the_chat_process_never_imports_pyspark_and_the_worker_exits_after_the_batch(
    db: Database,
) -> None:
    add_plays(db, _plays(20))
    report = _probe(db, "default")
    assert [status for status, _ in report["runs"]] == ["ok"]
    assert report["runs"][0][1].startswith("folded plays 1..20 (20 rows)")
    assert report["pyspark_imported"] == []
    assert report["workers_started"] == 1
    assert report["after_first"] == {"worker_pid": None, "children": []}  # no worker, no JVM


def test_a_warm_worker_stays_between_batches_and_stops_with_the_bot(db: Database) -> None:
    add_plays(db, _plays(20))
    report = _probe(db, "keep-warm")
    assert [status for status, _ in report["runs"]] == ["ok", "ok"]
    assert report["runs"][1][1].startswith("folded plays 21..25 (5 rows)")
    assert report["pyspark_imported"] == []
    assert report["workers_started"] == 1  # the second batch ran in the same worker
    first, second = report["after_first"], report["after_second"]
    assert first["worker_pid"] is not None and second["worker_pid"] == first["worker_pid"]
    assert any("java" in line for line in second["children"])  # its JVM stays warm too
    assert report["after_close"] == []
