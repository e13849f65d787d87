"""Serving Slack: HTTP mode (Bolt's app behind :class:`SlackEndpoint` on a ``waitress`` server, path
``/slack/events``, requests verified with ``SLACK_SIGNING_SECRET``) or Socket Mode
(``SLACK_APP_TOKEN``). :func:`serve` checks the tokens, builds the app (``auth.test``), listens or
connects, and hands back the running server; start-up problems are one-line
:class:`~bot.platforms.PlatformError`\\ s.

The HTTP server is meant to face the internet (behind an HTTPS proxy): ``waitress`` reads and
writes every connection on one event loop and hands only complete requests to a fixed pool of
threads, so idle or half-sent connections cost no thread; a connection idle for
:attr:`Limits.channel_timeout` seconds is closed, bodies over :attr:`Limits.max_body` get a 413, and
at most :attr:`Limits.connections` are open at once. :class:`SlackEndpoint` answers anything that
is not a well-formed request signed by Slack with a 4xx before Bolt sees it.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

import waitress
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from waitress import wasyncore

from bot.platforms import PlatformError, Process, Served
from bot.platforms.slack.app import build_app
from bot.platforms.slack.client import api_base_url, web_client
from bot.platforms.slack.ids import NAME
from bot.platforms.slack.replay import SIGNATURE_WINDOW
from config.settings import Settings

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


@dataclass(frozen=True)
class Limits:
    """What one HTTP-mode server may hold. Slack sends small requests and wants an ack within 3 s."""

    threads: int = 8  # requests handled at once; the rest wait in a queue (idle connections: none)
    connections: int = 1000  # open connections; more wait in the listen backlog until one closes
    channel_timeout: int = 15  # seconds a connection may stay silent, mid-request or between requests
    cleanup_interval: int = 1  # seconds between looks for silent connections
    max_body: int = 1 << 20  # bytes of request body (413 above); a slash command is ~1 KiB
    max_header: int = 64 << 10  # bytes of request line and headers (431 above)
    backlog: int = 1024  # connections waiting to be accepted


# --- the WSGI endpoint ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only (int() also takes " 1", "+1", "1_0", "١")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def _plain(status: int, text: str = "") -> _Answer:
    body = (text or HTTPStatus(status).phrase).encode("utf-8")
    return _Answer(status, body, (("Content-Type", "text/plain; charset=utf-8"),))


class SlackEndpoint:
    """The WSGI application of HTTP mode: ``POST /slack/events`` into Bolt's ``App.dispatch``.

    Before Bolt sees a request: a body over ``max_body`` bytes → 413; a body that is not UTF-8 or
    not a Slack payload (form fields or a JSON object) → 400; a missing, non-integer or stale
    (more than 5 minutes off) ``X-Slack-Request-Timestamp``, or a missing or malformed
    ``X-Slack-Signature`` → 401. Bolt then checks the signature itself (HMAC-SHA256 of
    ``v0:<timestamp>:<body>`` with ``SLACK_SIGNING_SECRET``) and answers a mismatch with a 401.
    None of these is logged above DEBUG (they are what the internet sends), and none runs anything.
    """

    def __init__(
        self,
        app: App,
        *,
        path: str = EVENTS_PATH,
        max_body: int = Limits.max_body,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.path = path
        self.max_body = max_body
        self._clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            answer = self._answer(environ)
        except Exception:  # a bug of ours: the traceback goes to the log file, Slack gets a 500
            log.exception("Slack request to %s failed", environ.get("PATH_INFO"))
            answer = _plain(500)
        status = HTTPStatus(answer.status)
        headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        start_response(f"{status.value} {status.phrase}", headers)
        return [answer.body]

    def _refuse(self, status: int, why: str, environ: WSGIEnvironment) -> _Answer:
        log.debug("Slack endpoint: %s %s from %s", status, why, environ.get("REMOTE_ADDR"))
        return _plain(status, why)

    def _answer(self, environ: WSGIEnvironment) -> _Answer:
        if environ.get("PATH_INFO") != self.path:
            return _plain(404)
        if environ.get("REQUEST_METHOD") != "POST":
            return _Answer(405, b"", (("Allow", "POST"),))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._refuse(400, "bad Content-Length", environ)
        if length > self.max_body:
            return self._refuse(413, "request body too large", environ)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._refuse(400, "request body is not UTF-8", environ)
        try:
            given = WsgiHttpRequest(environ).get_headers()
            request = BoltRequest(body=text, query=environ.get("QUERY_STRING", ""), headers=given)
        except Exception as exc:  # JSON that does not parse, a payload field that is not an object, …
            return self._refuse(400, f"malformed request body ({type(exc).__name__})", environ)
        if not isinstance(request.body, dict):
            return self._refuse(400, "malformed request body", environ)
        why = self._unsigned(environ)
        if why:
            return self._refuse(401, why, environ)
        response = self.app.dispatch(request)  # Bolt verifies the signature: 401 when it is wrong
        body = response.body if isinstance(response.body, str) else str(response.body)
        headers = tuple(
            (name, value)
            for name, values in response.headers.items()
            if name.lower() != "content-length"
            for value in values
        )
        return _Answer(response.status, body.encode("utf-8"), headers)

    def _unsigned(self, environ: WSGIEnvironment) -> str:
        """Why the request cannot be one Slack signed (``""`` when it may be): Slack sends an
        integer timestamp at most 5 minutes off, and ``v0=`` and 64 hex digits as the signature."""
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
        if not timestamp or not signature:
            return "unsigned request"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "bad X-Slack-Request-Timestamp"
        if abs(self._clock() - int(timestamp)) > SIGNATURE_WINDOW:
            return "stale request"
        if not _SIGNATURE.fullmatch(signature):
            return "bad X-Slack-Signature"
        return ""


# --- the HTTP server ------------------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket for ``host:port``; ``OSError`` when it cannot be."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class SlackHttpServer:
    """``waitress`` with :class:`Limits`, run the way ``socketserver`` servers are:
    :meth:`serve_forever` (blocking) until :meth:`shutdown` (any thread), then :meth:`server_close`."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], host: str, port: int, limits: Limits) -> None:
        self.limits = limits
        self._socket = _bind(host, port)
        self._map: dict[int, Any] = {}
        self._server: Any = waitress.create_server(
            wsgi,
            map=self._map,
            sockets=[self._socket],
            threads=limits.threads,
            connection_limit=limits.connections,
            channel_timeout=limits.channel_timeout,
            cleanup_interval=limits.cleanup_interval,
            max_request_body_size=limits.max_body,
            max_request_header_size=limits.max_header,
            backlog=limits.backlog,
            asyncore_use_poll=True,  # select() stops at file descriptor 1024
            ident="tastemaker",
        )
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._stopped = threading.Event()
        self._closed = False

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def server_port(self) -> int:
        return self.server_address[1]

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown`; ``poll_interval``: how soon a shutdown is noticed."""
        self._serving.set()
        try:
            while not self._stopping.is_set() and self._map:
                wasyncore.loop(timeout=poll_interval, use_poll=True, map=self._map, count=1)
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop :meth:`serve_forever` and wait (at most ``timeout`` seconds) until it has."""
        self._stopping.set()
        if self._serving.is_set():
            self._server.pull_trigger()  # wake the loop now rather than after poll_interval
            self._stopped.wait(timeout)

    def server_close(self) -> None:
        """Stop the worker threads (requests being handled get 5 s) and close every socket."""
        if self._closed:
            return
        self._closed = True
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        wasyncore.close_all(self._map)
        self._socket.close()

    def open_connections(self) -> int:
        """Client connections open right now (not counting the listening socket)."""
        return len(self._server.active_channels)


def make_http_server(
    app: App, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None
) -> SlackHttpServer:
    """The Bolt app behind :class:`SlackEndpoint` on a bounded ``waitress`` server; ``port=0`` picks
    a free port (see ``server.server_port``). Only ``POST /slack/events`` reaches the app."""
    limits = limits or Limits()
    endpoint = SlackEndpoint(app, max_body=limits.max_body)
    return SlackHttpServer(endpoint, host, port, limits)


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
        log.debug("auth.test failed", exc_info=True)
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
