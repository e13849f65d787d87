"""``tastemaker discord sync [--guild ID]``: register the slash commands explicitly (never on every
start: Discord rate-limits command updates)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import discord

from bot.platforms import PlatformError
from bot.platforms.discord.client import build_client, token
from bot.platforms.discord.ids import parse_guild
from config.settings import Settings


async def sync_commands_async(settings: Settings, guild_id: str | None = None) -> list[str]:
    secret = token(settings)
    guild: discord.Object | None = None
    if guild_id is not None:
        try:
            guild = discord.Object(int(parse_guild(guild_id)))
        except PlatformError:
            raise PlatformError(f"--guild must be a numeric guild id, not {guild_id!r}") from None
    client = build_client(None, settings)
    async with client:
        try:
            await client.login(secret)
        except discord.LoginFailure as exc:
            raise PlatformError("Discord refused DISCORD_TOKEN (401).") from exc
        if guild is not None:
            client.tree.copy_global_to(guild=guild)
        synced = await client.tree.sync(guild=guild)
    return [c.name for c in synced]


def sync_commands(
    settings: Settings, guild_id: str | None = None, out: Callable[[str], None] = print
) -> list[str]:
    """Register the slash commands (globally: up to an hour to appear; one guild: instant). Run it
    after installing or upgrading, not on every start."""
    names = asyncio.run(sync_commands_async(settings, guild_id))
    where = f"guild {guild_id}" if guild_id else "all guilds (may take up to an hour to appear)"
    out(f"Synced {len(names)} commands ({', '.join('/' + n for n in names)}) to {where}.")
    return names
