"""The service layer: everything a member can ask, for every platform.

Adapters (console, Slack, Discord) parse platform input into these calls and render the plain
dataclasses they return. Nothing here knows about a chat platform; bad input raises
:class:`~bot.parsing.UserError` with a message that is safe to show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import threading
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
from sqlalchemy import Connection
from threadpoolctl import ThreadpoolController

from bot.parsing import PlayInput, UserError, parse_played, play_input
from config.settings import Settings
from engine.recommender import AlsRecommender
from ingest.detect import UnknownFormat, detect, open_source
from ingest.formats import SINGLE_USER, import_detected
from ingest.importers import BATCH_ROWS, Rejected
from storage import catalog, digests, links, recs, removals, stats, taste, trends, visibility
from storage import feedback as pick_feedback
from storage.clock import utcnow
from storage.db import Database
from storage.models import UNDATED
from storage.names import normalise

TRENDING_LIMIT = 10
_NO_ITEMS = np.empty(0, dtype=np.int64)
# Pseudo-count that smooths the growth score, so 1 → 3 plays does not outrank 40 → 80.
GROWTH_PRIOR = 10.0


@dataclass(frozen=True)
class Who:
    """A member of a community, as the platform identifies them."""

    platform: str
    community_id: str
    member_id: str
    community_name: str = ""
    member_name: str = ""


@dataclass(frozen=True)
class PlayResult:
    artist: str
    track: str | None
    plays_by_member: int
    duplicate: bool = False
    corrected_from: str | None = None  # the spelling typed, when it resolved to an existing entry


RESOLVE_EXISTING = "existing"
RESOLVE_AS_TYPED = "as typed"
# A leading "=" on /played text (or on Discord's artist option) logs the name as typed, no question.
AS_TYPED_MARK = "="


def _what(artist: str, title: str | None) -> str:
    return f"{artist} – {title}" if title else artist


def _command(artist: str, title: str | None) -> str:
    return f"/played {artist} - {title}" if title else f"/played {artist}"


@dataclass(frozen=True)
class Question:
    """A near miss: what the member typed and the existing entry it may mean. Nothing is logged
    until they pick one (``Service.played(..., resolve=...)``, or by typing either command)."""

    typed: str  # "The Kills – Doing It to Death"
    candidate: str  # "The Killers – Doing It to Death"
    artist: str  # the typed artist and title, to build the answers from
    title: str | None

    @property
    def existing_command(self) -> str:
        artist, _, title = self.candidate.partition(" – ")
        return _command(artist, title or None) if self.title else f"/played {self.candidate}"

    @property
    def as_typed_command(self) -> str:
        return _command(AS_TYPED_MARK + self.artist, self.title)

    def text(self) -> str:
        return (
            f"Did you mean {self.candidate}? Nothing is logged yet. "
            f"To log it as {self.candidate}, send `{self.existing_command}`; "
            f"to log it as typed ({self.typed}), send `{self.as_typed_command}`."
        )


class NameQuestion(UserError):
    """Raised by :meth:`Service.played` instead of logging a near miss. A :class:`UserError`, so an
    adapter that does not ask (yet) shows its text, which says what to type for either answer."""

    def __init__(self, question: Question) -> None:
        super().__init__(question.text())
        self.question = question


@dataclass(frozen=True)
class LoggedPlay:
    """One of the member's plays, for /plays and /undo. ``id`` goes into a remove button."""

    id: int
    what: str  # "Artist – Title" or "Artist"
    played_at: dt.datetime | None
    count: int
    source: str  # "slack", "discord", "console", or an import format


@dataclass(frozen=True)
class Removal:
    play: LoggedPlay
    plays_left: int  # the member's remaining plays of that track (or artist)
    folded: bool  # whether /trending counted it already (the next batch takes it out)


@dataclass(frozen=True)
class UploadSummary:
    """What :meth:`Service.import_upload` did with one uploaded export."""

    format: str  # "spotify", "listenbrainz" or "lastfm"
    what: str  # "a Spotify extended streaming history"
    read: int  # records read, whatever became of them
    imported: int  # new plays
    duplicates: int  # plays already in the member's history (the same file uploaded again)
    skipped: dict[str, int]  # deliberately not imported, by reason ("podcast": 1, "shorter than 30 s": 2)
    rejected: int  # records that could not be read as a play
    first_rejects: list[tuple[int, str]]  # (line, reason) of the first few


UPLOAD_REJECTS_SHOWN = 3
NOT_AN_EXPORT = (
    "That file is not a listening history I can read. Send a Spotify extended streaming history "
    "(its JSON files or the ZIP), a ListenBrainz export (the ZIP or a JSONL file) or a Last.fm "
    "scrobble CSV."
)


MY_PLAYS_LIMIT = 10
WHOKNOWS_LIMIT = 10
PRIVATE_NAME = None  # how a private member appears in another member's answer (adapters word it)


@dataclass(frozen=True)
class Knower:
    rank: int
    name: str | None  # None: a private member
    plays: int
    last_played: dt.datetime | None
    is_you: bool = False


@dataclass(frozen=True)
class WhoKnows:
    kind: str
    item: str  # as shown: the entry's name here, or what was typed when nobody here played it
    top: list[Knower]  # the first WHOKNOWS_LIMIT
    you: Knower | None  # the asker's own row when outside ``top``
    listeners: int
    plays: int

    @property
    def empty(self) -> bool:
        return not self.top


@dataclass(frozen=True)
class ChartEntry:
    rank: int
    name: str
    plays: int


@dataclass(frozen=True)
class MemberChart:
    member: str
    kind: str
    period: str  # "7d", "30d", "year", "all"
    entries: list[ChartEntry]
    is_you: bool


@dataclass(frozen=True)
class RecentEntry:
    what: str
    played_at: dt.datetime | None
    count: int


@dataclass(frozen=True)
class RecentPlays:
    member: str
    entries: list[RecentEntry]
    is_you: bool


LINK_WAITING = "waiting"  # linked, not synced yet
LINK_BACKFILLING = "backfilling"  # the history is still arriving, run by run
LINK_OK = "ok"
LINK_RETRYING = "retrying"  # the last sync failed; it is retried with a growing wait
LINK_GONE = "gone"  # the service has no such account (any more)
LINK_PRIVATE = "private"  # the account hides its listens
LINK_SOURCE_NAMES = {"listenbrainz": "ListenBrainz", "lastfm": "Last.fm"}


@dataclass(frozen=True)
class LinkStatus:
    """A member's linked ListenBrainz or Last.fm account (per community), for /link, /unlink and
    the /profile line."""

    source: str  # "listenbrainz" or "lastfm"
    account: str
    linked_at: dt.datetime
    last_sync: dt.datetime | None  # when the sync last stored a page; None before the first
    state: str  # LINK_WAITING, LINK_BACKFILLING, LINK_OK, LINK_RETRYING, LINK_GONE, LINK_PRIVATE
    plays: int  # plays the sync added through this link
    detail: str = ""  # what went wrong, while retrying

    @property
    def source_name(self) -> str:
        return LINK_SOURCE_NAMES.get(self.source, self.source)


@dataclass(frozen=True)
class Linked:
    link: LinkStatus
    already: bool = False  # this account was linked already: nothing changed
    # Linked before and unlinked keeping its plays: the sync goes on from where it stopped (the
    # plays kept are not added again).
    resumed: bool = False


@dataclass(frozen=True)
class Unlinked:
    source: str
    account: str
    kept: bool  # the synced plays stay (as plays of the member, like imported ones)
    removed: int = 0  # synced plays removed (0 when kept)
    # /trending had already counted some of the removed plays: they drop out at the next batch.
    folded: bool = False

    @property
    def source_name(self) -> str:
        return LINK_SOURCE_NAMES.get(self.source, self.source)


@dataclass(frozen=True)
class Profile:
    member: str
    is_you: bool
    plays: int
    artists: int
    tracks: int
    member_since: dt.datetime | None  # the first dated play
    current_streak: int  # days in a row, up to today or yesterday
    longest_streak: int
    top_artist: str | None
    private: bool
    # The closest public member by the last artist retrain (what /neighbours lists first), with
    # the match as 0-100; None before a retrain, or when the model does not know the member.
    closest: str | None = None
    closest_percent: float | None = None
    # The member's linked accounts with their last sync: only on their own profile.
    links: tuple[LinkStatus, ...] = ()


TOP_PERIODS = {"7d": 7, "30d": 30, "year": 365, "all": None}


@dataclass(frozen=True)
class HelpEntry:
    command: str  # without the platform's prefix: "played", "top"
    args: str
    what: str
    example: str


