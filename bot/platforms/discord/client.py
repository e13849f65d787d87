"""Discord adapter: ``/played``, ``/recommend`` and ``/trending`` as discord.py app commands.

Handlers only parse and render: every call goes to :class:`~bot.service.Service`, run off the event
loop (``asyncio.to_thread``) so that a busy database never stalls the gateway. Each command defers at
once (Discord allows 3 s for the first answer) and then sends a followup with an embed. The client
is built with ``AllowedMentions.none()``, so nothing the bot posts can ping anyone.

Option values are re-validated here (Discord's ``min/max_length`` is advisory for a bot: a crafted
or replayed interaction can carry anything); a bad value gets a friendly ephemeral error before any
work is done, and nothing is stored.

``TASTEMAKER_DISCORD_API_URL`` replaces the REST base (``discord.http.Route.BASE``, discord.py is
pinned) and ``TASTEMAKER_DISCORD_GATEWAY_URL`` the gateway websocket address, so the whole bot can
run against a local fake Discord (see ``tests/platforms/fake_discord.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot import render
from bot.digest import DISCORD_NONCE_WINDOW, DigestCommand, DigestPost, SendRejected, run_digest_command
from bot.parsing import UserError, parse_count, parse_kind, parse_window, play_input, reject_bidi
from bot.service import Digest, PlayResult, Recommendations, Service, Trending, Who
from config.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "discord"
COLOUR = discord.Colour(0x8B5CF6)
MAX_CHOICES = 25  # Discord's limit for autocomplete answers
MAX_CHOICE_LENGTH = 100  # choice name and value
MAX_OPTION_LENGTH = 200  # what /played accepts per name (the storage key limit)
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TITLE_LIMIT = 256

WINDOW_CHOICES = [app_commands.Choice(name=w, value=w) for w in ("24h", "7d", "30d", "all")]
KIND_CHOICES = [app_commands.Choice(name=k, value=k) for k in ("artists", "tracks")]


# --- validation and rendering (pure functions) ---------------------------------------------------


def check_option(value: str | None, what: str) -> None:
    """Refuse values no honest Discord client sends; :class:`UserError` carries the friendly text."""
    if value is None:
        return
    reject_bidi(value, what)
    if len(value) > MAX_OPTION_LENGTH:
        raise UserError(f"That {what} is too long (at most {MAX_OPTION_LENGTH} characters).")


def who_of(interaction: discord.Interaction[Any]) -> Who:
    """The member and community (keyed by guild id) behind an interaction."""
    if interaction.guild_id is None:
        raise UserError("tastemaker works inside a server: use this command in a server channel.")
    guild = interaction.guild
    guild_name = getattr(guild, "name", None) or str(interaction.guild_id)
    user = interaction.user
    return Who(
        PLATFORM,
        str(interaction.guild_id),
        str(user.id),
        community_name=guild_name,
        member_name=user.display_name,
    )


def _esc(text: str) -> str:
    """User text shown in an embed: markdown neutralised, mentions defused (belt and braces: the
    client never allows mentions, and embeds do not ping)."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines_within(lines: list[str], limit: int = EMBED_DESCRIPTION_LIMIT) -> str:
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        more = f"… and {len(lines) - n} more"
        if size + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def played_embed(r: PlayResult) -> discord.Embed:
    shown = dataclasses.replace(
        r,
        artist=_esc(r.artist),
        track=_esc(r.track) if r.track else None,
        corrected_from=_esc(r.corrected_from) if r.corrected_from else None,
    )
    title = "Already logged" if r.duplicate else "Play logged"
    return discord.Embed(title=title, description=render.played_text(shown), colour=COLOUR)


def recommend_embed(r: Recommendations) -> discord.Embed:
    title = render.recommend_title(r)
    lines = [render.pick_line(p, esc=_esc, rank=lambda n: f"**{n}.**") for p in r.picks]
    if not lines:
        lines = [r.note or "Nothing to recommend yet."]
    embed = discord.Embed(title=title, description=_lines_within(lines), colour=COLOUR)
    if r.note and r.picks:
        embed.set_footer(text=_clip(r.note, 2048))
    return embed


