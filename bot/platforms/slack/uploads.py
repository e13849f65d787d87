"""A file sent to the bot in a direct message: the member's own listening history, imported.

Slack sends a ``message`` event with ``subtype: file_share`` (the ``message.im`` subscription);
only one in a direct message with the bot (``channel_type: im``) is imported — a file shared in a
channel, or a message of a bot, is left alone. For each file the event names:

1. ``files.info`` gives its name, size and ``url_private_download`` (the event's own file object
   may be a stub, as for files from Slack Connect).
2. Over ``upload_max_bytes`` by that size: one line in the direct message, nothing downloaded.
3. Otherwise one message in the direct message (``chat.postMessage``: ``Importing <file>…``) is
   updated (``chat.update``) with the progress once per 50,000 rows read (and at the end), at
   most every ``upload_progress_seconds``, and
   finally with the summary (imported, duplicates, skipped by reason) or the one-line reason the
   file was refused. The direct message is the member's own: nobody else sees any of it.
4. The file is downloaded with the bot token (``Authorization: Bearer``, the way Slack serves a
   private file) into a temporary file, removed afterwards, and imported with
   :meth:`~bot.service.Service.import_upload`.

This runs in Bolt's lazy listener, after the event was acknowledged; a retry of an event already
acknowledged (``X-Slack-Retry-Num``, same ``event_id``) is answered by the app's replay guard
(:mod:`bot.platforms.slack.replay`) and imports nothing. The workspace is the event's
``enterprise_id``/``team_id`` (as for a slash command); the event names the member only by id, so a
member new to the workspace is stored under their id until a command gives their name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from re import Pattern
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import render, uploads
from bot.parsing import UserError
from bot.platforms.slack.blocks import error_message, text_message
from bot.platforms.slack.ids import NAME, community_key
from bot.service import Service, Who
from config.settings import Settings

log = logging.getLogger(__name__)

# The events this module answers (Bolt's event constraint).
FILE_SHARE: dict[str, str | Sequence[str | Pattern[str] | None] | None] = {
    "type": "message",
    "subtype": "file_share",
}
_SORRY = "something went wrong on my side while importing. Please try again later."
# Why files.info refused (its error), in words.
_FILE_HINTS = {
    "missing_scope": "the app lacks the files:read permission; a workspace admin can reinstall it "
    "from the current manifest",
    "file_not_found": "it is gone; please send it again",
    "file_deleted": "it was deleted; please send it again",
}
HOW_TO = (
    "Send me your listening history in this direct message, as a file: a Spotify extended "
    "streaming history (its JSON files or the ZIP), a ListenBrainz export (the ZIP or a JSONL file) "
    "or a Last.fm scrobble CSV. I add it to your own history in this workspace and tell you here "
    "what was imported."
)


def who_from_event(body: dict[str, Any]) -> Who:
    """The member and workspace behind an Events API payload (the envelope names the workspace:
    a ``file_share`` message has no ``team`` of its own)."""
    event = body.get("event") or {}
    team = body.get("team_id")
    return Who(
        platform=NAME,
        community_id=community_key(body.get("enterprise_id"), team),
        member_id=str(event.get("user") or ""),
        community_name=str(team or ""),
        member_name=str(event.get("user") or ""),
    )


def is_direct_upload(event: dict[str, Any]) -> bool:
    """A member (not a bot) shared files in a direct message with the bot."""
    return (
        event.get("subtype") == "file_share"
        and event.get("channel_type") == "im"
        and not event.get("bot_id")
        and bool(event.get("user"))
        and bool(event.get("channel"))
        and bool(event.get("files"))
    )


class Uploads:
    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    def shared(self, body: dict[str, Any], client: WebClient) -> None:
        """A ``file_share`` message event (after the ack): import each file of a direct message."""
        event = body.get("event") or {}
        if not isinstance(event, dict) or not is_direct_upload(event):
            return
        who = who_from_event(body)
        for file in event["files"]:
            file_id = file.get("id") if isinstance(file, dict) else None
            if isinstance(file_id, str) and file_id:
                try:
                    self._import(client, who, str(event["channel"]), file_id)
                except Exception:
                    log.exception("importing slack file %s failed", file_id)

    def _import(self, client: WebClient, who: Who, channel: str, file_id: str) -> None:
        try:
            info = client.files_info(file=file_id).get("file") or {}
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("files.info failed: %s", error)
            hint = _FILE_HINTS.get(str(error), "please try again later")
            client.chat_postMessage(
                channel=channel,
                **error_message(f"I could not open that file ({error or 'no answer'}): {hint}."),
            )
            return
        name = str(info.get("name") or info.get("title") or file_id)
        size = info.get("size")
        cap = self.settings.upload_max_bytes
        if isinstance(size, int) and size > cap:
            client.chat_postMessage(channel=channel, **error_message(str(uploads.too_large(name, size, cap))))
            return
        posted = client.chat_postMessage(channel=channel, **text_message(render.upload_progress_text(name)))
        where, ts = str(posted.get("channel") or channel), str(posted.get("ts") or "")
        throttle = uploads.Throttle(self.settings.upload_progress_seconds)

        def progress(plays: int) -> None:
            if not throttle.due():
                return
            try:
                client.chat_update(
                    channel=where, ts=ts, **text_message(render.upload_progress_text(name, plays))
                )
            except SlackApiError as exc:  # progress is best effort: the import goes on
                log.warning(
                    "chat.update failed: %s", exc.response.get("error") if exc.response is not None else exc
                )

        url = info.get("url_private_download") or info.get("url_private")
        try:
            if not isinstance(url, str) or not url:
                raise UserError(f"I could not download {name}: Slack gave no address for it.")
            with uploads.temporary_file() as path:
                uploads.download(
                    url,
                    path,
                    name=name,
                    max_bytes=cap,
                    headers={"Authorization": f"Bearer {client.token}"},
                    refuse_html=True,
                )
                summary = self.service.import_upload(who, path, progress)
            final = text_message(render.upload_summary_text(name, summary))
        except UserError as exc:
            final = error_message(str(exc))
        except Exception:
            log.exception("importing slack file %s failed", file_id)
            final = error_message(_SORRY)
        client.chat_update(channel=where, ts=ts, **final)
