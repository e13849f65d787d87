"""``tastemaker run``: every chosen platform, one scheduler, one process.

One service (one database), one :class:`~bot.jobs.JobContext` (whose Spark jobs run in a worker
process, :mod:`engine.worker`, so this process never holds a JVM), one
:class:`~bot.digest.DigestRuntime` whose senders come from every served platform, and one APScheduler
scheduler (:func:`bot.scheduler.start`). Each platform serves in a thread of its own
(:class:`~bot.platforms.Served`); this thread waits for Ctrl-C, SIGTERM, or a platform that stops by
itself, then stops every platform and the scheduler.

The platforms start first (credentials checked, ``auth.test``, the HTTP port bound), so a platform
that cannot start stops the process before the scheduler ran anything: one line on stderr, exit 1.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from prometheus_client import CollectorRegistry

from bot import health
from bot import scheduler as sched
from bot.digest import DigestRuntime, DigestSender
from bot.jobs import JobContext
from bot.platforms import Platform, PlatformError, Process, Served
from bot.service import Service
from config.settings import Settings
from storage.clock import utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


@contextlib.contextmanager
def _sigterm_sets(event: threading.Event) -> Iterator[None]:
    """SIGTERM (``kill``, ``docker stop``, systemd) stops the process like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        event.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    chosen: Sequence[Platform],
    service: Service,
    settings: Settings,
    job_context: Callable[[DigestRuntime], JobContext],
    *,
    http_port: int | None = None,
    http_host: str = "0.0.0.0",
    out: Callable[[str], None] = lambda line: print(line, flush=True),
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    stop: threading.Event | None = None,
    registry: CollectorRegistry | None = None,
) -> int:
    """Serve ``chosen`` until ``stop`` is set (or Ctrl-C / SIGTERM); the exit status: 0 after a
    requested stop, 1 when a platform or the health port could not start or a platform stopped by
    itself (``err`` says why). With ``settings.health_port`` set, /healthz and /metrics are served
    (:mod:`bot.health`; metrics on ``registry``, a fresh one by default)."""
    stop = stop or threading.Event()
    checks: health.Checks | None = None
    health_server: health.HealthServer | None = None
    if settings.health_port is not None:
        metrics = health.Metrics(registry or CollectorRegistry())
        service = cast(Service, health.InstrumentedService(service, metrics))
        try:
            health_server, checks = health.start(settings, service.db, metrics.registry, clock=service.clock)
        except OSError as exc:
            err(f"error: health port {settings.health_host}:{settings.health_port}: {exc.strerror or exc}")
            return 1
        out(f"tastemaker: health on {health_server.url}/healthz, metrics on {health_server.url}/metrics")
    senders: dict[str, DigestSender] = {}
    for platform in chosen:
        sender = platform.digest_sender(settings)
        if sender is not None:
            senders[platform.name] = sender
    digest = DigestRuntime(senders, utcnow())
    process = Process(service, settings, digest=digest, http_port=http_port, http_host=http_host, out=out)
    served: list[Served] = []
    if checks is not None:
        checks.served = served  # filled in as the platforms start
    status = 0
    with _sigterm_sets(stop):
        try:
            for platform in chosen:
                try:
                    served.append(platform.serve(process))
                except PlatformError as exc:
                    err(f"error: {platform.name}: {exc}")
                    return 1
                except Exception as exc:  # one line here; the traceback goes to the log file
                    log.info("%s did not start", platform.name, exc_info=True)
                    err(f"error: {platform.name}: {type(exc).__name__}: {exc}")
                    return 1
            ctx = job_context(digest)
            scheduler = sched.start(ctx)
            if checks is not None:
                checks.scheduler = scheduler
            try:
                out(f"tastemaker: serving {', '.join(p.name for p in chosen)}; Ctrl-C stops")
                while not stop.wait(POLL_SECONDS):
                    ended = [s for s in served if s.done.is_set()]
                    if ended:
                        for s in ended:
                            err(f"error: {s.name}: {s.failure or 'stopped'}")
                        status = 1
                        break
            finally:
                sched.stop(scheduler, wait=False)
                ctx.close()  # stops the Spark worker, if one runs
        except KeyboardInterrupt:
            pass
        finally:
            for s in reversed(served):
                s.stop()
            if health_server is not None:
                health_server.stop()
    if status == 0:
        out("tastemaker: stopped")
    return status