HELP = (
    HelpEntry("played", "<artist - title>", "log a play", "Radiohead - Karma Police"),
    HelpEntry("undo", "", "remove your last logged play", ""),
    HelpEntry("plays", "", "your last logged plays, each with a remove button", ""),
    HelpEntry("trending", "[24h|7d|30d|all] [artists|tracks]", "what this community plays most", "7d tracks"),
    HelpEntry(
        "recommend",
        "[artists|tracks] [n] | reset-hidden",
        "picks for you, each with its reason and 👍 / 👎 (👎 hides it; reset-hidden brings them back)",
        "artists 5",
    ),
    HelpEntry("whoknows", "<artist | artist - title>", "who here plays it most", "Björk"),
    HelpEntry(
        "top",
        "[artists|tracks] [7d|30d|year|all] [member] [chart]",
        "a member's own chart (chart: as a picture too)",
        "tracks 30d chart",
    ),
    HelpEntry("recent", "[member]", "the last plays of a member (you by default)", ""),
    HelpEntry("profile", "[member]", "plays, streaks and top artist of a member", ""),
    HelpEntry("neighbours", "", "the members here whose taste is closest to yours", ""),
    HelpEntry("taste", "<member>", "compare your taste with another member's", "@ann"),
    HelpEntry(
        "similar", "<artist | artist - title>", "what this community plays that is like it", "Radiohead"
    ),
    HelpEntry(
        "import",
        "",
        "your own listening history from an export file (each platform words how; adapters replace "
        "this entry)",
        "",
    ),
    HelpEntry("privacy", "private|public", "leave others' answers about members, or come back", "private"),
    HelpEntry(
        "link",
        "listenbrainz|lastfm <user name>",
        "link your ListenBrainz or Last.fm account here: its plays arrive by themselves",
        "listenbrainz rob",
    ),
    HelpEntry(
        "unlink",
        "[listenbrainz|lastfm] [keep|delete]",
        "stop syncing a linked account; its synced plays stay (keep, the default) or go (delete)",
        "lastfm delete",
    ),
    HelpEntry("links", "", "your linked accounts: last sync, plays synced, problems", ""),
    HelpEntry(
        "digest",
        "",
        "the daily trending post (each platform words its own set-up; adapters replace this entry)",
        "",
    ),
    HelpEntry("help", "", "this list", ""),
)


@dataclass(frozen=True)
class Pick:
    rank: int
    name: str
    score: float
    reason: str | None  # "because you played X" item, or None
    item_id: int | None = None  # the artist or track id: what a 👍 / 👎 button carries


@dataclass(frozen=True)
class Recommendations:
    kind: str
    source: str  # "model" (stored picks), "fold-in" (fresh), "trending" (no usable history), "none"
    picks: list[Pick]
    note: str = ""
    hidden: int = 0  # items of this kind the member hid with 👎 (left out of the picks)


FEEDBACK_UP = pick_feedback.UP
FEEDBACK_DOWN = pick_feedback.DOWN


@dataclass(frozen=True)
class FeedbackResult:
    """What a 👍 / 👎 on a pick did (:meth:`Service.feedback`)."""

    kind: str
    name: str  # the item as shown
    verdict: str  # FEEDBACK_UP or FEEDBACK_DOWN
    before: str | None  # the verdict stored before (the same one: nothing changed)
    hidden: int  # the member's hidden items of this kind now

    @property
    def changed(self) -> bool:
        return self.before != self.verdict


@dataclass(frozen=True)
class HiddenReset:
    """What resetting a member's hidden picks brought back, per kind."""

    artists: int
    tracks: int

    @property
    def total(self) -> int:
        return self.artists + self.tracks


@dataclass(frozen=True)
class TrendEntry:
    rank: int
    name: str
    plays: int
    listeners: int
    prev_rank: int | None
    prev_plays: int
    movement: str  # "up", "down", "same", "new", or "" when there is no previous window
    growth: float  # smoothed log2 growth against the previous window


@dataclass(frozen=True)
class Trending:
    window: str
    kind: str
    community: str
    entries: list[TrendEntry]
    rising: TrendEntry | None
    pending_plays: int = 0
    note: str = ""


@dataclass(frozen=True)
class Digest:
    community: str
    day: dt.date
    top_tracks: list[TrendEntry]
    top_artists: list[TrendEntry]
    rising: TrendEntry | None
    new_artists: list[str]
    # Daily plays of the top tracks over the 7 days ending on ``day`` (for the chart).
    series: dict[str, list[tuple[dt.date, int]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.top_tracks and not self.top_artists


@dataclass(frozen=True)
class DigestSubscriptionInfo:
    channel: str
    local_time: str  # "HH:MM"
    tz: str
    next_slot_utc: dt.datetime  # naive UTC
    created: bool = False

    @property
    def next_slot_local(self) -> dt.datetime:
        return self.next_slot_utc.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(self.tz))


_HHMM = re.compile(r"^(\d{1,2})[:.h](\d{2})$")


def parse_local_time(text: str) -> str:
    """``9:00`` / ``09:00`` / ``21.30`` → ``"HH:MM"``; anything else is a :class:`UserError`."""
    m = _HHMM.match((text or "").strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise UserError(f"“{text}” is not a time of day: use 24-hour HH:MM, e.g. 09:00 or 18:30.")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def parse_timezone(text: str) -> str:
    """An IANA zone name such as ``Europe/Berlin`` (validated with :mod:`zoneinfo`)."""
    name = (text or "").strip()
    if name.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"“{text}” is not a time zone I know: use an IANA name such as Europe/Berlin, "
            "America/New_York or UTC."
        ) from None
    return name


def slot_utc(local_time: str, tz: str, local_date: dt.date) -> dt.datetime:
    """The UTC instant (naive) of ``local_time`` on ``local_date`` in ``tz``. A wall time skipped
    by a DST change maps to the instant just after the gap; a repeated one to its first occurrence."""
    hour, minute = (int(x) for x in local_time.split(":"))
    local = dt.datetime.combine(local_date, dt.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(tz))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def next_slot(local_time: str, tz: str, now: dt.datetime) -> dt.datetime:
    """The first slot at or after ``now`` (naive UTC)."""
    today = now.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(tz)).date()
    for k in range(-1, 3):
        at = slot_utc(local_time, tz, today + dt.timedelta(days=k))
        if at >= now:
            return at
    raise AssertionError("unreachable: a slot exists every day")


def _shown(pick: tuple[int, float, int | None], visible: np.ndarray) -> bool:
    """A stored pick is shown only if its item (and its reason) are visible to the community now."""
    item, _score, reason = pick
    return bool(visibility.contains(visible, np.array([item] if reason is None else [item, reason])).all())


def _logged(p: removals.LoggedPlay) -> LoggedPlay:
    return LoggedPlay(p.id, p.what, p.played_at, p.count, p.source)


