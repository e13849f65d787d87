"""``/recommend``'s 👍 / 👎 buttons: two per pick (the first :data:`~bot.render.FEEDBACK_PICKS`),
judged without any stored state.

Each button's ``custom_id`` carries what a press needs::

    tastemaker:pick:<u|d>:<a|t>:<item id>:<owner user id>

``u`` is 👍, ``d`` 👎; ``a`` an artist, ``t`` a track; the owner is the member the picks are for.
``/recommend`` answers in the channel, so anyone there sees the buttons: only the owner's presses
count (anyone else is told so, ephemerally, and nothing is stored). No discord.py view is stored: a
press reaches :meth:`Handlers.pick_feedback` through the client's ``on_interaction``, and the
service stores the verdict for the member who pressed, in the guild where they pressed, for an item
that guild can see (anything else is refused). The buttons keep working after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.render import FEEDBACK_PICKS, THUMBS_DOWN, THUMBS_UP
from bot.service import FEEDBACK_DOWN, FEEDBACK_UP, Pick

PREFIX = "tastemaker:pick"
CUSTOM_ID = re.compile(
    r"tastemaker:pick:(?P<verdict>[ud]):(?P<kind>[at]):(?P<item>\d{1,18}):(?P<owner>\d{1,20})"
)
VERDICTS = {"u": FEEDBACK_UP, "d": FEEDBACK_DOWN}
KINDS = {"a": "artist", "t": "track"}
PICKS_PER_ROW = 2  # 👍 n, 👎 n, 👍 n+1, 👎 n+1: five rows hold the buttons of ten picks


@dataclass(frozen=True)
class PickPress:
    verdict: str  # FEEDBACK_UP or FEEDBACK_DOWN
    kind: str  # "artist" or "track"
    item: int
    owner: str  # the member the picks are for


def custom_id(verdict: str, kind: str, item: int, owner: str) -> str:
    v = next(k for k, name in VERDICTS.items() if name == verdict)
    value = f"{PREFIX}:{v}:{kind[0]}:{item}:{owner}"
    assert len(value) <= 100, value  # 15 + 2 + 2 + 19 + 20 < 100
    return value


def parse_custom_id(value: str) -> PickPress | None:
    """The press behind one of our ``custom_id`` values, or ``None`` for anything else."""
    match = CUSTOM_ID.fullmatch(value)
    if match is None:
        return None
    return PickPress(VERDICTS[match["verdict"]], KINDS[match["kind"]], int(match["item"]), match["owner"])


def picks_view(kind: str, picks: Sequence[Pick], owner: str) -> discord.ui.View | None:
    """👍 n / 👎 n for the first :data:`FEEDBACK_PICKS` picks that name an item, two picks to a row;
    ``None`` without any. The view only renders the buttons: it is stopped, so discord.py never
    stores it."""
    rated = [p for p in picks if p.item_id is not None][:FEEDBACK_PICKS]
    if not rated:
        return None
    view = discord.ui.View(timeout=None)
    for k, pick in enumerate(rated):
        assert pick.item_id is not None
        for verdict, emoji in ((FEEDBACK_UP, THUMBS_UP), (FEEDBACK_DOWN, THUMBS_DOWN)):
            view.add_item(
                discord.ui.Button(
                    style=discord.ButtonStyle.secondary,
                    label=str(pick.rank),
                    emoji=emoji,
                    custom_id=custom_id(verdict, kind, pick.item_id, owner),
                    row=k // PICKS_PER_ROW,
                )
            )
    view.stop()
    return view


def only_owner_text(owner: str) -> str:
    return f"Only <@{owner}> can rate these picks: ask /recommend for your own."
