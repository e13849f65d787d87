"""bot.runner in-process, with stand-in platforms: the platforms start before the scheduler, a
platform that stops by itself stops the process (one line, status 1), a requested stop stops every
platform and the scheduler (status 0)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot import runner
from bot import scheduler as sched
from bot.digest import DigestPost, DigestRuntime
from bot.jobs import JobContext
from bot.platforms import PlatformError, Process, Served
from bot.service import Service
from config.settings import Settings


class Sender:
    platform = "stand-in"
    resend_window = dt.timedelta(0)

    def send(self, channel: str, post: DigestPost) -> str:
        raise AssertionError("no digest is due in these tests")


STARTED: list[Any] = []  # the schedulers bot.scheduler.start returned in this test


@pytest.fixture(autouse=True)
def _track_schedulers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_start = sched.start

    def start(*args: Any, **kwargs: Any) -> Any:
        scheduler = real_start(*args, **kwargs)
        STARTED.append(scheduler)
        return scheduler

    monkeypatch.setattr(sched, "start", start)
    STARTED.clear()
    yield
    STARTED.clear()


def scheduler_running() -> bool:
    return any(s.running for s in STARTED)


@dataclass
class StandIn:
    name: str
    fail_at_start: str | None = None
    events: list[str] = field(default_factory=list)
    finish: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None
    help = "help"
    reference = "x:1"
    credentials = "X_TOKEN"

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
        assert not scheduler_running()  # platforms start first
        if self.fail_at_start:
            raise PlatformError(self.fail_at_start)
        assert process.digest is not None and self.name in process.digest.senders

        def run() -> None:
            self.events.append("serving")
            self.finish.wait()
            if self.failure:
                raise PlatformError(self.failure)

        def stop() -> None:
            self.events.append("stopped")
            self.finish.set()

        return Served(self.name, run, stop).start()

    def end_by_itself(self, failure: str) -> None:
        self.failure = failure
        self.finish.set()


def serve(
    platforms: list[StandIn], service: Service, stop: threading.Event
) -> tuple[int, list[str], list[str], list[JobContext]]:
    out: list[str] = []
    err: list[str] = []
    contexts: list[JobContext] = []

    def context(digest: DigestRuntime) -> JobContext:
        ctx = JobContext(service.settings, service.db, spark=lambda: None, digest=digest)  # type: ignore[arg-type, return-value]
        contexts.append(ctx)
        return ctx

    status = runner.serve(
        platforms, service, service.settings, context, out=out.append, err=err.append, stop=stop
    )  # type: ignore[arg-type]
    return status, out, err, contexts


def test_a_requested_stop_stops_every_platform_and_the_scheduler(service: Service) -> None:
    a, b = StandIn("a"), StandIn("b")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    status, out, err, contexts = serve([a, b], service, stop)
    assert (status, err) == (0, [])
    assert out == ["tastemaker: serving a, b; Ctrl-C stops", "tastemaker: stopped"]
    assert a.events == b.events == ["serving", "stopped"]
    [ctx] = contexts  # one job context, with one digest runtime holding both senders
    assert ctx.digest is not None and sorted(ctx.digest.senders) == ["a", "b"]
    assert len(STARTED) == 1 and not scheduler_running()  # one scheduler, stopped with the rest


def test_a_platform_that_stops_by_itself_stops_the_process(service: Service) -> None:
    a, b = StandIn("a"), StandIn("b")
    threading.Timer(0.5, b.end_by_itself, args=("the gateway went away for good",)).start()
    status, out, err, _ = serve([a, b], service, threading.Event())
    assert status == 1
    assert err == ["error: b: the gateway went away for good"]
    assert a.events == ["serving", "stopped"]
    assert "tastemaker: stopped" not in out
    assert not scheduler_running()


def test_a_platform_that_cannot_start_stops_the_others_before_the_scheduler(service: Service) -> None:
    a, b = StandIn("a"), StandIn("b", fail_at_start="B_TOKEN is not set")
    status, out, err, contexts = serve([a, b], service, threading.Event())
    assert (status, err) == (1, ["error: b: B_TOKEN is not set"])
    assert sorted(a.events) == ["serving", "stopped"]  # stopped at once, maybe before it got going
    assert contexts == []  # the scheduler never started
