"""Each Slack request is answered at most once (no SDK here).

A signed request stays valid for :data:`SIGNATURE_WINDOW` seconds either side of its timestamp, so
whoever holds a copy (a proxy log, Slack's own retries with ``X-Slack-Retry-Num``) can send it
again within that window. :class:`SeenRequests` remembers the ids of the requests an app has
answered — a slash command's ``trigger_id``, an event's ``event_id`` — for longer than any copy
stays valid, in a structure bounded in size; the app answers a repeat with an empty ack and
runs nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

SIGNATURE_WINDOW = 300.0  # seconds: Slack's (and Bolt's) limit on |now - X-Slack-Request-Timestamp|
# A copy is accepted until its timestamp + the window, and the timestamp may be up to a window ahead
# of our clock: remember ids for two windows and a minute.
DEFAULT_TTL = 2 * SIGNATURE_WINDOW + 60.0
DEFAULT_MAX_ENTRIES = 100_000  # ~10 MB at most; a workspace sends far fewer commands in 11 minutes


def request_key(body: Mapping[str, Any]) -> str | None:
    """What identifies one request Slack sent, whatever copy of it arrives: ``trigger_id``
    (slash commands, interactions) or ``event_id`` (Events API); ``None`` when it has neither."""
    for field in ("trigger_id", "event_id"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return f"{field}:{value}"
    return None


class SeenRequests:
    """Ids seen in the last ``ttl`` seconds, at most ``max_entries`` of them (the oldest are
    forgotten first). Thread-safe: :meth:`first` checks and records in one step."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < SIGNATURE_WINDOW:
            raise ValueError(f"ttl must cover Slack's {SIGNATURE_WINDOW:.0f} s replay window")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._expires: OrderedDict[str, float] = OrderedDict()  # id → expiry, oldest first
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen within ``ttl`` (and remember it); False after."""
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            if key in self._expires:
                return False
            self._expires[key] = now + self.ttl
            while len(self._expires) > self.max_entries:
                self._expires.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._expires)

    def _forget_expired(self, now: float) -> None:
        while self._expires:
            key, expires = next(iter(self._expires.items()))
            if expires > now:
                break
            del self._expires[key]
