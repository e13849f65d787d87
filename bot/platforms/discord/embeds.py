"""Discord embeds for the service's answers and the daily digest. User text is escaped (markdown
neutralised, mentions defused), and every field is clipped to Discord's limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import discord

from bot import render
from bot.parsing import UserError
from bot.platforms.discord import help as discord_help
from bot.service import (
    FEEDBACK_DOWN,
    Digest,
    FeedbackResult,
    HelpEntry,
    HiddenReset,
    Knower,
    Linked,
    LinkStatus,
    LoggedPlay,
    MemberChart,
    Neighbours,
    PlayResult,
    Profile,
    RecentPlays,
    Recommendations,
    Removal,
    Similar,
    Taste,
    Trending,
    Unlinked,
    WhoKnows,
)

COLOUR = discord.Colour(0x8B5CF6)
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TITLE_LIMIT = 256
CHART_FILENAME = "tastemaker-digest.png"
TOP_CHART_FILENAME = "tastemaker-top.png"


def esc(text: str) -> str:
    """User text shown in an embed: markdown neutralised, mentions defused (belt and braces: the
    client never allows mentions, and embeds do not ping)."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines_within(lines: list[str], limit: int = EMBED_DESCRIPTION_LIMIT) -> str:
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        more = f"… and {len(lines) - n} more"
        if size + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def played_embed(r: PlayResult) -> discord.Embed:
    shown = dataclasses.replace(
        r,
        artist=esc(r.artist),
        track=esc(r.track) if r.track else None,
        corrected_from=esc(r.corrected_from) if r.corrected_from else None,
    )
    title = "Already logged" if r.duplicate else "Play logged"
    return discord.Embed(title=title, description=render.played_text(shown), colour=COLOUR)


RESET_HIDDEN = "/recommend reset_hidden:True"


def recommend_embed(r: Recommendations) -> discord.Embed:
    """The picks; the footer has the note and how many items the member hid (and how to reset)."""
    title = render.recommend_title(r)
    lines = [render.pick_line(p, esc=esc, rank=lambda n: f"**{n}.**") for p in r.picks]
    if not lines:
        lines = [r.note or "Nothing to recommend yet."]
    embed = discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)
    footer = [r.note] if r.note and r.picks else []
    if r.hidden:
        footer.append(render.hidden_line(r.kind, r.hidden, RESET_HIDDEN))
    if footer:
        embed.set_footer(text=clip("\n".join(footer), 2048))
    return embed


def feedback_embed(r: FeedbackResult) -> discord.Embed:
    """What a 👍 / 👎 under /recommend did (only the member sees it)."""
    title = "Pick hidden" if r.verdict == FEEDBACK_DOWN else "Pick liked"
    text = render.feedback_text(r, RESET_HIDDEN, esc=lambda t: esc(clip(t, 1000)), bold=lambda t: f"**{t}**")
    return discord.Embed(title=title, description=text, colour=COLOUR)


def reset_embed(r: HiddenReset) -> discord.Embed:
    """What ``/recommend reset_hidden:True`` brought back."""
    return discord.Embed(title="Hidden picks", description=render.reset_text(r), colour=COLOUR)


def trending_embed(t: Trending) -> discord.Embed:
    title = f"Trending {render.KIND_LABEL[t.kind]} in {t.community} — {render.WINDOW_LABEL[t.window]}"
    lines = []
    for e in t.entries:
        lines.append(
            render.trend_line(e, name=esc(e.name), rank=lambda n: f"**{n}.**", marker=lambda m: f"`{m}`")
        )
    if not lines:
        lines = [t.note or "Nothing yet."]
    embed = discord.Embed(
        title=clip(title, EMBED_TITLE_LIMIT), description=_lines_within(lines), colour=COLOUR
    )
    if t.rising is not None:
        embed.add_field(
            name="Rising",
            value=clip(
                f"{esc(t.rising.name)} ({t.rising.prev_plays} → {t.rising.plays} plays, "
                f"growth {t.rising.growth:+.2f})",
                1024,
            ),
            inline=False,
        )
    if t.note and t.entries:
        embed.set_footer(text=clip(t.note, 2048))
    return embed


