"""Health check and Prometheus metrics of a running bot, on an optional port.

With ``TASTEMAKER_HEALTH_PORT`` set, ``tastemaker run`` serves over HTTP (bound to
``TASTEMAKER_HEALTH_HOST``, ``127.0.0.1`` by default):

* ``GET /healthz`` — JSON: the database answers, the scheduler runs, every served platform is up,
  and the micro-batch is not stale (its last good run ended at most :func:`stale_after` ago, or
  one is running, or the process is younger than that). Status 200 when all hold, else 503.
* ``GET /metrics`` — the Prometheus exposition of the process's own
  :class:`~prometheus_client.CollectorRegistry` (passed in: no global registry): what this process
  timed and counted (:class:`Metrics`), and what the database says at scrape time
  (:class:`DatabaseCollector`: batch lag and age, model age, digest posts).

The platforms see the service through :class:`InstrumentedService`, which times every call
(``tastemaker_interaction_seconds``) and counts the plays stored (``tastemaker_plays_logged_total``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bot.platforms import Served
from config.settings import Settings
from storage import status as db_status
from storage.clock import utcnow
from storage.db import Database

log = logging.getLogger(__name__)

# Chat answers take milliseconds to seconds (an upload: minutes).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0)


def stale_after(settings: Settings) -> dt.timedelta:
    """How old the last good batch may be before /healthz fails: three batch intervals."""
    return dt.timedelta(minutes=3 * settings.batch_interval_minutes)


class Metrics:
    """What this process measures itself, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.plays = Counter(
            "tastemaker_plays_logged",
            "Plays stored through this process: /played (duplicates not counted) and chat uploads.",
            ["via"],
            registry=registry,
        )
        self.interactions = Histogram(
            "tastemaker_interaction_seconds",
            "Time the service took to answer a chat interaction, by service call.",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class InstrumentedService:
    """The service as the platforms see it when metrics are on: the same object, but each public
    method call is timed and the plays it stored are counted. Attributes pass through."""

    def __init__(self, service: Any, metrics: Metrics) -> None:
        self._service = service
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._service, name)
        if name.startswith("_") or not callable(attr):
            return attr
        metrics = self._metrics

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
            finally:
                metrics.interactions.labels(name).observe(time.perf_counter() - began)
            if name == "played" and not getattr(result, "duplicate", True):
                metrics.plays.labels("played").inc()
            elif name == "import_upload":
                metrics.plays.labels("upload").inc(getattr(result, "imported", 0))
            return result

        return timed


class DatabaseCollector:
    """Metrics read from the database at each scrape (one short read transaction)."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily("tastemaker_database_up", "1 when the database answered this scrape."),
            GaugeMetricFamily(
                "tastemaker_batch_lag_plays", "Plays stored but not folded into the trends yet."
            ),
            GaugeMetricFamily(
                "tastemaker_last_batch_age_seconds", "Seconds since the last good micro-batch ended."
            ),
            GaugeMetricFamily(
                "tastemaker_last_batch_duration_seconds", "How long the last good micro-batch took."
            ),
            GaugeMetricFamily(
                "tastemaker_last_retrain_age_seconds",
                "Seconds since the active recommendation model was trained, by kind.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "tastemaker_digest_posts",
                "Daily digest posts by ledger status (sent; error: failed, retried within the grace "
                "period; unknown: the platform may have posted; skipped).",
                labels=["status"],
            ),
        )

    def collect(self) -> Iterator[Metric]:
        up, lag, age, took, models, digests = self._families()
        try:
            with self.db.read() as conn:
                s = db_status.read(conn)
        except Exception as exc:  # a scrape must not fail: the database is reported down
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        now = self.clock()
        up.add_metric([], 1)
        lag.add_metric([], s.unfolded)
        yield from (up, lag)
        if s.last_batch_finished is not None and s.last_batch_seconds is not None:
            age.add_metric([], (now - s.last_batch_finished).total_seconds())
            took.add_metric([], s.last_batch_seconds)
            yield from (age, took)
        for kind, created in sorted(s.models.items()):
            models.add_metric([kind], (now - created).total_seconds())
        for state, n in sorted(s.digests.items()):
            digests.add_metric([state], n)
        yield from (models, digests)


@dataclass
class Checks:
    """What /healthz looks at; ``tastemaker run`` fills in the scheduler and the platforms as they
    start (until then they count as down)."""

    db: Database
    settings: Settings
    clock: Callable[[], dt.datetime] = utcnow
    started: dt.datetime = field(default_factory=utcnow)
    scheduler: Any = None  # an APScheduler scheduler (``.running``)
    served: Sequence[Served] = ()

    def report(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        limit = stale_after(self.settings)
        try:
            with self.db.read() as conn:
                s: db_status.Status | None = db_status.read(conn)
            database: dict[str, Any] = {"ok": True}
        except Exception as exc:
            log.warning("healthz: the database did not answer: %s", exc)
            s, database = None, {"ok": False, "error": type(exc).__name__}
        scheduler = {"ok": bool(self.scheduler is not None and self.scheduler.running)}
        platforms = {p.name: not p.done.is_set() for p in self.served}
        age = (now - s.last_batch_finished).total_seconds() if s and s.last_batch_finished else None
        batch_ok = s is not None and (
            (age is not None and age <= limit.total_seconds())
            or s.batch_running
            or (age is None and now - self.started <= limit)
        )
        batch = {
            "ok": batch_ok,
            "age_seconds": age,
            "running": bool(s and s.batch_running),
            "stale_after_seconds": limit.total_seconds(),
        }
        healthy = (
            database["ok"] and scheduler["ok"] and bool(platforms) and all(platforms.values()) and batch_ok
        )
        body = {
            "status": "ok" if healthy else "unhealthy",
            "database": database,
            "scheduler": scheduler,
            "platforms": platforms,
            "last_batch": batch,
        }
        return healthy, body


class HealthServer:
    """``/healthz`` and ``/metrics`` over HTTP in a thread of its own; :meth:`stop` closes it."""

    def __init__(self, checks: Checks, registry: CollectorRegistry, host: str, port: int) -> None:
        handler = _handler(checks, registry)
        self._server = ThreadingHTTPServer((host, port), handler)  # binds now: OSError if in use
        self._server.daemon_threads = True
        self.host, self.port = str(self._server.server_address[0]), int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tastemaker-health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


def _handler(checks: Checks, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tastemaker"

        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                healthy, body = checks.report()
                self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, content_type, encoder(registry))
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server name)
            log.debug("health: " + format, *args)

    return Handler


def start(
    settings: Settings, db: Database, registry: CollectorRegistry, clock: Callable[[], dt.datetime] = utcnow
) -> tuple[HealthServer, Checks]:
    """Register the database metrics on ``registry`` and start serving on the configured host and
    port (``settings.health_port``; 0 picks a free port). Raises ``OSError`` when it cannot bind."""
    if settings.health_port is None:
        raise ValueError("health_port is not set")
    registry.register(DatabaseCollector(db, clock))
    checks = Checks(db, settings, clock=clock, started=clock())
    return HealthServer(checks, registry, settings.health_host, settings.health_port).start(), checks
