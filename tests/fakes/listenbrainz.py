"""A loopback fake of the ListenBrainz API: ``GET /1/user/<user>/listens``.

It answers as the real server does (listenbrainz-server ``api.get_listens`` and
``TimescaleListenStore.fetch_listens``): ``count`` defaults to 25 and is capped at 1000; ``max_ts``
returns the newest listens strictly before it, ``min_ts`` the *oldest* ones strictly after it (with
both: the oldest in between), always newest first, in ``{"payload": {"count", "listens",
"latest_listen_ts", "oldest_listen_ts", "user_id"}}``; an unknown user is a 404 with
``{"code": 404, "error": "Cannot find user: …"}``. User names match without regard to case. Every
answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset-In`` and
``X-RateLimit-Reset``; with :meth:`FakeListenBrainz.window` set, requests beyond the window's limit
get a 429 until it resets (``Reset-In`` counts down in whole seconds of wall time).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from tests.fakes.base import Answer, FakeService, as_json

MAX_ITEMS_PER_GET = 1000
DEFAULT_ITEMS_PER_GET = 25


@dataclass(frozen=True)
class FakeListen:
    listened_at: int
    artist: str | None
    track: str | None
    release: str | None = None

    def to_api(self, user: str) -> dict:
        meta: dict = {"additional_info": {"submission_client": "fake"}, "mbid_mapping": None}
        if self.artist is not None:
            meta["artist_name"] = self.artist
        if self.track is not None:
            meta["track_name"] = self.track
        if self.release is not None:
            meta["release_name"] = self.release
        return {
            "inserted_at": self.listened_at + 3,
            "listened_at": self.listened_at,
            "recording_msid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.artist}/{self.track}")),
            "user_name": user,
            "track_metadata": meta,
        }


class FakeListenBrainz(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, tuple[str, list[FakeListen]]] = {}  # lower name -> (name, newest first)
        self._limit = 1000
        self._window_seconds = 10
        self._window_start = time.monotonic()
        self._used = 0

    @property
    def api_url(self) -> str:
        return self.base

    def add_user(self, name: str, listens: list[FakeListen]) -> None:
        self.users[name.lower()] = (name, sorted(listens, key=lambda x: -x.listened_at))

    def add_listens(self, name: str, listens: list[FakeListen]) -> None:
        user, old = self.users[name.lower()]
        self.users[name.lower()] = (user, sorted(old + listens, key=lambda x: -x.listened_at))

    def remove_user(self, name: str) -> None:
        self.users.pop(name.lower(), None)

    def listens_of(self, name: str) -> list[FakeListen]:
        return list(self.users[name.lower()][1])

    def window(self, limit: int, seconds: int) -> None:
        """Allow ``limit`` requests per ``seconds`` (wall time); more get a 429."""
        self._limit, self._window_seconds = limit, seconds
        self._window_start, self._used = time.monotonic(), 0

    def rate_limit_next(self, reset_in: int = 1, times: int = 1) -> None:
        """Answer the next requests with a 429 saying the window resets in ``reset_in`` s."""
        body = as_json({"code": 429, "error": "Too many requests. Try again later."})
        headers = self._headers(0, reset_in)
        self.script(*[Answer(429, body, headers)] * times)

    def _headers(self, remaining: int, reset_in: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self._limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset-In": str(max(0, reset_in)),
            "X-RateLimit-Reset": str(int(time.time()) + max(0, reset_in)),
        }

    def answer(self, path: str, params: dict[str, str]) -> Answer:
        with self._cond:
            now = time.monotonic()
            if now - self._window_start >= self._window_seconds:
                self._window_start, self._used = now, 0
            self._used += 1
            remaining = self._limit - self._used
            reset_in = int(self._window_start + self._window_seconds - now + 0.999)
        headers = self._headers(remaining, reset_in)
        if remaining < 0:
            return Answer(429, as_json({"code": 429, "error": "Too many requests."}), headers)
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["1", "user"] or parts[3] != "listens":
            return Answer(404, as_json({"code": 404, "error": "Not found"}), headers)
        name = unquote(parts[2])
        found = self.users.get(name.lower())
        if found is None:
            return Answer(404, as_json({"code": 404, "error": f"Cannot find user: {name}"}), headers)
        user, listens = found
        try:
            count = min(int(params.get("count") or DEFAULT_ITEMS_PER_GET), MAX_ITEMS_PER_GET)
            max_ts = int(params["max_ts"]) if params.get("max_ts") else None
            min_ts = int(params["min_ts"]) if params.get("min_ts") is not None else None
        except ValueError:
            return Answer(400, as_json({"code": 400, "error": "Invalid argument"}), headers)
        if count < 0 or (max_ts is not None and min_ts is not None and max_ts <= min_ts):
            return Answer(
                400, as_json({"code": 400, "error": "max_ts should be greater than min_ts"}), headers
            )
        chosen = [
            x
            for x in listens
            if (max_ts is None or x.listened_at < max_ts) and (min_ts is None or x.listened_at > min_ts)
        ]
        # With min_ts: the oldest ``count`` after it (read ascending), shown newest first.
        oldest_first = min_ts is not None
        chosen = (chosen[len(chosen) - count :] if count else []) if oldest_first else chosen[:count]
        body = {
            "payload": {
                "count": len(chosen),
                "listens": [x.to_api(user) for x in chosen],
                "latest_listen_ts": listens[0].listened_at if listens else 0,
                "oldest_listen_ts": listens[-1].listened_at if listens else 0,
                "user_id": user,
            }
        }
        return Answer(200, as_json(body), headers)
