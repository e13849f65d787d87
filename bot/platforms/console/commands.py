"""The chat commands on stdin/stdout, through the same service and rendering as the chat platforms.
Used by ``tastemaker chat`` and by the demo.

The member commands (``/whoknows``, ``/top``, ``/recent``, ``/profile``, ``/taste``) take a member as
their member id (what ``--member`` gives); ``/help`` is generated from :meth:`Service.help`.
``/link listenbrainz|lastfm <user>``, ``/unlink [source] [keep|delete]`` and ``/links`` manage the
member's linked accounts; the member's own ``/profile`` lists them too, and these four replies end
with the notices the member has not seen yet (an account gone or private, each shown once). With the
word ``chart`` (``/top tracks 7d chart``), ``/top`` also writes its chart as a PNG to a new file in the
temp folder and says where.

A session remembers three things between lines (the lists ``run_chat`` passes in): the ``/played``
text whose near-miss question the next line answers, the play ids of the last ``/plays`` listing,
which ``/remove <n>`` refers to by their number — the console's remove buttons — and the picks of
the last ``/recommend``, which ``/like <n>`` and ``/hide <n>`` rate (its 👍 / 👎 buttons);
``/recommend reset-hidden`` brings back the hidden ones."""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
from collections.abc import Callable, Iterable

from bot import render
from bot.errors import explain
from bot.parsing import (
    UserError,
    parse_recommend_args,
    parse_top_args,
    parse_trending_args,
    parse_unlink_args,
    take_chart_word,
)
from bot.service import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    RESOLVE_AS_TYPED,
    RESOLVE_EXISTING,
    HelpEntry,
    MemberChart,
    NameQuestion,
    Service,
    Who,
)

log = logging.getLogger(__name__)

CHART_PREFIX = "tastemaker-top-"  # /top … chart writes <temp folder>/tastemaker-top-<random>.png

HELP_TITLE = "tastemaker — log what you listen to, see what your community is into."
# The console's own take on some of the service's commands (no buttons, no digest subscriptions).
HELP_REPLACE = {
    "plays": (
        HelpEntry("plays", "", "your last plays, numbered (newest first)", ""),
        HelpEntry("remove", "<n>", "take back play number n of your last /plays list", "1"),
    ),
    "recommend": (
        HelpEntry(
            "recommend",
            "[artists|tracks] [n] | reset-hidden",
            "picks for you, each with its reason (reset-hidden: bring back the picks you hid)",
            "artists 5",
        ),
        HelpEntry("like", "<n>", "👍 pick number n of your last /recommend list", "1"),
        HelpEntry("hide", "<n>", "👎 pick number n of your last /recommend list: never picked again", "2"),
    ),
    "digest": (HelpEntry("digest", "", "yesterday's daily trending post", ""),),
    "import": (),  # the command line imports files: tastemaker import …
    "taste": (HelpEntry("taste", "<member id>", "compare your taste with another member's", "ann"),),
}


RESET_HIDDEN = "/recommend reset-hidden"
RATE_HINT = "👍 /like <n> · 👎 /hide <n> (never picked for you again)"
LINK_USAGE = "Try `/link listenbrainz <user name>` or `/link lastfm <user name>`."
UNLINK_USAGE = "Try `/unlink`, `/unlink listenbrainz` or `/unlink lastfm delete`."


def help_text(entries: tuple[HelpEntry, ...] | None = None) -> str:
    """Every console command with its example, from :meth:`Service.help`."""
    listed = render.help_entries(Service.help() if entries is None else entries, HELP_REPLACE)
    return render.help_text(listed, lambda _command: "/", HELP_TITLE)


def _privacy_switch(private: bool) -> str:
    return "/privacy public" if private else "/privacy private"


def _member(words: list[str]) -> str | None:
    """A member argument on the console: their member id, as ``--member`` gives it."""
    return " ".join(words) or None


