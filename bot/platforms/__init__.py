"""Chat platforms: one :class:`Platform` protocol and one registry.

A platform is one folder (``bot/platforms/<folder>/``) whose ``platform`` module holds a ``PLATFORM``
object; the registry knows only module paths and imports a platform on first use, so importing
this package (the command line, the service layer, the scheduler, the digest) imports no chat SDK.
Only ``bot/platforms/slack/`` imports ``slack_bolt``/``slack_sdk`` and only
``bot/platforms/discord/`` imports ``discord``, and each platform module defers those imports to the
functions that serve the platform.

Communities are written ``<platform>:<id>`` on the command line (``slack:T0123``,
``discord:123456789012345678``; a plain name, or ``local:name``, is the console's). Each platform
turns the ``<id>`` into the external id its adapter stores (a Slack workspace is stored as
``<enterprise id or ->:<team id>``) and back, so an import and the bot meet in one community.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.digest import DigestRuntime, DigestSender
    from bot.service import Service
    from config.settings import Settings

log = logging.getLogger(__name__)

# Stored platform name → the module holding its ``PLATFORM``. The console's communities are stored
# under "local" (the default platform of a community reference).
_MODULES: Mapping[str, str] = MappingProxyType(
    {
        "local": "bot.platforms.console.platform",
        "slack": "bot.platforms.slack.platform",
        "discord": "bot.platforms.discord.platform",
    }
)
DEFAULT = "local"


class PlatformError(Exception):
    """A platform cannot be served, or a reference cannot be parsed: the message says why and what
    to do, in one line (no traceback is shown for it)."""


@dataclass(frozen=True)
class Process:
    """What the running process shares with every platform it serves: one service (one database),
    the settings, the ``run`` options and the one digest runtime (whose senders come from every
    served platform). ``out`` prints a status line (``listening on …``)."""

    service: Service
    settings: Settings
    digest: DigestRuntime | None = None
    http_port: int | None = None
    http_host: str = "0.0.0.0"
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


class Served:
    """A platform being served: its loop (``run``, blocking) in a thread of its own, and how to ask
    it to stop (``stop``, any thread). ``failure`` says why it ended when nobody asked it to."""

    def __init__(self, name: str, run: Callable[[], None], stop: Callable[[], None]) -> None:
        self.name = name
        self._run = run
        self._stop = stop
        self._stopping = threading.Event()
        self.done = threading.Event()
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._main, name=f"tastemaker-{name}", daemon=True)

    def start(self) -> Served:
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            self._run()
            if not self._stopping.is_set():
                self.failure = "stopped unexpectedly"
        except PlatformError as exc:
            self.failure = str(exc)
        except Exception as exc:  # reported in one line; the traceback goes to the debug log
            log.debug("%s stopped", self.name, exc_info=True)
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the platform to stop and wait (at most ``timeout`` seconds) until it has."""
        if not self._stopping.is_set():
            self._stopping.set()
            if not self.done.is_set():
                try:
                    self._stop()
                except Exception:
                    log.warning("stopping %s failed", self.name, exc_info=True)
        if self._thread.is_alive():
            self._thread.join(timeout)


class Platform(Protocol):
    """A chat platform tastemaker can serve."""

    @property
    def name(self) -> str:
        """As stored (``communities.platform``) and written in references (``slack:…``)."""
        ...

    @property
    def help(self) -> str:
        """Plain-text help listing the platform's commands."""
        ...

    @property
    def reference(self) -> str:
        """How a community of this platform is written, e.g. ``slack:T0123 (team id)``."""
        ...

    @property
    def credentials(self) -> str:
        """What configures it, for messages (``DISCORD_TOKEN``); empty: ``run`` never serves it."""
        ...

    def parse_community(self, ref: str) -> str:
        """The ``<id>`` of ``<name>:<id>`` → the external id the adapter stores (:class:`PlatformError`
        when it is not one)."""
        ...

    def format_community(self, external_id: str) -> str:
        """A stored external id → its reference (``slack:T0123``); the inverse of the above."""
        ...

    def parse_member(self, ref: str) -> str:
        """A member id as written (``--member``) → the external id the adapter stores."""
        ...

    def configured(self, settings: Settings) -> bool:
        """Its credentials are set (``tastemaker run`` serves it without ``--platform``)."""
        ...

    def digest_sender(self, settings: Settings) -> DigestSender | None:
        """What posts its daily digests (``None``: it has none)."""
        ...

    def serve(self, process: Process) -> Served:
        """Check the credentials, connect or listen, and return the platform being served (started).
        Raises :class:`PlatformError` when it cannot start."""
        ...


def names() -> tuple[str, ...]:
    return tuple(_MODULES)


def get(name: str) -> Platform:
    try:
        module = _MODULES[name]
    except KeyError:
        raise PlatformError(f"unknown platform {name!r}; known: {', '.join(_MODULES)}") from None
    platform: Platform = importlib.import_module(module).PLATFORM
    return platform


def all_platforms() -> list[Platform]:
    return [get(name) for name in _MODULES]


def served_names() -> tuple[str, ...]:
    """The platforms ``tastemaker run`` can serve (those with credentials to set)."""
    return tuple(p.name for p in all_platforms() if p.credentials)


def parse_community(spec: str) -> tuple[str, str]:
    """``[platform:]id`` → ``(platform, stored external id)``: ``slack:T0123`` → ``("slack",
    "-:T0123")``, ``discord:42`` → ``("discord", "42")``, ``mycrew`` or ``local:mycrew`` →
    ``("local", "mycrew")``. A prefix that names no platform is part of a console name."""
    spec = spec.strip()
    if not spec:
        raise PlatformError("community must not be empty")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in _MODULES:
        return prefix, get(prefix).parse_community(rest.strip())
    return DEFAULT, get(DEFAULT).parse_community(spec)


def format_community(platform: str, external_id: str) -> str:
    """The reference of a stored community (the inverse of :func:`parse_community`)."""
    if platform not in _MODULES:
        return f"{platform}:{external_id}"
    return get(platform).format_community(external_id)


def references() -> str:
    """One line for ``--community`` help texts: how each platform's communities are written."""
    return ", ".join(p.reference for p in all_platforms())


def to_serve(settings: Settings, chosen: list[str] | None = None) -> list[Platform]:
    """The platforms ``tastemaker run`` serves: those named (``--platform``, in order, once each),
    else every platform whose credentials are set."""
    if chosen:
        return [get(name) for name in dict.fromkeys(n.strip().lower() for n in chosen)]
    found = [p for p in all_platforms() if p.configured(settings)]
    if not found:
        ways = " and/or ".join(p.credentials for p in all_platforms() if p.credentials)
        raise PlatformError(f"no chat platform is configured: set {ways} (see README)")
    return found


__all__ = [
    "DEFAULT",
    "Platform",
    "PlatformError",
    "Process",
    "Served",
    "all_platforms",
    "format_community",
    "get",
    "names",
    "parse_community",
    "references",
    "served_names",
    "to_serve",
]