# Synced plays an unlink removes per write transaction.
UNLINK_CHUNK = 10_000
_SOURCES = {"listenbrainz": "listenbrainz", "lb": "listenbrainz", "lastfm": "lastfm", "last.fm": "lastfm"}
_LASTFM_USER = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,14}$")
_PROFILE_URL = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:listenbrainz\.org|last\.fm|lastfm\.[a-z.]+)/user/([^/?#]+)/?(?:[?#].*)?$",
    re.IGNORECASE,
)


def parse_link_source(text: str | None) -> str:
    """``listenbrainz`` or ``lastfm`` (``lb`` and ``last.fm`` too); anything else is a :class:`UserError`."""
    src = _SOURCES.get((text or "").strip().lower())
    if src is None:
        raise UserError(f"“{text or ''}” is not a service I can link: use listenbrainz or lastfm.")
    return src


def parse_account(source: str, text: str | None) -> str:
    """The account name to link: as typed, or taken from a profile URL
    (``https://www.last.fm/user/<name>``, ``https://listenbrainz.org/user/<name>/``)."""
    name = (text or "").strip().lstrip("@")
    m = _PROFILE_URL.match(name)
    if m:
        name = unquote(m.group(1)).strip()
    service = LINK_SOURCE_NAMES[source]
    if not name:
        raise UserError(f"Which {service} account? Give its user name: /link {source} <user name>.")
    if source == "lastfm" and not _LASTFM_USER.match(name):
        raise UserError(
            f"“{name}” is not a Last.fm user name (2-15 letters, digits, - or _, starting with a letter)."
        )
    if len(name) > 64 or not name.isprintable() or "/" in name:
        raise UserError(f"“{name[:64]}” is not a {service} user name.")
    return name


def _link_status(link: links.Link) -> LinkStatus:
    if link.status == links.GONE:
        state = LINK_GONE
    elif link.status == links.PRIVATE:
        state = LINK_PRIVATE
    elif link.status == links.ERROR:
        state = LINK_RETRYING
    elif not link.cursor.backfilled:
        state = LINK_WAITING if link.last_sync_at is None else LINK_BACKFILLING
    else:
        state = LINK_OK
    detail = link.last_error if state == LINK_RETRYING else ""
    return LinkStatus(
        link.source, link.account, link.linked_at, link.last_sync_at, state, link.synced, detail
    )


def growth_score(plays: int, prev: int) -> float:
    return math.log2((plays + GROWTH_PRIOR) / (prev + GROWTH_PRIOR))


class Service:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        # kind -> (generation id, its recommender): the newest generation per kind only.
        self._models: dict[str, tuple[int, AlsRecommender]] = {}
        self._lock = threading.Lock()
        # (platform, community, member) -> committed (community id, member id): ids never change, so
        # repeat /played calls skip two upserts and two look-ups (one primary-key look-up checks
        # the member was not deleted meanwhile). Filled only after a commit.
        self._ids: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._blas = ThreadpoolController()
        self._visible = visibility.VisibleItems()

    # --- /played ----------------------------------------------------------------------------

    def played(
        self,
        who: Who,
        text: str | None = None,
        *,
        artist: str | None = None,
        track: str | None = None,
        event_id: str | None = None,
        played_at: dt.datetime | None = None,
        resolve: str | None = None,
    ) -> PlayResult:
        """Log one play. ``text`` is parsed (``Artist - Title`` …) unless ``artist``/``track`` are
        given separately. ``event_id`` (the platform's trigger/interaction id) makes a retried
        delivery a no-op.

        Only the same name resolves silently (:func:`storage.catalog.find_artist`). A near miss of an
        entry this community can see raises :class:`NameQuestion` and logs nothing; the member's
        answer comes back as ``resolve="existing"`` or ``resolve="as typed"`` (a leading ``=`` on
        the text or artist means "as typed" too, so chat members can answer by typing)."""
        if resolve not in (None, RESOLVE_EXISTING, RESOLVE_AS_TYPED):
            raise ValueError(f"resolve must be {RESOLVE_EXISTING!r} or {RESOLVE_AS_TYPED!r}")
        if text is not None and text.lstrip().startswith(AS_TYPED_MARK):
            text, resolve = text.lstrip()[1:], resolve or RESOLVE_AS_TYPED
        if artist is not None and artist.lstrip().startswith(AS_TYPED_MARK):
            artist, resolve = artist.lstrip()[1:], resolve or RESOLVE_AS_TYPED
        parsed = parse_played(text) if artist is None and track is None else play_input(artist, track)
        dedupe = f"{who.platform}:{event_id}" if event_id else f"{who.platform}:{uuid.uuid4().hex}"
        when = played_at or self.clock()
        ids_key = (who.platform, who.community_id, who.member_id)
        with self.db.write() as conn:
            known = self._ids.get(ids_key)
            if known is not None and not catalog.member_is(conn, known[1], who.member_id):
                known = None  # deleted since (tastemaker member delete): a new member row
            if known is not None:
                community, member = known
            else:
                community = catalog.community_id(
                    conn, who.platform, who.community_id, who.community_name or who.community_id
                )
                member = catalog.member_id(conn, community, who.member_id, who.member_name or who.member_id)
            if event_id is not None and (stored := catalog.play_by_dedupe_key(conn, dedupe)) is not None:
                # Already logged under this event (a retried delivery, a second button press):
                # nothing is resolved or created again.
                kind, item = ("track", stored.track.id) if stored.track else ("artist", stored.artist.id)
                return PlayResult(
                    stored.artist.name,
                    stored.track.name if stored.track else None,
                    catalog.member_item_plays(conn, stored.member, kind, item),
                    duplicate=True,
                )
            seen_artists, seen_tracks = self._visible.get_many(conn, community, ("artist", "track"))
            a = catalog.find_artist(conn, parsed.artist_key, visible=seen_artists)
            if parsed.by_split is not None and (a is None or not a.visible):
                # "Title by Artist" only when that artist is known here and the whole text is not.
                b = catalog.find_artist(conn, parsed.by_split.artist_key, visible=seen_artists)
                if b is not None and b.visible:
                    parsed, a = parsed.by_split, b
            asked = False
            if a is None:
                near = None
                if resolve != RESOLVE_AS_TYPED:
                    near = catalog.artist_near_miss(conn, parsed.artist_key, seen_artists)
                asked = near is not None
                a = near or catalog.create_artist(conn, parsed.artist, parsed.artist_key)
            t = None
            if parsed.title is not None and parsed.title_key is not None:
                t = catalog.find_track(conn, a.id, parsed.title_key, visible=seen_tracks)
                if t is None:
                    near_t = None
                    if resolve != RESOLVE_AS_TYPED and not a.created:
                        near_t = catalog.track_near_miss(conn, a.id, parsed.title_key, seen_tracks)
                    asked = asked or near_t is not None
                    t = near_t or catalog.create_track(conn, a.id, parsed.title, parsed.title_key)
            typed = _what(parsed.artist, parsed.title)
            if asked and resolve is None:
                # Nothing is written: the transaction rolls back with the question.
                raise NameQuestion(
                    Question(typed, _what(a.name, t.name if t else None), parsed.artist, parsed.title)
                )
            _pid, inserted = catalog.add_play(
                conn,
                community=community,
                member=member,
                artist=a.id,
                track=t.id if t else None,
                played_at=when,
                count=1,
                source=who.platform,
                dedupe_key=dedupe,
            )
            total = catalog.member_item_plays(conn, member, "track" if t else "artist", t.id if t else a.id)
        if known is None and (len(self._ids) < 100_000 or ids_key in self._ids):
            self._ids[ids_key] = (community, member)
        # Another community's spelling of the same name (Blink-182 for Blink 182) is not shown: the
        # member sees their own. Exact keys and aliases name the entry as stored, as before.
        a_name = parsed.artist if a.respelled and not a.visible else a.name
        t_name = (parsed.title if t.respelled and not t.visible else t.name) if t else None
        shown = _what(a_name, t_name)
        corrected = (
            typed
            if (a.respelled or (t is not None and t.respelled)) and normalise(typed) != normalise(shown)
            else None
        )
        return PlayResult(a_name, t_name, total, duplicate=not inserted, corrected_from=corrected)

    # --- an upload: the member's own history from an export file ------------------------------

    def import_upload(
        self, who: Who, path: Path, progress: Callable[[int], None] | None = None
    ) -> UploadSummary:
        """Import the export at ``path`` (a file or a ZIP uploaded in chat) as the member's own
        history in their community: the format is told from the content
        (:func:`ingest.detect.detect`), and every play goes to ``who`` whatever user name the file
        carries (ListenBrainz's ``user.json``, Spotify's ``username``). Community and member are
        created as :meth:`played` does. Plays already stored count as duplicates, so uploading a
        file again imports nothing new.

        ``progress`` gets the number of rows read so far (plays, and entries skipped or rejected)
        each time another :data:`~ingest.importers.BATCH_ROWS` have been read, and once at the end,
        before the summary is returned; a chat message shows it, so it changes rarely. A file in no
        format a member can upload, or one that names other members' plays (a CSV with a ``user``
        column), raises :class:`UserError` with one line saying why; nothing is imported then.
        The rejected-rows file the importer writes is removed: the summary carries the first few."""
        cap = self.settings.upload_max_unpacked
        try:
            with open_source(path, max_unpacked=cap) as src:
                found = detect(src)
        except UnknownFormat:
            raise UserError(NOT_AN_EXPORT) from None
        except Rejected as exc:
            raise UserError(f"That file cannot be imported: {str(exc).rstrip('.')}.") from None
        if found.format not in SINGLE_USER:
            raise UserError(
                f"That file is {found.what}: it holds other members' plays, so it cannot be imported "
                "as your history. Send your own Spotify, ListenBrainz or Last.fm export."
            )
        with self.db.write() as conn:
            community = catalog.community_id(
                conn, who.platform, who.community_id, who.community_name or who.community_id
            )
            catalog.member_id(conn, community, who.member_id, who.member_name or who.member_id)
        read = shown = 0

        def rows_read(rows: int) -> None:
            # The importer reports every few thousand rows (for a terminal's bar); a chat message is
            # edited once per batch's worth of rows read, as chat services rate-limit edits.
            nonlocal read, shown
            read += rows
            if progress is not None and read - shown >= BATCH_ROWS:
                shown = read
                progress(read)

        try:
            summary = import_detected(
                self.db,
                community,
                path,
                now=self.clock(),
                member=who.member_id,
                progress=rows_read,
                max_unpacked=cap,
            )
        except Rejected as exc:
            raise UserError(f"That file cannot be imported: {str(exc).rstrip('.')}.") from None
        if progress is not None and read > shown:
            progress(read)
        if summary.rejects_file:
            Path(summary.rejects_file).unlink(missing_ok=True)
        return UploadSummary(
            format=found.format,
            what=found.what,
            read=summary.read,
            imported=summary.imported,
            duplicates=summary.duplicates,
            skipped=dict(summary.skipped),
            rejected=summary.rejected,
            first_rejects=summary.first_rejects[:UPLOAD_REJECTS_SHOWN],
        )

    # --- /undo and /plays ----------------------------------------------------------------------

    def my_plays(self, who: Who, limit: int = MY_PLAYS_LIMIT) -> list[LoggedPlay]:
        """The member's last logged (or imported) plays, newest first; removed ones are gone."""
        with self.db.read() as conn:
            member = self._find_member(conn, who)
            if member is None:
                return []
            return [_logged(p) for p in removals.last_logged(conn, member, max(1, min(limit, 25)))]

    def undo(self, who: Who) -> Removal:
        """Remove the member's last logged play."""
        with self.db.write() as conn:
            member = self._find_member(conn, who)
            last = removals.last_logged(conn, member, 1) if member is not None else []
            if member is None or not last:
                raise UserError("Nothing to undo: you have no plays logged here.")
            return self._remove(conn, member, last[0].id)

    def remove_play(self, who: Who, play_id: int) -> Removal:
        """Remove one of the member's plays (a remove button under /plays). Only the member who
        logged it can; a second press changes nothing and says so."""
        with self.db.write() as conn:
            member = self._find_member(conn, who)
            if member is None:
                raise UserError("That play is not one of yours, so it was not removed.")
            return self._remove(conn, member, play_id)

    def _find_member(self, conn: Connection, who: Who) -> int | None:
        community = catalog.find_community(conn, who.platform, who.community_id)
        return catalog.find_member(conn, community, who.member_id) if community is not None else None

    def _remove(self, conn: Connection, member: int, play_id: int) -> Removal:
        outcome, play = removals.remove(conn, member, play_id, self.clock())
        if outcome == removals.NOT_FOUND or play is None:
            raise UserError("That play is not one of yours, so it was not removed.")
        if outcome == removals.ALREADY_REMOVED:
            raise UserError(f"{play.what} was already removed; nothing changed.")
        folded_upto, _ = trends.watermark(conn, trends.TRENDS_WATERMARK)
        item_kind, item = self._item_of(conn, play_id)
        left = catalog.member_item_plays(conn, member, item_kind, item)
        return Removal(_logged(play), left, folded=play_id <= folded_upto)

    @staticmethod
    def _item_of(conn: Connection, play_id: int) -> tuple[str, int]:
        artist, track = catalog.play_items(conn, play_id)
        return ("track", track) if track is not None else ("artist", artist)

    # --- members: /whoknows, /top, /recent, /profile, /privacy ------------------------------------

    def whoknows(self, who: Who, text: str | None) -> WhoKnows:
        """Who in this community played an artist (``Artist``) or a track (``Artist - Title``) most.
        Same-name lookup only, among what this community can see: a name only another community
        played is answered as "nobody here", in the member's own spelling."""
        parsed = parse_played(text)
        typed = _what(parsed.artist, parsed.title)
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            if community is None:
                return WhoKnows("track" if parsed.title else "artist", typed, [], None, 0, 0)
            found, parsed = self._visible_item(conn, community, parsed)
            kind = "track" if parsed.title else "artist"
            if found is None:
                return WhoKnows(kind, _what(parsed.artist, parsed.title), [], None, 0, 0)
            kind, item, shown = found
            me = catalog.find_member(conn, community, who.member_id)
            listeners = stats.listeners_of(conn, community, kind, item, WHOKNOWS_LIMIT, me)
        top = [
            Knower(
                n,
                r.display_name if r.member == me or not r.private else PRIVATE_NAME,
                r.plays,
                r.last_played,
                is_you=r.member == me,
            )
            for n, r in enumerate(listeners.top, 1)
        ]
        you = None
        if listeners.member is not None and listeners.member[0] > WHOKNOWS_LIMIT:
            rank, r = listeners.member
            you = Knower(rank, r.display_name, r.plays, r.last_played, is_you=True)
        return WhoKnows(kind, shown, top, you, listeners.listeners, listeners.plays)

    def _target(self, conn: Connection, who: Who, member: str | None) -> tuple[stats.MemberInfo | None, bool]:
        """The member an answer is about (the asker by default) and whether it is the asker. Another
        member who is private, or unknown here, is a friendly error."""
        community = catalog.find_community(conn, who.platform, who.community_id)
        is_you = member is None or member == who.member_id
        external = who.member_id if member is None else member
        info = stats.member_info(conn, community, external) if community is not None else None
        if is_you:
            return info, True
        if info is None:
            raise UserError("That member has not logged any plays here yet.")
        if info.private:
            raise UserError(f"{info.display_name} keeps their listening private.")
        return info, False

    def top(
        self, who: Who, kind: str = "artist", period: str = "all", member: str | None = None
    ) -> MemberChart:
        if period not in TOP_PERIODS:
            raise UserError(f"Unknown period {period!r}: use 7d, 30d, year or all.")
        days = TOP_PERIODS[period]
        since = None if days is None else self.clock() - dt.timedelta(days=days)
        with self.db.read() as conn:
            info, is_you = self._target(conn, who, member)
            if info is None:
                return MemberChart(who.member_name or who.member_id, kind, period, [], True)
            rows = stats.member_top(conn, info.id, kind, since, WHOKNOWS_LIMIT)
            names = catalog.item_names(conn, kind, [i for i, _ in rows])
        entries = [ChartEntry(n, names.get(i, "?"), p) for n, (i, p) in enumerate(rows, 1)]
        return MemberChart(info.display_name, kind, period, entries, is_you)

    def recent(self, who: Who, member: str | None = None, limit: int = 10) -> RecentPlays:
        with self.db.read() as conn:
            info, is_you = self._target(conn, who, member)
            if info is None:
                return RecentPlays(who.member_name or who.member_id, [], True)
            rows = stats.member_recent(conn, info.id, max(1, min(limit, 25)))
        entries = [RecentEntry(_what(r.artist, r.track), r.played_at, r.count) for r in rows]
        return RecentPlays(info.display_name, entries, is_you)

    def profile(self, who: Who, member: str | None = None) -> Profile:
        with self.db.read() as conn:
            info, is_you = self._target(conn, who, member)
            if info is None:
                return Profile(who.member_name or who.member_id, True, 0, 0, 0, None, 0, 0, None, False)
            totals = stats.member_totals(conn, info.id)
            current, longest = stats.streaks(stats.member_days(conn, info.id), self.clock().date())
            top = stats.member_top(conn, info.id, "artist", None, 1)
            top_name = catalog.item_names(conn, "artist", [top[0][0]]).get(top[0][0]) if top else None
            community = catalog.find_community(conn, who.platform, who.community_id)
            closest = self._closest(conn, community, info.id) if community is not None else None
            linked = tuple(_link_status(x) for x in links.for_member(conn, info.id)) if is_you else ()
        return Profile(
            info.display_name,
            is_you,
            totals.plays,
            totals.artists,
            totals.tracks,
            totals.first_played,
            current,
            longest,
            top_name,
            info.private,
            closest=closest[0] if closest else None,
            closest_percent=_percent(closest[1]) if closest else None,
            links=linked,
        )

    @staticmethod
    def _closest(conn: Connection, community: int, member: int) -> tuple[str, float] | None:
        """The display name and score of a member's closest public neighbour in the last artist
        retrain (private members are skipped, as in :meth:`neighbours`)."""
        ref = recs.active_generation_ref(conn, TASTE_KIND)
        if ref is None:
            return None
        stored = recs.stored_neighbours(conn, ref.id, member, NEIGHBOURS_LIMIT)
        infos = taste.members_in(conn, community, [m for m, _ in stored])
        return next(
            ((infos[m].display_name, sc) for m, sc in stored if m in infos and not infos[m].private), None
        )

    def privacy(self, who: Who, setting: str) -> bool:
        """``private`` or ``public``; returns whether the member is private now."""
        value = setting.strip().lower()
        if value not in ("private", "public"):
            raise UserError("Use `privacy private` or `privacy public`.")
        with self.db.write() as conn:
            community = catalog.community_id(
                conn, who.platform, who.community_id, who.community_name or who.community_id
            )
            member = catalog.member_id(conn, community, who.member_id, who.member_name or who.member_id)
            stats.set_private(conn, member, value == "private")
        return value == "private"

    # --- linked accounts: /link, /unlink, the profile line, notices ------------------------------

    def link(self, who: Who, source: str, account: str) -> Linked:
        """Link the member's ListenBrainz or Last.fm account (``source``) in this community: the
        ``sync`` job then copies its whole history, and from then on its new listens, into the
        member's plays here. ``account`` is the user name (a profile URL works too). One account per
        source per member; an account another member here has linked is refused."""
        src = parse_link_source(source)
        name = parse_account(src, account)
        if src == "lastfm" and not self.settings.lastfm_api_key:
            raise UserError(
                "Last.fm accounts cannot be linked on this bot yet: its operator has to set LASTFM_API_KEY."
            )
        with self.db.write() as conn:
            community = catalog.community_id(
                conn, who.platform, who.community_id, who.community_name or who.community_id
            )
            member = catalog.member_id(conn, community, who.member_id, who.member_name or who.member_id)
            current = next((x for x in links.for_member(conn, member) if x.source == src), None)
            if current is not None and current.account_key == links.account_key(name):
                return Linked(_link_status(current), already=True)
            if current is not None:
                raise UserError(
                    f"You have already linked the {LINK_SOURCE_NAMES[src]} account “{current.account}” "
                    f"here. Unlink it first (/unlink {src}), keeping or deleting its plays."
                )
            holder = links.holder(conn, community, src, name)
            if holder is not None:
                raise UserError(
                    f"Another member here has linked the {LINK_SOURCE_NAMES[src]} account “{name}”."
                )
            link, before = links.activate(conn, community, member, src, name, self.clock())
        # Linked before, its plays kept at the unlink: the cursor goes on from there.
        return Linked(_link_status(link), resumed=before and link.cursor != links.Cursor())

    def unlink(self, who: Who, source: str | None = None, *, keep_plays: bool = True) -> Unlinked:
        """Stop syncing the member's linked account (``source`` may be left out when only one is
        linked). ``keep_plays``: the plays synced so far stay (like imported plays); otherwise they
        are removed the way /undo removes a play — everything the member is shown leaves them out
        at once, /trending once the next batch has subtracted what it had counted."""
        src = parse_link_source(source) if source else None
        with self.db.read() as conn:
            member = self._find_member(conn, who)
            active = links.for_member(conn, member) if member is not None else []
        chosen = [x for x in active if src is None or x.source == src]
        if not chosen:
            what = f"{LINK_SOURCE_NAMES[src]} account" if src else "ListenBrainz or Last.fm account"
            raise UserError(f"You have no {what} linked here.")
        if len(chosen) > 1:
            raise UserError(
                "You have linked both ListenBrainz and Last.fm here: say which, e.g. /unlink lastfm."
            )
        link = chosen[0]
        if keep_plays:
            with self.db.write() as conn:
                links.deactivate(conn, link.id)
            return Unlinked(link.source, link.account, kept=True)
        # In parts, each its own short transaction. The link stays active until the last part, which
        # also gives it a new tag: a crash in between leaves it linked, and /unlink again finishes.
        removed, folded, now = 0, False, self.clock()
        while True:
            with self.db.write() as conn:
                ids = links.remove_synced(conn, link, now, UNLINK_CHUNK)
                folded_upto, _ = trends.watermark(conn, trends.TRENDS_WATERMARK)
                removed += len(ids)
                folded = folded or any(i <= folded_upto for i in ids)
                if len(ids) < UNLINK_CHUNK:
                    links.forget_synced(conn, link.id)
                    links.deactivate(conn, link.id)
                    break
        return Unlinked(link.source, link.account, kept=False, removed=removed, folded=folded)

    def links(self, who: Who) -> list[LinkStatus]:
        """The member's linked accounts in this community, with how their sync stands."""
        with self.db.read() as conn:
            member = self._find_member(conn, who)
            return [_link_status(x) for x in links.for_member(conn, member)] if member is not None else []

    def pending_notices(self, who: Who) -> list[str]:
        """What the member has not been told yet about their linked accounts (one vanished or went
        private): each notice is returned once and then cleared. Adapters show these with the
        member's next answer."""
        with self.db.read() as conn:
            member = self._find_member(conn, who)
            waiting = member is not None and any(x.notice for x in links.for_member(conn, member))
        if not waiting or member is None:
            return []
        with self.db.write() as conn:
            return links.take_notices(conn, member)

    @staticmethod
    def help() -> tuple[HelpEntry, ...]:
        return HELP

    def suggest(
        self, who: Who, query: str, *, field: str = "artist", artist: str | None = None, limit: int = 25
    ) -> list[str]:
        """Autocomplete: names from the community's catalog ranked by fuzzy score (≤ ``limit``)."""
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            if community is None:
                return []
            return catalog.catalog_suggestions(
                conn,
                community,
                normalise(query or ""),
                field=field,
                artist_key=normalise(artist) if artist else None,
                limit=min(limit, 25),
            )

    # --- /trending --------------------------------------------------------------------------

    def trending(
        self, who: Who, window: str = "7d", kind: str = "track", limit: int = TRENDING_LIMIT
    ) -> Trending:
        today = self.clock().date()
        name = who.community_name or who.community_id
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            if community is None:
                return Trending(window, kind, name, [], None, note="Nothing has been played here yet.")
            wm, _ = trends.watermark(conn, trends.TRENDS_WATERMARK)
            tail = trends.pending_tail(conn, community, wm)
            entries = self._ranked(conn, community, kind, window, today, limit, tail)
        rising = max((e for e in entries if e.movement), key=lambda e: (e.growth, e.plays), default=None)
        if rising is not None and rising.growth <= 0:
            rising = None
        note = (
            ""
            if entries
            else f"No plays in the last {window} yet."
            if window != "all"
            else "Nothing has been played here yet."
        )
        if tail.truncated:
            note = (
                note + " " if note else ""
            ) + "Many new plays are waiting for the next batch; figures may lag."
        return Trending(window, kind, name, entries, rising, pending_plays=tail.size, note=note)

    def _ranked(
        self,
        conn: Connection,
        community: int,
        kind: str,
        window: str,
        today: dt.date,
        limit: int,
        tail: trends.Tail | None,
        *,
        span: tuple[dt.date, dt.date, dt.date | None, dt.date | None] | None = None,
    ) -> list[TrendEntry]:
        start, end, pstart, pend = span or trends.window_days(window, today)
        rows = trends.window_ranking(conn, community, kind, start, end, limit, tail)
        prev_rank: dict[int, int] = {}
        prev_plays: dict[int, int] = {}
        if pstart is not None and pend is not None:
            prev = trends.window_ranking(conn, community, kind, pstart, pend, 500, tail)
            prev_rank = {r.item_id: n for n, r in enumerate(prev, 1)}
            prev_plays = {r.item_id: r.plays for r in prev}
            missing = [r.item_id for r in rows if r.item_id not in prev_plays]
            if missing:  # ranked below 500 last time: plays still matter for growth
                for r in trends.window_totals(conn, community, kind, pstart, pend, limit=None):
                    if r.item_id in missing:
                        prev_plays[r.item_id] = r.plays
        names = catalog.item_names(conn, kind, [r.item_id for r in rows])
        out = []
        for n, r in enumerate(rows, 1):
            pr = prev_rank.get(r.item_id)
            pp = prev_plays.get(r.item_id, 0)
            if pstart is None:
                movement = ""
            elif pp == 0:
                movement = "new"
            elif pr is None or pr > n:
                movement = "up"
            elif pr < n:
                movement = "down"
            else:
                movement = "same"
            out.append(
                TrendEntry(
                    n,
                    names.get(r.item_id, "?"),
                    r.plays,
                    r.listeners,
                    pr,
                    pp,
                    movement,
                    growth_score(r.plays, pp),
                )
            )
        return out

    # --- /recommend -------------------------------------------------------------------------

    def recommend(self, who: Who, kind: str = "artist", n: int = 10) -> Recommendations:
        n = max(1, min(n, self.settings.top_n))
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            member = catalog.find_member(conn, community, who.member_id) if community is not None else None
            return self._recommend(conn, who, community, member, kind, n)

    def all_recommendations(
        self, *, kind: str, k: int, platform_and_id: tuple[str, str] | None = None
    ) -> Iterator[tuple[str, int, str, float, str | None]]:
        """``(member, rank, name, score, reason)`` for every member (of the community stored as
        ``(platform, external id)``, if given), with the same picks ``/recommend`` would show."""
        with self.db.read() as conn:
            members = catalog.list_members(conn, platform_and_id)
        for platform, community_ext, community_id, member_ext, member_id in members:
            who = Who(platform, community_ext, member_ext)
            with self.db.read() as conn:
                result = self._recommend(conn, who, community_id, member_id, kind, k)
            for p in result.picks:
                yield member_ext, p.rank, p.name, p.score, p.reason

    # --- 👍 / 👎 on a pick, and bringing hidden picks back -----------------------------------------

    def feedback(self, who: Who, kind: str, item: int, verdict: str) -> FeedbackResult:
        """Store the member's 👍 (:data:`FEEDBACK_UP`) or 👎 (:data:`FEEDBACK_DOWN`) on a pick, as
        the member who pressed, in their community. The item must be one this community can see (a
        stale or crafted button naming anything else is refused, and nothing is stored or named).
        A 👎 hides the item from the member's picks from then on; the latest verdict on an item
        replaces the one before (a 👍 on a hidden item brings it back)."""
        if kind not in ("artist", "track") or verdict not in (FEEDBACK_UP, FEEDBACK_DOWN):
            raise UserError(STALE_PICK)
        with self.db.write() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            visible = self._visible.get(conn, community, kind) if community is not None else _NO_ITEMS
            if community is None or not bool(visibility.contains(visible, np.array([item])).all()):
                raise UserError(STALE_PICK)
            # Trending picks are shown to members without plays too: their first press makes them known.
            member = catalog.member_id(conn, community, who.member_id, who.member_name or who.member_id)
            before = pick_feedback.record(conn, member, kind, item, verdict, self.clock())
            hidden = pick_feedback.hidden_counts(conn, member)[kind]
            name = catalog.item_names(conn, kind, [item]).get(item, "?")
        return FeedbackResult(kind, name, verdict, before, hidden)

    def reset_hidden(self, who: Who) -> HiddenReset:
        """Bring back every artist and track the member hid with 👎 (their 👍 stay)."""
        with self.db.write() as conn:
            member = self._find_member(conn, who)
            counts = pick_feedback.reset_hidden(conn, member) if member is not None else {}
        return HiddenReset(counts.get("artist", 0), counts.get("track", 0))

    def _recommend(
        self,
        conn: Connection,
        who: Who,
        community: int | None,
        member: int | None,
        kind: str,
        n: int,
    ) -> Recommendations:
        """The member's picks, never one they hid with 👎 (stored, fold-in and trending alike), and
        how many they hid."""
        hidden = pick_feedback.hidden(conn, member, kind) if member is not None else _NO_ITEMS
        result = self._unhidden_picks(conn, who, community, member, kind, n, hidden)
        return dataclasses.replace(result, hidden=len(hidden)) if len(hidden) else result

    def _unhidden_picks(
        self,
        conn: Connection,
        who: Who,
        community: int | None,
        member: int | None,
        kind: str,
        n: int,
        hidden: np.ndarray,
    ) -> Recommendations:
        hidden_set = {int(i) for i in hidden}
        ref = recs.active_generation_ref(conn, kind)
        if ref is None or community is None or member is None:
            played = {i for i, _ in catalog.member_items(conn, member, kind)} if member is not None else set()
            return self._trending_picks(conn, who, community, kind, n, played | hidden_set, ref is None)
        # Every pick, reason and name below comes from what this community can see.
        visible = self._visible.get(conn, community, kind)
        if catalog.member_last_play_id(conn, member) <= ref.last_play_id and not removals.removed_since(
            conn, member, ref.last_removal_id
        ):
            # Nothing played or removed since the retrain: the stored picks are current, less any
            # the member hid since (read enough to fill them without those, else fold in).
            want = self._fetch(n)
            stored = recs.stored_picks(conn, ref.id, member, want + len(hidden_set))
            kept = [p for p in stored if p[0] not in hidden_set][:want]
            if (
                kept
                and len(kept) == min(want, len(stored))
                and all(p[2] not in hidden_set and _shown(p, visible) for p in kept)
            ):
                return self._picks(conn, kind, "model", self._fresh_first(conn, kind, member, kept, n))
        # A hidden item counts as not played here, as it does at the retrain (engine.feedback): it
        # neither pulls the member's vector towards it nor serves as a reason.
        everything = catalog.member_items(conn, member, kind)
        history = [h for h in everything if h[0] not in hidden_set] if hidden_set else everything
        # Fold in only plays of items this community had played when the model was trained: an
        # item first played here after the retrain has factors only if *another* community played
        # it, and picks-or-not would tell the member so.
        learned = self._visible.as_of(conn, community, kind, ref.last_play_id)
        known = visibility.contains(learned, np.array([i for i, _ in history], dtype=np.int64))
        usable = [h for h, ok in zip(history, known, strict=True) if ok]
        # Items played but not folded in, and hidden ones, are still never offered to the member.
        if len(usable) == len(everything) and not hidden_set:
            shown = visible
        else:
            left_out = np.array([i for i, _ in everything] + sorted(hidden_set), dtype=np.int64)
            shown = np.setdiff1d(visible, left_out)
        if usable:
            model = self._model_for(conn, kind, ref.id)
            if model is not None:
                # One BLAS thread: a 64x64 solve and a matrix-vector product gain nothing from
                # threads, and on a busy machine OpenBLAS's thread hand-offs made them 10x slower.
                with self._blas.limit(limits=1, user_api="blas"):
                    folded = model.recommend(usable, self._fetch(n), visible=shown)
                if folded:
                    rows = [(p.item_id, p.score, p.reason_item_id) for p in folded]
                    return self._picks(conn, kind, "fold-in", self._fresh_first(conn, kind, member, rows, n))
        played = {i for i, _ in everything} | hidden_set
        return self._trending_picks(conn, who, community, kind, n, played, ref is None)

    def _model_for(self, conn: Connection, kind: str, generation_id: int) -> AlsRecommender | None:
        """The recommender of a generation, built from its stored factors once per generation and
        kept for this process (the newest generation per kind only)."""
        with self._lock:
            cached = self._models.get(kind)
        if cached is not None and cached[0] == generation_id:
            return cached[1]
        gen = recs.generation(conn, generation_id)
        if gen is None:  # switched away and dropped since we looked: the next call sees the new one
            return None
        model = AlsRecommender.from_generation(
            gen, recs.load_factors(conn, gen), recs.load_item_weights(conn, gen)
        )
        if kind == "track" and self.settings.track_artist_cap > 0:
            model.with_groups(*catalog.track_artists(conn), self.settings.track_artist_cap)
        with self._lock:
            current = self._models.get(kind)
            if current is None or current[0] <= generation_id:
                self._models[kind] = (generation_id, model)
        return model

    def _fetch(self, n: int) -> int:
        """How many picks to read: more than ``n`` when fresh artists move first (``fresh_artist_days``)."""
        return min(self.settings.top_n, 3 * n) if self.settings.fresh_artist_days > 0 else n

    def _fresh_first(
        self, conn: Connection, kind: str, member: int, rows: list[tuple[int, float, int | None]], n: int
    ) -> list[tuple[int, float, int | None]]:
        """The top ``n`` of ``rows`` with picks by artists the member has not played in the last
        ``fresh_artist_days`` days moved ahead of the others (each part keeps its order)."""
        days = self.settings.fresh_artist_days
        if days <= 0:
            return rows[:n]
        recent = catalog.member_recent_artists(conn, member, self.clock() - dt.timedelta(days=days))
        if kind == "track":
            ids, artists = catalog.track_artists(conn, [i for i, _, _ in rows])
            artist_of = dict(zip(ids.tolist(), artists.tolist(), strict=True))
        else:
            artist_of = {i: i for i, _, _ in rows}
        fresh = [r for r in rows if artist_of.get(r[0]) not in recent]
        return (fresh + [r for r in rows if artist_of.get(r[0]) in recent])[:n]

    def _picks(
        self, conn: Connection, kind: str, source: str, rows: list[tuple[int, float, int | None]]
    ) -> Recommendations:
        ids = [i for i, _, _ in rows] + [r for _, _, r in rows if r is not None]
        names = catalog.item_names(conn, kind, ids)
        picks = [
            Pick(n, names.get(i, "?"), s, names.get(r) if r is not None else None, item_id=i)
            for n, (i, s, r) in enumerate(rows, 1)
        ]
        note = "Fresh picks: your latest plays are already taken into account." if source == "fold-in" else ""
        return Recommendations(kind, source, picks, note)

    def _trending_picks(
        self,
        conn: Connection,
        who: Who,
        community: int | None,
        kind: str,
        n: int,
        played: set[int],
        no_model: bool,
    ) -> Recommendations:
        note = (
            "No personal model has been trained yet, so here is what's trending in this community."
            if no_model
            else "I don't know your taste yet (log a few plays with /played), so here is what's trending."
        )
        if community is None:
            return Recommendations(
                kind, "none", [], "Nothing has been played here yet. Log a play with /played."
            )
        wm, _ = trends.watermark(conn, trends.TRENDS_WATERMARK)
        tail = trends.pending_tail(conn, community, wm)
        start, end, _, _ = trends.window_days("30d", self.clock().date())
        rows = trends.window_ranking(conn, community, kind, start, end, n + len(played), tail)
        if not rows:
            rows = trends.window_ranking(conn, community, kind, UNDATED, dt.date.max, n + len(played), tail)
        if not rows:
            return Recommendations(kind, "none", [], "Nothing to recommend yet: this community has no plays.")
        rows = [r for r in rows if r.item_id not in played][:n]
        if not rows:
            return Recommendations(
                kind, "none", [], "You have already played everything this community plays — log more plays!"
            )
        names = catalog.item_names(conn, kind, [r.item_id for r in rows])
        picks = [
            Pick(k, names.get(r.item_id, "?"), float(r.plays), None, item_id=r.item_id)
            for k, r in enumerate(rows, 1)
        ]
        return Recommendations(kind, "trending", picks, note)

    # --- digest -----------------------------------------------------------------------------

    def digest(self, who: Who, day: dt.date | None = None, size: int = 5) -> Digest:
        """The daily post for ``day`` (default: yesterday, the last complete UTC day) vs. the day before."""
        day = day or (self.clock().date() - dt.timedelta(days=1))
        before = day - dt.timedelta(days=1)
        name = who.community_name or who.community_id
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            if community is None:
                return Digest(name, day, [], [], None, [])
            wm, _ = trends.watermark(conn, trends.TRENDS_WATERMARK)
            tail = trends.pending_tail(conn, community, wm)
            span = (day, day, before, before)
            top_tracks = self._ranked(conn, community, "track", "24h", day, size, tail, span=span)
            top_artists = self._ranked(conn, community, "artist", "24h", day, size, tail, span=span)
            candidates = self._ranked(conn, community, "track", "24h", day, 50, tail, span=span)
            rising = max(candidates, key=lambda e: (e.growth, e.plays), default=None)
            if rising is not None and rising.growth <= 0:
                rising = None
            day_artists = trends.window_ranking(conn, community, "artist", day, day, 200, tail)
            seen = trends.items_seen_before(conn, community, "artist", day, [r.item_id for r in day_artists])
            new_ids = [r.item_id for r in day_artists if r.item_id not in seen][:size]
            new_names = catalog.item_names(conn, "artist", new_ids)
            week_start = day - dt.timedelta(days=6)
            top_ids = [
                r.item_id for r in trends.window_ranking(conn, community, "track", day, day, size, tail)
            ]
            series_raw = trends.daily_series(conn, community, "track", top_ids, week_start, day)
            for (k, d, i), p in tail.plays.items():
                if k == "track" and i in series_raw and week_start <= d <= day:
                    series_raw[i][d] = series_raw[i].get(d, 0) + p
            track_names = catalog.item_names(conn, "track", top_ids)
        days = [week_start + dt.timedelta(days=k) for k in range(7)]
        series = {track_names[i]: [(d, series_raw[i].get(d, 0)) for d in days] for i in top_ids}
        return Digest(name, day, top_tracks, top_artists, rising, [new_names[i] for i in new_ids], series)

    def digest_subscribe(self, who: Who, channel: str, local_time: str, tz: str) -> DigestSubscriptionInfo:
        """Post the daily digest in ``channel`` at ``local_time`` (HH:MM) in ``tz`` (IANA), from
        the next such time on. Replaces the channel's previous time, if any. Admin checks are the
        adapter's (they depend on the platform)."""
        hhmm = parse_local_time(local_time)
        zone = parse_timezone(tz)
        if not channel or len(channel) > 100:
            raise UserError("I cannot tell which channel this is.")
        now = self.clock()
        with self.db.write() as conn:
            community = catalog.community_id(
                conn, who.platform, who.community_id, who.community_name or who.community_id
            )
            created = digests.subscribe(conn, community, channel, hhmm, zone, now)
        return DigestSubscriptionInfo(channel, hhmm, zone, next_slot(hhmm, zone, now), created)

    def digest_unsubscribe(self, who: Who, channel: str) -> bool:
        """Stop the digest in ``channel``; False when it was not subscribed."""
        with self.db.write() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            if community is None:
                return False
            return digests.unsubscribe(conn, community, channel) > 0

    def digest_subscriptions(self, who: Who) -> list[DigestSubscriptionInfo]:
        now = self.clock()
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            subs = digests.subscriptions(conn, community) if community is not None else []
        return [
            DigestSubscriptionInfo(s.channel, s.local_time, s.tz, next_slot(s.local_time, s.tz, now))
            for s in subs
        ]

    # --- taste: /neighbours, /similar, /taste --------------------------------------------------

    def neighbours(self, who: Who, n: int = 10) -> Neighbours:
        """The members of this community whose taste is closest to the asker's: stored by the last
        artist retrain (cosine of ALS user vectors, members of the same community only), each with up
        to 3 artists both of them play. Private members are left out entirely; the asker is never
        listed. Display names, privacy and shared artists are read now."""
        n = max(1, min(n, NEIGHBOURS_LIMIT))
        asker = who.member_name or who.member_id
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            member = catalog.find_member(conn, community, who.member_id) if community is not None else None
            if community is None or member is None:
                return Neighbours(asker, [], note=NO_PLAYS_YET)
            ref = recs.active_generation_ref(conn, TASTE_KIND)
            if ref is None:
                return Neighbours(asker, [], note=NO_TASTE_MODEL)
            stored = recs.stored_neighbours(conn, ref.id, member, NEIGHBOURS_LIMIT)
            if not stored and not recs.member_vectors(conn, ref.id, [member]):
                known = stats.has_plays(conn, member)  # known here (e.g. set /privacy) without plays
                return Neighbours(asker, [], note=NOT_IN_MODEL if known else NO_PLAYS_YET)
            infos = taste.members_in(conn, community, [m for m, _ in stored])
            shown = [(m, sc) for m, sc in stored if m != member and m in infos and not infos[m].private][:n]
            plays = taste.artist_plays(conn, [member, *(m for m, _ in shown)])
            visible = self._visible.get(conn, community, "artist")
            shared = {m: _shared(plays[member], plays[m], visible)[:NEIGHBOUR_SHARED] for m, _ in shown}
            names = catalog.item_names(conn, "artist", [a for rows in shared.values() for a, _, _ in rows])
        entries = [
            Neighbour(
                rank,
                infos[m].display_name,
                sc,
                [SharedArtist(names.get(a, "?"), mine, theirs) for a, mine, theirs in shared[m]],
            )
            for rank, (m, sc) in enumerate(shown, 1)
        ]
        note = "" if entries else "Nobody here is close enough to your taste yet (or they keep it private)."
        return Neighbours(asker, entries, note=note)

    def similar(self, who: Who, text: str | None) -> Similar:
        """Artists (``Artist``) or tracks (``Artist - Title``) similar to one this community played,
        as stored for this community by the last retrain (:mod:`engine.neighbours`): both the item
        and every answer are items this community played. The name is resolved like
        :meth:`whoknows` does (same name, among what this community can see); an item it cannot see
        is answered "nobody here has played it", in the member's own spelling."""
        parsed = parse_played(text)
        with self.db.read() as conn:
            community = catalog.find_community(conn, who.platform, who.community_id)
            found, parsed = (
                self._visible_item(conn, community, parsed) if community is not None else (None, parsed)
            )
            if community is None or found is None:
                kind = "track" if parsed.title else "artist"
                typed = _what(parsed.artist, parsed.title)
                return Similar(kind, typed, [], note=f"Nobody here has played {typed} yet.")
            kind, item, shown = found
            ref = recs.active_generation_ref(conn, kind)
            if ref is None:
                return Similar(kind, shown, [], note=NO_TASTE_MODEL)
            stored = recs.stored_similar(conn, ref.id, community, item, SIMILAR_LIMIT)
            visible = self._visible.get(conn, community, kind)
            ok = visibility.contains(visible, np.array([i for i, _ in stored], dtype=np.int64))
            stored = [r for r, keep in zip(stored, ok, strict=True) if keep]
            names = catalog.item_names(conn, kind, [i for i, _ in stored])
        entries = [SimilarEntry(rank, names.get(i, "?"), sc) for rank, (i, sc) in enumerate(stored, 1)]
        note = (
            ""
            if entries
            else f"Not enough to go on yet: similar {kind}s come from what at least two members here "
            f"have played, {shown} included (as of the last retrain)."
        )
        return Similar(kind, shown, entries, note=note)

    def taste(self, who: Who, member: str) -> Taste:
        """How the asker's taste compares with another member's: the artists both play (with both
        counts), a model score (cosine of the two members' stored user vectors, as 0-100) and an
        overlap score (weighted Jaccard of their artist play shares, as 0-100), and up to 3 artists
        each could try from the other. A private member, or one with no plays here, is refused."""
        if not member or member == who.member_id:
            raise UserError("Name another member of this community to compare your taste with.")
        with self.db.read() as conn:
            info, _ = self._target(conn, who, member)  # unknown or private: a UserError
            community = catalog.find_community(conn, who.platform, who.community_id)
            if info is None or community is None:
                raise UserError("That member has not logged any plays here yet.")
            me = catalog.find_member(conn, community, who.member_id)
            plays = taste.artist_plays(conn, [info.id] + ([me] if me is not None else []))
            theirs = plays[info.id]
            if not theirs:
                raise UserError("That member has not logged any plays here yet.")
            mine = plays.get(me, {}) if me is not None else {}
            visible = self._visible.get(conn, community, "artist")
            shared = _shared(mine, theirs, visible)
            you_try = _to_try(theirs, mine, visible)
            they_try = _to_try(mine, theirs, visible)
            ref = recs.active_generation_ref(conn, TASTE_KIND)
            vectors = recs.member_vectors(conn, ref.id, [me, info.id]) if ref and me is not None else {}
            ids = [a for a, _, _ in shared[:TASTE_SHARED]] + you_try + they_try
            names = catalog.item_names(conn, "artist", ids)
        model_score = None
        if me is not None and me in vectors and info.id in vectors:
            model_score = _percent(_cosine(vectors[me], vectors[info.id]))
        if not mine:
            note = NO_PLAYS_YET
        elif ref is None:
            note = NO_TASTE_MODEL
        elif model_score is None:
            note = "The model does not know both of you yet: it learns from plays logged before a retrain."
        else:
            note = ""
        return Taste(
            asker=who.member_name or who.member_id,
            member=info.display_name,
            shared=[SharedArtist(names.get(a, "?"), y, t) for a, y, t in shared[:TASTE_SHARED]],
            shared_count=len(shared),
            model_score=model_score,
            overlap_score=100.0 * _overlap(mine, theirs),
            you_could_try=[names.get(a, "?") for a in you_try],
            they_could_try=[names.get(a, "?") for a in they_try],
            note=note,
        )

    def _visible_item(
        self, conn: Connection, community: int, parsed: PlayInput
    ) -> tuple[tuple[str, int, str] | None, PlayInput]:
        """``(kind, item id, name as shown)`` of an ``Artist`` or ``Artist - Title`` this community can
        see (same name only; "Title by Artist" when that artist is visible and the whole text is
        not), or ``None``; and the reading of the text used (the "by" split when it applied: a miss
        is echoed in it). /whoknows and /similar both look names up here."""
        seen_artists = self._visible.get(conn, community, "artist")
        a = catalog.find_artist(conn, parsed.artist_key, visible=seen_artists)
        if parsed.by_split is not None and (a is None or not a.visible):
            b = catalog.find_artist(conn, parsed.by_split.artist_key, visible=seen_artists)
            if b is not None and b.visible:
                parsed, a = parsed.by_split, b
        if a is None or not a.visible:
            return None, parsed
        if parsed.title is None or parsed.title_key is None:
            return ("artist", a.id, a.name), parsed
        seen_tracks = self._visible.get(conn, community, "track")
        t = catalog.find_track(conn, a.id, parsed.title_key, visible=seen_tracks)
        if t is None or not t.visible:
            return None, parsed
        return ("track", t.id, _what(a.name, t.name)), parsed


# --- taste: what /neighbours, /similar and /taste return ----------------------------------------

TASTE_KIND = "artist"  # neighbours and the model score compare members' artist vectors
NEIGHBOURS_LIMIT = 10
NEIGHBOUR_SHARED = 3  # shared artists shown per neighbour
SIMILAR_LIMIT = 10
TASTE_SHARED = 10  # shared artists listed by /taste (``shared_count`` counts them all)
TRY_LIMIT = 3
NO_PLAYS_YET = "You have not logged any plays here yet. Log a few with /played."
NO_TASTE_MODEL = "No taste model has been trained yet: this comes with the next retrain."
STALE_PICK = "That pick is not available here any more: ask /recommend again."
NOT_IN_MODEL = "The model does not know your taste yet: it learns from plays logged before its last retrain."


@dataclass(frozen=True)
class SharedArtist:
    name: str
    your_plays: int
    their_plays: int


@dataclass(frozen=True)
class Neighbour:
    rank: int
    name: str  # display name (never a private member, never the asker)
    score: float  # cosine of the two members' user vectors (-1..1)
    shared: list[SharedArtist]  # up to 3 artists both play, most shared first

    @property
    def percent(self) -> float:
        """``score`` as a 0-100 match (negative cosines are 0)."""
        return _percent(self.score)


@dataclass(frozen=True)
class Neighbours:
    member: str  # the asker's display name
    entries: list[Neighbour]
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.entries


@dataclass(frozen=True)
class SimilarEntry:
    rank: int
    name: str
    score: float  # the blend of engine.neighbours: factor cosine and co-listening here


@dataclass(frozen=True)
class Similar:
    kind: str  # "artist" or "track"
    item: str  # as shown: the entry's name here, or what was typed when nobody here played it
    entries: list[SimilarEntry]
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.entries


@dataclass(frozen=True)
class Taste:
    asker: str  # the asker's display name
    member: str  # the other member's display name
    shared: list[SharedArtist]  # the first TASTE_SHARED artists both play, most shared first
    shared_count: int
    # Model compatibility: cosine of the two stored user vectors, as 0-100 (negative is 0); None
    # when there is no model yet or it does not know one of the two.
    model_score: float | None
    # Overlap: weighted Jaccard of the two members' artist play shares (each member's plays of an
    # artist over their total), as 0-100: same artists in the same proportions is 100.
    overlap_score: float
    you_could_try: list[str]  # their top artists you have not played
    they_could_try: list[str]  # your top artists they have not played
    note: str = ""


def _percent(cosine: float) -> float:
    return 100.0 * min(1.0, max(0.0, float(cosine)))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b)) / (na * nb) if na > 0 and nb > 0 else 0.0


