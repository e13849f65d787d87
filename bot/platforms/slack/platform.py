"""The Slack platform as the registry sees it. Nothing heavy at import time: serving, the digest
sender and the help text import Bolt / slack_sdk / the renderers when called."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.slack import ids

if TYPE_CHECKING:
    from bot.digest import DigestSender
    from bot.platforms import Process, Served
    from config.settings import Settings


class SlackPlatform:
    name = ids.NAME
    reference = ids.REFERENCE
    credentials = "SLACK_BOT_TOKEN (with SLACK_APP_TOKEN, or SLACK_SIGNING_SECRET and --http-port)"

    @property
    def help(self) -> str:
        from bot.platforms.slack.blocks import help_text

        return help_text()

    def parse_community(self, ref: str) -> str:
        return ids.parse_workspace(ref)

    def format_community(self, external_id: str) -> str:
        return ids.format_workspace(external_id)

    def parse_member(self, ref: str) -> str:
        return ids.parse_member(ref)

    def configured(self, settings: Settings) -> bool:
        return bool(settings.slack_bot_token)

    def digest_sender(self, settings: Settings) -> DigestSender | None:
        from bot.platforms.slack.client import web_client
        from bot.platforms.slack.digest import SlackDigestSender

        return SlackDigestSender(web_client(settings))

    def serve(self, process: Process) -> Served:
        from bot.platforms.slack.server import serve

        return serve(process)


PLATFORM = SlackPlatform()
