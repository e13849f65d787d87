"""Serving Slack: HTTP mode (Bolt's WSGI adapter on a threading ``wsgiref`` server, path
``/slack/events``, requests verified with ``SLACK_SIGNING_SECRET``) or Socket Mode
(``SLACK_APP_TOKEN``). :func:`serve` checks the tokens, builds the app (``auth.test``), listens or
connects, and hands back the running server; start-up problems are one-line
:class:`~bot.platforms.PlatformError`\\ s."""

from __future__ import annotations

import logging
import socketserver
import threading
from typing import Any
from urllib.error import URLError
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.platforms import PlatformError, Process, Served
from bot.platforms.slack.app import build_app
from bot.platforms.slack.client import api_base_url, web_client
from bot.platforms.slack.ids import NAME
from config.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - " + format, self.address_string(), *args)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow request never delays another's ack."""

    daemon_threads = True
    allow_reuse_address = True


def make_http_server(app: App, host: str = "127.0.0.1", port: int = 0) -> ThreadingWSGIServer:
    """Bolt's WSGI adapter on a threading ``wsgiref`` server; ``port=0`` picks a free port
    (see ``server.server_port``). Only ``POST /slack/events`` reaches the app."""
    handler = SlackRequestHandler(app, path=EVENTS_PATH)
    server = make_server(host, port, handler, server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
    assert isinstance(server, ThreadingWSGIServer)
    return server


def socket_mode_handler(app: App, settings: Settings) -> SocketModeHandler:
    """Bolt's Socket Mode adapter; ``apps.connections.open`` goes to ``TASTEMAKER_SLACK_API_URL`` too."""
    if not settings.slack_app_token:
        raise ValueError("SLACK_APP_TOKEN is required for Socket Mode")
    return SocketModeHandler(
        app, app_token=settings.slack_app_token, web_client=web_client(settings, settings.slack_app_token)
    )


def _api_error(exc: BaseException) -> str:
    """What Slack said (``invalid_auth`` …) for an error raised by the SDK or by Bolt around it."""
    cause = exc if isinstance(exc, SlackApiError) else exc.__context__
    if isinstance(cause, SlackApiError) and cause.response is not None:
        return str(cause.response.get("error") or cause)
    return str(exc)


def _build(process: Process, *, socket_mode: bool) -> App:
    settings = process.settings
    try:
        return build_app(process.service, settings, socket_mode=socket_mode)
    except (SlackApiError, BoltError) as exc:
        raise PlatformError(f"Slack rejected SLACK_BOT_TOKEN: {_api_error(exc)}") from exc
    except (URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        raise PlatformError(f"cannot reach Slack's Web API at {api_base_url(settings)}: {reason}") from exc


def serve(process: Process) -> Served:
    """HTTP mode when ``process.http_port`` is set, else Socket Mode (``SLACK_APP_TOKEN``)."""
    settings = process.settings
    if not settings.slack_bot_token:
        raise PlatformError(
            "SLACK_BOT_TOKEN is not set. Create the app from config/slack-manifest.yml, install it to "
            "your workspace and export its Bot User OAuth Token (xoxb-…) as SLACK_BOT_TOKEN."
        )
    if process.http_port is not None:
        if not settings.slack_signing_secret:
            raise PlatformError(
                "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials → "
                "Signing Secret) to verify that requests come from Slack."
            )
        return _serve_http(process, _build(process, socket_mode=False))
    if not settings.slack_app_token:
        raise PlatformError(
            "nothing to listen on: set SLACK_APP_TOKEN (an xapp-… app-level token with "
            "connections:write) for Socket Mode, or pass --http-port N for HTTP mode."
        )
    return _serve_socket_mode(process, _build(process, socket_mode=True))


def _serve_http(process: Process, app: App) -> Served:
    host, port = process.http_host, process.http_port or 0
    try:
        server = make_http_server(app, host, port)
    except OSError as exc:
        raise PlatformError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    process.out(f"tastemaker: Slack HTTP mode listening on http://{host}:{server.server_port}{EVENTS_PATH}")

    def run() -> None:
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()

    return Served(NAME, run, server.shutdown).start()


def _serve_socket_mode(process: Process, app: App) -> Served:
    handler = socket_mode_handler(app, process.settings)
    try:
        handler.connect()
    except SlackApiError as exc:
        raise PlatformError(f"Slack refused SLACK_APP_TOKEN: {_api_error(exc)}") from exc
    except OSError as exc:
        raise PlatformError(f"cannot open Slack's Socket Mode connection: {exc}") from exc
    process.out("tastemaker: Slack Socket Mode connected")
    closed = threading.Event()

    def stop() -> None:
        try:
            handler.close()
        finally:
            closed.set()

    def run() -> None:  # the SDK's own threads hold (and re-open) the connection
        closed.wait()

    return Served(NAME, run, stop).start()
