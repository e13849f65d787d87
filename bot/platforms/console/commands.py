"""The chat commands on stdin/stdout, through the same service and rendering as the chat platforms.
Used by ``tastemaker chat`` and by the demo."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Iterable

from bot import render
from bot.errors import explain
from bot.parsing import UserError, parse_recommend_args, parse_trending_args
from bot.service import RESOLVE_AS_TYPED, RESOLVE_EXISTING, NameQuestion, Service, Who

log = logging.getLogger(__name__)


def handle(service: Service, who: Who, line: str, pending: list[str] | None = None) -> str | None:
    """Answer one line of input; ``None`` for a blank line. With ``pending`` (the session's state),
    a near miss on ``/played`` is asked (``Did you mean …? [y]es / [n]o``) and the next line is the
    answer; without it, the reply says what to type instead."""
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
        reply = handle(service, who, line, pending) if line.startswith("/") else None
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
            kind, n = parse_recommend_args(_words(rest))
            return render.recommend_text(service.recommend(who, kind, n))
        if command == "trending":
            window, kind = parse_trending_args(_words(rest))
            return render.trending_text(service.trending(who, window, kind))
        if command == "digest":
            return render.digest_text(service.digest(who))
        if command in ("help", "tastemaker", "start"):
            return render.HELP
        return f"Unknown command `/{command}`. Type /help for the list."
    except UserError as exc:
        return f"Sorry — {exc}"


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
    for line in lines:
        try:
            reply = handle(service, who, line, pending)
        except Exception as exc:
            failed += 1
            log.error("%s", explain(exc), exc_info=exc)
            continue
        if reply is not None:
            out(reply)
    return failed
