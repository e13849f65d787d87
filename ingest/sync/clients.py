"""Read-only HTTP clients for the two listening services the sync job copies from.

* ListenBrainz: ``GET {base}/1/user/<user>/listens`` with ``max_ts`` *or* ``min_ts`` and ``count``
  (at most 1000), public, no token. Listens come newest first in ``payload.listens[]``
  (``listened_at``, ``track_metadata.artist_name`` / ``track_name`` / ``release_name``), with
  ``payload.oldest_listen_ts``. With ``min_ts`` the server returns the *oldest* ``count`` listens
  after it (still newest first). An unknown user is a 404. Every answer carries
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset-In``; over the limit it is a 429.
* Last.fm: ``GET {base}?method=user.getrecenttracks&user=…&api_key=…&format=json&limit=…&page=…``
  (``from``/``to`` bound the range). ``recenttracks.track[]`` has ``artist['#text']``, ``name``,
  ``date.uts``; the track playing right now comes first with ``@attr.nowplaying`` and no date;
  ``recenttracks['@attr']`` has ``page`` and ``totalPages`` (strings). Errors are JSON
  ``{"error": n, "message": …}`` with an HTTP error status: 6 no such user, 17 the user hides their
  listening, 29 rate limit, 8/11/16 try later, 10/26 a bad API key.

Why not the well-kept clients: ``liblistenbrainz`` takes another base URL, but sends requests without
a timeout (a stalled server holds the sync job forever), retries 429 and 5xx inside urllib3 without
waiting, sleeps on the rate limit with ``time.sleep`` for as long as the server says, and puts the
user name into the path unescaped; ``pylast`` builds ``https://<host>`` itself (no plain-HTTP
loopback fake), POSTs, parses XML only and cannot be told how long to wait. So these are small
``httpx`` clients with ``tenacity`` retries: a timeout on every request, the rate-limit headers
honoured, waits through an injectable ``sleep`` and never longer than ``max_wait`` (a longer wait
defers the account to a later run instead).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

USER_AGENT = "tastemaker (self-hosted music bot; listen sync)"
NOW_PLAYING = "now playing"


@dataclass(frozen=True)
class Listen:
    """One listen as the service gave it: ``None`` where a field was missing or unusable."""

    listened_at: int | None
    artist: str | None
    track: str | None


@dataclass(frozen=True)
class Page:
    listens: list[Listen]
    # Entries that are not listens, by reason (Last.fm's now-playing track).
    skipped: dict[str, int] = field(default_factory=dict)
    oldest: int | None = None  # ListenBrainz: payload.oldest_listen_ts
    total_pages: int | None = None  # Last.fm: recenttracks['@attr'].totalPages


class SyncError(Exception):
    """A request the sync could not complete; the message is one line."""


class TryLater(SyncError):
    """A failure that may pass (5xx, a timeout, malformed JSON, a rate limit): the account is
    retried later. ``retry_after``: seconds the service asked to wait, if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TryLater):
    """The service's rate limit: not the account's fault, so it costs no back-off step."""


class AccountGone(SyncError):
    """The service has no such user (ListenBrainz 404, Last.fm error 6)."""


class AccountPrivate(SyncError):
    """The user hides their listening (Last.fm error 17)."""


class OperatorError(SyncError):
    """Something only the operator can fix (a missing or refused API key): no account is to blame."""