def digest_embed(d: Digest, *, chart: bool) -> discord.Embed:
    """The daily post: top tracks and artists with movement, the riser, new artists, the chart."""
    title = clip(f"Daily trending in {d.community} — {d.day.isoformat()} (UTC)", EMBED_TITLE_LIMIT)
    if d.empty:
        return discord.Embed(
            title=title,
            description="A quiet day: nobody logged a play. Use /played to get tomorrow's chart going!",
            colour=COLOUR,
        )

    def lines(entries: list[Any]) -> str:
        out = []
        for e in entries:
            marker = render.movement_marker(e)
            out.append(
                f"**{e.rank}.** {esc(e.name)} — {render.plural(e.plays, 'play')}"
                + (f"  `{marker}`" if marker else "")
            )
        return clip("\n".join(out), 1024) or "—"

    embed = discord.Embed(title=title, colour=COLOUR)
    embed.add_field(name="Top tracks", value=lines(d.top_tracks), inline=False)
    embed.add_field(name="Top artists", value=lines(d.top_artists), inline=False)
    if d.rising is not None:
        embed.add_field(
            name="Fastest riser",
            value=clip(f"{esc(d.rising.name)} ({d.rising.prev_plays} → {d.rising.plays} plays)", 1024),
            inline=False,
        )
    if d.new_artists:
        embed.add_field(
            name="New to the server",
            value=clip(", ".join(esc(a) for a in d.new_artists), 1024),
            inline=False,
        )
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILENAME}")
    return embed


def fit(text: str, limit: int) -> str:
    """``esc(text)``, the text shortened (``…``) until the escaped form fits ``limit``."""
    shown = esc(text)
    while len(shown) > limit and text:
        text = text[:-1]
        shown = esc(text) + "…"
    return shown


PLAYS_FOOTER = "Remove n takes play n back; /undo takes back the last one."


def plays_embed(plays: Sequence[LoggedPlay], now: dt.datetime, platform: str) -> discord.Embed:
    """/plays: numbered like the "Remove n" buttons under it, newest first."""
    if not plays:
        return discord.Embed(title="Your plays", description=render.NO_PLAYS, colour=COLOUR)
    # Every line fits, however long the names: the buttons are numbered by these lines.
    per_name = max(20, EMBED_DESCRIPTION_LIMIT // len(plays) - 100)
    lines = [
        render.play_line(n, p, now, platform, esc=lambda t: fit(t, per_name), rank=lambda k: f"**{k}.**")
        for n, p in enumerate(plays, 1)
    ]
    embed = discord.Embed(title=render.plays_title(plays), description=_lines_within(lines), colour=COLOUR)
    embed.set_footer(text=PLAYS_FOOTER)
    return embed


def removal_embed(r: Removal, now: dt.datetime, platform: str) -> discord.Embed:
    """What /undo or a "Remove n" button took back."""
    text = render.removal_text(r, now, platform, esc=lambda t: fit(t, 1000))
    return discord.Embed(title="Play removed", description=text, colour=COLOUR)


# --- members: /whoknows, /top, /recent, /profile, /privacy, /help ----------------------------------

EMBED_FIELD_LIMIT = 1024
TITLE_NAME_LIMIT = 150  # escaped characters of a name in an embed title


def _per_name(lines: int) -> int:
    """Escaped characters each name of a list may take so that every line fits the description."""
    return max(20, EMBED_DESCRIPTION_LIMIT // max(1, lines) - 100)


def _bold_rank(n: int) -> str:
    return f"**{n}.**"


def _title_name(text: str) -> str:
    return fit(text, TITLE_NAME_LIMIT)


def _bold(text: str) -> str:
    return f"**{text}**"


def whoknows_embed(w: WhoKnows, now: dt.datetime) -> discord.Embed:
    """/whoknows, in the channel: the top listeners here, the asker's own row (in bold) under them
    when lower."""
    title = clip(render.whoknows_title(w, esc=_title_name), EMBED_TITLE_LIMIT)
    if w.empty:
        return discord.Embed(
            title=title, description=render.whoknows_empty(w, esc=_title_name), colour=COLOUR
        )
    rows = list(w.top) + ([w.you] if w.you is not None else [])
    per_name = _per_name(len(rows) + 1)

    def line(k: Knower) -> str:
        return render.knower_line(k, now, esc=lambda t: fit(t, per_name), rank=_bold_rank, you=_bold)

    lines = [line(k) for k in w.top]
    if w.you is not None:
        lines += [render.YOUR_RANK, line(w.you)]
    embed = discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)
    embed.set_footer(text=render.whoknows_summary(w))
    return embed


def chart_embed(c: MemberChart, *, picture: bool = False) -> discord.Embed:
    """/top, in the channel: a member's chart for a period, with play counts (or a friendly line);
    with ``picture``, its image is the chart's PNG attached as ``TOP_CHART_FILENAME``."""
    title = clip(render.chart_title(c, esc=_title_name, shared=True), EMBED_TITLE_LIMIT)
    if not c.entries:
        empty = render.chart_empty(c, esc=_title_name, shared=True)
        return discord.Embed(title=title, description=empty, colour=COLOUR)
    per_name = _per_name(len(c.entries))
    lines = [render.chart_line(e, esc=lambda t: fit(t, per_name), rank=_bold_rank) for e in c.entries]
    embed = discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)
    if picture:
        embed.set_image(url=f"attachment://{TOP_CHART_FILENAME}")
    return embed