def handle(
    service: Service,
    who: Who,
    line: str,
    pending: list[str] | None = None,
    listed: list[int] | None = None,
    picked: list[tuple[str, int]] | None = None,
) -> str | None:
    """Answer one line of input; ``None`` for a blank line. With ``pending`` (the session's state),
    a near miss on ``/played`` is asked (``Did you mean …? [y]es / [n]o``) and the next line is the
    answer; without it, the reply says what to type instead. ``listed`` (the session's state too)
    keeps the play ids of the last ``/plays``, numbered from 1, for ``/remove <n>``; ``picked`` the
    ``(kind, item id)`` of the last ``/recommend``'s picks, for ``/like <n>`` and ``/hide <n>``."""
    line = line.strip()
    if not line:
        return None
    if pending:
        text = pending.pop()
        answer = line.lower()
        if answer in ("y", "yes", "n", "no"):
            resolve = RESOLVE_EXISTING if answer.startswith("y") else RESOLVE_AS_TYPED
            try:
                return render.played_text(service.played(who, text, resolve=resolve))
            except UserError as exc:
                return f"Sorry — {exc}"
        reply = handle(service, who, line, pending, listed, picked) if line.startswith("/") else None
        return "Nothing logged (the answer was not y or n)." + (f"\n{reply}" if reply else "")
    command, _, rest = line.partition(" ")
    command = command.lower().lstrip("/")
    try:
        if command == "played":
            try:
                return render.played_text(service.played(who, rest))
            except NameQuestion as q:
                if pending is None:
                    raise
                pending.append(rest)
                return render.question_prompt(q.question)
        if command == "recommend":
            args = _words(rest)
            if [a.lower() for a in args] in (["reset-hidden"], ["reset_hidden"]):
                return render.reset_text(service.reset_hidden(who))
            kind, n = parse_recommend_args(args)
            picks = service.recommend(who, kind, n)
            if picked is not None:
                picked[:] = [(picks.kind, p.item_id) for p in picks.picks if p.item_id is not None]
            return render.recommend_text(
                picks, reset=RESET_HIDDEN, rate=RATE_HINT if picked is not None else ""
            )
        if command in ("like", "hide"):
            kind, item = _picked_item(rest, picked, command)
            verdict = FEEDBACK_UP if command == "like" else FEEDBACK_DOWN
            return render.feedback_text(service.feedback(who, kind, item, verdict), RESET_HIDDEN)
        if command == "trending":
            window, kind = parse_trending_args(_words(rest))
            return render.trending_text(service.trending(who, window, kind))
        if command == "digest":
            return render.digest_text(service.digest(who))
        if command == "plays":
            plays = service.my_plays(who)
            if listed is not None:
                listed[:] = [p.id for p in plays]
            return render.plays_text(plays, service.clock(), who.platform)
        if command == "undo":
            return render.removal_text(service.undo(who), service.clock(), who.platform)
        if command == "remove":
            play_id = _listed_play(rest, listed)
            return render.removal_text(service.remove_play(who, play_id), service.clock(), who.platform)
        if command == "whoknows":
            if not rest.strip():
                raise UserError(
                    "Which artist or track? Try `/whoknows Radiohead` or `/whoknows Radiohead - Airbag`."
                )
            return render.whoknows_text(service.whoknows(who, rest), service.clock())
        if command == "top":
            kind, period, member = parse_top_args(_words(rest))
            picture, member = take_chart_word(member)
            chart = service.top(who, kind, period, _member(member))
            where = _chart_file(chart) if picture else None
            text = render.chart_text(chart)
            return text if where is None else f"{text}\n{where}"
        if command == "recent":
            return render.recent_text(service.recent(who, _member(_words(rest))), service.clock())
        if command == "profile":
            profile = service.profile(who, _member(_words(rest)))
            text = render.profile_text(profile, _privacy_switch(True), now=service.clock())
            return render.with_notices(text, service.pending_notices(who)) if profile.is_you else text
        if command == "link":
            source, _, account = rest.strip().partition(" ")
            if not source:
                raise UserError(f"Which account? {LINK_USAGE}")
            linked = service.link(who, source, account)
            text = render.linked_text(linked, service.clock(), render.CONSOLE_LINK_COMMANDS)
            return render.with_notices(text, service.pending_notices(who))
        if command == "unlink":
            which, keep = parse_unlink_args(_words(rest), UNLINK_USAGE)
            unlinked = service.unlink(who, which, keep_plays=keep)
            text = render.unlinked_text(unlinked, render.CONSOLE_LINK_COMMANDS)
            return render.with_notices(text, service.pending_notices(who))
        if command == "links":
            notices = service.pending_notices(who)
            return render.links_text(service.links(who), service.clock(), notices=notices)
        if command == "neighbours":
            return render.neighbours_text(service.neighbours(who))
        if command == "similar":
            if not rest.strip():
                raise UserError(
                    "Which artist or track? Try `/similar Radiohead` or `/similar Radiohead - Airbag`."
                )
            return render.similar_text(service.similar(who, rest))
        if command == "taste":
            other = _member(_words(rest))
            if other is None:
                raise UserError("Whose taste? Try `/taste <member id>`.")
            return render.taste_text(service.taste(who, other))
        if command == "privacy":
            private = service.privacy(who, rest)
            return render.privacy_text(private, _privacy_switch(private))
        if command in ("help", "tastemaker", "start"):
            return help_text(service.help())
        return f"Unknown command `/{command}`. Type /help for the list."
    except UserError as exc:
        return f"Sorry — {exc}"