def _number(value: Any) -> int | None:
    """An integer from JSON that may hold it as a number or a string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


class _Client:
    """An ``httpx`` client with the retry and rate-limit rules both services share.

    A request that fails with :class:`TryLater` is tried ``attempts`` times in all, waiting
    ``retry_after`` when the service named it, else ``base_wait`` doubling; a wait longer than
    ``max_wait`` is not made (the error goes to the caller, who defers the account). After an
    answer that says no requests remain, the next request waits for the window to reset (or raises
    :class:`RateLimited` at once when that is longer than ``max_wait``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        base_wait: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, transport=transport, follow_redirects=False
        )
        self._attempts = attempts
        self._base_wait = base_wait
        self._max_wait = max_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self._blocked_until = 0.0
        self.requests = 0  # requests sent (tests and the summary read it)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, TryLater) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_wait)
        return min(self._base_wait * 2 ** (state.attempt_number - 1), self._max_wait)

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, TryLater) and (exc.retry_after is None or exc.retry_after <= self._max_wait)

    def _get(self, url: str, params: dict[str, Any], parse: Callable[[httpx.Response], Page]) -> Page:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._once, url, params, parse)

    def _once(self, url: str, params: dict[str, Any], parse: Callable[[httpx.Response], Page]) -> Page:
        wait = self._blocked_until - self._monotonic()
        if wait > 0:
            if wait > self._max_wait:
                raise RateLimited(f"rate limited for another {wait:.0f} s", retry_after=wait)
            self._sleep(wait)
        self.requests += 1
        try:
            response = self._http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise TryLater(f"no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TryLater(f"cannot reach the service ({type(exc).__name__}: {exc})") from exc
        remaining = _number(response.headers.get("X-RateLimit-Remaining"))
        reset_in = _number(response.headers.get("X-RateLimit-Reset-In"))
        if response.status_code == 429 or remaining == 0:
            self._blocked_until = self._monotonic() + float(reset_in if reset_in is not None else 1)
        return parse(response)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            if response.status_code >= 500:
                raise TryLater(f"HTTP {response.status_code}") from None
            raise TryLater(f"malformed JSON (HTTP {response.status_code})") from None


class ListenBrainzClient(_Client):
    def listens(self, user: str, *, count: int, max_ts: int | None = None, min_ts: int | None = None) -> Page:
        """One page of ``user``'s listens, newest first: before ``max_ts`` (the newest when neither
        is given) or the oldest ``count`` after ``min_ts``."""
        params: dict[str, Any] = {"count": count}
        if max_ts is not None:
            params["max_ts"] = max_ts
        if min_ts is not None:
            params["min_ts"] = min_ts
        url = f"{self.base_url.rstrip('/')}/1/user/{quote(user, safe='')}/listens"
        return self._get(url, params, self._parse)

    def _parse(self, response: httpx.Response) -> Page:
        status = response.status_code
        if status == 404:
            raise AccountGone("ListenBrainz has no such user")
        if status == 429:
            reset = _number(response.headers.get("X-RateLimit-Reset-In"))
            raise RateLimited("ListenBrainz rate limit (HTTP 429)", retry_after=float(reset or 1))
        if status >= 500:
            raise TryLater(f"ListenBrainz answered HTTP {status}")
        data = self._json(response)
        if status != 200:
            error = data.get("error") if isinstance(data, dict) else None
            raise TryLater(f"ListenBrainz answered HTTP {status}: {error or 'no detail'}")
        payload = data.get("payload") if isinstance(data, dict) else None
        raw = payload.get("listens") if isinstance(payload, dict) else None
        if not isinstance(raw, list):
            raise TryLater("malformed ListenBrainz answer (no payload.listens)")
        assert isinstance(payload, dict)
        listens = []
        for item in raw:
            meta = item.get("track_metadata") if isinstance(item, dict) else None
            meta = meta if isinstance(meta, dict) else {}
            listens.append(
                Listen(
                    _number(item.get("listened_at")) if isinstance(item, dict) else None,
                    _text(meta.get("artist_name")),
                    _text(meta.get("track_name")),
                )
            )
        return Page(listens, oldest=_number(payload.get("oldest_listen_ts")))


# Last.fm error codes (https://www.last.fm/api/errorcodes and what user.getRecentTracks answers).
LASTFM_GONE = {6}
LASTFM_PRIVATE = {17}
LASTFM_RATE_LIMIT = {29}
LASTFM_TRY_LATER = {8, 11, 16}
LASTFM_BAD_KEY = {10, 26}


class LastfmClient(_Client):
    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._api_key = api_key

    def recent_tracks(
        self, user: str, *, limit: int, page: int, from_ts: int | None = None, to_ts: int | None = None
    ) -> Page:
        """Page ``page`` of ``user``'s scrobbles, newest first, ``limit`` a page; the now-playing
        entry is counted in ``skipped``, not returned."""
        params: dict[str, Any] = {
            "method": "user.getrecenttracks",
            "user": user,
            "api_key": self._api_key,
            "format": "json",
            "limit": limit,
            "page": page,
        }
        if from_ts is not None:
            params["from"] = from_ts
        if to_ts is not None:
            params["to"] = to_ts
        return self._get(self.base_url, params, self._parse)

    def _parse(self, response: httpx.Response) -> Page:
        status = response.status_code
        data = self._json(response)
        if isinstance(data, dict) and "error" in data:
            code = _number(data.get("error"))
            message = _text(data.get("message")) or "no message"
            if code in LASTFM_GONE:
                raise AccountGone(f"Last.fm: {message} (error {code})")
            if code in LASTFM_PRIVATE:
                raise AccountPrivate(f"Last.fm: {message} (error {code})")
            if code in LASTFM_RATE_LIMIT:
                raise RateLimited(f"Last.fm rate limit: {message} (error {code})")
            if code in LASTFM_BAD_KEY:
                raise OperatorError(
                    f"Last.fm refuses the API key: {message} (error {code}); check LASTFM_API_KEY"
                )
            raise TryLater(f"Last.fm: {message} (error {code})")
        if status != 200:
            raise TryLater(f"Last.fm answered HTTP {status}")
        recent = data.get("recenttracks") if isinstance(data, dict) else None
        if not isinstance(recent, dict):
            raise TryLater("malformed Last.fm answer (no recenttracks)")
        tracks = recent.get("track", [])
        if isinstance(tracks, dict):  # one scrobble: Last.fm's JSON gives the object, not a list
            tracks = [tracks]
        if not isinstance(tracks, list):
            raise TryLater("malformed Last.fm answer (recenttracks.track)")
        attr = recent.get("@attr")
        total = _number(attr.get("totalPages")) if isinstance(attr, dict) else None
        listens: list[Listen] = []
        skipped: dict[str, int] = {}
        for t in tracks:
            if not isinstance(t, dict):
                listens.append(Listen(None, None, None))
                continue
            flags = t.get("@attr")
            if isinstance(flags, dict) and str(flags.get("nowplaying", "")).lower() == "true":
                skipped[NOW_PLAYING] = skipped.get(NOW_PLAYING, 0) + 1
                continue
            artist = t.get("artist")
            name = artist.get("#text") or artist.get("name") if isinstance(artist, dict) else artist
            date = t.get("date")
            listens.append(
                Listen(
                    _number(date.get("uts")) if isinstance(date, dict) else None,
                    _text(name),
                    _text(t.get("name")),
                )
            )
        return Page(listens, skipped, total_pages=total)