def recent_embed(r: RecentPlays, now: dt.datetime) -> discord.Embed:
    """/recent, in the channel: a member's last plays, newest first, with when."""
    if not r.entries:
        title = clip(
            f"{render.owner(r.member, r.is_you, esc=_title_name, shared=True)} plays", EMBED_TITLE_LIMIT
        )
        empty = render.no_plays(r.member, r.is_you, esc=_title_name, shared=True)
        return discord.Embed(title=title, description=empty, colour=COLOUR)
    per_name = _per_name(len(r.entries))
    lines = [
        render.recent_line(n, e, now, esc=lambda t: fit(t, per_name), rank=_bold_rank)
        for n, e in enumerate(r.entries, 1)
    ]
    title = clip(render.recent_title(r, esc=_title_name, shared=True), EMBED_TITLE_LIMIT)
    return discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)


def profile_embed(p: Profile) -> discord.Embed:
    """/profile, in the channel: totals, member since, streaks and top artist as fields (or a
    friendly line)."""
    title = clip(render.profile_title(p, esc=_title_name, shared=True), EMBED_TITLE_LIMIT)
    if p.plays == 0:
        empty = render.no_plays(p.member, p.is_you, esc=_title_name, shared=True)
        return discord.Embed(title=title, description=empty, colour=COLOUR)
    embed = discord.Embed(title=title, colour=COLOUR)
    for label, value in render.profile_fields(p, esc=lambda t: fit(t, 500)):
        embed.add_field(name=label, value=clip(value, EMBED_FIELD_LIMIT), inline=True)
    return embed


def privacy_embed(private: bool) -> discord.Embed:
    """What ``/privacy`` did, and how to undo it."""
    text = render.privacy_text(private, discord_help.PRIVACY_SWITCH[private])
    return discord.Embed(title="Privacy", description=text, colour=COLOUR)


def help_embed(entries: Sequence[HelpEntry]) -> discord.Embed:
    """/help: every command with its example, from the service's list."""
    lines = [
        render.help_line(e, discord_help.PREFIX, code=lambda t: f"`{t}`")
        for e in discord_help.entries(entries)
    ]
    return discord.Embed(title=discord_help.TITLE, description=_lines_within(lines), colour=COLOUR)


# --- taste: /neighbours, /similar, /taste -----------------------------------------------------------

EMBED_FIELD_NAME_LIMIT = 256
PAIR_NAME_LIMIT = 110  # escaped characters of each of the two names in /taste's title
TRY_NAME_LIMIT = 100  # escaped characters of a name in /taste's "could try" fields (3 to a field)


def neighbours_embed(n: Neighbours) -> discord.Embed:
    """/neighbours, in the channel: the members closest to the asker, each with a match and the
    artists both play, and a footer saying what the match is; none: the service's note."""
    title = clip(render.neighbours_title(n, esc=_title_name, shared=True), EMBED_TITLE_LIMIT)
    if n.empty:
        return discord.Embed(title=title, description=n.note, colour=COLOUR)
    # Every name of a line (the neighbour and up to 3 shared artists) shares the line's budget.
    names = 1 + max(len(nb.shared) for nb in n.entries)
    per_name = _per_name(len(n.entries)) // names
    lines = [render.neighbour_line(nb, esc=lambda t: fit(t, per_name), rank=_bold_rank) for nb in n.entries]
    embed = discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)
    embed.set_footer(text=render.neighbours_footer())
    return embed


def similar_embed(s: Similar) -> discord.Embed:
    """/similar, in the channel: what this community plays that is like the item (or the service's
    note, which may quote what was typed: escaped)."""
    title = clip(render.similar_title(s, esc=_title_name), EMBED_TITLE_LIMIT)
    if s.empty:
        return discord.Embed(
            title=title, description=clip(esc(s.note), EMBED_DESCRIPTION_LIMIT), colour=COLOUR
        )
    per_name = _per_name(len(s.entries))
    lines = [render.similar_line(e, esc=lambda t: fit(t, per_name), rank=_bold_rank) for e in s.entries]
    return discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)


