"""Daily digests, exactly once per channel and local day.

Two halves:

* :func:`plan` — a **pure function** of (subscriptions, ledger, now, policy) that says what is due:
  send, skip (slot passed longer ago than the grace), retake an orphaned claim, or give one up.
* :func:`deliver_due` — the ``digest`` job: for each planned action, **claim** the ledger row
  (insert-if-absent, or a conditional take-over, inside ``BEGIN IMMEDIATE``), and only if this run
  won the claim render and send, then record the platform's message id.

Ledger states: ``claimed`` (won, nothing sent yet) → ``sending`` (the request may have reached the
platform) → ``sent``. ``skipped`` (past the grace), ``error`` (the platform refused: nothing was
posted; retried after :data:`RETRY_DELAY` while within the grace) and ``unknown`` (the process died
or the connection broke while sending, and the platform cannot deduplicate a resend: given up, so
a post is never doubled).

A claim is *orphaned* when it was made before this process started (only one process owns the
scheduler) or is older than :data:`CLAIM_TIMEOUT`. An orphaned ``claimed`` row was never sent:
it is retaken and sent (within the grace). An orphaned ``sending`` row is resent only on a platform
that deduplicates (its sender's ``resend_window``: Discord's ``nonce`` + ``enforce_nonce``, see
``bot.platforms.discord.digest``), otherwise it becomes ``unknown``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot import platforms, render
from bot.chart import chart_png
from bot.parsing import UserError
from bot.service import Digest, Service, Who, slot_utc
from storage import digests
from storage.digests import LedgerRow, Subscription

if TYPE_CHECKING:
    from engine.batch import EngineContext

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = dt.timedelta(minutes=10)  # a live send never takes this long
RETRY_DELAY = dt.timedelta(minutes=10)  # after the platform refused a post

Key = tuple[int, str, dt.date]


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPost:
    digest: Digest
    text: str  # plain text (bot.render.digest_text); adapters may render richer
    chart: bytes | None  # PNG, None on an empty day
    nonce: str  # derived from the ledger key: the same post always carries the same nonce


class SendRejected(Exception):
    """The platform answered with an error: nothing was posted (safe to try again later)."""


class DigestSender(Protocol):
    platform: str
    # How long the platform deduplicates a resend of the same nonce (zero: not at all).
    resend_window: dt.timedelta

    def send(self, channel: str, post: DigestPost) -> str:
        """Post it; return the platform's message reference. Raise :class:`SendRejected` when the
        platform definitely did not post; any other exception means "unknown"."""
        ...


@dataclass
class DigestRuntime:
    """What the ``digest`` job needs from the running process (``bot.jobs.JobContext.digest``)."""

    senders: Mapping[str, DigestSender]
    started_at: dt.datetime  # claims older than this belong to a dead process


def nonce_for(key: Key) -> str:
    """A Discord nonce (≤ 25 characters) derived from the ledger key."""
    community_id, channel, local_date = key
    digest = hashlib.sha256(f"tastemaker-digest:{community_id}:{channel}:{local_date}".encode()).hexdigest()
    return digest[:25]


# --- planning (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str  # "send" | "retake" | "skip" | "give-up"
    sub: Subscription
    local_date: dt.date
    slot: dt.datetime  # naive UTC
    reason: str = ""
    expected: LedgerRow | None = None  # the row a retake / give-up must still find

    @property
    def key(self) -> Key:
        return (self.sub.community_id, self.sub.channel, self.local_date)

    def describe(self) -> str:
        return (
            f"{platforms.format_community(self.sub.platform, self.sub.external_id)} "
            f"#{self.sub.channel} {self.local_date} "
            f"({self.sub.local_time} {self.sub.tz})"
        )


def _local_dates(sub: Subscription, now: dt.datetime, lookback: dt.timedelta) -> list[dt.date]:
    zone = zoneinfo.ZoneInfo(sub.tz)
    first = (now - lookback).replace(tzinfo=dt.UTC).astimezone(zone).date()
    last = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def plan(
    subscriptions: Iterable[Subscription],
    ledger: Mapping[Key, LedgerRow],
    now: dt.datetime,
    *,
    grace: dt.timedelta,
    started_at: dt.datetime,
    resend_window: Callable[[str], dt.timedelta] = lambda _platform: dt.timedelta(0),
) -> list[Action]:
    """What to do now (naive UTC). Slots later than ``now`` or earlier than the subscription are
    never due; each (channel, local date) gets at most one action."""
    actions: list[Action] = []
    lookback = max(grace, dt.timedelta(days=1)) + dt.timedelta(days=1)
    for sub in subscriptions:
        for day in _local_dates(sub, now, lookback):
            slot = slot_utc(sub.local_time, sub.tz, day)
            if slot > now or slot < sub.updated_at:
                continue
            late = now - slot
            in_grace = late <= grace
            row = ledger.get((sub.community_id, sub.channel, day))
            if row is None:
                if in_grace:
                    actions.append(Action("send", sub, day, slot))
                elif late <= lookback - dt.timedelta(days=1):
                    actions.append(
                        Action("skip", sub, day, slot, f"slot {slot:%Y-%m-%d %H:%M} UTC passed {late} ago")
                    )
                continue
            orphaned = row.claimed_at < started_at or now - row.claimed_at >= CLAIM_TIMEOUT
            if row.status == "claimed" and orphaned:
                # The claimer died before sending anything.
                if in_grace:
                    actions.append(Action("retake", sub, day, slot, "claim orphaned before sending", row))
                else:
                    actions.append(
                        Action("give-up", sub, day, slot, "claim orphaned before sending; past grace", row)
                    )
            elif row.status == "sending" and orphaned:
                # The claimer died (or lost the connection) while sending: maybe posted, maybe not.
                window = resend_window(sub.platform)
                if in_grace and now - row.claimed_at <= window:
                    actions.append(
                        Action("retake", sub, day, slot, "resend with the same nonce (deduplicated)", row)
                    )
                else:
                    actions.append(
                        Action(
                            "give-up",
                            sub,
                            day,
                            slot,
                            "interrupted while sending; not resent to avoid a duplicate",
                            row,
                        )
                    )
            elif row.status == "error" and in_grace and now - row.claimed_at >= RETRY_DELAY:
                actions.append(Action("retake", sub, day, slot, "retry after the platform refused", row))
    return actions


# --- delivering ---------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"sent {len(self.sent)}", f"skipped {len(self.skipped)}", f"failed {len(self.failed)}"]
        details = [f"skipped {s}" for s in self.skipped] + [f"failed {f}" for f in self.failed]
        return ", ".join(parts) + (f" ({'; '.join(details)})" if details else "")


def _load(ctx: EngineContext, now: dt.datetime, platforms: set[str]) -> tuple[list[Subscription], dict]:
    grace = dt.timedelta(hours=ctx.settings.digest_grace_hours)
    since = (now - max(grace, dt.timedelta(days=1)) - dt.timedelta(days=3)).date()
    with ctx.db.read() as conn:
        subs = [s for s in digests.subscriptions(conn) if s.platform in platforms]
        rows = digests.keys(digests.ledger(conn, since))
    return subs, rows


def due_actions(ctx: EngineContext, runtime: DigestRuntime | None) -> list[Action]:
    """:func:`plan` on the current database state, for the platforms this process can post to."""
    if runtime is None or not runtime.senders:
        return []
    now = ctx.clock()
    subs, rows = _load(ctx, now, set(runtime.senders))
    senders = runtime.senders
    return plan(
        subs,
        rows,
        now,
        grace=dt.timedelta(hours=ctx.settings.digest_grace_hours),
        started_at=runtime.started_at,
        resend_window=lambda p: senders[p].resend_window if p in senders else dt.timedelta(0),
    )


def build_post(service: Service, sub: Subscription, local_date: dt.date, slot: dt.datetime) -> DigestPost:
    """The post for one channel and local date: the last complete UTC day before the slot."""
    who = Who(sub.platform, sub.external_id, "", community_name=sub.community_name or sub.external_id)
    digest = service.digest(who, day=slot.date() - dt.timedelta(days=1))
    key = (sub.community_id, sub.channel, local_date)
    return DigestPost(digest, render.digest_text(digest), chart_png(digest), nonce_for(key))


def deliver_due(ctx: EngineContext, runtime: DigestRuntime | None) -> DeliveryReport:
    """The ``digest`` job: claim, send and record every digest that is due now."""
    report = DeliveryReport()
    if runtime is None:
        return report
    service = Service(ctx.db, ctx.settings, clock=ctx.clock)
    for action in due_actions(ctx, runtime):
        now = ctx.clock()
        label = action.describe()
        if action.kind == "skip":
            with ctx.db.write() as conn:
                won = digests.claim(conn, action.key, now, status="skipped", detail=action.reason)
            if won:
                log.warning(
                    "digest skipped for %s: %s (grace %s h)",
                    label,
                    action.reason,
                    ctx.settings.digest_grace_hours,
                )
                report.skipped.append(f"{label}: {action.reason}")
            continue
        if action.kind == "give-up":
            assert action.expected is not None
            with ctx.db.write() as conn:
                won = digests.retake(conn, action.key, action.expected, now, action.reason)
                if won:
                    status = "unknown" if action.expected.status == "sending" else "skipped"
                    digests.set_status(conn, action.key, status, detail=action.reason)
            if won:
                log.warning("digest not sent for %s: %s", label, action.reason)
                report.skipped.append(f"{label}: {action.reason}")
            continue
        with ctx.db.write() as conn:
            if action.kind == "send":
                won = digests.claim(conn, action.key, now)
            else:
                assert action.expected is not None
                won = digests.retake(conn, action.key, action.expected, now, action.reason)
        if not won:
            continue  # someone else claimed it: only the claimer sends
        claimed_at = now
        ctx.fault("after-claim")
        sender = runtime.senders[action.sub.platform]
        try:
            post = build_post(service, action.sub, action.local_date, action.slot)
        except Exception as exc:
            with ctx.db.write() as conn:
                digests.release(conn, action.key, claimed_at)
            log.exception("digest for %s could not be built", label)
            report.failed.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        with ctx.db.write() as conn:
            digests.set_status(conn, action.key, "sending")
        ctx.fault("before-send")
        try:
            ref = sender.send(action.sub.channel, post)
        except SendRejected as exc:
            with ctx.db.write() as conn:
                digests.set_status(conn, action.key, "error", detail=f"{exc}")
            log.warning("digest for %s refused by %s: %s", label, action.sub.platform, exc)
            report.failed.append(f"{label}: {exc}")
            continue
        except Exception as exc:  # may or may not have been posted: stays "sending"
            with ctx.db.write() as conn:
                digests.set_status(conn, action.key, "sending", detail=f"{type(exc).__name__}: {exc}")
            log.exception("digest for %s: sending failed, outcome unknown", label)
            report.failed.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        ctx.fault("after-send")
        with ctx.db.write() as conn:
            digests.set_status(conn, action.key, "sent", sent_at=ctx.clock(), message_ref=ref, detail="")
        log.info("digest sent for %s: %s", label, ref)
        report.sent.append(f"{label}: {ref}")
    return report


# --- admin commands (shared by the adapters) ---------------------------------------------------

DIGEST_USAGE = (
    "Usage: `digest here HH:MM Area/City` (e.g. `digest here 09:00 Europe/Berlin`) to post the daily "
    "digest in this channel, `digest off` to stop it, `digest status` to see it."
)


@dataclass(frozen=True)
class DigestCommand:
    action: str  # "here" | "off" | "status"
    local_time: str = ""
    tz: str = ""


def parse_digest_command(words: list[str]) -> DigestCommand:
    """``here HH:MM Zone`` / ``off`` / ``status`` (the words after ``digest``)."""
    if not words:
        raise UserError(DIGEST_USAGE)
    verb = words[0].lower()
    if verb == "here":
        if len(words) == 2:  # the zone defaults to UTC
            return DigestCommand("here", words[1], "UTC")
        if len(words) != 3:
            raise UserError(DIGEST_USAGE)
        return DigestCommand("here", words[1], words[2])
    if verb in ("off", "stop") and len(words) == 1:
        return DigestCommand("off")
    if verb in ("status", "show") and len(words) == 1:
        return DigestCommand("status")
    raise UserError(DIGEST_USAGE)


def run_digest_command(service: Service, who: Who, channel: str, command: DigestCommand) -> str:
    """Carry out a parsed command (the caller has checked the member may) and say what happened."""
    if command.action == "here":
        info = service.digest_subscribe(who, channel, command.local_time, command.tz)
        when = info.next_slot_local
        return (
            f"Daily digest {'set' if info.created else 'moved'}: this channel gets it every day at "
            f"{info.local_time} {info.tz}. Next: {when:%a %d %b %H:%M} ({info.next_slot_utc:%H:%M} UTC)."
        )
    if command.action == "off":
        if service.digest_unsubscribe(who, channel):
            return "Daily digest stopped for this channel."
        return "This channel has no daily digest."
    subs = service.digest_subscriptions(who)
    if not subs:
        return "No channel gets the daily digest yet. " + DIGEST_USAGE
    mine = [s for s in subs if s.channel == channel]
    lines = [f"Daily digest in {len(subs)} channel{'s' if len(subs) != 1 else ''}."]
    for s in mine:
        lines.append(f"Here: every day at {s.local_time} {s.tz}, next {s.next_slot_utc:%Y-%m-%d %H:%M} UTC.")
    return " ".join(lines)