def _shared(mine: dict[int, int], theirs: dict[int, int], visible: np.ndarray) -> list[tuple[int, int, int]]:
    """``(artist, my plays, their plays)`` of the visible artists both play: most plays in common
    (the smaller count) first, then most plays together, then artist id."""
    both = np.array(sorted(mine.keys() & theirs.keys()), dtype=np.int64)
    both = both[visibility.contains(visible, both)]
    rows = [(int(a), mine[int(a)], theirs[int(a)]) for a in both]
    rows.sort(key=lambda r: (-min(r[1], r[2]), -(r[1] + r[2]), r[0]))
    return rows


def _overlap(mine: dict[int, int], theirs: dict[int, int]) -> float:
    """Weighted Jaccard ``Σ min(p, q) / Σ max(p, q)`` of the two play-share distributions."""
    total_a, total_b = sum(mine.values()), sum(theirs.values())
    if not total_a or not total_b:
        return 0.0
    low = high = 0.0
    for artist in mine.keys() | theirs.keys():
        p, q = mine.get(artist, 0) / total_a, theirs.get(artist, 0) / total_b
        low += min(p, q)
        high += max(p, q)
    return low / high if high else 0.0


def _to_try(source: dict[int, int], played: dict[int, int], visible: np.ndarray) -> list[int]:
    """Up to TRY_LIMIT of ``source``'s most played artists not in ``played``, visible here."""
    ranked = [a for a, _ in sorted(source.items(), key=lambda r: (-r[1], r[0])) if a not in played]
    ids = np.array(ranked, dtype=np.int64)
    return [int(a) for a in ids[visibility.contains(visible, ids)][:TRY_LIMIT]]


__all__ = [
    "Digest",
    "DigestSubscriptionInfo",
    "FeedbackResult",
    "HiddenReset",
    "NameQuestion",
    "Pick",
    "PlayResult",
    "Question",
    "Recommendations",
    "Service",
    "TrendEntry",
    "Trending",
    "UploadSummary",
    "UserError",
    "Who",
]
