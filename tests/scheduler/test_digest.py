"""Exactly one digest per channel and local day, driven by a controllable clock (no real waiting).

Every tick goes through ``bot.scheduler.Runtime.run("digest")`` — what the scheduler's executor
calls — so the idle check, ``run_job`` and ``job_runs`` are exercised too. A "restart" is a new
``DigestRuntime`` whose ``started_at`` is the clock at that moment (a new process)."""

from __future__ import annotations

import datetime as dt
import logging
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest

from bot import scheduler
from bot.chart import HEIGHT_PX, WIDTH_PX, chart_png
from bot.digest import (
    Action,
    DigestPost,
    DigestRuntime,
    SendRejected,
    nonce_for,
    parse_digest_command,
    plan,
)
from bot.jobs import JobContext
from bot.parsing import UserError
from bot.service import Service, Who
from config.settings import Settings
from storage import digests
from storage import jobs as job_runs
from storage.db import Database
from storage.digests import Subscription
from tests.conftest import Clock

DAY = dt.date(2026, 11, 21)  # Berlin is UTC+1 in November: 09:00 local = 08:00 UTC
SLOT = dt.datetime(2026, 11, 21, 8, 0)


class Crash(BaseException):
    """A simulated process death (not an Exception: nothing in the job may swallow it)."""


@dataclass
class FakeSender:
    """Records posts. ``dedupe`` emulates Discord's nonce check (within ``resend_window``)."""

    platform: str = "discord"
    resend_window: dt.timedelta = dt.timedelta(minutes=2)
    dedupe: bool = True
    posts: list[tuple[str, DigestPost, dt.datetime]] = field(default_factory=list)
    clock: Clock | None = None
    delay: float = 0.0
    refuse: bool = False
    crash_after_post: bool = False
    _ids: dict[str, str] = field(default_factory=dict)

    def send(self, channel: str, post: DigestPost) -> str:
        if self.refuse:
            raise SendRejected("channel_not_found")
        if self.delay:
            time.sleep(self.delay)
        if self.dedupe and post.nonce in self._ids:
            return self._ids[post.nonce]
        ref = f"{channel}/{len(self.posts) + 1}"
        self.posts.append((channel, post, self.clock() if self.clock else dt.datetime.min))
        self._ids[post.nonce] = ref
        if self.crash_after_post:
            self.crash_after_post = False
            raise Crash("died after the platform accepted the post")
        return ref


def context(db: Database, settings: Settings, clock: Clock, *senders: FakeSender, fault=None) -> JobContext:
    runtime = DigestRuntime({s.platform: s for s in senders}, started_at=clock())
    ctx = JobContext(settings, db, spark=_no_spark, clock=clock, digest=runtime)
    if fault is not None:
        ctx.fault = fault
    return ctx


def _no_spark():  # type: ignore[no-untyped-def]
    raise AssertionError("the digest needs no Spark")


def tick(ctx: JobContext) -> None:
    scheduler.Runtime(ctx).run("digest")


def run_until(ctx: JobContext, clock: Clock, until: dt.datetime, step: dt.timedelta) -> None:
    while clock.now < until:
        tick(ctx)
        clock.now = min(clock.now + step, until)


def seed(service: Service, who: Who, clock: Clock) -> None:
    """A week of plays ending on 2026-11-20 (the day the 2026-11-21 digests report)."""
    songs = ["Radiohead - Karma Police", "Portishead - Roads", "Björk - Jóga", "Massive Attack - Teardrop"]
    for back in range(7):
        day = dt.datetime(2026, 11, 20, 10) - dt.timedelta(days=back)
        for n, song in enumerate(songs):
            for k in range((n + back) % 4 + 1):
                service.played(who, song, played_at=day + dt.timedelta(minutes=k))
    service.played(who, "Khruangbin - Time (You and I)", played_at=dt.datetime(2026, 11, 20, 11))


@pytest.fixture
def who() -> Who:
    return Who("discord", "g1", "admin", community_name="Crew", member_name="Ada")


@pytest.fixture
def subscribed(service: Service, who: Who, clock: Clock) -> Who:
    seed(service, who, clock)
    clock.now = dt.datetime(2026, 11, 20, 12, 0)  # after today's slot: starts tomorrow
    service.digest_subscribe(who, "c-berlin", "09:00", "Europe/Berlin")
    return who


