"""The Discord platform as the registry sees it. Nothing heavy at import time: serving, the
digest sender and the help text import discord.py when called."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.discord import ids

if TYPE_CHECKING:
    from bot.digest import DigestSender
    from bot.platforms import Process, Served
    from config.settings import Settings

HELP = """tastemaker — log what you listen to, see what your server is into.
/played artist:<…> track:<…>          log a play (autocomplete from this server's catalog)
/recommend kind:[artists|tracks] count:[1-25]   personal picks, each with the reason
/trending window:[24h|7d|30d|all] kind:[artists|tracks]   what this server plays most, and what is rising
/plays                                your last plays, each with a button to take it back
/undo                                 take back your last play
/tastemaker digest here|off|status    the daily digest in this channel (Manage Server)"""


class DiscordPlatform:
    name = ids.NAME
    help = HELP
    reference = ids.REFERENCE
    credentials = "DISCORD_TOKEN"

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