def _chart_file(chart: MemberChart) -> str | None:
    """``/top … chart``: the chart's PNG written to a new file in the temp folder (``TMPDIR``), and
    the line that says where (``None``: nothing to draw)."""
    from bot.chart import member_chart_png  # matplotlib is loaded only when a picture is asked for

    png = member_chart_png(chart)
    if png is None:
        return None
    try:
        fd, path = tempfile.mkstemp(prefix=CHART_PREFIX, suffix=".png")
        with os.fdopen(fd, "wb") as fh:
            fh.write(png)
    except OSError as exc:
        return f"The chart picture could not be written: {exc.strerror or exc}."
    return f"Chart picture: {path}"


def _listed_play(text: str, listed: list[int] | None) -> int:
    """``/remove <n>``: the id of play number ``n`` of the last ``/plays`` listing."""
    if not listed:
        raise UserError("List your plays with /plays first, then take one back with /remove <n>.")
    number = text.strip().removeprefix("#")
    if not (number.isascii() and number.isdigit() and 1 <= int(number) <= len(listed)):
        numbers = "1" if len(listed) == 1 else f"1–{len(listed)}"
        raise UserError(f"Use /remove <n> with a number from your last /plays list ({numbers}).")
    return listed[int(number) - 1]


def _picked_item(text: str, picked: list[tuple[str, int]] | None, command: str) -> tuple[str, int]:
    """``/like <n>`` / ``/hide <n>``: the kind and item id of pick number ``n`` of the last ``/recommend``."""
    if not picked:
        raise UserError(f"Ask /recommend first, then rate a pick with /{command} <n>.")
    number = text.strip().removeprefix("#")
    if not (number.isascii() and number.isdigit() and 1 <= int(number) <= len(picked)):
        numbers = "1" if len(picked) == 1 else f"1–{len(picked)}"
        raise UserError(f"Use /{command} <n> with a number from your last /recommend list ({numbers}).")
    return picked[int(number) - 1]


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def run_chat(service: Service, who: Who, lines: Iterable[str], out: Callable[[str], None]) -> int:
    """Answer every line. A command that fails (a read-only database, a full disk …) is logged as
    one error line (its traceback goes to the log file) and the session goes on with the next line.
    Returns how many commands failed that way (the CLI exits non-zero if any did)."""
    failed = 0
    pending: list[str] = []  # the /played text whose near-miss question the next line answers
    listed: list[int] = []  # the play ids of the last /plays listing, for /remove <n>
    picked: list[tuple[str, int]] = []  # the last /recommend's picks, for /like <n> and /hide <n>
    for line in lines:
        try:
            reply = handle(service, who, line, pending, listed, picked)
        except Exception as exc:
            failed += 1
            log.error("%s", explain(exc), exc_info=exc)
            continue
        if reply is not None:
            out(reply)
    return failed
