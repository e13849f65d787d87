"""Plain-text rendering of service results, shared by the console and used as the fallback text of
Slack and Discord messages. Platform-specific rich renderings (Block Kit, embeds) live in their
adapters and take the same dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from bot.service import (
    Digest,
    LoggedPlay,
    Pick,
    PlayResult,
    Question,
    Recommendations,
    Removal,
    TrendEntry,
    Trending,
)

# Windows are whole UTC days up to now (storage.trends.window_days); the labels say so.
WINDOW_LABEL = {
    "24h": "since yesterday (UTC)",
    "7d": "since 7 days ago (UTC)",
    "30d": "since 30 days ago (UTC)",
    "all": "all time",
}
KIND_LABEL = {"artist": "artists", "track": "tracks"}

HELP = """tastemaker — log what you listen to, see what your community is into.
/played Artist - Title     log a play (also: "Title by Artist", or just an artist)
/recommend [artists|tracks] [n]   personal picks, each with the reason
/trending [24h|7d|30d|all] [artists|tracks]   what this community plays most, and what is rising
/plays                     your last plays, numbered (newest first)
/remove <n>                take back play number n of your last /plays list
/undo                      take back your last play
/help                      this text"""

NO_PLAYS = "You have no plays here yet: log one with /played."


def movement_marker(e: TrendEntry) -> str:
    if e.movement == "new":
        return "new"
    if e.movement == "up":
        return f"▲{e.prev_rank - e.rank}" if e.prev_rank else "▲"
    if e.movement == "down":
        return f"▼{e.rank - e.prev_rank}" if e.prev_rank else "▼"
    if e.movement == "same":
        return "="
    return ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def played_text(r: PlayResult) -> str:
    what = f"{r.artist} – {r.track}" if r.track else r.artist
    if r.duplicate:
        return f"Already logged: {what}."
    line = f"Logged {what} — your {ordinal(r.plays_by_member)} play."
    if r.corrected_from:
        line += f" (matched “{r.corrected_from}” to the existing entry)"
    return line


def ago(when: dt.datetime, now: dt.datetime) -> str:
    """``just now`` / ``5 min ago`` / ``2 h ago`` / ``3 days ago``; a date beyond 30 days (or ahead)."""
    seconds = (now - when).total_seconds()
    if seconds < 0 or seconds >= 30 * 86400:
        return f"on {when.date().isoformat()}"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{plural(int(seconds // 86400), 'day')} ago"


def play_origin(p: LoggedPlay, now: dt.datetime, platform: str) -> str:
    """When (and how) a play got here: ``logged 2 h ago`` for a play logged in this chat,
    ``imported from lastfm, played on 2025-01-02`` (or ``…, undated``) for an imported one."""
    if p.source == platform:
        return f"logged {ago(p.played_at, now)}" if p.played_at is not None else "logged"
    when = f"played {ago(p.played_at, now)}" if p.played_at is not None else "undated"
    return f"imported from {p.source}, {when}"


def play_what(p: LoggedPlay) -> str:
    """What a play is, with its listens when it stands for more than one (an import's count)."""
    return p.what if p.count == 1 else f"{p.what} ({plural(p.count, 'play')})"


def play_line(
    n: int,
    p: LoggedPlay,
    now: dt.datetime,
    platform: str,
    *,
    esc: Callable[[str], str] = lambda t: t,
    rank: Callable[[int], str] = lambda n: f"{n:>2}.",
) -> str:
    """One line of /plays; adapters pass their escaping and their markup for the number."""
    return f"{rank(n)} {esc(play_what(p))} — {play_origin(p, now, platform)}"


def plays_title(plays: Sequence[LoggedPlay]) -> str:
    return "Your last play" if len(plays) == 1 else f"Your last {len(plays)} plays, newest first"


CONSOLE_REMOVE_HINT = " (/remove <n> takes one back)"


def plays_text(
    plays: Sequence[LoggedPlay], now: dt.datetime, platform: str, *, hint: str = CONSOLE_REMOVE_HINT
) -> str:
    """/plays as plain text: numbered, newest first; ``hint`` says how to take one back."""
    if not plays:
        return NO_PLAYS
    lines = [f"{plays_title(plays)}{hint}:"]
    lines += [play_line(n, p, now, platform) for n, p in enumerate(plays, 1)]
    return "\n".join(lines)


def plays_left(r: Removal) -> str:
    if r.plays_left <= 0:
        return "You have no plays of it left."
    return f"You now have {plural(r.plays_left, 'play')} of it."


FOLDED_NOTE = "/trending has counted it already and drops it at the next batch update."


def removal_text(
    r: Removal, now: dt.datetime, platform: str, *, esc: Callable[[str], str] = lambda t: t
) -> str:
    """What /undo or a remove button took back, and what that changes."""
    line = f"Removed {esc(play_what(r.play))} ({play_origin(r.play, now, platform)}). {plays_left(r)}"
    return line + (f" {FOLDED_NOTE}" if r.folded else "")


def question_text(q: Question) -> str:
    """A near miss, for a chat reply: what to type for either answer (nothing is logged yet)."""
    return q.text()


def question_prompt(q: Question) -> str:
    """A near miss, asked on the console: the answer is the next line."""
    return f"Did you mean {q.candidate}? [y]es / [n]o, log as typed ({q.typed})"


def trend_line(
    e: TrendEntry,
    *,
    name: str | None = None,
    rank: Callable[[int], str] = lambda n: f"{n:>2}.",
    marker: Callable[[str], str] = lambda m: m,
) -> str:
    """One chart line; adapters pass their escaped ``name`` and their markup for rank and marker."""
    move = movement_marker(e)
    return (
        f"{rank(e.rank)} {e.name if name is None else name} — {plural(e.plays, 'play')}, "
        f"{plural(e.listeners, 'listener')}" + (f"  {marker(move)}" if move else "")
    )


def trending_text(t: Trending) -> str:
    head = f"Trending {KIND_LABEL[t.kind]} in {t.community} — {WINDOW_LABEL[t.window]}"
    lines = [head]
    if not t.entries:
        lines.append(t.note or "Nothing yet.")
        return "\n".join(lines)
    lines += [trend_line(e) for e in t.entries]
    if t.rising is not None:
        lines.append(
            f"Rising: {t.rising.name} ({t.rising.prev_plays} → {t.rising.plays} plays, "
            f"growth {t.rising.growth:+.2f})"
        )
    if t.note:
        lines.append(t.note)
    return "\n".join(lines)


def recommend_title(r: Recommendations) -> str:
    label = KIND_LABEL[r.kind]
    return (
        f"Trending {label} you haven't played yet"
        if r.source == "trending"
        else f"Recommended {label} for you"
    )


def pick_line(
    p: Pick,
    *,
    esc: Callable[[str], str] = lambda t: t,
    rank: Callable[[int], str] = lambda n: f"{n:>2}.",
    reason: Callable[[str], str] = lambda t: t,
) -> str:
    """One recommendation line; adapters pass their escaping and their markup for rank and reason."""
    line = f"{rank(p.rank)} {esc(p.name)}"
    return line + (f" — {reason(f'because you played {esc(p.reason)}')}" if p.reason else "")


def recommend_text(r: Recommendations) -> str:
    lines = [recommend_title(r)]
    if r.note:
        lines.append(r.note)
    lines += [pick_line(p) for p in r.picks]
    if not r.picks and not r.note:
        lines.append("Nothing to recommend yet.")
    return "\n".join(lines)


def digest_text(d: Digest) -> str:
    lines = [f"Daily trending for {d.community} — {d.day.isoformat()} (UTC)"]
    if d.empty:
        lines.append("A quiet day: nobody logged a play. Use /played to get tomorrow's chart going!")
        return "\n".join(lines)
    lines.append("Top tracks:")
    lines += [trend_line(e) for e in d.top_tracks]
    lines.append("Top artists:")
    lines += [trend_line(e) for e in d.top_artists]
    if d.rising is not None:
        lines.append(f"Fastest riser: {d.rising.name} ({d.rising.prev_plays} → {d.rising.plays} plays)")
    if d.new_artists:
        lines.append("New to the community: " + ", ".join(d.new_artists))
    return "\n".join(lines)
