"""Slack's digest sender (``bot.digest.DigestSender``)."""

from __future__ import annotations

import datetime as dt

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest import DigestPost, SendRejected
from bot.platforms.slack.blocks import escape, mrkdwn
from bot.platforms.slack.client import ensure_rate_limit_retries
from bot.platforms.slack.ids import NAME

CHART_FILENAME = "tastemaker-digest.png"


class SlackDigestSender:
    """Posts digests with ``files_upload_v2`` (``files.getUploadURLExternal`` → upload →
    ``files.completeUploadExternal`` sharing the chart into the channel with the digest as its
    comment); an empty day (no chart) is a plain ``chat.postMessage``.

    Slack has no idempotency key: if the process dies after Slack accepted the post but before the
    ledger recorded it, the digest is *not* resent (the ledger row stays ``sending`` and becomes
    ``unknown``), so that day's post may be missing but is never doubled."""

    platform = NAME
    resend_window = dt.timedelta(0)

    def __init__(self, client: WebClient) -> None:
        self.client = ensure_rate_limit_retries(client)

    def send(self, channel: str, post: DigestPost) -> str:
        text = escape(post.text)
        try:
            if post.chart is None:
                resp = self.client.chat_postMessage(
                    channel=channel, text=text, blocks=[mrkdwn(text)], unfurl_links=False, unfurl_media=False
                )
                return f"{channel}/{resp.get('ts')}"
            done = self.client.files_upload_v2(
                channel=channel,
                file=post.chart,
                filename=CHART_FILENAME,
                title=f"Top tracks, week to {post.digest.day.isoformat()}",
                alt_txt="Daily plays of the top tracks over the last seven days",
                initial_comment=text,
            )
        except SlackApiError as exc:  # Slack answered ok=false: nothing was shared
            error = exc.response.get("error") if exc.response is not None else str(exc)
            raise SendRejected(f"Slack refused the digest: {error}") from exc
        file = done.get("file") or {}
        return f"{channel}/file:{file.get('id')}"
