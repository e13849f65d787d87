"""The Discord client: the command tree on a :class:`discord.Client`, the API / gateway overrides
scoped to one client, start-up with exponential back-off (a refused token is never retried), and
:func:`serve`, which runs the client on its own event loop in a thread of its own.

The client is built with ``AllowedMentions.none()``, so nothing the bot posts can ping anyone.
``TASTEMAKER_DISCORD_API_URL`` replaces the REST base (``discord.http.Route.BASE``, discord.py is
pinned) and ``TASTEMAKER_DISCORD_GATEWAY_URL`` the gateway websocket address, so the whole bot can
run against a local fake Discord (see ``tests/platforms/fake_discord.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.platforms import PlatformError, Process, Served
from bot.platforms.discord.commands import Handlers, build_commands
from bot.platforms.discord.digest import DiscordDigestSender
from bot.platforms.discord.ids import NAME
from bot.service import Service
from config.settings import Settings

log = logging.getLogger(__name__)


class TastemakerClient(discord.Client):
    """A :class:`discord.Client` with the command tree, optionally dialling another gateway."""

    def __init__(
        self,
        service: Service | None,
        *,
        gateway_url: str | None = None,
        api_url: str | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # guild names for community names; no privileged intents
        options.setdefault("chunk_guilds_at_startup", False)
        options.setdefault("member_cache_flags", discord.MemberCacheFlags.none())
        options.setdefault("max_messages", None)
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options)
        self.tree: app_commands.CommandTree[TastemakerClient] = app_commands.CommandTree(self)
        self.handlers = Handlers(service)
        for command in build_commands(self.handlers):
            self.tree.add_command(command)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self._api_url = api_url.rstrip("/") if api_url else None
        self._previous_base: str | None = None
        if gateway_url:
            _redirect_gateway(self.http, yarl.URL(gateway_url))

    async def login(self, token: str) -> None:
        if self._api_url and self._previous_base is None:
            self._previous_base = Route.BASE
            Route.BASE = self._api_url
        await super().login(token)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._previous_base is not None:
                if self._api_url == Route.BASE:  # unless someone else changed it since
                    Route.BASE = self._previous_base
                self._previous_base = None

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Button presses (the tree handles commands and autocomplete)."""
        if interaction.type is discord.InteractionType.component:
            try:
                await self.handlers.component(interaction)
            except Exception as exc:
                log.error("answering a button press failed", exc_info=exc)
                await self._report_failure(interaction)

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("command %s failed", getattr(interaction.command, "name", "?"), exc_info=error)
        await self._report_failure(interaction)

    async def _report_failure(self, interaction: discord.Interaction[Any]) -> None:
        text = "Sorry — something went wrong on my side. Please try again in a moment."
        try:
            if interaction.response.is_done():
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()  # no endless "thinking…"
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.debug("could not report the error", exc_info=True)