def trending_embed(t: Trending) -> discord.Embed:
    title = f"Trending {render.KIND_LABEL[t.kind]} in {t.community} — {render.WINDOW_LABEL[t.window]}"
    lines = []
    for e in t.entries:
        lines.append(
            render.trend_line(e, name=_esc(e.name), rank=lambda n: f"**{n}.**", marker=lambda m: f"`{m}`")
        )
    if not lines:
        lines = [t.note or "Nothing yet."]
    embed = discord.Embed(
        title=_clip(title, EMBED_TITLE_LIMIT), description=_lines_within(lines), colour=COLOUR
    )
    if t.rising is not None:
        embed.add_field(
            name="Rising",
            value=_clip(
                f"{_esc(t.rising.name)} ({t.rising.prev_plays} → {t.rising.plays} plays, "
                f"growth {t.rising.growth:+.2f})",
                1024,
            ),
            inline=False,
        )
    if t.note and t.entries:
        embed.set_footer(text=_clip(t.note, 2048))
    return embed


CHART_FILENAME = "tastemaker-digest.png"


def digest_embed(d: Digest, *, chart: bool) -> discord.Embed:
    """The daily post: top tracks and artists with movement, the riser, new artists, the chart."""
    title = _clip(f"Daily trending in {d.community} — {d.day.isoformat()} (UTC)", EMBED_TITLE_LIMIT)
    if d.empty:
        return discord.Embed(
            title=title,
            description="A quiet day: nobody logged a play. Use /played to get tomorrow's chart going!",
            colour=COLOUR,
        )

    def lines(entries: list[Any]) -> str:
        out = []
        for e in entries:
            marker = render.movement_marker(e)
            out.append(
                f"**{e.rank}.** {_esc(e.name)} — {render.plural(e.plays, 'play')}"
                + (f"  `{marker}`" if marker else "")
            )
        return _clip("\n".join(out), 1024) or "—"

    embed = discord.Embed(title=title, colour=COLOUR)
    embed.add_field(name="Top tracks", value=lines(d.top_tracks), inline=False)
    embed.add_field(name="Top artists", value=lines(d.top_artists), inline=False)
    if d.rising is not None:
        embed.add_field(
            name="Fastest riser",
            value=_clip(f"{_esc(d.rising.name)} ({d.rising.prev_plays} → {d.rising.plays} plays)", 1024),
            inline=False,
        )
    if d.new_artists:
        embed.add_field(
            name="New to the server",
            value=_clip(", ".join(_esc(a) for a in d.new_artists), 1024),
            inline=False,
        )
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILENAME}")
    return embed


def error_text(exc: UserError) -> str:
    return f"Sorry — {exc}"


def choices(names: list[str]) -> list[app_commands.Choice[str]]:
    """At most 25 autocomplete choices (name and value at most 100 characters, no duplicates)."""
    out: list[app_commands.Choice[str]] = []
    seen: set[str] = set()
    for name in names:
        value = name[:MAX_CHOICE_LENGTH]
        if not value.strip() or value in seen:
            continue
        seen.add(value)
        out.append(app_commands.Choice(name=_clip(name, MAX_CHOICE_LENGTH), value=value))
        if len(out) == MAX_CHOICES:
            break
    return out


# --- handlers ------------------------------------------------------------------------------------


