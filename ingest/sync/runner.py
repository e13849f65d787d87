"""The sync job: copy each linked account's new listens into its member's community, exactly once.

For every active link that is due (:func:`storage.links.due`), at most
``settings.sync_pages_per_account`` pages are fetched per run, so a member's 200k-scrobble history
arrives over several runs while every other account still gets its turn. Each page is stored in
**one transaction with the cursor after it** (:func:`storage.links.store_page`): a crash — kill -9
included — leaves either the page and its cursor or neither, and the next run fetches from the
committed cursor. Each listen becomes a play whose dedupe key is built the way
:func:`ingest.importers.import_rows` builds one — ``<source>~<tag>:<time>:sha1(community, member,
artist key, track key, time, 1, account)`` — so a page fetched twice adds nothing. Names go through
the importers' checks (:func:`storage.names.artist_name`, the track title rule) and the bulk
writer's :class:`~ingest.bulk.Resolver` (aliases, same-name spellings), as a bulk import does.

How the cursor moves (:class:`storage.links.Cursor`):

* **Backfill** (the first pass): ListenBrainz pages back in time with ``max_ts`` from the newest
  listen; a full page's next ``max_ts`` is its oldest time + 1, so listens sharing that second are
  read again rather than cut (the keys make the repeat harmless). It ends at a page that is not
  full, unless ``oldest_listen_ts`` says older listens remain. Last.fm pages
  ``page=1…totalPages``; from page 2 on with ``to`` = the pass's newest time + 1, so page numbers
  stay put while new scrobbles arrive. When the pass ends, ``floor`` = its newest listen time.
* **Incremental**: ListenBrainz reads forward with ``min_ts`` (the server answers the oldest
  ``count`` listens after it); Last.fm runs a new pass bounded by ``from``. The first request of a
  run starts :data:`LATE_SECONDS` before ``floor``, so a listen submitted late (an offline player)
  with a time just before the newest stored one still arrives. A listen submitted with a time
  older than that — a history imported into ListenBrainz after linking, say — is not picked up.

Failures: a rate limit defers the account until the service's reset, at no cost; anything that may
pass (5xx, timeout, malformed JSON, Last.fm 8/11/16) backs the account off exponentially
(``sync_backoff_minutes`` doubling up to ``sync_backoff_max_hours``); an account that vanished
(ListenBrainz 404, Last.fm 6) or went private (Last.fm 17) is marked, retried at the longest wait,
and its member gets **one** notice (:func:`storage.links.take_notices`). Operator errors (no
``LASTFM_API_KEY`` while a Last.fm account is linked, a refused key) blame no account: they are
reported in :attr:`SyncReport.errors`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from config.settings import Settings
from ingest.bulk import Batch, Resolver
from ingest.sync.clients import (
    AccountGone,
    AccountPrivate,
    LastfmClient,
    Listen,
    ListenBrainzClient,
    OperatorError,
    Page,
    RateLimited,
    TryLater,
)
from storage import links
from storage.clock import utcnow
from storage.db import Database
from storage.links import Cursor, CursorMoved, Link
from storage.names import InvalidName, artist_name, fast_checked_name
from storage.trends import Fault, no_fault

# The first incremental request of a run reaches this far behind the newest stored listen.
LATE_SECONDS = 3600
# A listen more than this far in the future is not a listen (as for imports).
FUTURE_SLACK = dt.timedelta(days=1)
# Waits inside one run: the longest a client sleeps for a rate limit or between retries.
MAX_WAIT_SECONDS = 60.0
RETRY_ATTEMPTS = 3

SOURCE_NAMES = {"listenbrainz": "ListenBrainz", "lastfm": "Last.fm"}

UP_TO_DATE = "up to date"
BACKFILLING = "backfilling"  # the history is not all in yet: the next runs go on
CATCHING_UP = "catching up"  # the run's page budget ran out before the newest listens
RETRYING = "will retry"
RATE_LIMITED = "rate limited"
GONE = "account not found"
PRIVATE = "account private"
NOT_SYNCED = "not synced"

_SEP = "\x1f"


@dataclass
class AccountResult:
    link_id: int
    source: str
    account: str
    community_id: int
    member: str  # the member's external id
    added: int = 0
    duplicates: int = 0  # listens already stored (a page read again, an overlap)
    pages: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    state: str = UP_TO_DATE
    detail: str = ""
    operator_error: str = ""  # the service refused the operator's key: no account is to blame

    def line(self) -> str:
        s = (
            f"{self.source} {self.account} → member {self.member}: {self.state}, added {self.added}, "
            f"already stored {self.duplicates}"
        )
        if self.skipped:
            detail = ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped.items()))
            s += f", skipped {sum(self.skipped.values())} ({detail})"
        s += f" ({self.pages} page{'s' if self.pages != 1 else ''})"
        if self.detail:
            s += f" — {self.detail}"
        return s


@dataclass
class SyncReport:
    accounts: list[AccountResult] = field(default_factory=list)
    # Operator errors (a missing or refused API key): one line each.
    errors: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(a.added for a in self.accounts)

    def total(self) -> str:
        """One line over every account synced."""
        if not self.accounts:
            return "no linked accounts to sync"
        dup = sum(a.duplicates for a in self.accounts)
        skipped = sum(sum(a.skipped.values()) for a in self.accounts)
        states: dict[str, int] = {}
        for a in self.accounts:
            states[a.state] = states.get(a.state, 0) + 1
        s = (
            f"synced {len(self.accounts)} account{'s' if len(self.accounts) != 1 else ''}: added "
            f"{self.added} plays, already stored {dup}, skipped {skipped}"
        )
        if states:
            s += " (" + ", ".join(f"{k}: {n}" for k, n in sorted(states.items())) + ")"
        return s

    def summary(self) -> str:
        """:meth:`total` and the operator errors: what ``job_runs`` records."""
        return "; ".join([self.total(), *self.errors])


def backoff(settings: Settings, failures: int) -> dt.timedelta:
    """How long an account waits after its ``failures``-th failure in a row."""
    cap = settings.sync_backoff_max_hours * 3600
    return dt.timedelta(seconds=min(cap, settings.sync_backoff_minutes * 60 * 2 ** max(0, failures - 1)))


def dedupe_key(link: Link, user: str, a_key: str, t_key: str | None, when: dt.datetime) -> str:
    """The play's dedupe key, as :func:`ingest.importers.import_rows` builds it for a row of
    ``user`` with source ``<source>~<tag>`` and the account as the row's identity."""
    iso = when.isoformat()
    ident = _SEP.join((str(link.community_id), user, a_key, t_key or "", iso, "1")) + _SEP + link.account_key
    return f"{link.prefix}{iso[:19]}:{hashlib.sha1(ident.encode()).hexdigest()}"


