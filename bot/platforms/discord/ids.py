"""How Discord names servers and members, and how the command line writes them (no SDK here).

A server (guild) is a community, stored under its numeric id: ``discord:123456789012345678``."""

from __future__ import annotations

from bot.platforms import PlatformError

NAME = "discord"
REFERENCE = "discord:123456789012345678 (server id)"


def _snowflake(text: str, what: str) -> str:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise PlatformError(f"{text!r} is not a Discord {what} (a number such as 123456789012345678)")
    return str(int(value))


def parse_guild(ref: str) -> str:
    return _snowflake(ref, "server id")


def format_guild(external_id: str) -> str:
    return f"{NAME}:{external_id}"


def parse_member(ref: str) -> str:
    return _snowflake(ref, "user id")
