"""Block Kit rendering for Slack, and the escaping that keeps user text from pinging anyone.

Every message is Block Kit ``blocks`` plus an escaped plain-text ``text`` fallback rendered by
:mod:`bot.render`. Pure functions of the service's dataclasses (no SDK here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from bot import render
from bot.platforms.slack.questions import ACTION_AS_TYPED, ACTION_EXISTING
from bot.service import (
    FEEDBACK_DOWN,
    FeedbackResult,
    HelpEntry,
    HiddenReset,
    Linked,
    LinkStatus,
    LoggedPlay,
    MemberChart,
    Neighbours,
    Pick,
    PlayResult,
    Profile,
    Question,
    RecentPlays,
    Recommendations,
    Removal,
    Service,
    Similar,
    Taste,
    Trending,
    Unlinked,
    WhoKnows,
)

SECTION_LIMIT = 3000  # characters of mrkdwn per section block
HEADER_LIMIT = 150  # characters of plain text per header block
MAX_BLOCKS = 50
BUTTON_LIMIT = 75  # characters of plain text on a button
# The "Remove" button under each play of /tastemaker plays; its value is the play's id.
REMOVE_ACTION = "tastemaker_remove_play"
REMOVE_LABEL = "Remove"
# The 👍 / 👎 buttons under each /recommend pick; their value is ``<kind>:<item id>``.
PICK_LIKE_ACTION = "recommend_like"
PICK_HIDE_ACTION = "recommend_hide"
PICK_ACTION_PATTERN = r"^recommend_(like|hide)$"
RESET_HIDDEN = "/recommend reset-hidden"
PLAY_NAME_LIMIT = SECTION_LIMIT - 200  # escaped characters of a play's name in its section

HELP_TITLE = "tastemaker — log what you listen to, see what your workspace is into."
# Slash commands of their own; every other command is a /tastemaker subcommand.
TOP_LEVEL = ("played", "recommend", "trending")
HELP_REPLACE = {
    "import": (
        HelpEntry(
            "import",
            "",
            "how to add your own history: send me a Spotify, ListenBrainz or Last.fm export in a "
            "direct message",
            "",
        ),
    ),
    "digest": (
        HelpEntry(
            "digest",
            "here HH:MM [Zone] | off | status",
            "the daily digest in this channel (workspace admins)",
            "here 09:00 Europe/Berlin",
        ),
    ),
}
NAME_LIMIT = 500  # escaped characters of one name (a member, an artist, a track) in a list line
PRIVACY_SWITCH = {True: "`/tastemaker privacy public`", False: "`/tastemaker privacy private`"}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters, so user text
    such as ``<!channel>`` or ``<@U123>`` is shown literally and never pings anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _sections(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Pack lines into as few section blocks as fit Slack's 3000-character limit."""
    blocks: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = line if len(line) <= SECTION_LIMIT else line[: SECTION_LIMIT - 1] + "…"
        if chunk and size + 1 + len(line) > SECTION_LIMIT:
            blocks.append(mrkdwn("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(mrkdwn("\n".join(chunk)))
    return blocks


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message with Block Kit ``blocks`` and the escaped plain-text ``text`` fallback."""
    return {"text": escape(text), "blocks": blocks[:MAX_BLOCKS]}


def text_message(text: str) -> dict[str, Any]:
    """Plain text (escaped) as one section."""
    return message(text, [mrkdwn(escape(text))])


def played_message(r: PlayResult) -> dict[str, Any]:
    what = escape(f"{r.artist} – {r.track}" if r.track else r.artist)
    if r.duplicate:
        blocks = [mrkdwn(f":repeat: Already logged *{what}*.")]
    else:
        blocks = [mrkdwn(f":headphones: Logged *{what}* — your {render.ordinal(r.plays_by_member)} play.")]
        if r.corrected_from:
            blocks.append(_context(f"Matched “{escape(r.corrected_from)}” to the existing entry."))
    return message(render.played_text(r), blocks)


def _pick_buttons(kind: str, p: Pick) -> dict[str, Any]:
    """A pick's 👍 / 👎: an actions block whose buttons carry ``<kind>:<item id>``."""
    value = f"{kind}:{p.item_id}"
    return {
        "type": "actions",
        "block_id": f"pick_{p.rank}",
        "elements": [
            _button(PICK_LIKE_ACTION, render.THUMBS_UP, value),
            _button(PICK_HIDE_ACTION, render.THUMBS_DOWN, value),
        ],
    }


def recommend_message(r: Recommendations) -> dict[str, Any]:
    """The picks: the first :data:`~bot.render.FEEDBACK_PICKS` each in a section of its own with
    its 👍 / 👎 under it, the rest packed; then how many items the member hid, and how to reset."""
    blocks: list[dict[str, Any]] = [_header(render.recommend_title(r))]
    if r.note:
        blocks.append(_context(escape(r.note)))

    def line(p: Pick) -> str:
        return render.pick_line(p, esc=escape, rank=lambda n: f"*{n}.*", reason=lambda t: f"_{t}_")

    rated = [p for p in r.picks if p.item_id is not None][: render.FEEDBACK_PICKS]
    for p in rated:
        blocks += [mrkdwn(_clipped(line(p))), _pick_buttons(r.kind, p)]
    blocks += _sections(line(p) for p in r.picks if p not in rated)
    if not r.picks and not r.note:
        blocks.append(mrkdwn("Nothing to recommend yet."))
    if r.hidden:
        blocks.append(_context(escape(render.hidden_line(r.kind, r.hidden, f"`{RESET_HIDDEN}`"))))
    return message(render.recommend_text(r, reset=RESET_HIDDEN), blocks)


def feedback_message(r: FeedbackResult) -> dict[str, Any]:
    """What a 👍 / 👎 under /recommend did."""
    text = render.feedback_text(
        r, f"`{RESET_HIDDEN}`", esc=lambda t: _escaped(t, NAME_LIMIT), bold=lambda t: f"*{t}*"
    )
    emoji = render.THUMBS_DOWN if r.verdict == FEEDBACK_DOWN else render.THUMBS_UP
    return message(render.feedback_text(r, RESET_HIDDEN), [mrkdwn(f"{emoji} {text}")])


def reset_message(r: HiddenReset) -> dict[str, Any]:
    """What ``/recommend reset-hidden`` brought back."""
    return text_message(render.reset_text(r))


def _clipped(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"


def trending_message(t: Trending) -> dict[str, Any]:
    head = f"Trending {render.KIND_LABEL[t.kind]} — {render.WINDOW_LABEL[t.window]}"
    blocks: list[dict[str, Any]] = [_header(head), _context(f"in {escape(t.community)}")]
    if not t.entries:
        blocks.append(mrkdwn(escape(t.note or "Nothing yet.")))
        return message(render.trending_text(t), blocks)
    lines = []
    for e in t.entries:
        lines.append(
            render.trend_line(e, name=escape(e.name), rank=lambda n: f"*{n}.*", marker=lambda m: f"`{m}`")
        )
    blocks += _sections(lines)
    if t.rising is not None:
        blocks.append(
            _context(
                f":chart_with_upwards_trend: Rising: *{escape(t.rising.name)}* "
                f"({t.rising.prev_plays} → {t.rising.plays} plays)"
            )
        )
    if t.note:
        blocks.append(_context(escape(t.note)))
    return message(render.trending_text(t), blocks)


def _fit(prefix: str, name: str, limit: int) -> str:
    """``prefix + name`` escaped, the name shortened (``…``) until the whole fits ``limit``."""
    shown = escape(prefix + name)
    while len(shown) > limit and name:
        name = name[:-1]
        shown = escape(prefix + name + "…")
    return shown


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": False},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def question_message(q: Question, value: str | None) -> dict[str, Any]:
    """A near miss: the question and two buttons ("Yes, <candidate>" / "No, log <typed>") that
    carry ``value`` back; without a value (too long for a button), the text saying what to type."""
    if value is None:
        return message(q.text(), [mrkdwn(f":thinking_face: {escape(q.text())}")])
    ask = f"Did you mean *{escape(q.candidate)}*? You typed *{escape(q.typed)}*. Nothing is logged yet."
    if len(ask) > SECTION_LIMIT:
        ask = ask[: SECTION_LIMIT - 1] + "…"
    blocks = [
        mrkdwn(f":thinking_face: {ask}"),
        {
            "type": "actions",
            "block_id": "played_question",
            "elements": [
                _button(ACTION_EXISTING, _fit("Yes, ", q.candidate, BUTTON_LIMIT), value, "primary"),
                _button(ACTION_AS_TYPED, _fit("No, log ", q.typed, BUTTON_LIMIT), value),
            ],
        },
    ]
    return message(f"Did you mean {q.candidate}? Nothing is logged yet.", blocks)


def _escaped(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn, shortened (``…``) until the escaped form fits ``limit`` (never
    cutting an entity in half)."""
    shown = escape(text)
    while len(shown) > limit and text:
        text = text[:-1]
        shown = escape(text + "…")
    return shown


def plays_message(plays: Sequence[LoggedPlay], now: dt.datetime, platform: str) -> dict[str, Any]:
    """/tastemaker plays: one section per play, newest first, each with a "Remove" button whose
    value is the play's id (the press is judged by the service: only its own member can remove it)."""
    if not plays:
        return message(render.NO_PLAYS, [mrkdwn(escape(render.NO_PLAYS))])
    blocks: list[dict[str, Any]] = [mrkdwn(f"*{escape(render.plays_title(plays))}*")]
    for n, p in enumerate(plays[: MAX_BLOCKS - 2], 1):
        line = render.play_line(
            n, p, now, platform, esc=lambda t: _escaped(t, PLAY_NAME_LIMIT), rank=lambda k: f"*{k}.*"
        )
        section = mrkdwn(line)
        section["block_id"] = f"play_{p.id}"
        section["accessory"] = _button(REMOVE_ACTION, REMOVE_LABEL, str(p.id), "danger")
        blocks.append(section)
    blocks.append(_context("*Remove* takes that play back; `/tastemaker undo` takes back the last one."))
    return message(render.plays_text(plays, now, platform, hint=""), blocks)


def removal_message(r: Removal, now: dt.datetime, platform: str) -> dict[str, Any]:
    """What /tastemaker undo or a "Remove" button took back."""
    what = _escaped(render.play_what(r.play), PLAY_NAME_LIMIT)
    origin = escape(render.play_origin(r.play, now, platform))
    blocks = [mrkdwn(f":wastebasket: Removed *{what}* ({origin}). {render.plays_left(r)}")]
    if r.folded:
        blocks.append(_context(escape(render.FOLDED_NOTE)))
    return message(render.removal_text(r, now, platform), blocks)


def error_message(text: str) -> dict[str, Any]:
    return message(f"Sorry — {text}", [mrkdwn(f":warning: Sorry — {escape(text)}")])


def command_prefix(command: str) -> str:
    return "/" if command in TOP_LEVEL else "/tastemaker "


def help_entries(entries: Sequence[HelpEntry] | None = None) -> list[HelpEntry]:
    """Slack's commands, from :meth:`Service.help` (the digest is Slack's own)."""
    return render.help_entries(Service.help() if entries is None else entries, HELP_REPLACE)


def help_text(entries: Sequence[HelpEntry] | None = None) -> str:
    return render.help_text(help_entries(entries), command_prefix, HELP_TITLE)


def help_message(entries: Sequence[HelpEntry] | None = None, prefix: str = "") -> dict[str, Any]:
    """Every command with its example (``prefix``: a line above, e.g. "Unknown subcommand")."""
    lines = [f"*{escape(HELP_TITLE)}*"] + [
        "• " + escape(render.help_line(e, command_prefix(e.command), code=lambda t: f"`{t}`"))
        for e in help_entries(entries)
    ]
    blocks = ([mrkdwn(escape(prefix))] if prefix else []) + _sections(lines)
    return message((prefix + "\n" if prefix else "") + help_text(entries), blocks)


# --- members: whoknows, top, recent, profile, privacy ----------------------------------------------


def _name(text: str) -> str:
    return _escaped(text, NAME_LIMIT)


def _bold_rank(n: int) -> str:
    return f"*{n}.*"


def _bold(text: str) -> str:
    return f"*{text}*"


def whoknows_message(w: WhoKnows, now: dt.datetime) -> dict[str, Any]:
    """/tastemaker whoknows, shared with the channel: the top listeners here, the asker's own row
    (in bold) under them when lower."""
    if w.empty:
        return message(
            render.whoknows_text(w, now), [mrkdwn(f":shrug: {render.whoknows_empty(w, esc=_name)}")]
        )
    lines = [render.knower_line(k, now, esc=_name, rank=_bold_rank, you=_bold) for k in w.top]
    if w.you is not None:
        lines += [render.YOUR_RANK, render.knower_line(w.you, now, esc=_name, rank=_bold_rank, you=_bold)]
    blocks = [mrkdwn(f":headphones: *{render.whoknows_title(w, esc=_name)}*")]
    blocks += _sections(lines)
    blocks.append(_context(escape(render.whoknows_summary(w))))
    return message(render.whoknows_text(w, now, you=lambda name: name), blocks)


def chart_message(c: MemberChart) -> dict[str, Any]:
    """/tastemaker top, shared with the channel: a member's chart for a period, with play counts."""
    if not c.entries:
        return message(
            render.chart_text(c, shared=True), [mrkdwn(render.chart_empty(c, esc=_name, shared=True))]
        )
    blocks = [mrkdwn(f":bar_chart: *{render.chart_title(c, esc=_name, shared=True)}*")]
    blocks += _sections(render.chart_line(e, esc=_name, rank=_bold_rank) for e in c.entries)
    return message(render.chart_text(c, shared=True), blocks)


def chart_comment(c: MemberChart) -> str:
    """/tastemaker top … chart: the chart message's mrkdwn as one text, the comment its picture is
    shared with (a file's comment takes no blocks)."""
    return "\n".join(b["text"]["text"] for b in chart_message(c)["blocks"])


def recent_message(r: RecentPlays, now: dt.datetime) -> dict[str, Any]:
    """/tastemaker recent, shared with the channel: a member's last plays, newest first, with when."""
    if not r.entries:
        return message(
            render.recent_text(r, now, shared=True),
            [mrkdwn(render.no_plays(r.member, r.is_you, esc=_name, shared=True))],
        )
    blocks = [mrkdwn(f":notes: *{render.recent_title(r, esc=_name, shared=True)}*")]
    blocks += _sections(
        render.recent_line(n, e, now, esc=_name, rank=_bold_rank) for n, e in enumerate(r.entries, 1)
    )
    return message(render.recent_text(r, now, shared=True), blocks)


def profile_message(p: Profile) -> dict[str, Any]:
    """/tastemaker profile, shared with the channel: totals, member since, streaks and top artist
    (or a friendly line)."""
    text = render.profile_text(p, PRIVACY_SWITCH[True], shared=True)
    if p.plays == 0:
        return message(text, [mrkdwn(render.no_plays(p.member, p.is_you, esc=_name, shared=True))])
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{value}"}
        for label, value in render.profile_fields(p, esc=_name)
    ]
    blocks: list[dict[str, Any]] = [
        mrkdwn(f":bust_in_silhouette: *{render.profile_title(p, esc=_name, shared=True)}*"),
        {"type": "section", "fields": fields},
    ]
    return message(text, blocks)


def privacy_message(private: bool) -> dict[str, Any]:
    """What ``/tastemaker privacy private|public`` did, and how to undo it."""
    text = render.privacy_text(private, PRIVACY_SWITCH[private])
    return message(text, [mrkdwn(f":lock: {escape(text)}" if private else f":unlock: {escape(text)}")])


# --- taste: neighbours, similar, taste --------------------------------------------------------------


def neighbours_message(n: Neighbours) -> dict[str, Any]:
    """/tastemaker neighbours, shared with the channel: the asker's closest listeners here, each with
    the artists both play, and what the match is (or the service's friendly note)."""
    if n.empty:
        return message(n.note, [mrkdwn(_escaped(n.note, SECTION_LIMIT))])
    blocks = [mrkdwn(f":busts_in_silhouette: *{render.neighbours_title(n, esc=_name, shared=True)}*")]
    blocks += _sections(render.neighbour_line(e, esc=_name, rank=_bold_rank) for e in n.entries)
    blocks.append(_context(escape(render.neighbours_footer())))
    return message(render.neighbours_text(n, shared=True), blocks)


def similar_message(s: Similar) -> dict[str, Any]:
    """/tastemaker similar, shared with the channel: what this community plays that is like an
    artist or a track (or the service's friendly note, which may quote what was typed)."""
    if s.empty:
        return message(s.note, [mrkdwn(_escaped(s.note, SECTION_LIMIT))])
    blocks = [mrkdwn(f":link: *{render.similar_title(s, esc=_name)}*")]
    blocks += _sections(render.similar_line(e, esc=_name, rank=_bold_rank) for e in s.entries)
    return message(render.similar_text(s), blocks)


def taste_message(t: Taste) -> dict[str, Any]:
    """/tastemaker taste, shared with the channel: the two scores (each saying what it is), the
    artists both play with both counts, and what each could try from the other."""
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"} for label, value in render.taste_scores(t)
    ]
    blocks: list[dict[str, Any]] = [
        mrkdwn(f":handshake: *{render.taste_title(t, esc=_name, shared=True)}*"),
        {"type": "section", "fields": fields},
    ]
    lines = [f"*{escape(render.taste_shared_title(t))}*"]
    lines += ["• " + render.shared_line(a, t.asker, t.member, esc=_name, shared=True) for a in t.shared]
    blocks += _sections(lines)
    tries = [f"*{who}:* {what}" for who, what in render.taste_tries(t, esc=_name, shared=True)]
    blocks += _sections(tries)
    return message(render.taste_text(t, shared=True), blocks)


# --- linked accounts: link, unlink, links (answered only to the member) ----------------------------

LINK_COMMANDS = render.LinkCommands(
    "`/tastemaker link {source} {account}`",
    "`/tastemaker unlink {source} {plays}`",
    "`/tastemaker links`",
)
PROFILE_LINKS_NOTE = "Only you see this: your profile in the channel leaves your linked accounts out."


def _notices(notices: Sequence[str]) -> list[dict[str, Any]]:
    return [mrkdwn(f":warning: {_escaped(render.notice_line(n), SECTION_LIMIT - 20)}") for n in notices]


def linked_message(r: Linked, now: dt.datetime, notices: Sequence[str] = ()) -> dict[str, Any]:
    """What ``/tastemaker link`` did, and the member's pending notices under it."""
    shown = render.linked_text(r, now, LINK_COMMANDS, esc=_name)
    text = render.linked_text(r, now, LINK_COMMANDS)
    return message(render.with_notices(text, notices), [mrkdwn(f":link: {shown}"), *_notices(notices)])


def unlinked_message(u: Unlinked, notices: Sequence[str] = ()) -> dict[str, Any]:
    """What ``/tastemaker unlink`` did with the synced plays, and how to get the other outcome."""
    shown = render.unlinked_text(u, LINK_COMMANDS, esc=_name, code=_name)
    text = render.unlinked_text(u, LINK_COMMANDS)
    return message(render.with_notices(text, notices), [mrkdwn(f":scissors: {shown}"), *_notices(notices)])


def links_message(
    statuses: Sequence[LinkStatus], now: dt.datetime, notices: Sequence[str] = (), *, profile: bool = False
) -> dict[str, Any]:
    """``/tastemaker links``: a line per linked account with how its sync stands (or how to link
    one), then the pending notices. With ``profile``, the private part of the member's own
    ``/tastemaker profile`` (the shared profile leaves the accounts out), saying so."""
    footer = PROFILE_LINKS_NOTE if profile else None
    text = render.links_text(statuses, now, LINK_COMMANDS, notices, footer=footer)
    if not statuses:
        blocks = [mrkdwn(render.no_links(LINK_COMMANDS, code=escape)), *_notices(notices)]
        return message(text, blocks)
    footer = footer or render.links_footer(statuses, LINK_COMMANDS)
    blocks = [mrkdwn(f":link: *{render.LINKS_TITLE}*")]
    blocks += _sections(render.link_line(s, now, esc=_name) for s in statuses)
    blocks.append(_context(footer))
    blocks += _notices(notices)
    return message(text, blocks)