@dataclass(frozen=True)
class _Play:
    artist: tuple[str, str]  # (display, key)
    track: tuple[str, str] | None
    when: dt.datetime
    key: str


def _prepare(link: Link, listens: list[Listen], now: dt.datetime) -> tuple[list[_Play], int, dict[str, int]]:
    """The page's listens as plays (unique by key, oldest first), how many repeated a key of this
    page, and the listens skipped, by reason."""
    out: dict[str, _Play] = {}
    repeated = 0
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    user = link.member_external_id
    for listen in listens:
        if listen.listened_at is None:
            skip("no listen time")
            continue
        if listen.artist is None:
            skip("no artist name")
            continue
        when = dt.datetime.fromtimestamp(listen.listened_at, dt.UTC).replace(tzinfo=None)
        if when > now + FUTURE_SLACK:
            skip("listen time in the future")
            continue
        try:
            artist = artist_name(listen.artist)
            track = fast_checked_name(listen.track, "track title") if listen.track else None
        except InvalidName as exc:
            skip(str(exc).rstrip("."))
            continue
        key = dedupe_key(link, user, artist[1], track[1] if track else None, when)
        if key in out:
            repeated += 1
            continue
        out[key] = _Play(artist, track, when, key)
    # Oldest first: within a page (and so in an incremental sync) the newest listen gets the highest
    # play id, as if it had been logged last.
    return sorted(out.values(), key=lambda p: p.when), repeated, skipped


