"""The "did you mean …?" buttons' value: what an answer needs to log the play again (no SDK here).

A button's ``value`` comes back in the ``block_actions`` payload Slack signs, so it carries
everything the answer needs and nothing is kept server-side: the text as the member typed it, the
asker's user id, an expiry (epoch seconds) and the question's id (the command's ``trigger_id``),
which becomes the play's ``event_id`` so that a second press logs nothing. Compact JSON, at most
:data:`VALUE_LIMIT` characters (Slack's limit on a button value)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.service import RESOLVE_AS_TYPED, RESOLVE_EXISTING

VALUE_LIMIT = 2000  # characters: Slack's limit on a button's value
TTL_SECONDS = 600  # a question can be answered for 10 minutes
ACTION_EXISTING = "played_resolve_existing"
ACTION_AS_TYPED = "played_resolve_as_typed"
ACTION_PATTERN = r"^played_resolve_(existing|as_typed)$"
RESOLVE_BY_ACTION = {ACTION_EXISTING: RESOLVE_EXISTING, ACTION_AS_TYPED: RESOLVE_AS_TYPED}


@dataclass(frozen=True)
class Asked:
    text: str  # the /played text as the member typed it (decoded)
    asker: str  # the member's user id
    expires: int  # epoch seconds
    question_id: str  # the command's trigger_id: the answer's event_id

    def expired(self, now: float) -> bool:
        return now >= self.expires


def encode_value(asked: Asked) -> str | None:
    """The button value, or ``None`` when it would not fit Slack's limit."""
    value = json.dumps(
        {"t": asked.text, "u": asked.asker, "x": asked.expires, "q": asked.question_id},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return value if len(value) <= VALUE_LIMIT else None


def decode_value(value: Any) -> Asked | None:
    """The value a button came back with, or ``None`` when it is not one of ours."""
    if not isinstance(value, str) or len(value) > VALUE_LIMIT:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    text, asker, expires, qid = data.get("t"), data.get("u"), data.get("x"), data.get("q")
    if not (isinstance(text, str) and isinstance(asker, str) and asker and isinstance(qid, str) and qid):
        return None
    if not isinstance(expires, int) or isinstance(expires, bool):
        return None
    return Asked(text, asker, expires, qid)
