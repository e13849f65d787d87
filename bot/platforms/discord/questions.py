"""``/played``'s "did you mean …?" question as two buttons, and the answers pending on them.

Design: each button's ``custom_id`` carries everything needed to *judge* a press, so that a press
is understood without any discord.py view (the view used to render the buttons is never stored, and
a restart loses nothing a press needs in order to be refused properly)::

    tm:q:<question id>:<e|t>:<asker user id>:<expiry, unix seconds>

``e`` answers "the existing entry", ``t`` "as typed". The question id is the id of the ``/played``
interaction that asked (a snowflake, so unique), and the answer is logged with the event id
``question:<question id>`` — whichever button, however often it is pressed, at most one play.

What was typed (up to 200 characters per name) does not fit in a ``custom_id`` (100 at most), so the
question itself waits in :class:`PendingQuestions`: per client (one per :class:`Handlers`, no module
state), bounded (oldest dropped first) and with a time to live. An answer is kept until it expires,
so a second press finds it and says "Already logged"; a press whose question is gone (expired,
dropped, or asked before a restart) is told to use ``/played`` again. The asker and the expiry are
checked against the stored question when there is one, the ``custom_id`` otherwise.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bot.platforms.discord.embeds import clip, esc
from bot.service import RESOLVE_AS_TYPED, RESOLVE_EXISTING, Question, Who

PREFIX = "tm:q"
CUSTOM_ID = re.compile(r"tm:q:(?P<qid>\d{1,20}):(?P<choice>[et]):(?P<asker>\d{1,20}):(?P<expires>\d{1,12})")
CHOICES = {"e": RESOLVE_EXISTING, "t": RESOLVE_AS_TYPED}
TTL_SECONDS = 15 * 60  # as long as Discord keeps the ephemeral question's token alive
MAX_PENDING = 1000
BUTTON_LABEL_LIMIT = 80  # Discord's limit for a button label


@dataclass(frozen=True)
class Press:
    """A parsed answer button ``custom_id``."""

    qid: str
    resolve: str
    asker: str
    expires: int

    @property
    def event_id(self) -> str:
        return f"question:{self.qid}"


def custom_id(qid: str, choice: str, asker: str, expires: int) -> str:
    value = f"{PREFIX}:{qid}:{choice}:{asker}:{expires}"
    assert len(value) <= 100, value  # snowflakes are at most 20 digits: 4+1+20+2+20+13 < 100
    return value


def parse_custom_id(value: str) -> Press | None:
    """The press behind one of our ``custom_id`` values, or ``None`` for anything else."""
    match = CUSTOM_ID.fullmatch(value)
    if match is None:
        return None
    return Press(match["qid"], CHOICES[match["choice"]], match["asker"], int(match["expires"]))


@dataclass(frozen=True)
class Pending:
    who: Who  # the asker, in the guild where they asked
    artist: str  # the options exactly as they were typed
    track: str | None
    expires: int


class PendingQuestions:
    """Questions waiting for an answer: at most ``limit``, each for ``ttl`` seconds."""

    def __init__(
        self, *, ttl: int = TTL_SECONDS, limit: int = MAX_PENDING, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._items: OrderedDict[str, Pending] = OrderedDict()

    def now(self) -> int:
        return int(self.clock())

    def add(self, qid: str, who: Who, artist: str, track: str | None) -> Pending:
        self._prune()
        pending = Pending(who, artist, track, self.now() + self.ttl)
        self._items[qid] = pending
        self._items.move_to_end(qid)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return pending

    def get(self, qid: str) -> Pending | None:
        self._prune()
        return self._items.get(qid)

    def __len__(self) -> int:
        return len(self._items)

    def _prune(self) -> None:
        now = self.now()
        for qid in [q for q, p in self._items.items() if p.expires <= now]:
            del self._items[qid]


def question_text(q: Question) -> str:
    return f"Did you mean **{esc(q.candidate)}**? Nothing is logged yet — pick one."


def question_view(q: Question, qid: str, asker: str, expires: int) -> discord.ui.View:
    """The two buttons. The view only renders them: it is stopped, so discord.py never stores it
    and every press reaches :meth:`Handlers.answer` through ``on_interaction``."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.primary,
            label=clip(f"Yes, {q.candidate}", BUTTON_LABEL_LIMIT),
            custom_id=custom_id(qid, "e", asker, expires),
        )
    )
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=clip(f"No, log {q.typed}", BUTTON_LABEL_LIMIT),
            custom_id=custom_id(qid, "t", asker, expires),
        )
    )
    view.stop()
    return view


def only_asker_text(asker: str) -> str:
    return f"Only <@{asker}> can answer this."


EXPIRED_TEXT = "This question has expired — use /played again."
