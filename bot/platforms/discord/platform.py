"""The Discord platform as the registry sees it. Nothing heavy at import time: serving, the
digest sender and the help text import discord.py (or the service's help) when called."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.discord import ids

if TYPE_CHECKING:
    from bot.digest import DigestSender
    from bot.platforms import Process, Served
    from config.settings import Settings


class DiscordPlatform:
    name = ids.NAME
    reference = ids.REFERENCE
    credentials = "DISCORD_TOKEN"

    @property
    def help(self) -> str:
        from bot.platforms.discord.help import help_text

        return help_text()

    def parse_community(self, ref: str) -> str:
        return ids.parse_guild(ref)

    def format_community(self, external_id: str) -> str:
        return ids.format_guild(external_id)

    def parse_member(self, ref: str) -> str:
        return ids.parse_member(ref)

    def configured(self, settings: Settings) -> bool:
        return bool((settings.discord_token or "").strip())

    def digest_sender(self, settings: Settings) -> DigestSender | None:
        from bot.platforms.discord.digest import DiscordDigestSender

        return DiscordDigestSender()

    def serve(self, process: Process) -> Served:
        from bot.platforms.discord.client import serve

        return serve(process)


PLATFORM = DiscordPlatform()