def _store(
    db: Database, link: Link, plays: list[_Play], cursor: Cursor, now: dt.datetime, fault: Fault
) -> tuple[Link, int]:
    """Write a page's plays and the cursor after it in one transaction."""
    batch = Batch()
    for p in plays:
        batch.artists.setdefault(p.artist[1], p.artist[0])
        if p.track is not None:
            batch.tracks.setdefault((p.artist[1], p.track[1]), p.track[0])
    with db.write() as conn:
        resolver = Resolver(link.community_id)
        if plays:
            resolver.resolve(conn, batch)
        rows: list[dict[str, Any]] = []
        for p in plays:
            artist = resolver.artists[p.artist[1]]
            rows.append(
                {
                    "community_id": link.community_id,
                    "member_id": link.member_id,
                    "artist_id": artist,
                    "track_id": resolver.tracks[(artist, p.track[1])] if p.track is not None else None,
                    "played_at": p.when,
                    "count": 1,
                    "source": link.source,
                    "dedupe_key": p.key,
                }
            )
        stored, inserted = links.store_page(conn, link, cursor, rows, now)
        fault("sync-before-commit")
    fault("sync-after-commit")
    return stored, inserted


# --- how the cursor moves ------------------------------------------------------------------------


def listenbrainz_request(c: Cursor, after: int | None) -> dict[str, int]:
    """``max_ts`` / ``min_ts`` of the next ListenBrainz request. ``after``: where this run's
    incremental reading stands (``None`` for its first request, which starts :data:`LATE_SECONDS`
    before ``floor``)."""
    if not c.backfilled:
        return {} if c.pass_before is None else {"max_ts": c.pass_before}
    return {"min_ts": after if after is not None else max(0, (c.floor or 0) - LATE_SECONDS)}


def listenbrainz_advance(
    c: Cursor, page: Page, count: int, min_ts: int | None
) -> tuple[Cursor, int | None, bool]:
    """After a ListenBrainz page (read with ``min_ts``, if incremental): the cursor, where the next
    incremental request starts, and whether the account is up to date."""
    times = [x.listened_at for x in page.listens if x.listened_at is not None]
    full = len(page.listens) >= count
    if not c.backfilled:
        top = c.pass_top if c.pass_top is not None else (max(times) if times else None)
        if times:
            lo, hi = min(times), max(times)
            more = full or (page.oldest is not None and lo > page.oldest)
            # A full page may have cut its oldest second: the next page reads that second again.
            # (A full page of one second cannot be passed that way: the rest of it is given up.)
            before = lo + 1 if full and hi > lo else lo
            if more and (c.pass_before is None or before < c.pass_before):
                return Cursor(c.floor, top, before, 0, False), None, False
        return Cursor(top if top is not None else 0, None, None, 0, True), None, False
    start = min_ts if min_ts is not None else (c.floor or 0)
    nxt = start
    if times:
        lo, hi = min(times), max(times)
        # A full page may have cut its newest second: the next request reads that second again.
        nxt = max(start, hi - 1 if full and hi > lo else hi)
    floor = max(c.floor or 0, nxt)
    return Cursor(floor, None, None, 0, True), nxt, not full or nxt <= start


def lastfm_request(c: Cursor) -> dict[str, int]:
    """``page`` / ``from_ts`` / ``to_ts`` of the next Last.fm request."""
    out: dict[str, int] = {"page": c.pass_page or 1}
    if c.backfilled and c.floor is not None:
        out["from_ts"] = max(0, c.floor - LATE_SECONDS)
    if c.pass_page and c.pass_top is not None:
        out["to_ts"] = c.pass_top + 1
    return out