def ledger(db: Database) -> list[digests.LedgerRow]:
    with db.read() as conn:
        return digests.ledger(conn, dt.date(2000, 1, 1))


# --- restarts around the slot ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("down_from", "down_until", "posted_at"),
    [
        pytest.param("07:55", "07:59", "08:00", id="restart-just-before"),
        pytest.param("07:59", "08:30", "08:30", id="down-during-slot-posts-on-startup"),
        pytest.param("08:00:30", "08:05", "08:00", id="restart-just-after"),
        pytest.param("07:30", "13:59", "13:59", id="back-just-within-grace"),
    ],
)
def test_restarts_around_the_slot_post_exactly_once(
    db: Database,
    settings: Settings,
    clock: Clock,
    subscribed: Who,
    down_from: str,
    down_until: str,
    posted_at: str,
) -> None:
    def at(hhmm: str) -> dt.datetime:
        return dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm))

    sender = FakeSender(clock=clock)
    clock.now = dt.datetime(2026, 11, 21, 7, 30)
    ctx = context(db, settings, clock, sender)
    run_until(ctx, clock, at(down_from), dt.timedelta(seconds=30))
    clock.now = at(down_until)  # the process was down in between
    ctx = context(db, settings, clock, sender)  # restart
    run_until(ctx, clock, dt.datetime(2026, 11, 21, 16, 0), dt.timedelta(minutes=1))
    assert [(ch, when) for ch, _, when in sender.posts] == [("c-berlin", at(posted_at))]
    [row] = ledger(db)
    assert (row.status, row.local_date, row.message_ref) == ("sent", DAY, "c-berlin/1")
    post = sender.posts[0][1]
    assert post.digest.day == dt.date(2026, 11, 20)
    assert post.nonce == nonce_for(row.key)
    assert "Top tracks:" in post.text and post.chart is not None
    with db.read() as conn:
        runs = job_runs.recent(conn, "digest", 50)
    assert [r.status for r in runs] == ["ok"]  # idle ticks leave no job_runs rows


def test_back_after_the_grace_skips_and_logs(
    db: Database, settings: Settings, clock: Clock, subscribed: Who, caplog: pytest.LogCaptureFixture
) -> None:
    sender = FakeSender(clock=clock)
    clock.now = dt.datetime(2026, 11, 21, 14, 0, 1)  # 6 h and 1 s after the slot
    ctx = context(db, settings, clock, sender)
    with caplog.at_level(logging.WARNING, logger="bot.digest"):
        run_until(ctx, clock, dt.datetime(2026, 11, 21, 20, 0), dt.timedelta(minutes=1))
    assert sender.posts == []
    [row] = ledger(db)
    assert row.status == "skipped" and "passed 6:00:01 ago" in row.detail
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "digest skipped" in caplog.records[0].message
    # the next day posts normally
    clock.now = dt.datetime(2026, 11, 22, 7, 59)
    run_until(ctx, clock, dt.datetime(2026, 11, 22, 9, 0), dt.timedelta(minutes=1))
    assert [when for _, _, when in sender.posts] == [dt.datetime(2026, 11, 22, 8, 0)]


def test_crash_between_claim_and_send_posts_once_after_restart(
    db: Database, settings: Settings, clock: Clock, subscribed: Who
) -> None:
    sender = FakeSender(clock=clock)

    def die_after_claim(point: str) -> None:
        if point == "after-claim":
            raise Crash(point)

    clock.now = SLOT
    with pytest.raises(Crash):
        tick(context(db, settings, clock, sender, fault=die_after_claim))
    [row] = ledger(db)
    assert row.status == "claimed" and sender.posts == []
    clock.now = SLOT + dt.timedelta(minutes=1)  # restarted a minute later
    ctx = context(db, settings, clock, sender)
    run_until(ctx, clock, SLOT + dt.timedelta(hours=3), dt.timedelta(minutes=1))
    assert [when for _, _, when in sender.posts] == [SLOT + dt.timedelta(minutes=1)]
    [row] = ledger(db)
    assert row.status == "sent"


