"""A loopback fake of Last.fm's ``user.getRecentTracks`` (``GET /2.0/?method=user.getrecenttracks``).

As the real API answers with ``format=json``: ``recenttracks.track[]`` newest first, each with
``artist['#text']``, ``name``, ``album['#text']``, ``date.uts`` (a string) and ``date['#text']``;
the track playing now comes first on page 1 (when no ``to`` is given) with
``@attr.nowplaying = "true"`` and no ``date``; ``recenttracks['@attr']`` holds ``user``, ``page``,
``perPage``, ``totalPages`` and ``total`` as strings. ``limit`` defaults to 50 and is capped at 200;
``from`` / ``to`` keep scrobbles strictly after / before them (the documentation does not say
whether the bounds are inclusive; tastemaker's cursor overlaps them either way). Errors are
``{"error": n, "message": …}`` with an HTTP error status: 6 (404) no such user, 17 (403) the user
hides their recent listening, 10 (403) an invalid API key; :meth:`FakeLastfm.error_next` scripts any
code, e.g. 29 (429) rate limit or 16 (503) temporarily unavailable. ``single_as_object`` answers a
one-track page with ``track`` as an object, as Last.fm's XML-to-JSON conversion can.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from tests.fakes.base import Answer, FakeService, as_json

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

MESSAGES = {
    6: "User not found",
    8: "Operation failed - Most likely the backend service failed. Please try again.",
    10: "Invalid API key - You must be granted a valid key by last.fm",
    11: "Service Offline - This service is temporarily offline. Try again later.",
    16: "There was a temporary error processing your request. Please try again",
    17: "Login: User required to be logged in",
    26: "Suspended API key - Access for your account has been suspended, please contact Last.fm",
    29: "Rate limit exceeded - Your IP has made too many requests in a short period",
}
STATUS = {6: 404, 8: 500, 10: 403, 11: 503, 16: 503, 17: 403, 26: 403, 29: 429}


@dataclass(frozen=True)
class Scrobble:
    uts: int
    artist: str | None
    track: str | None
    album: str = ""

    def to_api(self) -> dict:
        when = dt.datetime.fromtimestamp(self.uts, dt.UTC)
        out: dict = {
            "artist": {"mbid": "", "#text": self.artist or ""},
            "streamable": "0",
            "image": [{"size": "small", "#text": ""}],
            "mbid": "",
            "album": {"mbid": "", "#text": self.album},
            "name": self.track or "",
            "url": "https://www.last.fm/music/fake",
            "date": {"uts": str(self.uts), "#text": when.strftime("%d %b %Y, %H:%M")},
        }
        return out


class FakeLastfm(FakeService):
    def __init__(self, api_key: str = "test-key") -> None:
        super().__init__()
        self.api_keys = {api_key}
        self.users: dict[str, tuple[str, list[Scrobble]]] = {}  # lower name -> (name, newest first)
        self.private: set[str] = set()
        self.now_playing: dict[str, tuple[str, str]] = {}  # lower name -> (artist, track)
        self.single_as_object = False

    @property
    def api_url(self) -> str:
        return f"{self.base}/2.0/"

    def add_user(self, name: str, scrobbles: list[Scrobble]) -> None:
        self.users[name.lower()] = (name, sorted(scrobbles, key=lambda s: -s.uts))

    def add_scrobbles(self, name: str, scrobbles: list[Scrobble]) -> None:
        user, old = self.users[name.lower()]
        self.users[name.lower()] = (user, sorted(old + scrobbles, key=lambda s: -s.uts))

    def scrobbles_of(self, name: str) -> list[Scrobble]:
        return list(self.users[name.lower()][1])

    def error_next(self, code: int, times: int = 1) -> None:
        body = as_json({"error": code, "message": MESSAGES.get(code, "error"), "links": []})
        self.script(*[Answer(STATUS.get(code, 400), body)] * times)

    def _error(self, code: int) -> Answer:
        return Answer(STATUS[code], as_json({"error": code, "message": MESSAGES[code], "links": []}))

    def answer(self, path: str, params: dict[str, str]) -> Answer:
        if path.rstrip("/") != "/2.0":
            return Answer(404, "<html>not found</html>", ctype="text/html")
        if params.get("api_key") not in self.api_keys:
            return self._error(10)
        if (params.get("method") or "").lower() != "user.getrecenttracks" or params.get("format") != "json":
            return Answer(400, as_json({"error": 3, "message": "Invalid Method", "links": []}))
        key = (params.get("user") or "").lower()
        if key not in self.users:
            return self._error(6)
        if key in self.private:
            return self._error(17)
        name, scrobbles = self.users[key]
        limit = min(int(params.get("limit") or DEFAULT_LIMIT), MAX_LIMIT)
        page = max(1, int(params.get("page") or 1))
        lo = int(params["from"]) if params.get("from") else None
        hi = int(params["to"]) if params.get("to") else None
        chosen = [s for s in scrobbles if (lo is None or s.uts > lo) and (hi is None or s.uts < hi)]
        total = len(chosen)
        pages = math.ceil(total / limit) if limit else 0
        tracks = [s.to_api() for s in chosen[(page - 1) * limit : page * limit]]
        if page == 1 and hi is None and key in self.now_playing:
            artist, track = self.now_playing[key]
            tracks.insert(
                0,
                {
                    "artist": {"mbid": "", "#text": artist},
                    "name": track,
                    "album": {"mbid": "", "#text": ""},
                    "@attr": {"nowplaying": "true"},
                },
            )
        attr = {
            "user": name,
            "totalPages": str(pages),
            "page": str(page),
            "perPage": str(limit),
            "total": str(total),
        }
        body = {
            "recenttracks": {
                "track": tracks[0] if self.single_as_object and len(tracks) == 1 else tracks,
                "@attr": attr,
            }
        }
        return Answer(200, as_json(body))
