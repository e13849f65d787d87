"""The console as a platform: communities stored under ``local``, written as a plain name (or
``local:name`` when the name itself starts with a platform's prefix). It has no server and no
digest: ``tastemaker chat`` talks to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import platforms
from bot.platforms import PlatformError

if TYPE_CHECKING:
    from bot.digest import DigestSender
    from bot.platforms import Process, Served
    from config.settings import Settings

NAME = "local"


class ConsolePlatform:
    name = NAME
    reference = "mycrew or local:mycrew (a name of your choosing)"
    credentials = ""  # nothing to configure, nothing `run` serves

    @property
    def help(self) -> str:
        from bot.platforms.console.commands import help_text

        return help_text()

    def parse_community(self, ref: str) -> str:
        return self._name(ref, "community")

    def format_community(self, external_id: str) -> str:
        prefix, sep, _ = external_id.partition(":")
        return f"{NAME}:{external_id}" if sep and prefix in platforms.names() else external_id

    def parse_member(self, ref: str) -> str:
        return self._name(ref, "member")

    @staticmethod
    def _name(ref: str, what: str) -> str:
        value = ref.strip()
        if not value:
            raise PlatformError(f"a {what} name must not be empty")
        return value

    def configured(self, settings: Settings) -> bool:
        return False

    def digest_sender(self, settings: Settings) -> DigestSender | None:
        return None

    def serve(self, process: Process) -> Served:
        raise PlatformError(
            "the console is not served by `tastemaker run`: talk to it with `tastemaker chat`"
        )


PLATFORM = ConsolePlatform()
