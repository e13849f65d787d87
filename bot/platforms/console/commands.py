"""The chat commands on stdin/stdout, through the same service and rendering as the chat platforms.
Used by ``tastemaker chat`` and by the demo."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable

from bot import render
from bot.parsing import UserError, parse_recommend_args, parse_trending_args
from bot.service import Service, Who


def handle(service: Service, who: Who, line: str) -> str | None:
    """Answer one line of input; ``None`` for a blank line."""
    line = line.strip()
    if not line:
        return None
    command, _, rest = line.partition(" ")
    command = command.lower().lstrip("/")
    try:
        if command == "played":
            return render.played_text(service.played(who, rest))
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


def run_chat(service: Service, who: Who, lines: Iterable[str], out: Callable[[str], None]) -> None:
    for line in lines:
        reply = handle(service, who, line)
        if reply is not None:
            out(reply)
