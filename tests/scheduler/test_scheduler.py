"""A real APScheduler 3.x BackgroundScheduler on the project's SQLite file: the start-up order keeps a
run missed while the process was down, and the micro-batch never runs twice at once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from types import MappingProxyType
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from typer.testing import CliRunner

import bot.jobs
from bot import scheduler as sched
from bot.cli import app
from bot.jobs import Job, JobContext
from config.settings import Settings
from storage import jobs as job_runs
from storage.db import Database


class Recorder:
    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.runs: list[float] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, ctx: JobContext, **_: Any) -> str:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.runs.append(time.monotonic())
        try:
            time.sleep(self.seconds)
        finally:
            with self.lock:
                self.active -= 1
        return "recorded"


@pytest.fixture
def batch(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(
        bot.jobs, "REGISTRY", MappingProxyType({**bot.jobs.REGISTRY, "batch": Job("batch", recorder, "test")})
    )
    return recorder


def ctx_for(db: Database, settings: Settings) -> JobContext:
    return JobContext(settings, db, spark=lambda: None)  # type: ignore[arg-type, return-value]


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_paused_start_keeps_a_run_missed_while_down(
    db: Database, settings: Settings, batch: Recorder
) -> None:
    hour = [sched.JobSpec("batch", dt.timedelta(hours=1), "batch")]
    # First life: the job is stored with its next run "now", and the process dies before running it.
    first = sched.build_scheduler(db.url)
    first.start(paused=True)
    assert sched.ensure_jobs(first, hour) == ["batch"]
    stored = first.get_job("batch").next_run_time
    first.shutdown(wait=False)
    time.sleep(0.2)  # down past the stored run time
    assert batch.runs == []

    # What replace_existing=True would do: recompute the next run from now, dropping the missed one.
    probe = sched.build_scheduler(db.url)
    probe.start(paused=True)
    assert probe.get_job("batch").next_run_time == stored
    probe.shutdown(wait=False)

    # Second life: paused start, add only what is missing (nothing), resume: the missed run happens once.
    scheduler = sched.start(ctx_for(db, settings), specs=hour)
    try:
        wait_until(lambda: len(batch.runs) == 1)
        time.sleep(0.3)
        assert len(batch.runs) == 1
        next_run = scheduler.get_job("batch").next_run_time
        assert next_run - stored >= dt.timedelta(minutes=59)  # coalesced: the next one is an hour on
    finally:
        sched.stop(scheduler)


def test_replace_existing_would_drop_the_missed_run(db: Database) -> None:
    """Why the start-up adds only missing jobs (documents APScheduler 3.x behaviour)."""
    scheduler = sched.build_scheduler(db.url)
    scheduler.start(paused=True)
    try:
        sched.ensure_jobs(scheduler, [sched.JobSpec("batch", dt.timedelta(hours=1), "batch")])
        before = scheduler.get_job("batch").next_run_time
        scheduler.add_job(
            sched.run_named, "interval", hours=1, args=["batch"], id="batch", replace_existing=True
        )
        after = scheduler.get_job("batch").next_run_time
        assert after - before >= dt.timedelta(minutes=59)
    finally:
        scheduler.shutdown(wait=False)


def test_micro_batch_never_runs_twice_at_once(db: Database, settings: Settings, batch: Recorder) -> None:
    batch.seconds = 0.9  # outlasts its 0.25 s interval several times over
    skipped: list[JobEvent] = []
    scheduler = sched.start(
        ctx_for(db, settings), specs=[sched.JobSpec("batch", dt.timedelta(seconds=0.25), "b")]
    )
    scheduler.add_listener(skipped.append, EVENT_JOB_MAX_INSTANCES)
    try:
        wait_until(lambda: len(batch.runs) >= 3, timeout=10)
    finally:
        sched.stop(scheduler)
    assert batch.max_active == 1
    assert skipped  # APScheduler refused overlapping runs (max_instances=1)
    gaps = [b - a for a, b in zip(batch.runs, batch.runs[1:], strict=False)]
    assert all(g >= 0.85 for g in gaps)


def test_in_process_lock_refuses_a_second_concurrent_run(
    db: Database, settings: Settings, batch: Recorder
) -> None:
    batch.seconds = 0.5
    runtime = sched.Runtime(ctx_for(db, settings))
    threads = [threading.Thread(target=runtime.run, args=("batch",)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(batch.runs) == 1 and batch.max_active == 1


def test_a_stored_job_runs_only_through_its_schedulers_runtime(
    db: Database, settings: Settings, batch: Recorder
) -> None:
    """No module-level slot: two schedulers of one process (tests do that) each run jobs with their own
    runtime, and the bare stored function runs nothing."""
    sched.run_named("batch")
    assert batch.runs == []
    scheduler = sched.start(ctx_for(db, settings), specs=[sched.JobSpec("batch", dt.timedelta(hours=1), "b")])
    try:
        wait_until(lambda: len(batch.runs) == 1)  # the first run is due at once
    finally:
        sched.stop(scheduler)
    assert len(batch.runs) == 1


def test_jobs_command_lists_next_run_and_last_result(
    db: Database, settings: Settings, batch: Recorder
) -> None:
    scheduler = sched.start(ctx_for(db, settings), specs=sched.job_specs(settings))
    try:
        wait_until(lambda: len(batch.runs) == 1)
        time.sleep(0.2)
    finally:
        sched.stop(scheduler)
    result = CliRunner().invoke(app, ["jobs", "--db", settings.database_url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    batch_line = next(line for line in lines if line.startswith("batch"))
    assert "interval[0:10:00]" in batch_line and "last: ok at" in batch_line
    assert "recorded" in result.output
    digest_line = next(line for line in lines if line.startswith("digest"))
    assert "interval[0:01:00]" in digest_line and "last: never run" in digest_line
    assert any(line.startswith("retrain") and "not scheduled" in lines[i + 1] for i, line in enumerate(lines))


def test_a_run_whose_process_died_is_shown_abandoned_not_running(db: Database, settings: Settings) -> None:
    import subprocess
    import sys

    import psutil

    from storage.jobs import Owner

    # A real process that starts a run and is killed before it finishes (as kill -9 would leave it).
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = psutil.Process(child.pid)
        with db.write() as conn:
            dead_id = job_runs.start(
                conn,
                "batch",
                dt.datetime(2026, 11, 20, 12),
                Owner(Owner.current().host, child.pid, proc.create_time()),
            )
            live_id = job_runs.start(conn, "digest", dt.datetime(2026, 11, 20, 12))  # this process
        statuses = {s.id: s.last_status for s in sched.job_statuses(db)}
        assert statuses["batch"] == "running"
    finally:
        child.kill()
        child.wait()
    statuses = {s.id: s.last_status for s in sched.job_statuses(db)}
    assert statuses["batch"] == "abandoned"  # shown, without writing (jobs is read-only)
    assert statuses["digest"] == "running"
    with db.read() as conn:
        assert [r.status for r in job_runs.recent(conn, "batch")] == ["running"]
    # A pid reused by another process does not revive the run: the start time differs.
    with db.write() as conn:
        reused = job_runs.start(
            conn, "retrain", dt.datetime(2026, 11, 20, 12), Owner(Owner.current().host, 1, 0.0)
        )
    with db.read() as conn:
        assert [r.shown_status for r in job_runs.recent(conn, "retrain")] == ["abandoned"]
    # The next `tastemaker run` on this host writes it down; the live run stays running.
    with db.write() as conn:
        assert sorted(job_runs.abandon_dead(conn, dt.datetime(2026, 11, 20, 13))) == [dead_id, reused]
    with db.read() as conn:
        assert job_runs.recent(conn, "batch")[0].status == "abandoned"
        assert (
            job_runs.recent(conn, "digest")[0].id == live_id
            and job_runs.recent(conn, "digest")[0].status == "running"
        )


def test_job_statuses_never_creates_the_job_store(db: Database) -> None:
    from sqlalchemy import inspect

    assert not inspect(db.engine).has_table(sched.JOBSTORE_TABLE)
    statuses = sched.job_statuses(db)
    assert {s.id for s in statuses} == set(bot.jobs.REGISTRY)
    assert all(s.last_status == "never run" for s in statuses)
    assert not inspect(db.engine).has_table(sched.JOBSTORE_TABLE)
