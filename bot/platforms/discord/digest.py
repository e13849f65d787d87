"""Discord's digest sender (``bot.digest.DigestSender``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import discord

from bot.digest import DigestPost, SendRejected
from bot.platforms.discord.embeds import CHART_FILENAME, digest_embed
from bot.platforms.discord.ids import NAME

NONCE_WINDOW = dt.timedelta(minutes=2)  # Discord checks nonces "in the past few minutes"
# What posting a digest needs in its channel — see it, send (in a thread too: the digest goes where
# `/tastemaker digest here` was used), an embed, the chart file — as the integer of the README's
# invite URL (tests/platforms/discord/test_permissions.py keeps the two equal).
DIGEST_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True, attach_files=True
).value


class DiscordDigestSender:
    """Posts digests from the scheduler's threads through the running client's event loop.

    ``POST /channels/{id}/messages`` (multipart: the embed and the chart attachment) with a
    ``nonce`` derived from the ledger key and ``enforce_nonce: true``: if a crash makes us send the
    same digest again within a few minutes, Discord returns the first message instead of posting
    a second one."""

    platform = NAME
    resend_window = NONCE_WINDOW

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._client: discord.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, client: discord.Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client, self._loop = client, loop

    def detach(self, client: discord.Client) -> None:
        if self._client is client:
            self._client, self._loop = None, None

    def send(self, channel: str, post: DigestPost) -> str:
        client, loop = self._client, self._loop
        if client is None or loop is None or loop.is_closed() or not client.is_ready():
            raise SendRejected("the Discord client is not connected")
        future = asyncio.run_coroutine_threadsafe(self._send(client, channel, post), loop)
        return future.result(self.timeout)

    @staticmethod
    async def _send(client: discord.Client, channel: str, post: DigestPost) -> str:
        target = client.get_partial_messageable(int(channel))
        embed = digest_embed(post.digest, chart=post.chart is not None)
        try:
            if post.chart is not None:
                file = discord.File(io.BytesIO(post.chart), filename=CHART_FILENAME)
                message = await target.send(
                    embed=embed, file=file, nonce=post.nonce, allowed_mentions=discord.AllowedMentions.none()
                )
            else:
                message = await target.send(
                    embed=embed, nonce=post.nonce, allowed_mentions=discord.AllowedMentions.none()
                )
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500:  # refused (no access, unknown channel …): nothing was posted
                raise SendRejected(f"Discord answered {exc.status}: {exc.text}") from exc
            raise
        return f"{channel}/{message.id}"
