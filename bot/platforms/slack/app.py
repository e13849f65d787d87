"""Slack adapter on Bolt: ``/played``, ``/recommend``, ``/trending`` and ``/tastemaker help``.

Listeners only parse and render; everything else is the service layer's. Every command is
acknowledged at once (an empty 200, or the help text for ``/tastemaker``); the work that touches the
database runs afterwards in a lazy listener and answers through the command's ``response_url`` (or
``chat.postMessage`` for ``/trending``, which is shared with the channel). Replies are Block Kit with
an escaped plain-text fallback rendered by :mod:`bot.render`.

Two ways to run (:func:`serve`): HTTP mode on ``--http-port`` (path ``/slack/events``, requests are
verified with ``SLACK_SIGNING_SECRET``) or Socket Mode when ``SLACK_APP_TOKEN`` is set.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
import socketserver
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot import render
from bot.digest import DigestPost, SendRejected, parse_digest_command, run_digest_command
from bot.parsing import UserError, parse_recommend_args, parse_trending_args
from bot.service import PlayResult, Recommendations, Service, Trending, Who
from config.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
SECTION_LIMIT = 3000  # characters of mrkdwn per section block
HEADER_LIMIT = 150  # characters of plain text per header block
MAX_BLOCKS = 50
RATE_LIMIT_RETRIES = 3
# chat.postMessage errors that mean "the bot cannot post here": answer through response_url instead.
_NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}

HELP_MRKDWN = "\n".join(
    [
        "*tastemaker* — log what you listen to, see what your workspace is into.",
        "• `/played Artist - Title` — log a play (also `Title by Artist`, or just an artist)",
        "• `/recommend [artists|tracks] [n]` — personal picks, each with the reason",
        "• `/trending [24h|7d|30d|all] [artists|tracks]` — what this workspace plays most,"
        " and what is rising",
        "• `/tastemaker digest here 09:00 Europe/Berlin` — post the daily digest in this channel"
        " (workspace admins); `/tastemaker digest off` stops it",
        "• `/tastemaker help` — this text",
    ]
)
HELP_TEXT = render.HELP.replace("/help                     ", "/tastemaker help          ")


# --- rendering ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters, so user text
    such as ``<!channel>`` or ``<@U123>`` is shown literally and never pings anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _sections(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Pack lines into as few section blocks as fit Slack's 3000-character limit."""
    blocks: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = line if len(line) <= SECTION_LIMIT else line[: SECTION_LIMIT - 1] + "…"
        if chunk and size + 1 + len(line) > SECTION_LIMIT:
            blocks.append(_mrkdwn("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(_mrkdwn("\n".join(chunk)))
    return blocks


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message with Block Kit ``blocks`` and the escaped plain-text ``text`` fallback."""
    return {"text": escape(text), "blocks": blocks[:MAX_BLOCKS]}


def played_message(r: PlayResult) -> dict[str, Any]:
    what = escape(f"{r.artist} – {r.track}" if r.track else r.artist)
    if r.duplicate:
        blocks = [_mrkdwn(f":repeat: Already logged *{what}*.")]
    else:
        blocks = [_mrkdwn(f":headphones: Logged *{what}* — your {render.ordinal(r.plays_by_member)} play.")]
        if r.corrected_from:
            blocks.append(_context(f"Matched “{escape(r.corrected_from)}” to the existing entry."))
    return message(render.played_text(r), blocks)


def recommend_message(r: Recommendations) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [_header(render.recommend_title(r))]
    if r.note:
        blocks.append(_context(escape(r.note)))
    lines = [
        render.pick_line(p, esc=escape, rank=lambda n: f"*{n}.*", reason=lambda t: f"_{t}_") for p in r.picks
    ]
    blocks += _sections(lines)
    if not r.picks and not r.note:
        blocks.append(_mrkdwn("Nothing to recommend yet."))
    return message(render.recommend_text(r), blocks)


def trending_message(t: Trending) -> dict[str, Any]:
    head = f"Trending {render.KIND_LABEL[t.kind]} — {render.WINDOW_LABEL[t.window]}"
    blocks: list[dict[str, Any]] = [_header(head), _context(f"in {escape(t.community)}")]
    if not t.entries:
        blocks.append(_mrkdwn(escape(t.note or "Nothing yet.")))
        return message(render.trending_text(t), blocks)
    lines = []
    for e in t.entries:
        lines.append(
            render.trend_line(e, name=escape(e.name), rank=lambda n: f"*{n}.*", marker=lambda m: f"`{m}`")
        )
    blocks += _sections(lines)
    if t.rising is not None:
        blocks.append(
            _context(
                f":chart_with_upwards_trend: Rising: *{escape(t.rising.name)}* "
                f"({t.rising.prev_plays} → {t.rising.plays} plays)"
            )
        )
    if t.note:
        blocks.append(_context(escape(t.note)))
    return message(render.trending_text(t), blocks)


def error_message(text: str) -> dict[str, Any]:
    return message(f"Sorry — {text}", [_mrkdwn(f":warning: Sorry — {escape(text)}")])


def help_message(prefix: str = "") -> dict[str, Any]:
    blocks = ([_mrkdwn(escape(prefix))] if prefix else []) + [_mrkdwn(HELP_MRKDWN)]
    return message((prefix + "\n" if prefix else "") + HELP_TEXT, blocks)


# --- identities ---------------------------------------------------------------------------------


def community_key(enterprise_id: str | None, team_id: str | None) -> str:
    """A workspace is identified by its (enterprise, team) pair: team ids are only unique per grid."""
    return f"{enterprise_id or '-'}:{team_id or '-'}"


def who_from(body: dict[str, Any]) -> Who:
    return Who(
        platform="slack",
        community_id=community_key(body.get("enterprise_id"), body.get("team_id")),
        member_id=str(body.get("user_id") or ""),
        community_name=str(body.get("team_domain") or body.get("team_id") or ""),
        member_name=str(body.get("user_name") or body.get("user_id") or ""),
    )


def _words(text: str | None) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError:
        return (text or "").split()


# --- Web API clients ----------------------------------------------------------------------------


def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def _retry_handlers() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def _ensure_rate_limit_retries(client: WebClient) -> WebClient:
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client: ``TASTEMAKER_SLACK_API_URL`` as base URL, 429s retried after Retry-After."""
    return WebClient(
        token=token if token is not None else settings.slack_bot_token,
        base_url=api_base_url(settings),
        retry_handlers=_retry_handlers(),
    )


def respond_via(response_url: str | None, payload: dict[str, Any]) -> bool:
    """POST to a command's ``response_url``, retrying 429s (Bolt's ``respond`` does not)."""
    if not response_url:
        log.warning("no response_url to answer on")
        return False
    hook = WebhookClient(url=response_url, retry_handlers=_retry_handlers())
    resp = hook.send_dict(payload)
    if resp.status_code != 200:
        log.warning("response_url answered %s: %s", resp.status_code, resp.body)
        return False
    return True


# --- the app ------------------------------------------------------------------------------------


def build_app(
    service: Service,
    settings: Settings,
    *,
    client: WebClient | None = None,
    socket_mode: bool = False,
    token_verification_enabled: bool = True,
    listener_executor: Executor | None = None,
) -> App:
    """The Bolt app with its four commands. Request signatures are always verified in HTTP mode;
    ``socket_mode`` only skips the signing-secret requirement (Socket Mode requests are not signed)."""
    client = _ensure_rate_limit_retries(client or web_client(settings))
    if not socket_mode and not settings.slack_signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required to serve Slack over HTTP")
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode or bool(settings.slack_signing_secret),
        token_verification_enabled=token_verification_enabled,
        process_before_response=False,
        listener_executor=listener_executor,
        logger=log,
    )

    def quiet_ack(ack: Ack) -> None:
        ack()

    def run(body: dict[str, Any], work: Callable[[Who, str], dict[str, Any]]) -> None:
        who = who_from(body)
        try:
            payload = work(who, str(body.get("text") or ""))
        except UserError as exc:
            payload = error_message(str(exc))
        except Exception:
            log.exception("slack command %s failed", body.get("command"))
            payload = error_message("something went wrong on my side. Please try again later.")
        respond_via(body.get("response_url"), {"response_type": "ephemeral", **payload})

    def played(body: dict[str, Any]) -> None:
        run(
            body,
            lambda who, text: played_message(service.played(who, text, event_id=body.get("trigger_id"))),
        )

    def recommend(body: dict[str, Any]) -> None:
        def work(who: Who, text: str) -> dict[str, Any]:
            kind, n = parse_recommend_args(_words(text))
            return recommend_message(service.recommend(who, kind, n))

        run(body, work)

    def trending(body: dict[str, Any], client: WebClient) -> None:
        who = who_from(body)
        try:
            window, kind = parse_trending_args(_words(str(body.get("text") or "")))
            payload = trending_message(service.trending(who, window, kind))
        except UserError as exc:
            respond_via(body.get("response_url"), {"response_type": "ephemeral", **error_message(str(exc))})
            return
        except Exception:
            log.exception("slack /trending failed")
            respond_via(
                body.get("response_url"),
                {"response_type": "ephemeral", **error_message("something went wrong on my side.")},
            )
            return
        try:  # shared with the channel
            client.chat_postMessage(
                channel=str(body.get("channel_id")), unfurl_links=False, unfurl_media=False, **payload
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error not in _NOT_POSTABLE:
                log.warning("chat.postMessage failed: %s", error)
            # The bot is not in this channel (or it is a DM): the response_url can still post in it.
            respond_via(body.get("response_url"), {"response_type": "in_channel", **payload})

    def tastemaker(ack: Ack, body: dict[str, Any]) -> None:
        words = _words(str(body.get("text") or ""))
        sub = words[0].lower() if words else "help"
        if sub == "digest":
            ack()  # answered by the lazy listener (the admin check calls users.info)
            return
        prefix = "" if sub in ("help", "start", "?") else f"Unknown subcommand `{sub}`."
        ack(response_type="ephemeral", **help_message(prefix))

    def tastemaker_digest(body: dict[str, Any], client: WebClient) -> None:
        words = _words(str(body.get("text") or ""))
        if not words or words[0].lower() != "digest":
            return
        who = who_from(body)
        try:
            command = parse_digest_command(words[1:])
            if not is_admin(client, settings, str(body.get("user_id") or "")):
                raise UserError(
                    "Only workspace admins (or members on the bot's admin list) can set up the daily digest."
                )
            text = run_digest_command(service, who, str(body.get("channel_id") or ""), command)
            payload = message(text, [_mrkdwn(escape(text))])
        except UserError as exc:
            payload = error_message(str(exc))
        except Exception:
            log.exception("slack /tastemaker digest failed")
            payload = error_message("something went wrong on my side. Please try again later.")
        respond_via(body.get("response_url"), {"response_type": "ephemeral", **payload})

    app.command("/played")(ack=quiet_ack, lazy=[played])
    app.command("/recommend")(ack=quiet_ack, lazy=[recommend])
    app.command("/trending")(ack=quiet_ack, lazy=[trending])
    app.command("/tastemaker")(ack=tastemaker, lazy=[tastemaker_digest])
    return app


def is_admin(client: WebClient, settings: Settings, user_id: str) -> bool:
    """Workspace admins and owners (``users.info``), or a member of ``settings.slack_admin_ids``."""
    if not user_id:
        return False
    if user_id in settings.slack_admin_ids:
        return True
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        log.warning("users.info failed: %s", exc.response.get("error") if exc.response is not None else exc)
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


# --- digests ------------------------------------------------------------------------------------

CHART_FILENAME = "tastemaker-digest.png"


class SlackDigestSender:
    """Posts digests with ``files_upload_v2`` (``files.getUploadURLExternal`` → upload →
    ``files.completeUploadExternal`` sharing the chart into the channel with the digest as its
    comment); an empty day (no chart) is a plain ``chat.postMessage``.

    Slack has no idempotency key: if the process dies after Slack accepted the post but before the
    ledger recorded it, the digest is *not* resent (the ledger row stays ``sending`` and becomes
    ``unknown``), so that day's post may be missing but is never doubled."""

    platform = "slack"
    resend_window = dt.timedelta(0)

    def __init__(self, client: WebClient) -> None:
        self.client = _ensure_rate_limit_retries(client)

    def send(self, channel: str, post: DigestPost) -> str:
        text = escape(post.text)
        try:
            if post.chart is None:
                resp = self.client.chat_postMessage(
                    channel=channel, text=text, blocks=[_mrkdwn(text)], unfurl_links=False, unfurl_media=False
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


# --- HTTP serving -------------------------------------------------------------------------------


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


def _fail(message: str) -> SystemExit:
    return SystemExit(f"error: {message}")


def serve(service: Service, settings: Settings, *, http_port: int | None, http_host: str = "0.0.0.0") -> None:
    """Run until interrupted: HTTP mode when ``http_port`` is given, else Socket Mode
    (``SLACK_APP_TOKEN``). Raises :class:`SystemExit` with a readable message when a token is missing."""
    if not settings.slack_bot_token:
        raise _fail(
            "SLACK_BOT_TOKEN is not set. Create the app from config/slack-manifest.yml, install it to "
            "your workspace and export its Bot User OAuth Token (xoxb-…) as SLACK_BOT_TOKEN."
        )
    if http_port is not None:
        if not settings.slack_signing_secret:
            raise _fail(
                "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials → "
                "Signing Secret) to verify that requests come from Slack."
            )
        try:
            app = build_app(service, settings)
        except SlackApiError as exc:
            raise _fail(f"Slack rejected SLACK_BOT_TOKEN: {exc.response.get('error')}") from exc
        server = make_http_server(app, http_host, http_port)
        print(
            f"tastemaker: Slack HTTP mode listening on http://{http_host}:{server.server_port}{EVENTS_PATH}",
            flush=True,
        )
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return
    if not settings.slack_app_token:
        raise _fail(
            "nothing to listen on: set SLACK_APP_TOKEN (an xapp-… app-level token with "
            "connections:write) for Socket Mode, or pass --http-port N for HTTP mode."
        )
    try:
        app = build_app(service, settings, socket_mode=True)
    except SlackApiError as exc:
        raise _fail(f"Slack rejected SLACK_BOT_TOKEN: {exc.response.get('error')}") from exc
    handler = socket_mode_handler(app, settings)
    print("tastemaker: Slack Socket Mode connecting", flush=True)
    handler.start()


def socket_mode_handler(app: App, settings: Settings) -> SocketModeHandler:
    """Bolt's Socket Mode adapter; ``apps.connections.open`` goes to ``TASTEMAKER_SLACK_API_URL`` too."""
    if not settings.slack_app_token:
        raise ValueError("SLACK_APP_TOKEN is required for Socket Mode")
    return SocketModeHandler(
        app, app_token=settings.slack_app_token, web_client=web_client(settings, settings.slack_app_token)
    )


__all__ = [
    "EVENTS_PATH",
    "SlackDigestSender",
    "build_app",
    "community_key",
    "escape",
    "make_http_server",
    "played_message",
    "recommend_message",
    "serve",
    "socket_mode_handler",
    "trending_message",
    "who_from",
]
