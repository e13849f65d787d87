"""Discord's ``/help``, from :meth:`~bot.service.Service.help` (no SDK here: the registry's help
text imports it without discord.py)."""

from __future__ import annotations

from collections.abc import Sequence

from bot import render
from bot.service import HelpEntry, Service

TITLE = "tastemaker — log what you listen to, see what your server is into."
PREFIX = "/"
# Discord's own shape of a few commands: /played, /recommend, /top, /link and /unlink take options
# (/top's chart and /recommend's reset_hidden are booleans; /link's and /unlink's source and plays
# are choices), /taste a required user option, /import an attachment option, the digest is a
# command group.
REPLACE = {
    "played": (
        HelpEntry(
            "played",
            "artist:<…> [track:<…>]",
            "log a play (autocomplete from this server's catalog)",
            "artist:Radiohead track:Karma Police",
        ),
    ),
    "recommend": (
        HelpEntry(
            "recommend",
            "[kind:artists|tracks] [count:n] [reset_hidden:True]",
            "picks for you, each with its reason and 👍 / 👎 (👎 hides it; reset_hidden brings them back)",
            "kind:tracks count:5",
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
    "link": (
        HelpEntry(
            "link",
            "source:ListenBrainz|Last.fm user:<user name>",
            "link your ListenBrainz or Last.fm account here: its plays arrive by themselves",
            "source:ListenBrainz user:rob",
        ),
    ),
    "unlink": (
        HelpEntry(
            "unlink",
            "[source:…] [plays:keep|delete]",
            "stop syncing a linked account; its synced plays stay (keep, the default) or go (delete)",
            "source:Last.fm plays:delete",
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
LINK_COMMANDS = render.LinkCommands(
    "`/link source:{service} user:{account}`", "`/unlink source:{service} plays:{plays}`", "`/links`"
)


def entries(service_help: Sequence[HelpEntry] | None = None) -> list[HelpEntry]:
    return render.help_entries(Service.help() if service_help is None else service_help, REPLACE)


def help_text(service_help: Sequence[HelpEntry] | None = None) -> str:
    """Plain text: every Discord command with its example."""
    return render.help_text(entries(service_help), lambda _command: PREFIX, TITLE)
