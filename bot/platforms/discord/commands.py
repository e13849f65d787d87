"""The app command tree: ``/played`` (with autocomplete), ``/recommend``, ``/trending``, ``/plays``,
``/undo``, the member commands ``/whoknows``, ``/top``, ``/recent``, ``/profile`` and ``/privacy``,
the taste commands ``/neighbours``, ``/similar`` and ``/taste``, the linked accounts' ``/link``,
``/unlink`` and ``/links``, ``/help`` and ``/tastemaker digest here|off|status``.

Handlers only parse and render: every call goes to :class:`~bot.service.Service`, run off the event
loop (``asyncio.to_thread``) so that a busy database never stalls the gateway. Each command defers at
once (Discord allows 3 s for the first answer) and then sends a followup with an embed.

A near miss on ``/played`` (:class:`~bot.service.NameQuestion`) is asked ephemerally with two
buttons; a press comes back through the client's ``on_interaction`` to :meth:`Handlers.answer`
(see :mod:`bot.platforms.discord.questions` for the ``custom_id``, the pending store and expiry).

``/whoknows``, ``/top``, ``/recent`` and ``/profile`` answer in the channel, like ``/trending``
(members by their display names, escaped: a ``member`` option is a user option, its id goes to the
service); ``/privacy`` and ``/help`` answer only the member, as every refusal does. ``/neighbours``,
``/similar`` and ``/taste`` (a required ``member`` user option) answer in the channel the same way.
``/top`` with ``chart:True`` attaches the chart as a PNG (``bot.chart``), shown as the embed's image.

``/link``, ``/unlink`` and ``/links`` answer only the member (ephemeral), each with the member's
pending notices about their linked accounts (an account gone or private, each shown once); the
asker's own ``/profile`` leaves their linked accounts out and sends them (and those notices) in an
ephemeral followup.
``/import file:<attachment>`` imports the member's own listening history from an export they attach,
showing its progress and then its summary in one private message (see
:mod:`bot.platforms.discord.uploads`).

``/recommend`` answers in the channel with a 👍 and a 👎 button per pick (the first ten); a press
comes back the same way to :meth:`Handlers.pick_feedback`, which only the member the picks are for
may use (see :mod:`bot.platforms.discord.picks`); ``reset_hidden:True`` brings back what they hid.

``/plays`` and ``/undo`` answer only the member (ephemeral). ``/plays`` carries a "Remove n" button
per play; a press comes back the same way to :meth:`Handlers.remove`, which asks the service to
remove the play as the member who *pressed* (see :mod:`bot.platforms.discord.plays`).

Option values are re-validated here (Discord's ``min/max_length`` is advisory for a bot: a crafted
or replayed interaction can carry anything); a bad value gets a friendly ephemeral error before any
work is done, and nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.chart import member_chart_png
from bot.digest import DigestCommand, run_digest_command
from bot.parsing import (
    TOP_PERIODS,
    UserError,
    parse_count,
    parse_kind,
    parse_period,
    parse_unlink_plays,
    parse_window,
    play_input,
    reject_bidi,
)
from bot.platforms.discord.embeds import (
    TOP_CHART_FILENAME,
    chart_embed,
    clip,
    error_text,
    escaped_error_text,
    feedback_embed,
    help_embed,
    linked_embed,
    links_embed,
    neighbours_embed,
    played_embed,
    plays_embed,
    privacy_embed,
    profile_embed,
    recent_embed,
    recommend_embed,
    removal_embed,
    reset_embed,
    similar_embed,
    taste_embed,
    trending_embed,
    unlinked_embed,
    whoknows_embed,
)
from bot.platforms.discord.ids import NAME
from bot.platforms.discord.picks import only_owner_text, picks_view
from bot.platforms.discord.picks import parse_custom_id as parse_pick_id
from bot.platforms.discord.plays import parse_custom_id as parse_remove_id
from bot.platforms.discord.plays import plays_view
from bot.platforms.discord.questions import (
    EXPIRED_TEXT,
    PendingQuestions,
    only_asker_text,
    parse_custom_id,
    question_text,
    question_view,
)
from bot.platforms.discord.uploads import import_attachment, too_large
from bot.service import NameQuestion, Question, Service, Who

MAX_CHOICES = 25  # Discord's limit for autocomplete answers
MAX_CHOICE_LENGTH = 100  # choice name and value
MAX_OPTION_LENGTH = 200  # what /played accepts per name (the storage key limit)
MAX_WHAT_LENGTH = 2 * MAX_OPTION_LENGTH + 3  # /whoknows and /similar: "Artist - Title"

WINDOW_CHOICES = [app_commands.Choice(name=w, value=w) for w in ("24h", "7d", "30d", "all")]
KIND_CHOICES = [app_commands.Choice(name=k, value=k) for k in ("artists", "tracks")]
PERIOD_CHOICES = [app_commands.Choice(name=p, value=p) for p in TOP_PERIODS]
PRIVACY_CHOICES = [app_commands.Choice(name=p, value=p) for p in ("private", "public")]
LINK_SOURCE_CHOICES = [
    app_commands.Choice(name="ListenBrainz", value="listenbrainz"),
    app_commands.Choice(name="Last.fm", value="lastfm"),
]
UNLINK_PLAYS_CHOICES = [
    app_commands.Choice(name="keep: the plays it synced stay in your history", value="keep"),
    app_commands.Choice(name="delete: remove the plays it synced", value="delete"),
]
MAX_ACCOUNT_LENGTH = 200  # /link's user option: a user name or a profile URL


def check_option(value: str | None, what: str, limit: int = MAX_OPTION_LENGTH) -> None:
    """Refuse values no honest Discord client sends; :class:`UserError` carries the friendly text."""
    if value is None:
        return
    reject_bidi(value, what)
    if len(value) > limit:
        raise UserError(f"That {what} is too long (at most {limit} characters).")


def member_id(member: discord.abc.Snowflake | None) -> str | None:
    """A user option's member id, as :class:`~bot.service.Who` has it (``None``: the asker)."""
    return None if member is None else str(member.id)


