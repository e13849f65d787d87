"""Discord's ``/help``, from :meth:`~bot.service.Service.help` (no SDK here: the registry's help
text imports it without discord.py)."""

from __future__ import annotations

from collections.abc import Sequence

from bot import render
from bot.service import HelpEntry, Service

TITLE = "tastemaker — log what you listen to, see what your server is into."
PREFIX = "/"
# Discord's own shape of a few commands: /played and /top take options (/top's chart is a boolean),
# /taste a required user option, /import an attachment option, the digest is a command group.
REPLACE = {
    "played": (
        HelpEntry(
            "played",
            "artist:<…> [track:<…>]",
            "log a play (autocomplete from this server's catalog)",
            "artist:Radiohead track:Karma Police",
        ),
    ),
    "taste": (
        HelpEntry("taste", "member:<@member>", "compare your taste with another member's", "member:@ann"),
    ),
    "top": (
        HelpEntry(
            "top",
            "[kind:artists|tracks] [period:7d|30d|year|all] [member:@…] [chart:True]",
            "a member's own chart (chart: as a picture too)",
            "kind:tracks period:30d chart:True",
        ),
    ),
    "import": (
        HelpEntry(
            "import",
            "file:<attachment>",
            "add your own history from a Spotify, ListenBrainz or Last.fm export (only you see it)",
            "",
        ),
    ),
    "digest": (
        HelpEntry(
            "tastemaker digest",
            "here|off|status",
            "the daily digest in this channel (Manage Server)",
            "here time:09:00 timezone:Europe/Berlin",
        ),
    ),
}
PRIVACY_SWITCH = {True: "`/privacy setting:public`", False: "`/privacy setting:private`"}


def entries(service_help: Sequence[HelpEntry] | None = None) -> list[HelpEntry]:
    return render.help_entries(Service.help() if service_help is None else service_help, REPLACE)


def help_text(service_help: Sequence[HelpEntry] | None = None) -> str:
    """Plain text: every Discord command with its example."""
    return render.help_text(entries(service_help), lambda _command: PREFIX, TITLE)
