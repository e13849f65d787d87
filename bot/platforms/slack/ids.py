"""How Slack names workspaces and members, and how the command line writes them (no SDK here).

A workspace is stored as ``<enterprise id or ->:<team id>``: team ids are only unique within an
Enterprise Grid. On the command line it is ``slack:T0123`` (a workspace outside a grid) or
``slack:E0123:T0123``; ``slack:-:T0123`` is accepted too.
"""

from __future__ import annotations

import re

from bot.platforms import PlatformError

NAME = "slack"
REFERENCE = "slack:T0123 (team id; slack:E0123:T0123 in an Enterprise Grid)"
NO_ENTERPRISE = "-"
_SLACK_ID = re.compile(r"[A-Z0-9]+")


def community_key(enterprise_id: str | None, team_id: str | None) -> str:
    """A workspace is identified by its (enterprise, team) pair: team ids are only unique per grid."""
    return f"{enterprise_id or NO_ENTERPRISE}:{team_id or NO_ENTERPRISE}"


def _slack_id(text: str, what: str) -> str:
    value = text.strip().upper()
    if not _SLACK_ID.fullmatch(value):
        raise PlatformError(f"{text!r} is not a Slack {what} (letters and digits, e.g. T0123 or U0123)")
    return value


def parse_workspace(ref: str) -> str:
    """``T0123`` → ``-:T0123``; ``E0123:T0123`` → ``E0123:T0123``; ``-:T0123`` → ``-:T0123``."""
    parts = ref.strip().split(":")
    if len(parts) == 1:
        enterprise, team = NO_ENTERPRISE, parts[0]
    elif len(parts) == 2:
        enterprise, team = parts
        enterprise = (
            NO_ENTERPRISE if enterprise.strip() == NO_ENTERPRISE else _slack_id(enterprise, "enterprise id")
        )
    else:
        raise PlatformError(f"a Slack workspace is written {REFERENCE}, not slack:{ref}")
    return community_key(enterprise, _slack_id(team, "team id"))


def format_workspace(external_id: str) -> str:
    enterprise, _, team = external_id.partition(":")
    return f"{NAME}:{team}" if enterprise == NO_ENTERPRISE else f"{NAME}:{external_id}"


def parse_member(ref: str) -> str:
    return _slack_id(ref, "user id")
