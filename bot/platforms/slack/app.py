"""The Bolt app: ``/played``, ``/recommend``, ``/trending`` and ``/tastemaker`` (help, plays, undo,
digest, whoknows, top, recent, profile, neighbours, similar, taste, privacy, import), the buttons of
``/played``'s "did you mean …?" question, the "Remove" buttons of ``/tastemaker plays``, the 👍 / 👎
buttons of ``/recommend``'s picks, and files
sent to the bot in a direct message (imported as the member's history: :mod:`bot.platforms.slack.uploads`).

Listeners are tiny: every command is acknowledged at once (an empty 200, or the help text for
``/tastemaker``); the work that touches the database runs afterwards in a lazy listener
(:mod:`bot.platforms.slack.commands`) and answers through the command's ``response_url`` or
``chat.postMessage``. Request signatures are verified with ``SLACK_SIGNING_SECRET`` in HTTP mode.
Each request Slack sent is answered at most once: a replayed copy, or a retry of one already
answered, gets an empty ack and runs nothing (:mod:`bot.platforms.slack.replay`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.platforms.slack.blocks import PICK_ACTION_PATTERN, REMOVE_ACTION
from bot.platforms.slack.client import check_token, use_api_url
from bot.platforms.slack.commands import Commands
from bot.platforms.slack.questions import ACTION_PATTERN
from bot.platforms.slack.replay import SeenRequests, request_key
from bot.platforms.slack.uploads import FILE_SHARE, Uploads
from bot.service import Service
from config.settings import Settings

log = logging.getLogger(__name__)


def build_app(
    service: Service,
    settings: Settings,
    *,
    socket_mode: bool = False,
    token_verification_enabled: bool = True,
    listener_executor: Executor | None = None,
    seen: SeenRequests | None = None,
) -> App:
    """The Bolt app with its four commands. Request signatures are always verified in HTTP mode;
    ``socket_mode`` only skips the signing-secret requirement (Socket Mode requests are not signed).
    With ``token_verification_enabled`` the bot token is checked (``auth.test``) right here.
    ``seen``: the ids of the requests already answered (a new, empty one by default)."""
    if not socket_mode and not settings.slack_signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required to serve Slack over HTTP")
    if token_verification_enabled:
        check_token(settings)
    # Bolt builds its client from the token (given a client of ours too, it warns that the token
    # is unused); it is pointed at TASTEMAKER_SLACK_API_URL before its first call. The token was
    # checked above, so Bolt's own check is off: Bolt calls auth.test once, on the first request.
    app = App(
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode or bool(settings.slack_signing_secret),
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=listener_executor,
        logger=log,
    )
    use_api_url(app.client, settings)
    answered = seen if seen is not None else SeenRequests()

    def answer_once(req: BoltRequest, next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002
        """After Bolt verified the signature: a request already answered gets an empty ack."""
        key = request_key(req.body) if isinstance(req.body, dict) else None
        if key is None or answered.first(key):
            next()
            return None
        retry = (req.headers.get("x-slack-retry-num") or ["-"])[0]
        log.info("not answering %s again (a replayed request; Slack's retry number: %s)", key, retry)
        return BoltResponse(status=200, body="")

    app.middleware(answer_once)
    commands = Commands(service, settings)

    def ack_now(ack: Ack) -> None:
        ack()

    def ack_tastemaker(ack: Ack, body: dict[str, Any]) -> None:
        reply = commands.tastemaker_ack(body)
        if reply is None:
            ack()  # every subcommand but help: answered by the lazy listener (they read the database)
        else:
            ack(**reply)

    def played(body: dict[str, Any]) -> None:
        commands.played(body)

    def recommend(body: dict[str, Any]) -> None:
        commands.recommend(body)

    def trending(body: dict[str, Any], client: WebClient) -> None:
        commands.trending(body, client)

    def tastemaker(body: dict[str, Any], client: WebClient) -> None:
        commands.tastemaker(body, client)

    app.command("/played")(ack=ack_now, lazy=[played])
    app.command("/recommend")(ack=ack_now, lazy=[recommend])
    app.command("/trending")(ack=ack_now, lazy=[trending])
    app.command("/tastemaker")(ack=ack_tastemaker, lazy=[tastemaker])

    def played_resolve(body: dict[str, Any]) -> None:
        commands.resolve(body)

    # The "did you mean …?" buttons of /played: acknowledged at once, answered lazily.
    app.action(re.compile(ACTION_PATTERN))(ack=ack_now, lazy=[played_resolve])

    def remove_play(body: dict[str, Any]) -> None:
        commands.remove(body)

    # The "Remove" buttons of /tastemaker plays: acknowledged at once, answered lazily.
    app.action(REMOVE_ACTION)(ack=ack_now, lazy=[remove_play])

    def pick_feedback(body: dict[str, Any]) -> None:
        commands.pick_feedback(body)

    # The 👍 / 👎 buttons under each /recommend pick: acknowledged at once, answered lazily.
    app.action(re.compile(PICK_ACTION_PATTERN))(ack=ack_now, lazy=[pick_feedback])

    uploads = Uploads(service, settings)

    def shared_file(body: dict[str, Any], client: WebClient) -> None:
        uploads.shared(body, client)

    # A file shared in a direct message with the bot: acknowledged at once, imported lazily. Every
    # other message event (text, the bot's own messages and their updates) is acknowledged and left
    # alone: an event nobody handles would be answered 404, and Slack would retry it.
    app.event(FILE_SHARE)(ack=ack_now, lazy=[shared_file])
    app.event("message")(ack_now)
    return app
