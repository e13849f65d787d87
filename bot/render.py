"""Plain-text rendering of service results, shared by the console and used as the fallback text of
Slack and Discord messages. Platform-specific rich renderings (Block Kit, embeds) live in their
adapters and take the same dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.service import (
    FEEDBACK_DOWN,
    LINK_BACKFILLING,
    LINK_GONE,
    LINK_PRIVATE,
    LINK_RETRYING,
    LINK_SOURCE_NAMES,
    LINK_WAITING,
    ChartEntry,
    Digest,
    FeedbackResult,
    HelpEntry,
    HiddenReset,
    Knower,
    Linked,
    LinkStatus,
    LoggedPlay,
    MemberChart,
    Neighbour,
    Neighbours,
    Pick,
    PlayResult,
    Profile,
    Question,
    RecentEntry,
    RecentPlays,
    Recommendations,
    Removal,
    SharedArtist,
    Similar,
    SimilarEntry,
    Taste,
    TrendEntry,
    Trending,
    Unlinked,
    UploadSummary,
    WhoKnows,
)

# Windows are whole UTC days up to now (storage.trends.window_days); the labels say so.
WINDOW_LABEL = {
    "24h": "since yesterday (UTC)",
    "7d": "since 7 days ago (UTC)",
    "30d": "since 30 days ago (UTC)",
    "all": "all time",
}
KIND_LABEL = {"artist": "artists", "track": "tracks"}

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


def recommend_text(r: Recommendations, reset: str | None = None, rate: str = "") -> str:
    """The picks as text; with ``reset`` (the platform's reset command), the line saying how many
    items the member hid; ``rate``: a line saying how to rate a pick (the console's commands)."""
    lines = [recommend_title(r)]
    if r.note:
        lines.append(r.note)
    lines += [pick_line(p) for p in r.picks]
    if not r.picks and not r.note:
        lines.append("Nothing to recommend yet.")
    if rate and r.picks:
        lines.append(rate)
    if reset is not None and r.hidden:
        lines.append(hidden_line(r.kind, r.hidden, reset))
    return "\n".join(lines)


FEEDBACK_PICKS = 10  # picks that get 👍 / 👎 buttons (Discord: 5 rows of two picks' buttons)
THUMBS_UP = "👍"
THUMBS_DOWN = "👎"


def hidden_line(kind: str, hidden: int, reset: str) -> str:
    """``2 artists hidden with 👎 — /recommend reset-hidden brings them back.``"""
    return f"{plural(hidden, kind)} hidden with {THUMBS_DOWN} — {reset} brings them back."


def feedback_text(
    r: FeedbackResult,
    reset: str,
    *,
    esc: Callable[[str], str] = lambda t: t,
    bold: Callable[[str], str] = lambda t: t,
) -> str:
    """What a 👍 / 👎 on a pick did, in one or two sentences."""
    name = bold(esc(r.name))
    if r.verdict == FEEDBACK_DOWN:
        first = (
            f"{name} was already hidden."
            if not r.changed
            else f"Hidden {name}: it will not be picked for you again."
        )
        return f"{first} {hidden_line(r.kind, r.hidden, reset)}"
    if not r.changed:
        return f"You already liked {name}."
    back = " It is back in your picks." if r.before == FEEDBACK_DOWN else ""
    return f"Noted: you like {name}.{back} It counts as a play at the next retrain."


def reset_text(r: HiddenReset) -> str:
    """What resetting the hidden picks brought back."""
    if not r.total:
        return "You have no hidden picks: nothing to bring back."
    parts = [plural(n, kind) for n, kind in ((r.artists, "artist"), (r.tracks, "track")) if n]
    return f"Back in your picks: {' and '.join(parts)} you had hidden with {THUMBS_DOWN}."


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


# --- members: /whoknows, /top, /recent, /profile, /privacy ------------------------------------------

PRIVATE_MEMBER = "a private member"  # a Knower without a name (Service.whoknows)
TOP_PERIOD_LABEL = {
    "7d": "the last 7 days",
    "30d": "the last 30 days",
    "year": "the last 12 months",
    "all": "all time",
}


def _same(text: str) -> str:
    return text


def _rank(n: int) -> str:
    return f"{n:>2}."


def played_when(at: dt.datetime | None, now: dt.datetime) -> str:
    """``2 h ago`` / ``on 2026-01-02``; ``undated`` for an import without dates."""
    return "undated" if at is None else ago(at, now)


def owner(member: str, is_you: bool, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    """``Your`` or ``Ann's``: whose answer it is. A ``shared`` answer (posted where the whole
    channel reads it) always names the member."""
    return "Your" if is_you and not shared else f"{esc(member)}'s"


def no_plays(member: str, is_you: bool, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    """A member without plays here: a friendly line rather than an empty table."""
    if is_you:
        return NO_PLAYS if not shared else f"{esc(member)} has no plays here yet: log one with /played."
    return f"{esc(member)} has no plays here yet."


def knower_name(k: Knower, *, esc: Callable[[str], str] = _same) -> str:
    return PRIVATE_MEMBER if k.name is None else esc(k.name)


def _you(name: str) -> str:
    return f"{name} (you)"


def knower_line(
    k: Knower,
    now: dt.datetime,
    *,
    esc: Callable[[str], str] = _same,
    rank: Callable[[int], str] = _rank,
    you: Callable[[str], str] = _you,
) -> str:
    """One /whoknows row; ``you`` marks the asker's name. A private member's row keeps its rank and
    plays, and nothing else."""
    name = knower_name(k, esc=esc)
    line = f"{rank(k.rank)} {you(name) if k.is_you else name} — {plural(k.plays, 'play')}"
    if k.name is None:
        return line
    if k.last_played is None:
        return line + ", undated"
    return line + f", last played {ago(k.last_played, now)}"


def whoknows_title(w: WhoKnows, *, esc: Callable[[str], str] = _same) -> str:
    return f"Who knows {esc(w.item)}?"


def whoknows_empty(w: WhoKnows, *, esc: Callable[[str], str] = _same) -> str:
    return f"Nobody here has played {esc(w.item)} yet."


def whoknows_summary(w: WhoKnows) -> str:
    return f"{plural(w.listeners, 'listener')}, {plural(w.plays, 'play')} in all"


YOUR_RANK = "…"  # the gap between the top ten and the asker's own row


def whoknows_text(w: WhoKnows, now: dt.datetime, *, you: Callable[[str], str] = _you) -> str:
    if w.empty:
        return whoknows_empty(w)
    lines = [whoknows_title(w)]
    lines += [knower_line(k, now, you=you) for k in w.top]
    if w.you is not None:
        lines += [f"   {YOUR_RANK}", knower_line(w.you, now, you=you)]
    lines.append(whoknows_summary(w))
    return "\n".join(lines)


def chart_title(c: MemberChart, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    whose = owner(c.member, c.is_you, esc=esc, shared=shared)
    return f"{whose} top {KIND_LABEL[c.kind]} — {TOP_PERIOD_LABEL[c.period]}"


def chart_empty(c: MemberChart, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    if c.period == "all":
        return no_plays(c.member, c.is_you, esc=esc, shared=shared)
    who = "You have" if c.is_you and not shared else f"{esc(c.member)} has"
    return f"{who} no plays in {TOP_PERIOD_LABEL[c.period]}."


def chart_line(
    e: ChartEntry, *, esc: Callable[[str], str] = _same, rank: Callable[[int], str] = _rank
) -> str:
    return f"{rank(e.rank)} {esc(e.name)} — {plural(e.plays, 'play')}"


def chart_text(c: MemberChart, *, shared: bool = False) -> str:
    if not c.entries:
        return chart_empty(c, shared=shared)
    return "\n".join([chart_title(c, shared=shared)] + [chart_line(e) for e in c.entries])


def recent_title(r: RecentPlays, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    whose = owner(r.member, r.is_you, esc=esc, shared=shared)
    n = len(r.entries)
    return f"{whose} last play" if n == 1 else f"{whose} last {n} plays, newest first"


def recent_line(
    n: int,
    e: RecentEntry,
    now: dt.datetime,
    *,
    esc: Callable[[str], str] = _same,
    rank: Callable[[int], str] = _rank,
) -> str:
    what = esc(e.what) + (f" ({plural(e.count, 'play')})" if e.count != 1 else "")
    return f"{rank(n)} {what} — {played_when(e.played_at, now)}"


def recent_text(r: RecentPlays, now: dt.datetime, *, shared: bool = False) -> str:
    if not r.entries:
        return no_plays(r.member, r.is_you, shared=shared)
    lines = [recent_title(r, shared=shared)] + [recent_line(n, e, now) for n, e in enumerate(r.entries, 1)]
    return "\n".join(lines)


def profile_title(p: Profile, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    return f"{owner(p.member, p.is_you, esc=esc, shared=shared)} profile"


def profile_fields(p: Profile, *, esc: Callable[[str], str] = _same) -> list[tuple[str, str]]:
    """(label, value) pairs of a profile with plays (see :func:`no_plays` for one without)."""
    since = (
        p.member_since.date().isoformat() if p.member_since is not None else "unknown (undated plays only)"
    )
    return [
        ("Plays", str(p.plays)),
        ("Artists", str(p.artists)),
        ("Tracks", str(p.tracks)),
        ("Member since", since),
        ("Current streak", plural(p.current_streak, "day")),
        ("Longest streak", plural(p.longest_streak, "day")),
        ("Top artist", esc(p.top_artist) if p.top_artist else "—"),
        ("Closest neighbour", closest(p, esc=esc)),
    ]


def closest(p: Profile, *, esc: Callable[[str], str] = _same) -> str:
    if p.closest is None or p.closest_percent is None:
        return "— (comes with the next retrain)"
    return f"{esc(p.closest)} ({p.closest_percent:.0f}% match)"


def private_note(switch: str) -> str:
    """Under the member's own profile when they are private (an answer only they read); ``switch``
    is the command to go public."""
    return (
        f"Your listening is private: others see you only as “{PRIVATE_MEMBER}” in whoknows and cannot "
        f"see your top, recent plays or profile, nor find you in neighbours or taste. {switch} changes that."
    )


def profile_text(p: Profile, switch: str, *, shared: bool = False, now: dt.datetime | None = None) -> str:
    """A profile; a ``shared`` one (the whole channel reads it) names the member and leaves the
    private note and the member's linked accounts out. The linked accounts (the member's own
    profile only, :attr:`Profile.links`) are a line each, with their last sync relative to ``now``;
    without ``now`` they are left out."""
    links = [link_line(s, now) for s in p.links] if not shared and now is not None else []
    if p.plays == 0:
        return "\n".join([no_plays(p.member, p.is_you, shared=shared), *links])
    lines = [profile_title(p, shared=shared)] + [f"{label}: {value}" for label, value in profile_fields(p)]
    lines += links
    if p.is_you and p.private and not shared:
        lines.append(private_note(switch))
    return "\n".join(lines)


def privacy_text(private: bool, switch: str) -> str:
    """What ``privacy private|public`` did; ``switch`` is the command that undoes it."""
    if private:
        return (
            "Your listening is now private. Others no longer see your name in whoknows (you show "
            f"as “{PRIVATE_MEMBER}”, your plays still counted), nor your top, recent plays or "
            "profile, and you are left out of their neighbours and taste. Your plays still count "
            "anonymously in /trending and the daily digest. "
            f"{switch} undoes it."
        )
    return (
        "Your listening is public: others see your name in whoknows, your top, recent plays "
        f"and profile, and may find you in neighbours and taste. {switch} hides them."
    )


# --- taste: neighbours, similar, taste ----------------------------------------------------------

MODEL_MATCH = "how alike your listening is, by the recommender's model (as of the last retrain)"


def neighbours_title(n: Neighbours, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    return f"{owner(n.member, True, esc=esc, shared=shared)} closest listeners here"


def neighbour_line(
    nb: Neighbour, *, esc: Callable[[str], str] = _same, rank: Callable[[int], str] = _rank
) -> str:
    """``1. Ann — 83% match · both play Björk, Air``."""
    line = f"{rank(nb.rank)} {esc(nb.name)} — {nb.percent:.0f}% match"
    if nb.shared:
        line += " · both play " + ", ".join(esc(a.name) for a in nb.shared)
    return line


def neighbours_footer() -> str:
    return f"Match: {MODEL_MATCH}."


def neighbours_text(n: Neighbours, *, shared: bool = False) -> str:
    if n.empty:
        return n.note
    lines = [neighbours_title(n, shared=shared)] + [neighbour_line(e) for e in n.entries]
    return "\n".join(lines + [neighbours_footer()])


def similar_title(s: Similar, *, esc: Callable[[str], str] = _same) -> str:
    return f"{KIND_LABEL[s.kind].capitalize()} like {esc(s.item)}, from this community's listening"


def similar_line(
    e: SimilarEntry, *, esc: Callable[[str], str] = _same, rank: Callable[[int], str] = _rank
) -> str:
    return f"{rank(e.rank)} {esc(e.name)}"


def similar_text(s: Similar) -> str:
    if s.empty:
        return s.note
    return "\n".join([similar_title(s)] + [similar_line(e) for e in s.entries])


def taste_title(t: Taste, *, esc: Callable[[str], str] = _same, shared: bool = False) -> str:
    if shared:
        return f"{esc(t.asker)} and {esc(t.member)}: taste compared"
    return f"You and {esc(t.member)}: taste compared"


def taste_scores(t: Taste) -> list[tuple[str, str]]:
    """(label, value): the model's score and the overlap's, each saying what it is."""
    model = (
        f"{t.model_score:.0f}% — {MODEL_MATCH}"
        if t.model_score is not None
        else f"— ({t.note or 'no model yet'})"
    )
    overlap = f"{t.overlap_score:.0f}% — how much of both your plays go to the same artists"
    return [("Model match", model), ("Overlap", overlap)]


def shared_line(
    a: SharedArtist,
    asker: str,
    member: str,
    *,
    esc: Callable[[str], str] = _same,
    shared: bool = False,
) -> str:
    """``Björk — you 12, Ann 30``."""
    you = esc(asker) if shared else "you"
    return f"{esc(a.name)} — {you} {a.your_plays}, {esc(member)} {a.their_plays}"


def taste_shared_title(t: Taste) -> str:
    if not t.shared_count:
        return "No artists in common yet."
    more = f" (the top {len(t.shared)})" if t.shared_count > len(t.shared) else ""
    return f"{plural(t.shared_count, 'artist')} in common{more}:"


def taste_tries(
    t: Taste, *, esc: Callable[[str], str] = _same, shared: bool = False
) -> list[tuple[str, str]]:
    """(who, artists) lines: what each could try from the other; empty sides are left out."""
    you = esc(t.asker) if shared else "You"
    out = []
    if t.you_could_try:
        out.append((f"{you} could try (from {esc(t.member)})", ", ".join(esc(a) for a in t.you_could_try)))
    if t.they_could_try:
        from_you = esc(t.asker) if shared else "you"
        out.append(
            (f"{esc(t.member)} could try (from {from_you})", ", ".join(esc(a) for a in t.they_could_try))
        )
    return out


def taste_text(t: Taste, *, shared: bool = False) -> str:
    lines = [taste_title(t, shared=shared)]
    lines += [f"{label}: {value}" for label, value in taste_scores(t)]
    lines.append(taste_shared_title(t))
    lines += [f"  {shared_line(a, t.asker, t.member, shared=shared)}" for a in t.shared]
    lines += [f"{who}: {what}" for who, what in taste_tries(t, shared=shared)]
    return "\n".join(lines)


# --- help -----------------------------------------------------------------------------------------


def help_entries(
    entries: Sequence[HelpEntry], replace: Mapping[str, Sequence[HelpEntry]] | None = None
) -> list[HelpEntry]:
    """The service's commands (:meth:`Service.help`) as a platform has them: ``replace`` maps a
    command to the platform's own entries for it (none: the platform has no such command)."""
    out: list[HelpEntry] = []
    for e in entries:
        out += (replace or {}).get(e.command, (e,))
    return out


def help_usage(e: HelpEntry, prefix: str) -> str:
    return f"{prefix}{e.command}" + (f" {e.args}" if e.args else "")


def help_example(e: HelpEntry, prefix: str) -> str:
    return f"{prefix}{e.command} {e.example}" if e.example else ""


def help_line(e: HelpEntry, prefix: str, *, code: Callable[[str], str] = _same) -> str:
    """``/top [artists|tracks] … — a member's own chart (e.g. /top tracks 30d)``; ``code`` marks up
    the typed parts."""
    example = help_example(e, prefix)
    return f"{code(help_usage(e, prefix))} — {e.what}" + (f" (e.g. {code(example)})" if example else "")


def help_text(entries: Sequence[HelpEntry], prefix: Callable[[str], str], title: str) -> str:
    return "\n".join([title] + [help_line(e, prefix(e.command)) for e in entries])


# --- linked accounts: /link, /unlink, /links, the profile's link lines, notices ------------------


@dataclass(frozen=True)
class LinkCommands:
    """How a platform writes the link commands, for replies that say what to type next. ``link``
    and ``unlink`` are format strings with ``{source}`` (``listenbrainz``), ``{service}``
    (``ListenBrainz``), ``{account}`` (``link``) and ``{plays}`` (``unlink``: keep or delete);
    ``links`` is the status command as written."""

    link: str
    unlink: str
    links: str

    def link_command(self, source: str, account: str) -> str:
        """``account`` as it goes into the command (escaped by the caller as the platform needs)."""
        return self.link.format(source=source, service=LINK_SOURCE_NAMES[source], account=account)

    def unlink_command(self, source: str, plays: str) -> str:
        return self.unlink.format(source=source, service=LINK_SOURCE_NAMES[source], plays=plays)


CONSOLE_LINK_COMMANDS = LinkCommands("/link {source} {account}", "/unlink {source} {plays}", "/links")
LINKS_TITLE = "Your linked accounts here"
ACCOUNT_PLACEHOLDER = "<user name>"
DETAIL_LIMIT = 200  # characters of a failed sync's detail shown to the member
NOTICE_LABEL = "Notice"


def _count(n: int, word: str) -> str:
    """``1 play`` / ``1,234 plays``."""
    return f"1 {word}" if n == 1 else f"{n:,} {word}s"


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link_state(s: LinkStatus, now: dt.datetime, *, esc: Callable[[str], str] = _same) -> str:
    """How a linked account's sync stands: ``last synced 5 min ago, 1,234 plays``, ``waiting for its
    first sync``, ``copying its history: …``, a failure being retried (with what went wrong,
    escaped by ``esc``), or an account gone or hiding its listening."""
    plays = _count(s.plays, "play")
    synced = f"last synced {ago(s.last_sync, now)}" if s.last_sync is not None else ""
    so_far = f"{plays} synced, {synced}" if synced else "nothing synced yet"
    if s.state == LINK_WAITING:
        return f"linked {ago(s.linked_at, now)}, waiting for its first sync"
    if s.state == LINK_BACKFILLING:
        return f"copying its history: {plays} so far, {synced or 'not synced yet'}"
    if s.state == LINK_RETRYING:
        why = f" ({esc(_clipped(s.detail, DETAIL_LIMIT))})" if s.detail else ""
        return f"the last sync failed{why} and is tried again later; {so_far}"
    if s.state == LINK_GONE:
        return f"{s.source_name} has no such account (any more), so nothing new arrives; {so_far}"
    if s.state == LINK_PRIVATE:
        return f"the account hides its listening, so nothing new arrives; {so_far}"
    return f"{synced or 'up to date'}, {plays}"


def link_line(s: LinkStatus, now: dt.datetime, *, esc: Callable[[str], str] = _same) -> str:
    """``ListenBrainz: rob — last synced 5 min ago, 1,234 plays``: a line of /links and of the
    member's own profile."""
    return f"{s.source_name}: {esc(s.account)} — {link_state(s, now, esc=esc)}"


def no_links(commands: LinkCommands, *, code: Callable[[str], str] = _same) -> str:
    """/links without a linked account: what to type to link one."""
    placeholder = code(ACCOUNT_PLACEHOLDER)
    return (
        "You have no ListenBrainz or Last.fm account linked here. Link one and its plays arrive by "
        f"themselves: {commands.link_command('listenbrainz', placeholder)} or "
        f"{commands.link_command('lastfm', placeholder)}."
    )


def links_footer(statuses: Sequence[LinkStatus], commands: LinkCommands) -> str:
    """Under the list: how to stop one (``statuses``: the list, not empty)."""
    source = statuses[0].source
    return (
        "Their plays count here like the ones you log. "
        f"{commands.unlink_command(source, 'keep')} stops syncing it and keeps its plays; "
        f"{commands.unlink_command(source, 'delete')} removes them too."
    )


def notice_line(notice: str, *, esc: Callable[[str], str] = _same) -> str:
    """A pending notice about a linked account (:meth:`Service.pending_notices`), shown once."""
    return f"{NOTICE_LABEL}: {esc(notice)}"


def links_text(
    statuses: Sequence[LinkStatus],
    now: dt.datetime,
    commands: LinkCommands = CONSOLE_LINK_COMMANDS,
    notices: Sequence[str] = (),
    *,
    footer: str | None = None,
) -> str:
    """/links as plain text: a line per linked account and the ``footer`` (by default
    :func:`links_footer`), or how to link one; then the notices."""
    if not statuses:
        lines = [no_links(commands)]
    else:
        below = links_footer(statuses, commands) if footer is None else footer
        lines = [f"{LINKS_TITLE}:", *(link_line(s, now) for s in statuses), below]
    return "\n".join(lines + [notice_line(n) for n in notices])


def linked_text(
    r: Linked, now: dt.datetime, commands: LinkCommands, *, esc: Callable[[str], str] = _same
) -> str:
    """What /link did: a new link (its history arrives over the next syncs), a link again after an
    unlink that kept the plays (the sync goes on where it stopped), or the account linked already."""
    s = r.link
    account = esc(s.account)
    if r.already:
        return (
            f"Your {s.source_name} account {account} is already linked here: {link_state(s, now, esc=esc)}."
        )
    if r.resumed:
        return (
            f"Linked your {s.source_name} account {account} again. Its sync goes on where it stopped: "
            f"the {_count(s.plays, 'play')} it synced before are kept, not added twice."
        )
    return (
        f"Linked your {s.source_name} account {account}. Its listening history is copied into your "
        "plays here over the next syncs, then its new listens as they come; they count like the plays "
        f"you log. {commands.links} shows how far it is."
    )


UNLINK_FOLDED_NOTE = "/trending has counted some of them already and drops them at the next batch update."


def unlinked_text(
    u: Unlinked,
    commands: LinkCommands,
    *,
    esc: Callable[[str], str] = _same,
    code: Callable[[str], str] = _same,
) -> str:
    """What /unlink did with the synced plays, and how to get the other outcome: kept → link again
    and unlink with delete; deleted → linking again brings the whole history back. ``code`` writes
    the account name inside a command."""
    head = f"Unlinked your {u.source_name} account {esc(u.account)}: no new listens arrive from it."
    relink = commands.link_command(u.source, code(u.account))
    if u.kept:
        return (
            f"{head} The plays it synced stay in your history, like imported plays. To remove them as "
            f"well, link it again and unlink it with delete: {relink}, then "
            f"{commands.unlink_command(u.source, 'delete')}."
        )
    if u.removed == 0:
        return f"{head} It had not synced any plays, so none were removed."
    removed = "The one play it synced is" if u.removed == 1 else f"The {u.removed:,} plays it synced are"
    line = f"{head} {removed} removed from your history."
    if u.folded:
        line += " " + (FOLDED_NOTE if u.removed == 1 else UNLINK_FOLDED_NOTE)
    return f"{line} Linking it again ({relink}) brings its whole history back."


def with_notices(text: str, notices: Sequence[str]) -> str:
    """A private plain-text reply with the member's pending notices under it."""
    return "\n".join([text] + [notice_line(n) for n in notices])


# --- an upload: size, progress and summary --------------------------------------------------------


def file_size(n: int) -> str:
    """``100 MB``, ``2.5 MB``, ``512 KB``, ``12 bytes`` (binary units, as chat apps show sizes)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return plural(n, "byte")


def upload_too_large_text(name: str, size: int, cap: int, *, esc: Callable[[str], str] = _same) -> str:
    return (
        f"{esc(name)} is {file_size(size)}; I import uploads of up to {file_size(cap)}. "
        "Send your history in smaller parts (the JSON files of a Spotify ZIP one at a time, say)."
    )


def upload_progress_text(name: str, plays: int | None = None, *, esc: Callable[[str], str] = _same) -> str:
    """``Importing my_spotify_data.zip…``, then ``… 40,000 plays read``."""
    text = f"Importing {esc(name)}…"
    return text if plays is None else f"{text} {plays:,} {'play' if plays == 1 else 'plays'} read"


def upload_summary_text(name: str, s: UploadSummary, *, esc: Callable[[str], str] = _same) -> str:
    """What an upload added to the member's history: imported, duplicates, skipped by reason and,
    if any, the rows that could not be read (the first few with their line)."""
    skipped = sum(s.skipped.values())
    detail = ", ".join(f"{reason} {n:,}" for reason, n in sorted(s.skipped.items()))
    lines = [
        f"Import finished: {esc(name)}, {s.what}.",
        f"Imported: {s.imported:,} new {'play' if s.imported == 1 else 'plays'}",
        f"Duplicates: {s.duplicates:,} (already in your history)",
        f"Skipped: {skipped:,}" + (f" ({detail})" if detail else ""),
    ]
    if s.rejected:
        shown = "; ".join(f"line {line}: {esc(reason)}" for line, reason in s.first_rejects)
        more = f"; {s.rejected - len(s.first_rejects):,} more" if s.rejected > len(s.first_rejects) else ""
        lines.append(f"Not readable: {s.rejected:,} ({shown}{more})")
    return "\n".join(lines)
