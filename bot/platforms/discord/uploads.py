"""``/import file:<attachment>``: a member's own listening history from an export they attach.

The attachment's declared ``size`` is checked against ``upload_max_bytes`` before anything else
(an ephemeral refusal, nothing downloaded). Otherwise the command defers ephemerally and edits
that one private message: ``Importing <file>…`` at once, ``… 50,000 plays read`` once per 50,000
rows read (and at the end) but at most every ``upload_progress_seconds`` while the import runs,
and finally the summary (imported, duplicates, skipped by reason) or the one-line reason the file
was refused. Downloading the attachment's
``url`` into a temporary file (:func:`bot.uploads.download`, removed afterwards) and the import
itself (:meth:`~bot.service.Service.import_upload`) run in a worker thread, off the event loop;
a progress edit is sent from there through the loop, and the import waits for it, so edits
arrive in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot import render, uploads
from bot.parsing import UserError
from bot.platforms.discord.embeds import clip, esc, escaped_error_text
from bot.service import Service, UploadSummary, Who

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000  # characters of a message's content
PROGRESS_TIMEOUT = 30.0  # seconds the import waits for one progress edit
NONE = discord.AllowedMentions.none()


def too_large(attachment: discord.Attachment, service: Service) -> UserError | None:
    """The refusal for an attachment over the cap (by its declared size), or None. Its text names
    the file as sent: show it with ``escaped_error_text``."""
    cap = service.settings.upload_max_bytes
    if attachment.size > cap:
        return uploads.too_large(attachment.filename, attachment.size, cap)
    return None


async def import_attachment(
    service: Service, interaction: discord.Interaction[Any], who: Who, attachment: discord.Attachment
) -> None:
    """Defer ephemerally, then download, import and report in the one private message."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    loop = asyncio.get_running_loop()
    name = attachment.filename
    settings = service.settings

    async def edit(text: str) -> None:
        await interaction.edit_original_response(content=clip(text, CONTENT_LIMIT), allowed_mentions=NONE)

    await edit(render.upload_progress_text(name, esc=esc))
    throttle = uploads.Throttle(settings.upload_progress_seconds)

    def progress(plays: int) -> None:
        if not throttle.due():
            return
        sent = asyncio.run_coroutine_threadsafe(edit(render.upload_progress_text(name, plays, esc=esc)), loop)
        try:
            sent.result(PROGRESS_TIMEOUT)
        except Exception as exc:  # progress is best effort: the import goes on
            log.warning("could not show the import's progress: %s", exc)

    def work() -> UploadSummary:
        with uploads.temporary_file() as path:
            uploads.download(attachment.url, path, name=name, max_bytes=settings.upload_max_bytes)
            return service.import_upload(who, path, progress)

    try:
        summary = await asyncio.to_thread(work)
    except UserError as exc:
        text = escaped_error_text(exc)  # the file's name as sent, markdown and mentions defused
    else:
        text = render.upload_summary_text(name, summary, esc=esc)
    try:
        await edit(text)
    except discord.HTTPException as exc:  # e.g. past the interaction token's 15 minutes
        log.warning("could not show the import's summary: %s", exc)
