"""Platform-free parsing of what members type: ``/played`` text and command arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.names import MAX_RAW_LENGTH, InvalidName, checked_name

# Any dash (hyphen-minus, hyphen, non-breaking hyphen, figure/en/em dash, horizontal bar, minus,
# small/full-width hyphen-minus) with whitespace on both sides separates artist and title, so that
# names with inner hyphens (Jay-Z, AC-DC) stay whole.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_DASH_SPLIT = re.compile(rf"(?:^|\s+)[{_DASHES}]+(?:\s+|$)")
_BY_SPLIT = re.compile(r"\s+by\s+", re.IGNORECASE)

USAGE = "Try `/played Radiohead - Karma Police`, `/played Karma Police by Radiohead` or `/played Radiohead`."

# Explicit bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) can make a name
# display as something else ("Trojan Source"): refused with an explanation on every platform rather
# than silently stripped. Plain direction marks (U+200E/U+200F) stay allowed for right-to-left names.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

WINDOWS = ("24h", "7d", "30d", "all")
KINDS = {"artist": "artist", "artists": "artist", "track": "track", "tracks": "track"}


class UserError(ValueError):
    """Bad input from a member: the message is safe to show to them as is."""


@dataclass(frozen=True)
class PlayInput:
    artist: str
    artist_key: str
    title: str | None = None
    title_key: str | None = None
    # "Title by Artist" read the other way: the service takes it only when its artist is known in
    # the community and the whole text is not (``Stand by Me`` stays an artist).
    by_split: PlayInput | None = None


def parse_played(text: str | None) -> PlayInput:
    """``Artist - Title`` (any dash), ``Title by Artist``, or a bare artist."""
    if text is None or not text.strip():
        raise UserError(f"Tell me what you played. {USAGE}")
    if len(text) > MAX_RAW_LENGTH:
        raise UserError("That is too long for a song (at most 200 characters per name).")
    parts = _DASH_SPLIT.split(text.strip(), maxsplit=1)
    if len(parts) == 2:
        artist, title = parts
    else:
        stripped = text.strip()
        last_by = None
        for last_by in _BY_SPLIT.finditer(stripped):  # noqa: B007 - we want the last match
            pass
        if last_by is not None:
            # "Title by Artist": the last " by " separates, so titles may contain "by". Which
            # reading wins needs the catalog (see PlayInput.by_split).
            whole = play_input(stripped, None)
            try:
                split = play_input(stripped[last_by.end() :], stripped[: last_by.start()])
            except UserError:
                return whole
            return PlayInput(whole.artist, whole.artist_key, by_split=split)
        artist, title = text, None
    return play_input(artist, title)


def reject_bidi(value: str, what: str) -> None:
    if any(ch in BIDI_CONTROLS for ch in value):
        raise UserError(
            f"The {what} contains hidden text-direction characters (like U+202E) that can disguise "
            "what it says. Please type it plainly."
        )


def play_input(artist: str | None, title: str | None) -> PlayInput:
    """Validate an artist (required) and optional title given separately (Discord options)."""
    reject_bidi(artist or "", "artist name")
    reject_bidi(title or "", "track title")
    if artist is None or not artist.strip():
        raise UserError(f"I couldn't find an artist in that. {USAGE}")
    try:
        a_disp, a_key = checked_name(artist, "artist name")
        if title is None:
            return PlayInput(a_disp, a_key)
        if not title.strip():
            raise UserError(f"The title is empty. {USAGE}")
        t_disp, t_key = checked_name(title, "track title")
    except InvalidName as exc:
        raise UserError(f"{exc} {USAGE}") from exc
    return PlayInput(a_disp, a_key, t_disp, t_key)


def parse_window(value: str | None, default: str = "7d") -> str:
    v = (value or default).strip().lower()
    aliases = {"day": "24h", "1d": "24h", "week": "7d", "month": "30d", "alltime": "all", "all-time": "all"}
    v = aliases.get(v, v)
    if v not in WINDOWS:
        raise UserError(f"Unknown window `{value}`. Use one of: {', '.join(WINDOWS)}.")
    return v


def parse_kind(value: str | None, default: str) -> str:
    v = (value or default).strip().lower()
    if v not in KINDS:
        raise UserError(f"Unknown kind `{value}`. Use `artists` or `tracks`.")
    return KINDS[v]


def parse_count(value: str | int | None, default: int, *, low: int = 1, high: int = 25) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"`{value}` is not a number between {low} and {high}.") from exc
    if not low <= n <= high:
        raise UserError(f"Pick a number between {low} and {high}.")
    return n


def parse_recommend_args(words: list[str]) -> tuple[str, int]:
    """``/recommend [artists|tracks] [n]`` in any order."""
    kind, count = "artist", 10
    for w in words:
        if w.isdigit() or (w.startswith("-") and w[1:].isdigit()):
            count = parse_count(w, 10)
        else:
            kind = parse_kind(w, "artist")
    return kind, count


def parse_trending_args(words: list[str]) -> tuple[str, str]:
    """``/trending [24h|7d|30d|all] [artists|tracks]`` in any order."""
    window, kind = "7d", "track"
    for w in words:
        if w.lower() in KINDS:
            kind = KINDS[w.lower()]
        else:
            window = parse_window(w)
    return window, kind


# /top's periods (the service's ``TOP_PERIODS``), with a few spoken aliases.
TOP_PERIODS = ("7d", "30d", "year", "all")
_PERIOD_ALIASES = {
    "week": "7d",
    "month": "30d",
    "365d": "year",
    "1y": "year",
    "alltime": "all",
    "all-time": "all",
}


def parse_period(value: str | None, default: str = "all") -> str:
    v = (value or default).strip().lower()
    v = _PERIOD_ALIASES.get(v, v)
    if v not in TOP_PERIODS:
        raise UserError(f"Unknown period `{value}`. Use one of: {', '.join(TOP_PERIODS)}.")
    return v


def parse_top_args(words: list[str]) -> tuple[str, str, list[str]]:
    """``top [artists|tracks] [7d|30d|year|all] [member]`` in any order: the kind, the period, and
    the words that are neither (the member, as the platform writes one)."""
    kind, period = "artist", "all"
    rest: list[str] = []
    for w in words:
        low = w.lower()
        if low in KINDS:
            kind = KINDS[low]
        elif low in TOP_PERIODS or low in _PERIOD_ALIASES:
            period = parse_period(low)
        else:
            rest.append(w)
    return kind, period, rest


CHART_WORD = "chart"  # `top … chart`: the chart as a picture too


def take_chart_word(words: list[str]) -> tuple[bool, list[str]]:
    """Whether ``chart`` (any case) is among ``words`` (``top``'s picture option), and the others."""
    rest = [w for w in words if w.lower() != CHART_WORD]
    return len(rest) < len(words), rest


# `unlink … keep|delete`: what happens to the plays the linked account synced (keep by default).
UNLINK_PLAYS = {"keep": True, "delete": False}


def parse_unlink_plays(value: str | None) -> bool:
    """``keep`` (also the default) → True; ``delete`` → False; anything else is a :class:`UserError`."""
    word = (value or "keep").strip().lower()
    if word not in UNLINK_PLAYS:
        raise UserError(f"“{value}” is not a choice for the synced plays: use keep or delete.")
    return UNLINK_PLAYS[word]


def parse_unlink_args(words: list[str], usage: str) -> tuple[str | None, bool]:
    """``unlink [source] [keep|delete]`` in any order: the source as typed (``None``: the member's
    only link; the service reads it) and whether the synced plays stay. ``usage`` ends the refusal
    of anything more."""
    keep: bool | None = None
    rest: list[str] = []
    for w in words:
        if w.lower() not in UNLINK_PLAYS:
            rest.append(w)
        elif keep is not None and keep != UNLINK_PLAYS[w.lower()]:
            raise UserError(f"Keep or delete the synced plays, not both. {usage}")
        else:
            keep = UNLINK_PLAYS[w.lower()]
    if len(rest) > 1:
        raise UserError(f"I don't understand `{' '.join(rest)}` here. {usage}")
    return (rest[0] if rest else None), (True if keep is None else keep)
