"""``/plays``' "Remove n" buttons: one per listed play, judged without any stored state.

Each button's ``custom_id`` is ``tastemaker:remove:<play id>``. Nothing is kept server-side and no
discord.py view is stored: a press reaches :meth:`Handlers.remove` through the client's
``on_interaction``, and the service decides with the *presser's* guild and member whether the play is
theirs to remove (someone else's play, or a play of another guild, is refused and nothing changes; a
second press says the play was already removed). The buttons therefore keep working after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.service import LoggedPlay

PREFIX = "tastemaker:remove"
CUSTOM_ID = re.compile(r"tastemaker:remove:(?P<play>\d{1,18})")
MAX_BUTTONS = 25  # Discord: at most 5 action rows of 5 buttons
PER_ROW = 5


def custom_id(play_id: int) -> str:
    return f"{PREFIX}:{play_id}"


def parse_custom_id(value: str) -> int | None:
    """The play id behind one of our ``custom_id`` values, or ``None`` for anything else."""
    match = CUSTOM_ID.fullmatch(value)
    return int(match["play"]) if match is not None else None


def remove_label(n: int) -> str:
    return f"Remove {n}"


def plays_view(plays: Sequence[LoggedPlay]) -> discord.ui.View | None:
    """ "Remove 1" … "Remove n" (n ≤ 25), five to a row, numbered like the listing; ``None`` without
    plays. The view only renders the buttons: it is stopped, so discord.py never stores it."""
    if not plays:
        return None
    view = discord.ui.View(timeout=None)
    for k, play in enumerate(plays[:MAX_BUTTONS]):
        view.add_item(
            discord.ui.Button(
                style=discord.ButtonStyle.danger,
                label=remove_label(k + 1),
                custom_id=custom_id(play.id),
                row=k // PER_ROW,
            )
        )
    view.stop()
    return view