class Handlers:
    """The command callbacks. ``service`` is ``None`` only in a client built to sync commands."""

    def __init__(self, service: Service | None) -> None:
        self._service = service

    @property
    def service(self) -> Service:
        if self._service is None:  # pragma: no cover - a sync-only client never receives interactions
            raise RuntimeError("this client was built without a service")
        return self._service

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        validate: Callable[[], Who],
        work: Callable[[Who], discord.Embed],
    ) -> None:
        """Validate (cheap, no I/O) → defer → service call in a thread → followup embed."""
        try:
            who = validate()
        except UserError as exc:
            # Not deferred yet, so the error can be ephemeral and nothing has been done.
            await interaction.response.send_message(
                error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.response.defer(thinking=True)
        try:
            embed = await asyncio.to_thread(work, who)
        except UserError as exc:
            # The "thinking…" message is public; replace it by an ephemeral followup.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(
                error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.followup.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())

    async def played(self, interaction: discord.Interaction[Any], artist: str, track: str | None) -> None:
        def validate() -> Who:
            check_option(artist, "artist name")
            check_option(track, "track title")
            play_input(artist, track)  # empty / too long → UserError before deferring
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            result = self.service.played(who, artist=artist, track=track, event_id=str(interaction.id))
            return played_embed(result)

        await self._answer(interaction, validate, work)

    async def recommend(self, interaction: discord.Interaction[Any], kind: str, count: int) -> None:
        parsed: dict[str, Any] = {}

        def validate() -> Who:
            parsed["kind"] = parse_kind(kind, "artist")
            parsed["count"] = parse_count(count, 10)
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            return recommend_embed(self.service.recommend(who, parsed["kind"], parsed["count"]))

        await self._answer(interaction, validate, work)

    async def trending(self, interaction: discord.Interaction[Any], window: str, kind: str) -> None:
        parsed: dict[str, str] = {}

        def validate() -> Who:
            parsed["window"] = parse_window(window)
            parsed["kind"] = parse_kind(kind, "track")
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            return trending_embed(self.service.trending(who, parsed["window"], parsed["kind"]))

        await self._answer(interaction, validate, work)

    async def digest(self, interaction: discord.Interaction[Any], command: DigestCommand) -> None:
        """``/tastemaker digest here|off|status``: server managers only; answered ephemerally."""
        try:
            who = who_of(interaction)
            perms = interaction.permissions
            if not (perms.manage_guild or perms.administrator):
                raise UserError("Only members with the Manage Server permission can set up the daily digest.")
            if interaction.channel_id is None:
                raise UserError("Use this command in the channel that should get the digest.")
            channel = str(interaction.channel_id)
        except UserError as exc:
            await interaction.response.send_message(
                error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            text = await asyncio.to_thread(run_digest_command, self.service, who, channel, command)
        except UserError as exc:
            text = error_text(exc)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    async def suggest(
        self, interaction: discord.Interaction[Any], current: str, field: str, artist: str | None = None
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete from the community's catalog; bad input just yields no choices."""
        try:
            check_option(current, field)
            check_option(artist, "artist name")
            who = who_of(interaction)
        except UserError:
            return []
        names = await asyncio.to_thread(
            self.service.suggest, who, current or "", field=field, artist=artist or None, limit=MAX_CHOICES
        )
        return choices(names)


def build_commands(
    handlers: Handlers,
) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
    @app_commands.command(name="played", description="Log a song you listened to.")
    @app_commands.describe(artist="Who played it", track="The track title (leave out to log just the artist)")
    @app_commands.guild_only()
    async def played(
        interaction: discord.Interaction,
        artist: app_commands.Range[str, 1, MAX_OPTION_LENGTH],
        track: app_commands.Range[str, 1, MAX_OPTION_LENGTH] | None = None,
    ) -> None:
        await handlers.played(interaction, artist, track)

    @played.autocomplete("artist")
    async def played_artist(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await handlers.suggest(interaction, current, "artist")

    @played.autocomplete("track")
    async def played_track(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        artist = getattr(interaction.namespace, "artist", None)
        return await handlers.suggest(
            interaction, current, "track", artist=artist if isinstance(artist, str) else None
        )

    @app_commands.command(name="recommend", description="Personal picks, each with the reason.")
    @app_commands.describe(kind="Artists or tracks", count="How many picks (1–25)")
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.guild_only()
    async def recommend(
        interaction: discord.Interaction,
        kind: str = "artists",
        count: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        await handlers.recommend(interaction, kind, count)

    @app_commands.command(name="trending", description="What this community plays most, and what is rising.")
    @app_commands.describe(window="Time window", kind="Artists or tracks")
    @app_commands.choices(window=WINDOW_CHOICES, kind=KIND_CHOICES)
    @app_commands.guild_only()
    async def trending(interaction: discord.Interaction, window: str = "7d", kind: str = "tracks") -> None:
        await handlers.trending(interaction, window, kind)

    tastemaker = app_commands.Group(
        name="tastemaker",
        description="tastemaker administration (Manage Server).",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )
    digest = app_commands.Group(name="digest", description="The daily trending digest.", parent=tastemaker)

    @digest.command(name="here", description="Post the daily digest in this channel at a local time.")
    @app_commands.describe(time="24-hour HH:MM, e.g. 09:00", timezone="IANA time zone, e.g. Europe/Berlin")
    async def digest_here(
        interaction: discord.Interaction,
        time: app_commands.Range[str, 1, 10],
        timezone: app_commands.Range[str, 1, 64] = "UTC",
    ) -> None:
        await handlers.digest(interaction, DigestCommand("here", time, timezone))

    @digest.command(name="off", description="Stop the daily digest in this channel.")
    async def digest_off(interaction: discord.Interaction) -> None:
        await handlers.digest(interaction, DigestCommand("off"))

    @digest.command(name="status", description="Show the daily digest settings.")
    async def digest_status(interaction: discord.Interaction) -> None:
        await handlers.digest(interaction, DigestCommand("status"))

    return [played, recommend, trending, tastemaker]


# --- the client ----------------------------------------------------------------------------------


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
        for command in build_commands(Handlers(service)):
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

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("command %s failed", getattr(interaction.command, "name", "?"), exc_info=error)
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


# --- running and syncing -------------------------------------------------------------------------

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


def _token(settings: Settings) -> str:
    token = (settings.discord_token or "").strip()
    if not token:
        raise SystemExit(
            "error: DISCORD_TOKEN is not set. Create a bot at https://discord.com/developers/applications, "
            "copy its token and export DISCORD_TOKEN=… (see README, 'Discord setup')."
        )
    return token


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
            raise SystemExit(
                "error: Discord refused DISCORD_TOKEN (401). Reset the token in the developer portal."
            ) from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise SystemExit(f"error: {exc}") from exc
        except RETRYABLE as exc:
            if clock() - began >= healthy_after:
                delay = base_delay
            if max_attempts is not None and attempt >= max_attempts:
                raise
            wait = min(delay, max_delay) * random.uniform(0.8, 1.2)
            log.warning("Discord start-up failed (%s); retrying in %.0f s", exc or type(exc).__name__, wait)
            await sleep(wait)
            delay = min(delay * 2, max_delay)


class DiscordDigestSender:
    """Posts digests from the scheduler's threads through the running client's event loop.

    ``POST /channels/{id}/messages`` (multipart: the embed and the chart attachment) with a
    ``nonce`` derived from the ledger key and ``enforce_nonce: true``: if a crash makes us send the
    same digest again within a few minutes, Discord returns the first message instead of posting
    a second one."""

    platform = PLATFORM
    resend_window = DISCORD_NONCE_WINDOW

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


async def _run(
    service: Service, settings: Settings, token: str, digest_sender: DiscordDigestSender | None = None
) -> None:
    async def start() -> None:
        client = build_client(service, settings)
        if digest_sender is not None:
            digest_sender.attach(client, asyncio.get_running_loop())
        try:
            async with client:
                await client.start(token)
        finally:
            if digest_sender is not None:
                digest_sender.detach(client)

    await run_with_backoff(start)


def serve(service: Service, settings: Settings, *, digest_sender: DiscordDigestSender | None = None) -> None:
    """``tastemaker run --platform discord``: run until interrupted (commands are not synced here).
    ``digest_sender`` is attached to each client the back-off loop starts."""
    token = _token(settings)
    discord.utils.setup_logging(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(service, settings, token, digest_sender))


async def sync_commands_async(settings: Settings, guild_id: str | None = None) -> list[str]:
    token = _token(settings)
    guild: discord.Object | None = None
    if guild_id is not None:
        if not guild_id.strip().isdigit():
            raise SystemExit(f"error: --guild must be a numeric guild id, not {guild_id!r}")
        guild = discord.Object(int(guild_id.strip()))
    client = build_client(None, settings)
    async with client:
        try:
            await client.login(token)
        except discord.LoginFailure as exc:
            raise SystemExit("error: Discord refused DISCORD_TOKEN (401).") from exc
        if guild is not None:
            client.tree.copy_global_to(guild=guild)
        synced = await client.tree.sync(guild=guild)
    return [c.name for c in synced]


def sync_commands(
    settings: Settings, guild_id: str | None = None, out: Callable[[str], None] = print
) -> list[str]:
    """``tastemaker discord sync [--guild ID]``: register the slash commands (globally: up to an
    hour to appear; one guild: instant). Run it after installing or upgrading, not on every start."""
    names = asyncio.run(sync_commands_async(settings, guild_id))
    where = f"guild {guild_id}" if guild_id else "all guilds (may take up to an hour to appear)"
    out(f"Synced {len(names)} commands ({', '.join('/' + n for n in names)}) to {where}.")
    return names


__all__ = [
    "DiscordDigestSender",
    "Handlers",
    "digest_embed",
    "TastemakerClient",
    "build_client",
    "check_option",
    "played_embed",
    "recommend_embed",
    "run_with_backoff",
    "serve",
    "sync_commands",
    "trending_embed",
]