def test_claim_of_a_live_run_is_not_taken_over(
    db: Database, settings: Settings, clock: Clock, subscribed: Who
) -> None:
    """Same process, claim younger than the timeout: nobody else sends it."""
    clock.now = SLOT
    ctx = context(db, settings, clock, FakeSender(clock=clock))
    with db.write() as conn:
        assert digests.claim(conn, (1, "c-berlin", DAY), clock.now)
        assert not digests.claim(conn, (1, "c-berlin", DAY), clock.now)  # insert-if-absent
    clock.now += dt.timedelta(minutes=5)
    tick(ctx)
    assert ctx.digest.senders["discord"].posts == []


@pytest.mark.parametrize(("platform", "restart_after", "posts"), [("discord", 1, 1), ("slack", 1, 1)])
def test_crash_between_send_and_record_never_doubles(
    db: Database,
    settings: Settings,
    clock: Clock,
    service: Service,
    platform: str,
    restart_after: int,
    posts: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Discord: the resend carries the same nonce and is deduplicated (one message, recorded).
    Slack: nothing deduplicates, so the row becomes "unknown" and is not resent."""
    who = Who(platform, "w1", "admin", community_name="Crew")
    seed(service, who, clock)
    service.digest_subscribe(who, "C1", "09:00", "Europe/Berlin")
    window = dt.timedelta(minutes=2) if platform == "discord" else dt.timedelta(0)
    sender = FakeSender(platform, window, dedupe=platform == "discord", clock=clock, crash_after_post=True)
    clock.now = SLOT
    with pytest.raises(Crash):
        tick(context(db, settings, clock, sender))
    [row] = ledger(db)
    assert row.status == "sending"
    clock.now = SLOT + dt.timedelta(minutes=restart_after)
    with caplog.at_level(logging.WARNING, logger="bot.digest"):
        run_until(
            context(db, settings, clock, sender), clock, SLOT + dt.timedelta(hours=2), dt.timedelta(minutes=1)
        )
    assert len(sender.posts) == posts
    [row] = ledger(db)
    if platform == "discord":
        assert (row.status, row.message_ref) == ("sent", "C1/1")
    else:
        assert row.status == "unknown" and row.message_ref is None
        assert any("not resent to avoid a duplicate" in r.message for r in caplog.records)


def test_refused_post_is_retried_later_within_the_grace(
    db: Database, settings: Settings, clock: Clock, subscribed: Who
) -> None:
    sender = FakeSender(clock=clock, refuse=True)
    clock.now = SLOT
    ctx = context(db, settings, clock, sender)
    run_until(ctx, clock, SLOT + dt.timedelta(minutes=5), dt.timedelta(minutes=1))
    assert [r.status for r in ledger(db)] == ["error"]
    sender.refuse = False
    run_until(ctx, clock, SLOT + dt.timedelta(minutes=30), dt.timedelta(minutes=1))
    assert [when for _, _, when in sender.posts] == [SLOT + dt.timedelta(minutes=10)]


def test_two_processes_racing_for_one_slot_post_once(
    db: Database, settings: Settings, clock: Clock, subscribed: Who
) -> None:
    """The claim (insert-if-absent under BEGIN IMMEDIATE) lets exactly one of them send."""
    clock.now = SLOT
    sender = FakeSender(clock=clock, delay=0.2, dedupe=False)
    contexts = [context(db, settings, clock, sender) for _ in range(4)]
    from bot.digest import deliver_due

    threads = [threading.Thread(target=deliver_due, args=(c, c.digest)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(sender.posts) == 1


def test_two_timezones_post_at_their_own_local_times(
    db: Database, settings: Settings, clock: Clock, service: Service, subscribed: Who
) -> None:
    clock.now = dt.datetime(2026, 11, 20, 21, 0)
    service.digest_subscribe(subscribed, "c-newyork", "09:00", "America/New_York")  # 14:00 UTC
    service.digest_subscribe(subscribed, "c-tokyo", "07:30", "Asia/Tokyo")  # 22:30 UTC the day before
    sender = FakeSender(clock=clock)
    ctx = context(db, settings, clock, sender)
    run_until(ctx, clock, dt.datetime(2026, 11, 21, 22, 0), dt.timedelta(minutes=5))
    assert [(ch, when) for ch, _, when in sender.posts] == [
        ("c-tokyo", dt.datetime(2026, 11, 20, 22, 30)),
        ("c-berlin", dt.datetime(2026, 11, 21, 8, 0)),
        ("c-newyork", dt.datetime(2026, 11, 21, 14, 0)),
    ]
    days = {ch: post.digest.day for ch, post, _ in sender.posts}
    assert days == {  # the last complete UTC day before each slot
        "c-tokyo": dt.date(2026, 11, 19),
        "c-berlin": dt.date(2026, 11, 20),
        "c-newyork": dt.date(2026, 11, 20),
    }
    assert {(r.channel, r.local_date) for r in ledger(db)} == {
        ("c-tokyo", dt.date(2026, 11, 21)),
        ("c-berlin", DAY),
        ("c-newyork", DAY),
    }


# --- the pure planner -----------------------------------------------------------------------------


def _sub(
    local_time: str = "09:00", tz: str = "Europe/Berlin", since: dt.datetime | None = None
) -> Subscription:
    return Subscription(1, "c", local_time, tz, since or dt.datetime(2026, 11, 20, 12), "discord", "g", "G")


def test_plan_is_a_pure_function_of_subscriptions_ledger_and_now() -> None:
    grace = dt.timedelta(hours=6)
    start = dt.datetime(2026, 11, 21, 0, 0)
    kinds = lambda actions: [(a.kind, a.local_date) for a in actions]  # noqa: E731
    assert kinds(plan([_sub()], {}, SLOT - dt.timedelta(seconds=1), grace=grace, started_at=start)) == []
    assert kinds(plan([_sub()], {}, SLOT, grace=grace, started_at=start)) == [("send", DAY)]
    late = plan([_sub()], {}, SLOT + grace + dt.timedelta(seconds=1), grace=grace, started_at=start)
    assert kinds(late) == [("skip", DAY)]
    # a subscription made after the slot does not catch up on it
    assert (
        plan(
            [_sub(since=SLOT + dt.timedelta(hours=1))],
            {},
            SLOT + dt.timedelta(hours=2),
            grace=grace,
            started_at=start,
        )
        == []
    )
    # DST: 02:30 does not exist in Berlin on 2026-03-29; the slot is the instant after the gap
    since = dt.datetime(2026, 3, 28, 12)
    [a] = plan(
        [_sub("02:30", since=since)], {}, dt.datetime(2026, 3, 29, 1, 30), grace=grace, started_at=start
    )
    assert isinstance(a, Action) and a.slot == dt.datetime(2026, 3, 29, 1, 30)


def test_digest_command_parsing_and_validation(service: Service) -> None:
    assert parse_digest_command(["here", "09:00", "Europe/Berlin"]).tz == "Europe/Berlin"
    assert parse_digest_command(["off"]).action == "off"
    who = Who("slack", "w", "u")
    with pytest.raises(UserError, match="not a time of day"):
        service.digest_subscribe(who, "C1", "25:00", "Europe/Berlin")
    with pytest.raises(UserError, match="not a time zone I know"):
        service.digest_subscribe(who, "C1", "09:00", "Mars/Olympus")
    with pytest.raises(UserError, match="not a time zone I know"):
        service.digest_subscribe(who, "C1", "09:00", "../../etc/passwd")
    info = service.digest_subscribe(who, "C1", "9:05", "Asia/Kolkata")
    assert (info.local_time, info.created) == ("09:05", True)
    assert service.digest_subscribe(who, "C1", "10:00", "UTC").created is False
    assert service.digest_unsubscribe(who, "C1") and not service.digest_unsubscribe(who, "C1")


# --- content --------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chart_is_a_real_png_of_the_week(service: Service, who: Who, clock: Clock) -> None:
    seed(service, who, clock)
    digest = service.digest(who, dt.date(2026, 11, 20))
    assert len(digest.series) == 5 and all(len(points) == 7 for points in digest.series.values())
    png = chart_png(digest)
    assert png is not None and len(png) > 5_000
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)


def test_an_empty_day_says_so(db: Database, settings: Settings, clock: Clock, service: Service) -> None:
    who = Who("discord", "quiet", "admin", community_name="Quiet")
    service.digest_subscribe(who, "c1", "09:00", "Europe/Berlin")
    sender = FakeSender(clock=clock)
    clock.now = SLOT
    tick(context(db, settings, clock, sender))
    [(_, post, _)] = sender.posts
    assert post.digest.empty and post.chart is None
    assert "A quiet day: nobody logged a play" in post.text