def lastfm_advance(c: Cursor, page: Page) -> tuple[Cursor, bool]:
    """The cursor after a Last.fm page, and whether the account is up to date."""
    times = [x.listened_at for x in page.listens if x.listened_at is not None]
    number = c.pass_page or 1
    top = c.pass_top if c.pass_page else (max(times) if times else None)
    total = page.total_pages if page.total_pages is not None else number
    if not page.listens or number >= total or top is None:
        if top is None:
            floor = c.floor if c.floor is not None else 0
        else:
            floor = top if c.floor is None else max(c.floor, top)
        # A finished backfill goes straight on to the listens that arrived meanwhile.
        return Cursor(floor, None, None, 0, True), c.backfilled
    return Cursor(c.floor, top, None, number + 1, c.backfilled), False


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class _Clients:
    settings: Settings
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    transport: httpx.BaseTransport | None
    made: dict[str, ListenBrainzClient | LastfmClient] = field(default_factory=dict)

    def get(self, source: str) -> ListenBrainzClient | LastfmClient:
        client = self.made.get(source)
        if client is None:
            options: dict[str, Any] = {
                "timeout": self.settings.sync_timeout_seconds,
                "attempts": RETRY_ATTEMPTS,
                "max_wait": MAX_WAIT_SECONDS,
                "sleep": self.sleep,
                "monotonic": self.monotonic,
                "transport": self.transport,
            }
            if source == "listenbrainz":
                client = ListenBrainzClient(self.settings.listenbrainz_api_url, **options)
            else:
                client = LastfmClient(
                    self.settings.lastfm_api_url, self.settings.lastfm_api_key or "", **options
                )
            self.made[source] = client
        return client

    def close(self) -> None:
        for client in self.made.values():
            client.close()


def due_accounts(db: Database, now: dt.datetime) -> list[Link]:
    """The links a scheduled run would sync now."""
    with db.read() as conn:
        return links.due(conn, now)