def who_of(interaction: discord.Interaction[Any]) -> Who:
    """The member and community (keyed by guild id) behind an interaction."""
    if interaction.guild_id is None:
        raise UserError("tastemaker works inside a server: use this command in a server channel.")
    guild = interaction.guild
    guild_name = getattr(guild, "name", None) or str(interaction.guild_id)
    user = interaction.user
    return Who(
        NAME,
        str(interaction.guild_id),
        str(user.id),
        community_name=guild_name,
        member_name=user.display_name,
    )


def choices(names: list[str]) -> list[app_commands.Choice[str]]:
    """At most 25 autocomplete choices (name and value at most 100 characters, no duplicates)."""
    out: list[app_commands.Choice[str]] = []
    seen: set[str] = set()
    for name in names:
        value = name[:MAX_CHOICE_LENGTH]
        if not value.strip() or value in seen:
            continue
        seen.add(value)
        out.append(app_commands.Choice(name=clip(name, MAX_CHOICE_LENGTH), value=value))
        if len(out) == MAX_CHOICES:
            break
    return out


class Handlers:
    """The command callbacks. ``service`` is ``None`` only in a client built to sync commands."""

    def __init__(self, service: Service | None, *, questions: PendingQuestions | None = None) -> None:
        self._service = service
        self.questions = questions if questions is not None else PendingQuestions()

    @property
    def service(self) -> Service:
        if self._service is None:  # pragma: no cover - a sync-only client never receives interactions
            raise RuntimeError("this client was built without a service")
        return self._service

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        validate: Callable[[], Who],
        work: Callable[[Who], discord.Embed | tuple[discord.Embed, discord.File | discord.ui.View | None]],
        ask: Callable[[Who, Question], tuple[str, discord.ui.View]] | None = None,
        *,
        escape_errors: bool = False,
    ) -> None:
        """Validate (cheap, no I/O) → defer → service call in a thread → followup embed (and the
        file ``work`` attaches to it, if any). With ``escape_errors`` a refusal after the defer may
        name members or items (shown as typed)."""
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
            answer = await asyncio.to_thread(work, who)
        except UserError as exc:
            # The "thinking…" message is public; replace it by an ephemeral followup.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            if isinstance(exc, NameQuestion) and ask is not None:
                text, view = ask(who, exc.question)
                await interaction.followup.send(
                    text, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
                return
            text = escaped_error_text(exc) if escape_errors else error_text(exc)
            await interaction.followup.send(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        if isinstance(answer, tuple):
            embed, extra = answer
            if isinstance(extra, discord.ui.View):
                await interaction.followup.send(
                    embed=embed, view=extra, allowed_mentions=discord.AllowedMentions.none()
                )
                return
            if isinstance(extra, discord.File):
                await interaction.followup.send(
                    embed=embed, file=extra, allowed_mentions=discord.AllowedMentions.none()
                )
                return
            answer = embed
        await interaction.followup.send(embed=answer, allowed_mentions=discord.AllowedMentions.none())

    async def played(self, interaction: discord.Interaction[Any], artist: str, track: str | None) -> None:
        def validate() -> Who:
            check_option(artist, "artist name")
            check_option(track, "track title")
            play_input(artist, track)  # empty / too long → UserError before deferring
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            result = self.service.played(who, artist=artist, track=track, event_id=str(interaction.id))
            return played_embed(result)

        def ask(who: Who, question: Question) -> tuple[str, discord.ui.View]:
            qid = str(interaction.id)
            pending = self.questions.add(qid, who, artist, track)
            return question_text(question), question_view(question, qid, who.member_id, pending.expires)

        await self._answer(interaction, validate, work, ask)

    async def answer(self, interaction: discord.Interaction[Any]) -> bool:
        """A press on one of the question's buttons (``False``: not one of ours). Only the asker may
        answer, and only while the question is pending; the answer replaces the question."""
        data: dict[str, Any] = dict(interaction.data or {})
        raw = data.get("custom_id")
        press = parse_custom_id(raw) if isinstance(raw, str) else None
        if press is None:
            return False
        pending = self.questions.get(press.qid)
        asker = pending.who.member_id if pending is not None else press.asker
        refusal = None
        if str(interaction.user.id) != asker:
            refusal = only_asker_text(asker)
        elif (
            pending is None
            or min(pending.expires, press.expires) <= self.questions.now()
            or pending.who.community_id != str(interaction.guild_id)
        ):
            refusal = EXPIRED_TEXT
        if refusal is not None or pending is None:
            await interaction.response.send_message(
                refusal or EXPIRED_TEXT, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return True
        await interaction.response.defer()  # DEFERRED_UPDATE_MESSAGE: the question gets replaced

        def work() -> discord.Embed:
            result = self.service.played(
                pending.who,
                artist=pending.artist,
                track=pending.track,
                event_id=press.event_id,
                resolve=press.resolve,
            )
            return played_embed(result)

        try:
            embed = await asyncio.to_thread(work)
        except UserError as exc:
            await interaction.edit_original_response(
                content=error_text(exc), view=None, allowed_mentions=discord.AllowedMentions.none()
            )
            return True
        await interaction.edit_original_response(
            content=None, embed=embed, view=None, allowed_mentions=discord.AllowedMentions.none()
        )
        return True

    async def component(self, interaction: discord.Interaction[Any]) -> bool:
        """A button press: a question's answer, a "Remove n" or a pick's 👍 / 👎 (``False``: not
        one of ours)."""
        return (
            await self.answer(interaction)
            or await self.remove(interaction)
            or await self.pick_feedback(interaction)
        )

    async def _private(
        self,
        interaction: discord.Interaction[Any],
        work: Callable[[Who], tuple[discord.Embed, discord.ui.View | None]],
    ) -> None:
        """Who (cheap, no I/O) → defer ephemerally → service call in a thread → ephemeral followup.
        Only the member sees any of it, refusals included."""
        try:
            who = who_of(interaction)
        except UserError as exc:
            await interaction.response.send_message(
                error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            embed, view = await asyncio.to_thread(work, who)
        except UserError as exc:
            await interaction.followup.send(
                escaped_error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        if view is None:
            await interaction.followup.send(
                embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.followup.send(
                embed=embed, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

    async def plays(self, interaction: discord.Interaction[Any]) -> None:
        """``/plays``: the member's last plays, with a "Remove n" button per play."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            plays = self.service.my_plays(who)
            return plays_embed(plays, self.service.clock(), who.platform), plays_view(plays)

        await self._private(interaction, work)

    async def undo(self, interaction: discord.Interaction[Any]) -> None:
        """``/undo``: take back the member's last play, and say which."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            return removal_embed(self.service.undo(who), self.service.clock(), who.platform), None

        await self._private(interaction, work)

    async def remove(self, interaction: discord.Interaction[Any]) -> bool:
        """A press on a "Remove n" button (``False``: not one of ours). The play is removed as the
        member who pressed, in the guild where they pressed: the service refuses anyone else's."""
        data: dict[str, Any] = dict(interaction.data or {})
        raw = data.get("custom_id")
        play_id = parse_remove_id(raw) if isinstance(raw, str) else None
        if play_id is None:
            return False

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            removal = self.service.remove_play(who, play_id)
            return removal_embed(removal, self.service.clock(), who.platform), None

        await self._private(interaction, work)
        return True

    async def recommend(
        self, interaction: discord.Interaction[Any], kind: str, count: int, reset_hidden: bool = False
    ) -> None:
        """``/recommend``: the picks in the channel, with 👍 / 👎 buttons that only the asker's
        presses count on (:mod:`~bot.platforms.discord.picks`). ``reset_hidden:True`` brings back
        the items the member hid, answered only to them."""
        if reset_hidden:

            def reset(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
                return reset_embed(self.service.reset_hidden(who)), None

            await self._private(interaction, reset)
            return
        parsed: dict[str, Any] = {}

        def validate() -> Who:
            parsed["kind"] = parse_kind(kind, "artist")
            parsed["count"] = parse_count(count, 10)
            return who_of(interaction)

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            picks = self.service.recommend(who, parsed["kind"], parsed["count"])
            return recommend_embed(picks), picks_view(picks.kind, picks.picks, who.member_id)

        await self._answer(interaction, validate, work)

    async def pick_feedback(self, interaction: discord.Interaction[Any]) -> bool:
        """A press on a pick's 👍 / 👎 (``False``: not one of ours). Only the member the picks are
        for may rate them; the verdict is stored for the member who pressed, in the guild where
        they pressed, and the answer (what it did, how many are hidden) only they see. The
        listing is left as it is."""
        data: dict[str, Any] = dict(interaction.data or {})
        raw = data.get("custom_id")
        press = parse_pick_id(raw) if isinstance(raw, str) else None
        if press is None:
            return False
        if str(interaction.user.id) != press.owner:
            await interaction.response.send_message(
                only_owner_text(press.owner),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return True

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            return feedback_embed(self.service.feedback(who, press.kind, press.item, press.verdict)), None

        await self._private(interaction, work)
        return True

    async def trending(self, interaction: discord.Interaction[Any], window: str, kind: str) -> None:
        parsed: dict[str, str] = {}

        def validate() -> Who:
            parsed["window"] = parse_window(window)
            parsed["kind"] = parse_kind(kind, "track")
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            return trending_embed(self.service.trending(who, parsed["window"], parsed["kind"]))

        await self._answer(interaction, validate, work)

    # --- members: /whoknows, /top, /recent, /profile (public), /privacy and /help (ephemeral) ---

    async def whoknows(self, interaction: discord.Interaction[Any], what: str) -> None:
        def validate() -> Who:
            check_option(what, "artist or track", MAX_WHAT_LENGTH)
            if not what.strip():
                raise UserError("Which artist or track? Try `/whoknows what:Radiohead`.")
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            return whoknows_embed(self.service.whoknows(who, what), self.service.clock())

        await self._answer(interaction, validate, work, escape_errors=True)

    async def top(
        self,
        interaction: discord.Interaction[Any],
        kind: str,
        period: str,
        member: discord.abc.Snowflake | None,
        picture: bool = False,
    ) -> None:
        """``/top``; with ``chart:True`` the embed shows the chart's PNG, attached to the answer."""
        parsed: dict[str, str] = {}

        def validate() -> Who:
            parsed["kind"] = parse_kind(kind, "artist")
            parsed["period"] = parse_period(period)
            return who_of(interaction)

        def work(who: Who) -> discord.Embed | tuple[discord.Embed, discord.File]:
            chart = self.service.top(who, parsed["kind"], parsed["period"], member_id(member))
            png = member_chart_png(chart, shared=True) if picture else None
            if png is None:
                return chart_embed(chart)
            return chart_embed(chart, picture=True), discord.File(
                io.BytesIO(png), filename=TOP_CHART_FILENAME
            )

        await self._answer(interaction, validate, work, escape_errors=True)

    async def recent(
        self, interaction: discord.Interaction[Any], member: discord.abc.Snowflake | None
    ) -> None:
        def work(who: Who) -> discord.Embed:
            return recent_embed(self.service.recent(who, member_id(member)), self.service.clock())

        await self._answer(interaction, lambda: who_of(interaction), work, escape_errors=True)

    async def profile(
        self, interaction: discord.Interaction[Any], member: discord.abc.Snowflake | None
    ) -> None:
        """``/profile``, in the channel. The asker's own linked accounts and pending notices are
        left out of it and follow in an ephemeral message (when there are any)."""
        mine: list[discord.Embed] = []

        def work(who: Who) -> discord.Embed:
            profile = self.service.profile(who, member_id(member))
            if profile.is_you:
                notices = self.service.pending_notices(who)
                if profile.links or notices:
                    mine.append(links_embed(profile.links, self.service.clock(), notices, profile=True))
            return profile_embed(profile)

        await self._answer(interaction, lambda: who_of(interaction), work, escape_errors=True)
        for embed in mine:
            await interaction.followup.send(
                embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

    # --- taste: /neighbours, /similar, /taste (public) -------------------------------------------

    async def neighbours(self, interaction: discord.Interaction[Any]) -> None:
        def work(who: Who) -> discord.Embed:
            return neighbours_embed(self.service.neighbours(who))

        await self._answer(interaction, lambda: who_of(interaction), work)

    async def similar(self, interaction: discord.Interaction[Any], what: str) -> None:
        def validate() -> Who:
            check_option(what, "artist or track", MAX_WHAT_LENGTH)
            if not what.strip():
                raise UserError("Which artist or track? Try `/similar what:Radiohead`.")
            return who_of(interaction)

        def work(who: Who) -> discord.Embed:
            return similar_embed(self.service.similar(who, what))

        await self._answer(interaction, validate, work, escape_errors=True)

    async def taste(self, interaction: discord.Interaction[Any], member: discord.abc.Snowflake) -> None:
        """``/taste member:@user``: the service refuses oneself, a stranger, a private member and a
        member without plays here (only the asker sees why)."""

        def work(who: Who) -> discord.Embed:
            return taste_embed(self.service.taste(who, str(member.id)))

        await self._answer(interaction, lambda: who_of(interaction), work, escape_errors=True)

    async def privacy(self, interaction: discord.Interaction[Any], setting: str) -> None:
        """``/privacy private|public``: answered only to the member."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            return privacy_embed(self.service.privacy(who, setting)), None

        await self._private(interaction, work)

    # --- linked accounts: /link, /unlink, /links (ephemeral) -------------------------------------

    async def link(self, interaction: discord.Interaction[Any], source: str, user: str) -> None:
        """``/link source:… user:…``: answered only to the member, with their pending notices."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            check_option(user, "user name", MAX_ACCOUNT_LENGTH)
            linked = self.service.link(who, source, user)
            return linked_embed(linked, self.service.clock(), self.service.pending_notices(who)), None

        await self._private(interaction, work)

    async def unlink(self, interaction: discord.Interaction[Any], source: str | None, plays: str) -> None:
        """``/unlink [source:…] [plays:keep|delete]``: keep (the default) or delete the synced plays."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            keep = parse_unlink_plays(plays)
            unlinked = self.service.unlink(who, source or None, keep_plays=keep)
            return unlinked_embed(unlinked, self.service.pending_notices(who)), None

        await self._private(interaction, work)

    async def links(self, interaction: discord.Interaction[Any]) -> None:
        """``/links``: the member's linked accounts and how their sync stands."""

        def work(who: Who) -> tuple[discord.Embed, discord.ui.View | None]:
            notices = self.service.pending_notices(who)
            return links_embed(self.service.links(who), self.service.clock(), notices), None

        await self._private(interaction, work)

    async def upload(self, interaction: discord.Interaction[Any], attachment: discord.Attachment) -> None:
        """``/import file:<attachment>``: refused at once (ephemerally, nothing downloaded) outside a
        server or over the size cap; otherwise imported privately (:mod:`~bot.platforms.discord.uploads`)."""
        try:
            who = who_of(interaction)
            refusal = too_large(attachment, self.service)
            if refusal is not None:
                raise refusal
        except UserError as exc:
            await interaction.response.send_message(
                escaped_error_text(exc), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await import_attachment(self.service, interaction, who, attachment)

    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """``/help``: every command with its example, only to the member (no database)."""
        await interaction.response.send_message(
            embed=help_embed(self.service.help()),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

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
    @app_commands.describe(
        kind="Artists or tracks",
        count="How many picks (1–25)",
        reset_hidden="Bring back every pick you hid with 👎",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.guild_only()
    async def recommend(
        interaction: discord.Interaction,
        kind: str = "artists",
        count: app_commands.Range[int, 1, 25] = 10,
        reset_hidden: bool = False,
    ) -> None:
        await handlers.recommend(interaction, kind, count, reset_hidden)

    @app_commands.command(name="trending", description="What this community plays most, and what is rising.")
    @app_commands.describe(window="Time window", kind="Artists or tracks")
    @app_commands.choices(window=WINDOW_CHOICES, kind=KIND_CHOICES)
    @app_commands.guild_only()
    async def trending(interaction: discord.Interaction, window: str = "7d", kind: str = "tracks") -> None:
        await handlers.trending(interaction, window, kind)

    @app_commands.command(name="plays", description="Your last plays, each with a button to take it back.")
    @app_commands.guild_only()
    async def plays(interaction: discord.Interaction) -> None:
        await handlers.plays(interaction)

    @app_commands.command(name="undo", description="Take back your last play.")
    @app_commands.guild_only()
    async def undo(interaction: discord.Interaction) -> None:
        await handlers.undo(interaction)

    @app_commands.command(name="whoknows", description="Who here plays an artist or a track most.")
    @app_commands.describe(what="An artist, or Artist - Title")
    @app_commands.guild_only()
    async def whoknows(
        interaction: discord.Interaction, what: app_commands.Range[str, 1, MAX_WHAT_LENGTH]
    ) -> None:
        await handlers.whoknows(interaction, what)

    @app_commands.command(name="top", description="A member's own chart (yours by default).")
    @app_commands.describe(
        kind="Artists or tracks",
        period="Time period",
        member="Whose chart (yours by default)",
        chart="Also as a picture",
    )
    @app_commands.choices(kind=KIND_CHOICES, period=PERIOD_CHOICES)
    @app_commands.guild_only()
    async def top(
        interaction: discord.Interaction,
        kind: str = "artists",
        period: str = "all",
        member: discord.User | None = None,
        chart: bool = False,
    ) -> None:
        await handlers.top(interaction, kind, period, member, chart)

    @app_commands.command(name="recent", description="A member's last plays (yours by default).")
    @app_commands.describe(member="Whose plays (yours by default)")
    @app_commands.guild_only()
    async def recent(interaction: discord.Interaction, member: discord.User | None = None) -> None:
        await handlers.recent(interaction, member)

    @app_commands.command(
        name="profile", description="Plays, streaks and top artist of a member (you by default)."
    )
    @app_commands.describe(member="Whose profile (yours by default)")
    @app_commands.guild_only()
    async def profile(interaction: discord.Interaction, member: discord.User | None = None) -> None:
        await handlers.profile(interaction, member)

    @app_commands.command(name="neighbours", description="The members here whose taste is closest to yours.")
    @app_commands.guild_only()
    async def neighbours(interaction: discord.Interaction) -> None:
        await handlers.neighbours(interaction)

    @app_commands.command(
        name="similar", description="What this server plays that is like an artist or a track."
    )
    @app_commands.describe(what="An artist, or Artist - Title")
    @app_commands.guild_only()
    async def similar(
        interaction: discord.Interaction, what: app_commands.Range[str, 1, MAX_WHAT_LENGTH]
    ) -> None:
        await handlers.similar(interaction, what)

    @app_commands.command(name="taste", description="Compare your taste with another member's.")
    @app_commands.describe(member="Whose taste to compare with yours")
    @app_commands.guild_only()
    async def taste(interaction: discord.Interaction, member: discord.User) -> None:
        await handlers.taste(interaction, member)

    @app_commands.command(name="privacy", description="Leave others' answers about members, or come back.")
    @app_commands.describe(
        setting="private: hidden from others in whoknows, top, recent, profile, neighbours and taste"
    )
    @app_commands.choices(setting=PRIVACY_CHOICES)
    @app_commands.guild_only()
    async def privacy(interaction: discord.Interaction, setting: str) -> None:
        await handlers.privacy(interaction, setting)

    @app_commands.command(
        name="link", description="Link your ListenBrainz or Last.fm account: its plays arrive by themselves."
    )
    @app_commands.describe(
        source="ListenBrainz or Last.fm", user="Your user name there, or your profile's URL"
    )
    @app_commands.choices(source=LINK_SOURCE_CHOICES)
    @app_commands.guild_only()
    async def link(
        interaction: discord.Interaction, source: str, user: app_commands.Range[str, 1, MAX_ACCOUNT_LENGTH]
    ) -> None:
        await handlers.link(interaction, source, user)

    @app_commands.command(
        name="unlink", description="Stop syncing a linked account; keep or delete its plays."
    )
    @app_commands.describe(
        source="Which account (needed only when you linked both)",
        plays="What happens to the plays it synced (keep by default)",
    )
    @app_commands.choices(source=LINK_SOURCE_CHOICES, plays=UNLINK_PLAYS_CHOICES)
    @app_commands.guild_only()
    async def unlink(
        interaction: discord.Interaction, source: str | None = None, plays: str = "keep"
    ) -> None:
        await handlers.unlink(interaction, source, plays)

    @app_commands.command(
        name="links", description="Your linked accounts: last sync, plays synced, problems."
    )
    @app_commands.guild_only()
    async def links(interaction: discord.Interaction) -> None:
        await handlers.links(interaction)

    @app_commands.command(name="import", description="Import your own listening history from an export file.")
    @app_commands.describe(
        file="Your Spotify (JSON or ZIP), ListenBrainz (ZIP or JSONL) or Last.fm (CSV) export"
    )
    @app_commands.guild_only()
    async def import_(interaction: discord.Interaction, file: discord.Attachment) -> None:
        await handlers.upload(interaction, file)

    @app_commands.command(name="help", description="Every tastemaker command, with an example.")
    @app_commands.guild_only()
    async def help_(interaction: discord.Interaction) -> None:
        await handlers.help(interaction)

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

    return [
        played,
        recommend,
        trending,
        plays,
        undo,
        whoknows,
        top,
        recent,
        profile,
        neighbours,
        similar,
        taste,
        privacy,
        link,
        unlink,
        links,
        import_,
        help_,
        tastemaker,
    ]