def taste_embed(t: Taste) -> discord.Embed:
    """/taste, in the channel: the two scores (each saying what it is), the artists both play with
    both counts, and what each could try from the other, as fields."""
    title = clip(render.taste_title(t, esc=lambda x: fit(x, PAIR_NAME_LIMIT), shared=True), EMBED_TITLE_LIMIT)
    embed = discord.Embed(title=title, colour=COLOUR)
    for label, value in render.taste_scores(t):
        embed.add_field(name=label, value=clip(value, EMBED_FIELD_LIMIT), inline=False)
    if t.shared:
        # Three names a line (the artist and both members), ten lines at most, in one field.
        per_name = max(10, (EMBED_FIELD_LIMIT // len(t.shared) - 24) // 3)
        lines = [
            render.shared_line(a, t.asker, t.member, esc=lambda x: fit(x, per_name), shared=True)
            for a in t.shared
        ]
        label = render.taste_shared_title(t).removesuffix(":")
        embed.add_field(name=label, value=_lines_within(lines, EMBED_FIELD_LIMIT), inline=False)
    else:
        embed.add_field(name="In common", value=render.taste_shared_title(t), inline=False)
    for who, what in render.taste_tries(t, esc=lambda x: fit(x, TRY_NAME_LIMIT), shared=True):
        embed.add_field(
            name=clip(who, EMBED_FIELD_NAME_LIMIT), value=clip(what, EMBED_FIELD_LIMIT), inline=False
        )
    return embed


# --- linked accounts: /link, /unlink, /links (only to the member) ----------------------------------

ACCOUNT_LIMIT = 200  # escaped characters of an account name (the service allows 64)
NOTICES_SHOWN = 5  # notice fields per answer (a member has at most one per linked account)
PROFILE_LINKS_NOTE = "Only you see this: your profile in the channel leaves your linked accounts out."


def _account(text: str) -> str:
    return fit(text, ACCOUNT_LIMIT)


def _in_code(text: str) -> str:
    """An account name inside a command written as code (markdown is shown as typed there)."""
    return clip(discord.utils.escape_mentions(text), ACCOUNT_LIMIT)


def _with_notices(embed: discord.Embed, notices: Sequence[str]) -> discord.Embed:
    """The member's pending notices (each shown once) as fields under the answer."""
    for notice in notices[:NOTICES_SHOWN]:
        embed.add_field(name=render.NOTICE_LABEL, value=clip(esc(notice), EMBED_FIELD_LIMIT), inline=False)
    return embed


def linked_embed(r: Linked, now: dt.datetime, notices: Sequence[str] = ()) -> discord.Embed:
    """What /link did, and the member's pending notices under it."""
    text = render.linked_text(r, now, discord_help.LINK_COMMANDS, esc=_account)
    title = "Already linked" if r.already else "Account linked"
    return _with_notices(discord.Embed(title=title, description=text, colour=COLOUR), notices)


def unlinked_embed(u: Unlinked, notices: Sequence[str] = ()) -> discord.Embed:
    """What /unlink did with the synced plays, and how to get the other outcome."""
    text = render.unlinked_text(u, discord_help.LINK_COMMANDS, esc=_account, code=_in_code)
    return _with_notices(discord.Embed(title="Account unlinked", description=text, colour=COLOUR), notices)


def links_embed(
    statuses: Sequence[LinkStatus], now: dt.datetime, notices: Sequence[str] = (), *, profile: bool = False
) -> discord.Embed:
    """/links: a line per linked account with how its sync stands (or how to link one), then the
    pending notices. With ``profile``, the private part of the member's own /profile (the public
    profile leaves the accounts out), saying so in the footer."""
    commands = discord_help.LINK_COMMANDS
    if not statuses:
        embed = discord.Embed(title=render.LINKS_TITLE, description=render.no_links(commands), colour=COLOUR)
        return _with_notices(embed, notices)
    lines = [render.link_line(s, now, esc=_account) for s in statuses]
    if not profile:
        lines.append(render.links_footer(statuses, commands))
    embed = discord.Embed(title=render.LINKS_TITLE, description=_lines_within(lines), colour=COLOUR)
    if profile:
        embed.set_footer(text=PROFILE_LINKS_NOTE)
    return _with_notices(embed, notices)


def error_text(exc: UserError) -> str:
    return f"Sorry — {exc}"


def escaped_error_text(exc: UserError) -> str:
    """A refusal that names what the member typed (``… was already removed``): markdown and
    mentions in it are shown as typed."""
    return clip(f"Sorry — {esc(str(exc))}", 2000)