def sync(
    db: Database,
    settings: Settings,
    *,
    community: int | None = None,
    member: int | None = None,
    due_only: bool = True,
    clock: Callable[[], dt.datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
    fault: Fault = no_fault,
) -> SyncReport:
    """One run over the active links (of ``community`` / ``member`` if given; ``due_only``: only
    those whose back-off has passed — the scheduled job — else all, as ``tastemaker sync`` does)."""
    report = SyncReport()
    with db.read() as conn:
        targets = links.due(conn, clock(), community=community, member=member, due_only=due_only)
    clients = _Clients(settings, sleep, monotonic, transport)
    refused: dict[str, str] = {}  # source -> the operator error that stops it for this run
    if not settings.lastfm_api_key:
        waiting = sum(1 for t in targets if t.source == "lastfm")
        if waiting:
            refused["lastfm"] = "no LASTFM_API_KEY"
            report.errors.append(
                f"LASTFM_API_KEY is not set: {waiting} linked Last.fm account{'s' if waiting != 1 else ''} "
                "not synced (get a key at https://www.last.fm/api/account/create)"
            )
    try:
        for link in targets:
            if link.source in refused:
                report.accounts.append(_result(link, state=NOT_SYNCED, detail=refused[link.source]))
                continue
            result = _sync_account(db, settings, clients.get(link.source), link, clock, fault)
            if result.operator_error:
                refused[link.source] = result.operator_error
                report.errors.append(result.operator_error)
            report.accounts.append(result)
    finally:
        clients.close()
    return report


def _result(link: Link, **kw: Any) -> AccountResult:
    return AccountResult(link.id, link.source, link.account, link.community_id, link.member_external_id, **kw)


def _sync_account(
    db: Database,
    settings: Settings,
    client: ListenBrainzClient | LastfmClient,
    link: Link,
    clock: Callable[[], dt.datetime],
    fault: Fault,
) -> AccountResult:
    result = _result(link)
    after: int | None = None  # ListenBrainz: where this run's incremental reading stands
    finished = False
    try:
        for _ in range(settings.sync_pages_per_account):
            c = link.cursor
            if isinstance(client, ListenBrainzClient):
                count = settings.listenbrainz_page_size
                params = listenbrainz_request(c, after)
                page = client.listens(link.account, count=count, **params)
                cursor, after, finished = listenbrainz_advance(c, page, count, params.get("min_ts"))
            else:
                page = client.recent_tracks(
                    link.account, limit=settings.lastfm_page_size, **lastfm_request(c)
                )
                cursor, finished = lastfm_advance(c, page)
            now = clock()
            plays, repeated, skipped = _prepare(link, page.listens, now)
            for reason, n in [*skipped.items(), *page.skipped.items()]:
                result.skipped[reason] = result.skipped.get(reason, 0) + n
            link, inserted = _store(db, link, plays, cursor, now, fault)
            result.pages += 1
            result.added += inserted
            result.duplicates += len(plays) - inserted + repeated
            if finished:
                break
    except CursorMoved:
        result.state, result.detail = NOT_SYNCED, "the link changed meanwhile (an unlink, another sync)"
        return result
    except OperatorError as exc:
        result.state, result.detail, result.operator_error = NOT_SYNCED, str(exc), str(exc)
        return result
    except (AccountGone, AccountPrivate, TryLater) as exc:
        _failed(db, settings, link, exc, clock(), result)
        return result
    if not link.cursor.backfilled:
        result.state = BACKFILLING
    elif not finished:
        result.state = CATCHING_UP
    return result


def notice_text(source: str, account: str, status: str) -> str:
    """What the member is told, once, when their account vanished or went private."""
    name = SOURCE_NAMES.get(source, source)
    if status == links.PRIVATE:
        return (
            f"Your {name} account “{account}” hides its recent listening, so its listens stopped "
            f"arriving here. Untick “Hide recent listening information” in {name}'s privacy settings "
            "and they come back within a day, by themselves."
        )
    return (
        f"{name} says there is no account “{account}” (any more), so its listens stopped arriving "
        f"here. If you renamed it, unlink it and link the new name with /link {source} <name>."
    )


def _failed(
    db: Database, settings: Settings, link: Link, exc: Exception, now: dt.datetime, result: AccountResult
) -> None:
    """Record a failed sync of ``link``: back-off, status and (on a change to gone or private) the
    member's notice."""
    longest = dt.timedelta(hours=settings.sync_backoff_max_hours)
    notice = None
    if isinstance(exc, AccountGone | AccountPrivate):
        status = links.GONE if isinstance(exc, AccountGone) else links.PRIVATE
        failures = link.failures + 1
        wait = longest
        if link.status != status:  # told once: only when the account changes to this state
            notice = notice_text(link.source, link.account, status)
        result.state = GONE if status == links.GONE else PRIVATE
    elif isinstance(exc, RateLimited):
        status, failures = link.status, link.failures  # not the account's fault
        seconds = exc.retry_after if exc.retry_after is not None else settings.sync_backoff_minutes * 60
        wait = dt.timedelta(seconds=seconds)
        result.state = RATE_LIMITED
    else:
        failures = link.failures + 1
        if link.status in (links.GONE, links.PRIVATE):  # stays what it was, at the longest wait
            status, wait = link.status, longest
        else:
            status, wait = links.ERROR, backoff(settings, failures)
        result.state = RETRYING
    until = now + wait
    result.detail = f"{exc}; next attempt after {until:%Y-%m-%d %H:%M} UTC"
    with db.write() as conn:
        written = links.set_state(
            conn,
            link,
            status=status,
            failures=failures,
            next_attempt_at=until,
            error=str(exc),
            notice=notice,
        )
    if not written:
        result.state, result.detail = NOT_SYNCED, "the link changed meanwhile (an unlink, another sync)"