def _redirect_gateway(http: discord.http.HTTPClient, gateway: yarl.URL) -> None:
    """Make this client's HTTP session dial ``gateway`` wherever it would dial Discord's default
    gateway. Scoped to one client: ``DiscordWebSocket.DEFAULT_GATEWAY`` itself is left alone.

    A plain ``discord.Client`` connects to ``DEFAULT_GATEWAY`` (it never asks ``/gateway/bot``); after
    READY it resumes at the ``resume_gateway_url`` the gateway itself announced, which is kept."""
    original = http.ws_connect
    default_host = DiscordWebSocket.DEFAULT_GATEWAY.host

    async def ws_connect(url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        target = yarl.URL(url)
        if target.host == default_host:
            target = gateway.with_query(target.query)
        return await original(str(target), compress=compress)

    http.ws_connect = ws_connect  # type: ignore[method-assign]


def build_client(service: Service | None, settings: Settings, **options: Any) -> TastemakerClient:
    """The Discord client for ``service`` (``None`` only to sync commands), honouring the
    ``discord_api_url`` / ``discord_gateway_url`` overrides of ``settings``."""
    return TastemakerClient(
        service,
        gateway_url=settings.discord_gateway_url,
        api_url=settings.discord_api_url,
        **options,
    )


# --- starting ------------------------------------------------------------------------------------

# Failures worth retrying with back-off: the network or Discord being down. A refused token or a
# missing privileged intent will not fix itself, and every retry costs an identify (Discord resets
# a token after 1,000 a day), so those stop the bot with an explanation instead.
RETRYABLE = (
    OSError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    discord.GatewayNotFound,
    discord.ConnectionClosed,
    discord.DiscordServerError,
    discord.RateLimited,
)


def token(settings: Settings) -> str:
    """``DISCORD_TOKEN``, or a :class:`PlatformError` saying how to get one."""
    value = (settings.discord_token or "").strip()
    if not value:
        raise PlatformError(
            "DISCORD_TOKEN is not set. Create a bot at https://discord.com/developers/applications, "
            "copy its token and export DISCORD_TOKEN=… (see README, 'Discord setup')."
        )
    return value


async def run_with_backoff(
    start: Callable[[], Awaitable[None]],
    *,
    base_delay: float = 5.0,
    max_delay: float = 900.0,
    healthy_after: float = 600.0,
    max_attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run ``start`` until it returns; on a retryable failure wait (exponential back-off with jitter,
    reset after a run of ``healthy_after`` seconds) and start again. Bad tokens are not retried."""
    delay = base_delay
    attempt = 0
    while True:
        attempt += 1
        began = clock()
        try:
            await start()
            return
        except discord.LoginFailure as exc:
            raise PlatformError(
                "Discord refused DISCORD_TOKEN (401). Reset the token in the developer portal."
            ) from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise PlatformError(str(exc)) from exc
        except RETRYABLE as exc:
            if clock() - began >= healthy_after:
                delay = base_delay
            if max_attempts is not None and attempt >= max_attempts:
                raise
            wait = min(delay, max_delay) * random.uniform(0.8, 1.2)
            log.warning("Discord start-up failed (%s); retrying in %.0f s", exc or type(exc).__name__, wait)
            await sleep(wait)
            delay = min(delay * 2, max_delay)


class _Runner:
    """The client's own event loop (``run``, in the thread :class:`~bot.platforms.Served` gives
    it), and ``stop`` from any other thread: close the client, end the back-off loop."""

    def __init__(
        self, service: Service, settings: Settings, secret: str, sender: DiscordDigestSender | None
    ) -> None:
        self.service, self.settings, self.secret, self.sender = service, settings, secret, sender
        self._requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._client: TastemakerClient | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    def stop(self) -> None:
        self._requested.set()
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(stopping.set)

    async def _main(self) -> None:
        self._stopping = stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._requested.is_set():
            return
        serving = asyncio.create_task(run_with_backoff(self._start))
        asked = asyncio.create_task(stopping.wait())
        await asyncio.wait({serving, asked}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            asked.cancel()
            serving.result()  # a refused token: PlatformError
            return
        client = self._client
        if client is None:  # between attempts: nothing to close
            serving.cancel()
        else:
            await client.close()  # client.start() returns, and so does the back-off loop
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(serving, 10)

    async def _start(self) -> None:
        if self._stopping is not None and self._stopping.is_set():
            return
        client = build_client(self.service, self.settings)
        self._client = client
        if self.sender is not None:
            self.sender.attach(client, asyncio.get_running_loop())
        try:
            async with client:
                await client.start(self.secret)
        finally:
            if self.sender is not None:
                self.sender.detach(client)
            if self._client is client:
                self._client = None


def serve(process: Process) -> Served:
    """Connect to the gateway in a thread of its own (commands are not synced here: see
    :mod:`bot.platforms.discord.sync`). The process's Discord digest sender is attached to each
    client the back-off loop starts."""
    secret = token(process.settings)
    sender = process.digest.senders.get(NAME) if process.digest is not None else None
    runner = _Runner(
        process.service,
        process.settings,
        secret,
        sender if isinstance(sender, DiscordDigestSender) else None,
    )
    process.out("tastemaker: Discord connecting to the gateway")
    return Served(NAME, runner.run, runner.stop).start()
