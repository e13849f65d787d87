"""Slack's encoding of slash-command text, decoded once into what the member typed (no SDK here).

Slack sends ``&``, ``<`` and ``>`` typed in a command as ``&amp;``, ``&lt;`` and ``&gt;``, and
mentions, channels and links as ``<…>`` sequences: ``<@U123|ada>``, ``<#C123|general>``,
``<!here>``, ``<!subteam^S123|@team>``, ``<https://x|text>``. :func:`decode` turns them into
plain text (``@ada``, ``#general``, ``@here``, ``@team``, ``text``) in one pass, so an ``&amp;``
the member typed (sent as ``&amp;amp;``) stays ``&amp;``. What the bot sends back is escaped again
by :func:`bot.platforms.slack.blocks.escape`, so decoded text can never ping anyone.
"""

from __future__ import annotations

import re

_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
# One pass over both kinds of token: a <…> sequence (its label may hold entities), or an entity.
_TOKEN = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_SPECIAL = {"here", "channel", "everyone"}


def _entities(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def _sequence(inner: str) -> str:
    """``@U123|ada`` → ``@ada``; ``#C1|general`` → ``#general``; ``!here`` → ``@here``;
    ``https://x|text`` → ``text``; ``https://x`` → ``https://x``."""
    target, bar, label = inner.partition("|")
    label = _entities(label) if bar else ""
    target = _entities(target)
    if target.startswith("@"):  # a member
        return "@" + (label.removeprefix("@") or target[1:])
    if target.startswith("#"):  # a channel
        return "#" + (label.removeprefix("#") or target[1:])
    if target.startswith("!"):  # special mentions, user groups, dates
        name = target[1:]
        word = name.split("^", 1)[0]
        if word in _SPECIAL:
            return "@" + word
        if word == "subteam":
            handle = label or name.partition("^")[2] or word
            return handle if handle.startswith("@") else "@" + handle
        return label or name
    return label or target  # a link: its text, else the address itself


def decode(text: str | None) -> str:
    """Slash-command text as Slack sends it → as the member typed it (mentions and links as plain
    text). Decodes exactly once."""
    if not text:
        return ""
    return _TOKEN.sub(lambda m: _ENTITIES[m.group(2)] if m.group(2) else _sequence(m.group(1)), text)


# A member mention as Slack sends it in a command whose manifest entry has ``should_escape: true``:
# ``<@U123>`` or ``<@U123|ann>`` (``W…`` for Enterprise Grid users).
_MEMBER = re.compile(r"<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>")


def split_mentions(text: str | None) -> tuple[list[str], str]:
    """The member ids mentioned in slash-command text as Slack sends it, in order, and the rest of
    the text decoded (:func:`decode`), each mention replaced by a space."""
    raw = text or ""
    return _MEMBER.findall(raw), decode(_MEMBER.sub(" ", raw))
