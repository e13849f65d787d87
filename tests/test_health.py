"""/healthz and /metrics (bot.health) over real HTTP on 127.0.0.1, port 0: the status codes, the
metric names (parsed with prometheus_client's parser), and values that move after a /played and a
batch; a health port in use stops ``tastemaker run`` with one line."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot import health, runner
from bot.digest import DigestPost, DigestRuntime
from bot.jobs import JobContext, run_job
from bot.platforms import Process, Served
from bot.service import Service, Who
from config.settings import Settings
from storage import catalog, digests
from storage import jobs as job_runs
from storage.db import Database
from tests.conftest import Clock

ANN = Who("local", "alpha", "ann", community_name="alpha", member_name="Ann")
BOB = Who("local", "alpha", "bob", community_name="alpha", member_name="Bob")
WAIT = 120.0  # seconds a test waits for a condition before it fails


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def healthz(base: str) -> tuple[int, dict[str, Any]]:
    code, body = get(base + "/healthz")
    return code, json.loads(body)


def scrape(base: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Metric name → {sorted labels → value} of every sample in /metrics."""
    code, text = get(base + "/metrics")
    assert code == 200
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        out.setdefault(family.name, {})
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


class Sender:
    platform = "stand-in"
    resend_window = dt.timedelta(0)

    def send(self, channel: str, post: DigestPost) -> str:
        raise AssertionError("no digest is due in these tests")


class StandIn:
    """A platform that serves until stopped and hands the test the service it was given."""

    name = "stand-in"
    help = "help"
    reference = "x:1"
    credentials = "X_TOKEN"

    def __init__(self) -> None:
        self.process: Process | None = None
        self.finish = threading.Event()

    def parse_community(self, ref: str) -> str:
        return ref

    def format_community(self, external_id: str) -> str:
        return external_id

    def parse_member(self, ref: str) -> str:
        return ref

    def configured(self, settings: Settings) -> bool:
        return True

    def digest_sender(self, settings: Settings) -> Sender:
        return Sender()

    def serve(self, process: Process) -> Served:
        self.process = process

        def run() -> None:
            self.finish.wait()

        return Served(self.name, run, self.finish.set).start()


def wait_for(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.spark
def test_running_bot_serves_health_and_metrics_that_move(
    settings: Settings, db: Database, clock: Clock, spark: Any
) -> None:
    on = settings.model_copy(update={"health_port": 0})
    service = Service(db, on, clock=clock)
    platform = StandIn()
    registry = CollectorRegistry()
    out: list[str] = []
    err: list[str] = []
    stop = threading.Event()
    contexts: list[JobContext] = []

    def context(digest: DigestRuntime) -> JobContext:
        ctx = JobContext(on, db, spark=lambda: spark, clock=clock, digest=digest)
        contexts.append(ctx)
        return ctx

    status: list[int] = []
    thread = threading.Thread(
        target=lambda: status.append(
            runner.serve(
                [platform], service, on, context, out=out.append, err=err.append, stop=stop, registry=registry
            )
        )
    )
    thread.start()
    try:
        line = wait_for("the health line", lambda: next((x for x in out if "health on" in x), None))
        base = line.split("health on ", 1)[1].split("/healthz", 1)[0]
        assert base.startswith("http://127.0.0.1:")
        # The scheduler's first batch (nothing to fold) runs at start: wait until it is recorded.
        wait_for("the first batch", lambda: healthz(base)[1]["last_batch"]["age_seconds"] is not None)
        code, body = healthz(base)
        assert code == 200 and body["status"] == "ok"
        assert body["database"] == {"ok": True} and body["scheduler"] == {"ok": True}
        assert body["platforms"] == {"stand-in": True}
        assert body["last_batch"]["ok"] is True and body["last_batch"]["stale_after_seconds"] == 1800
        assert get(base + "/nothing")[0] == 404

        before = scrape(base)
        for name in (
            "tastemaker_database_up",
            "tastemaker_batch_lag_plays",
            "tastemaker_last_batch_age_seconds",
            "tastemaker_last_batch_duration_seconds",
            "tastemaker_last_retrain_age_seconds",
            "tastemaker_digest_posts",
            "tastemaker_plays_logged",
            "tastemaker_interaction_seconds",
        ):
            assert name in before, name
        assert before["tastemaker_database_up"] == {(): 1.0}
        assert before["tastemaker_batch_lag_plays"] == {(): 0.0}
        assert before["tastemaker_last_retrain_age_seconds"] == {}  # no model yet
        assert "tastemaker_plays_logged_total" not in before

        # Three /played through the service the platform was given, one of them a retried delivery.
        assert platform.process is not None
        seen = platform.process.service
        seen.played(ANN, "Radiohead - Creep", event_id="e1")
        seen.played(ANN, "Radiohead - Creep", event_id="e1")  # duplicate: not a new play
        seen.played(BOB, "Björk - Jóga")
        seen.played(BOB, "Radiohead - Creep")
        with db.write() as conn:  # one digest posted
            community = catalog.find_community(conn, "local", "alpha")
            assert community is not None
            digests.claim(conn, (community, "#general", dt.date(2026, 11, 20)), clock())
            digests.set_status(conn, (community, "#general", dt.date(2026, 11, 20)), "sent", sent_at=clock())
        m = scrape(base)
        assert m["tastemaker_plays_logged_total"] == {(("via", "played"),): 3.0}
        assert m["tastemaker_interaction_seconds_count"][(("action", "played"),)] == 4.0
        assert m["tastemaker_interaction_seconds_sum"][(("action", "played"),)] > 0
        assert m["tastemaker_batch_lag_plays"] == {(): 3.0}
        assert m["tastemaker_digest_posts"] == {(("status", "sent"),): 1.0}

        clock.advance(minutes=5)
        assert scrape(base)["tastemaker_last_batch_age_seconds"][()] >= 300
        assert run_job("batch", contexts[0]).ok  # folds the 3 plays and trains the first models
        m = scrape(base)
        assert m["tastemaker_batch_lag_plays"] == {(): 0.0}
        assert m["tastemaker_last_batch_age_seconds"][()] < 300
        assert set(m["tastemaker_last_retrain_age_seconds"]) == {(("kind", "artist"),), (("kind", "track"),)}
        assert m["tastemaker_last_batch_duration_seconds"][()] >= 0
    finally:
        stop.set()
        thread.join(60)
    assert status == [0] and err == []
    with pytest.raises(OSError):
        get(base + "/healthz")  # the port is closed with the bot


@pytest.fixture
def checks(settings: Settings, db: Database, clock: Clock) -> Iterator[tuple[health.Checks, str]]:
    """A health server over the given checks, its platform and scheduler up."""
    registry = CollectorRegistry()
    server, found = health.start(settings.model_copy(update={"health_port": 0}), db, registry, clock=clock)
    scheduler = BackgroundScheduler()
    scheduler.start(paused=True)
    up = threading.Event()

    def run() -> None:
        up.wait()

    found.served = [Served("discord", run, up.set).start()]
    found.scheduler = scheduler
    try:
        yield found, server.url
    finally:
        server.stop()
        up.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)


def test_healthz_is_503_for_a_platform_down_or_a_stopped_scheduler(
    checks: tuple[health.Checks, str],
) -> None:
    found, base = checks
    assert healthz(base)[0] == 200
    found.scheduler.shutdown(wait=False)
    code, body = healthz(base)
    assert (code, body["status"], body["scheduler"]) == (503, "unhealthy", {"ok": False})
    found.scheduler = BackgroundScheduler()
    found.scheduler.start(paused=True)
    assert healthz(base)[0] == 200
    found.served[0].stop()
    wait_for("the platform to stop", lambda: found.served[0].done.is_set())
    code, body = healthz(base)
    assert (code, body["platforms"]) == (503, {"discord": False})
    found.scheduler.shutdown(wait=False)


def test_healthz_is_503_when_the_batch_is_stale(
    checks: tuple[health.Checks, str], db: Database, clock: Clock
) -> None:
    found, base = checks
    code, body = healthz(base)  # no batch yet, but the process is young
    assert code == 200 and body["last_batch"] == {
        "ok": True,
        "age_seconds": None,
        "running": False,
        "stale_after_seconds": 1800.0,
    }
    clock.advance(minutes=31)
    assert healthz(base)[0] == 503  # still no batch, half an hour on
    with db.write() as conn:
        run = job_runs.start(conn, "batch", clock())
    code, body = healthz(base)
    assert (code, body["last_batch"]["running"]) == (200, True)  # a long batch is not a stale one
    with db.write() as conn:
        job_runs.finish(conn, run, "ok", "folded", clock() + dt.timedelta(minutes=2))
    clock.advance(minutes=10)
    code, body = healthz(base)
    assert (code, body["last_batch"]["age_seconds"]) == (200, 480.0)
    clock.advance(minutes=23)
    assert healthz(base)[0] == 503


def test_a_database_that_does_not_answer(settings: Settings, tmp_path: Any, clock: Clock) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    db = Database(f"sqlite:///{broken}")
    server, found = health.start(
        settings.model_copy(update={"health_port": 0}), db, CollectorRegistry(), clock=clock
    )
    try:
        code, body = healthz(server.url)
        assert (code, body["database"]) == (503, {"ok": False, "error": "DatabaseError"})
        m = scrape(server.url)
        assert m["tastemaker_database_up"] == {(): 0.0}
    finally:
        server.stop()
        db.dispose()


def test_a_health_port_in_use_stops_the_run_in_one_line(settings: Settings, db: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        on = settings.model_copy(update={"health_port": port})
        platform = StandIn()
        err: list[str] = []
        status = runner.serve(
            [platform],
            Service(db, on),
            on,
            lambda digest: JobContext(on, db, spark=lambda: None),  # type: ignore[arg-type, return-value]
            out=lambda line: None,
            err=err.append,
        )
    assert status == 1 and err == [f"error: health port 127.0.0.1:{port}: Address already in use"]
    assert platform.process is None  # nothing started


def test_health_is_off_by_default_and_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASTEMAKER_HEALTH_PORT", raising=False)
    monkeypatch.delenv("TASTEMAKER_HEALTH_HOST", raising=False)
    s = Settings()
    assert (s.health_port, s.health_host) == (None, "127.0.0.1")
    monkeypatch.setenv("TASTEMAKER_HEALTH_PORT", "9464")
    monkeypatch.setenv("TASTEMAKER_HEALTH_HOST", "0.0.0.0")
    s = Settings()
    assert (s.health_port, s.health_host) == (9464, "0.0.0.0")
