"""What each Slack command does once acknowledged: parse → one service call → render → answer.

These run in Bolt's lazy listeners (after the ack), so they may take their time: ``/played``,
``/recommend`` and ``/tastemaker plays|undo|digest|privacy|link|unlink|links`` answer ephemerally
through the command's ``response_url``; ``/trending`` and ``/tastemaker whoknows|top|recent|profile`` and
``/tastemaker neighbours|similar|taste`` are shared with the channel (``chat.postMessage``, or the
``response_url`` in a channel the bot is not in), and their refusals go to the member alone. A member
argument is a mention (``<@U…|name>``: the manifest has ``should_escape: true`` on ``/tastemaker``).
``/tastemaker top … chart`` shares the chart's picture (``files_upload_v2``) with the chart as its
comment. The asker's own ``/tastemaker profile`` is shared without their linked accounts, which
(with the pending notices about them) follow ephemerally; ``link``, ``unlink`` and ``links`` end
with those notices too. A press on a ``/tastemaker plays`` "Remove" button is answered ephemerally through the
press's own ``response_url``, the listing left as is; so is a press on a ``/recommend`` pick's
👍 / 👎 (``/recommend reset-hidden`` brings back what the member hid).

The command text is read once, decoded from Slack's encoding (:func:`command_text`), before any
parsing."""

from __future__ import annotations

import dataclasses
import logging
import re
import shlex
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import render
from bot.chart import member_chart_png
from bot.digest import parse_digest_command, run_digest_command
from bot.parsing import (
    UserError,
    parse_recommend_args,
    parse_top_args,
    parse_trending_args,
    parse_unlink_args,
    take_chart_word,
)
from bot.platforms.slack.blocks import (
    PICK_HIDE_ACTION,
    PICK_LIKE_ACTION,
    chart_comment,
    chart_message,
    error_message,
    escape,
    feedback_message,
    help_message,
    linked_message,
    links_message,
    message,
    mrkdwn,
    neighbours_message,
    played_message,
    plays_message,
    privacy_message,
    profile_message,
    question_message,
    recent_message,
    recommend_message,
    removal_message,
    reset_message,
    similar_message,
    taste_message,
    text_message,
    trending_message,
    unlinked_message,
    whoknows_message,
)
from bot.platforms.slack.client import respond_via
from bot.platforms.slack.encoding import decode, split_mentions
from bot.platforms.slack.ids import NAME, community_key
from bot.platforms.slack.questions import RESOLVE_BY_ACTION, TTL_SECONDS, Asked, decode_value, encode_value
from bot.platforms.slack.uploads import HOW_TO as UPLOAD_HOW_TO
from bot.service import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    STALE_PICK,
    MemberChart,
    NameQuestion,
    PlayResult,
    Service,
    Who,
)
from config.settings import Settings

log = logging.getLogger(__name__)

# chat.postMessage errors that mean "the bot cannot post here": answer through response_url instead.
_NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
_SORRY = "something went wrong on my side. Please try again later."
_EXPIRED = "This question has expired — send /played again."
_STALE_BUTTON = "this button no longer works — list your plays again with /tastemaker plays."
# /tastemaker subcommands shared with the channel, like /trending
SHARED_SUBCOMMANDS = ("whoknows", "top", "recent", "profile", "neighbours", "neighbors", "similar", "taste")
# /tastemaker subcommands answered after the ack (the others are answered in it: help)
LAZY_SUBCOMMANDS = ("digest", "plays", "undo", "privacy", "link", "unlink", "links", *SHARED_SUBCOMMANDS)
LINK_USAGE = "Try `/tastemaker link listenbrainz <user name>` or `/tastemaker link lastfm <user name>`."
UNLINK_USAGE = (
    "Try `/tastemaker unlink`, `/tastemaker unlink listenbrainz` or `/tastemaker unlink lastfm delete`."
)
MENTION_HINT = "mention the member (type @ and pick them from the list)"
ANSWERS_KEPT = 10_000  # questions whose first answer this process remembers (the newest)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHART_FILENAME = "tastemaker-top.png"  # /tastemaker top … chart: the picture's file name
ALT_TEXT_LIMIT = 1000  # Slack's limit for a file's alt text
# Why /tastemaker top … chart's picture was not shared (files.completeUploadExternal's error), in words.
_PICTURE_HINTS = {
    "not_in_channel": "invite me to this channel (`/invite @tastemaker`) and ask again",
    "channel_not_found": "I can only post pictures in channels I have been invited to",
    "missing_scope": "the app lacks the files:write permission; a workspace admin can reinstall it",
}
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")  # what Slack's "error" field holds: not_in_channel …
T = TypeVar("T")


def who_from(body: dict[str, Any]) -> Who:
    """The member and workspace behind a slash command's payload."""
    return Who(
        platform=NAME,
        community_id=community_key(body.get("enterprise_id"), body.get("team_id")),
        member_id=str(body.get("user_id") or ""),
        community_name=str(body.get("team_domain") or body.get("team_id") or ""),
        member_name=str(body.get("user_name") or body.get("user_id") or ""),
    )


def who_from_action(body: dict[str, Any]) -> Who:
    """The member and workspace behind an interaction's (``block_actions``) payload."""
    user = body.get("user") or {}
    team = body.get("team") or {}
    enterprise = body.get("enterprise") or {}
    return Who(
        platform=NAME,
        community_id=community_key(
            enterprise.get("id") or team.get("enterprise_id"), team.get("id") or user.get("team_id")
        ),
        member_id=str(user.get("id") or ""),
        community_name=str(team.get("domain") or team.get("id") or ""),
        member_name=str(user.get("username") or user.get("name") or user.get("id") or ""),
    )


def play_id_of(value: Any) -> int:
    """The play id a "Remove" button carries (its ``value``); a :class:`UserError` for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    raise UserError(_STALE_BUTTON)


PICK_VERDICTS = {PICK_LIKE_ACTION: FEEDBACK_UP, PICK_HIDE_ACTION: FEEDBACK_DOWN}


def pick_of(value: Any) -> tuple[str, int]:
    """The ``(kind, item id)`` a 👍 / 👎 button carries (``artist:123``); a :class:`UserError` for
    anything else."""
    kind, _, item = value.partition(":") if isinstance(value, str) else ("", "", "")
    if kind in ("artist", "track") and item.isascii() and item.isdigit() and len(item) <= 18:
        return kind, int(item)
    raise UserError(STALE_PICK)


def command_text(body: dict[str, Any]) -> str:
    """The command's text as the member typed it (``&amp;`` → ``&``, ``<@U1|ada>`` → ``@ada`` …)."""
    text = body.get("text")
    return decode(text if isinstance(text, str) else "")


def words(text: str | None) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError:
        return (text or "").split()


def subcommand_text(body: dict[str, Any]) -> str:
    """What follows the subcommand, decoded: ``whoknows Simon &amp; Garfunkel`` → ``Simon & Garfunkel``."""
    parts = command_text(body).strip().split(None, 1)
    return parts[1] if len(parts) == 2 else ""


def member_args(body: dict[str, Any], usage: str) -> tuple[str | None, list[str]]:
    """The member a subcommand is about (a ``<@U…>`` / ``<@U…|name>`` mention; ``None``: the
    asker) and the other words after the subcommand, decoded. A name that is not a mention is
    refused: only a mention says which member it is."""
    text = body.get("text")
    ids, rest = split_mentions(text if isinstance(text, str) else "")
    args = words(rest)[1:]
    if len(set(ids)) > 1:
        raise UserError(f"One member at a time, please: {usage}")
    return (ids[0] if ids else None), args


def _no_more(args: list[str], usage: str) -> None:
    if not args:
        return
    word = args[0]
    if word.startswith("@"):
        raise UserError(f"I can't tell who {word} is: {MENTION_HINT}. {usage}")
    raise UserError(f"I don't understand `{word}` here. {usage}")


def _ephemeral(body: dict[str, Any], payload: dict[str, Any]) -> None:
    respond_via(body.get("response_url"), {"response_type": "ephemeral", **payload})


def _share_picture(body: dict[str, Any], client: WebClient, chart: MemberChart, png: bytes) -> str | None:
    """Share ``/tastemaker top … chart``'s picture in the command's channel with the chart as its
    comment; ``None`` when it was shared, else the line that tells the member why not."""
    title = render.chart_title(chart, shared=True)
    try:
        client.files_upload_v2(
            channel=str(body.get("channel_id") or ""),
            file=png,
            filename=CHART_FILENAME,
            title=title,
            alt_txt=f"Bar chart: {title}"[:ALT_TEXT_LIMIT],
            initial_comment=chart_comment(chart),
        )
        return None
    except SlackApiError as exc:  # Slack answered ok=false (or not JSON): nothing was shared
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("files_upload_v2 failed: %s", error)
        if not (isinstance(error, str) and _ERROR_CODE.match(error)):
            error = None  # not one of Slack's error codes: not shown to the member
    except Exception:  # the upload itself failed (network, a refused upload URL …)
        log.exception("slack top chart upload failed")
        error = None
    hint = _PICTURE_HINTS.get(str(error), "the chart is shared as text instead")
    return f"The chart picture could not be posted{f' ({error})' if error else ''}: {hint}."


def is_admin(client: WebClient, settings: Settings, user_id: str) -> bool:
    """Workspace admins and owners (``users.info``), or a member of ``settings.slack_admin_ids``.
    An app installed without the scope ``users.info`` needs is a ``UserError`` naming it."""
    if not user_id:
        return False
    if user_id in settings.slack_admin_ids:
        return True
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("users.info failed: %s", error or exc)
        if error == "missing_scope":
            needed = exc.response.get("needed") or "users:read"
            raise UserError(
                f"I can't tell who is a workspace admin: this Slack app lacks the `{needed}` scope. "
                "Add it (config/slack-manifest.yml) and reinstall the app, "
                "or list admin ids in TASTEMAKER_SLACK_ADMIN_IDS."
            ) from exc
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


class Commands:
    def __init__(self, service: Service, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.settings = settings
        self.clock = clock  # epoch seconds: the questions' expiry
        # The first answer to each question, so that a press on the *other* button of an answered
        # question says what was logged (the service's dedupe key alone would log nothing but name
        # the other spelling). Answers are serialised by one lock: they are rare and short.
        self._answers: OrderedDict[str, PlayResult] = OrderedDict()
        self._answering = threading.Lock()

    def _answer(self, body: dict[str, Any], work: Callable[[Who, str], dict[str, Any]]) -> None:
        who = who_from(body)
        try:
            payload = work(who, command_text(body))
        except UserError as exc:
            payload = error_message(str(exc))
        except Exception:
            log.exception("slack command %s failed", body.get("command"))
            payload = error_message(_SORRY)
        _ephemeral(body, payload)

    def played(self, body: dict[str, Any]) -> None:
        def work(who: Who, text: str) -> dict[str, Any]:
            trigger = body.get("trigger_id")
            try:
                return played_message(self.service.played(who, text, event_id=trigger))
            except NameQuestion as asked:
                value = None
                if isinstance(trigger, str) and trigger and who.member_id:
                    expires = int(self.clock()) + TTL_SECONDS
                    value = encode_value(Asked(text, who.member_id, expires, trigger))
                return question_message(asked.question, value)

        self._answer(body, work)

    def resolve(self, body: dict[str, Any]) -> None:
        """A press on one of the "did you mean …?" buttons (after the ack): only the asker, only
        before the question expires; the answer logs the play under the question's id, so a second
        press logs nothing, and replaces the question with the result."""
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], dict) else {}
        resolve = RESOLVE_BY_ACTION.get(str(action.get("action_id") or ""))
        asked = decode_value(action.get("value"))
        who = who_from_action(body)
        url = body.get("response_url")
        if resolve is None or asked is None:
            respond_via(
                url,
                {
                    "response_type": "ephemeral",
                    "replace_original": False,
                    **error_message("this question can no longer be answered — send /played again."),
                },
            )
            return
        if who.member_id != asked.asker:
            asker = f"<@{asked.asker}>" if _USER_ID.match(asked.asker) else escape(asked.asker)
            refusal = message(
                f"Only {asked.asker} can answer this.", [mrkdwn(f"Only {asker} can answer this.")]
            )
            respond_via(url, {"response_type": "ephemeral", "replace_original": False, **refusal})
            return
        if asked.expired(self.clock()):
            respond_via(
                url, {"response_type": "ephemeral", "replace_original": False, **text_message(_EXPIRED)}
            )
            return
        try:
            result = self._answer_once(who, asked, resolve)
        except UserError as exc:
            respond_via(
                url, {"response_type": "ephemeral", "replace_original": False, **error_message(str(exc))}
            )
            return
        except Exception:
            log.exception("slack played_resolve failed")
            respond_via(
                url, {"response_type": "ephemeral", "replace_original": False, **error_message(_SORRY)}
            )
            return
        respond_via(url, {"replace_original": True, **played_message(result)})

    def _answer_once(self, who: Who, asked: Asked, resolve: str) -> PlayResult:
        """Log the answer under the question's id (a second press logs nothing, even after a
        restart); a question this process already answered repeats the first answer."""
        key = f"{who.community_id}:{asked.question_id}"
        with self._answering:
            first = self._answers.get(key)
            if first is not None:
                return dataclasses.replace(first, duplicate=True)
            result = self.service.played(who, asked.text, event_id=asked.question_id, resolve=resolve)
            self._answers[key] = result
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
            return result

    def recommend(self, body: dict[str, Any]) -> None:
        """``/recommend [artists|tracks] [n]``, each pick with 👍 / 👎; ``/recommend reset-hidden``
        brings back what the member hid."""

        def work(who: Who, text: str) -> dict[str, Any]:
            args = words(text)
            if [a.lower() for a in args] in (["reset-hidden"], ["reset_hidden"]):
                return reset_message(self.service.reset_hidden(who))
            kind, n = parse_recommend_args(args)
            return recommend_message(self.service.recommend(who, kind, n))

        self._answer(body, work)

    def pick_feedback(self, body: dict[str, Any]) -> None:
        """A press on a pick's 👍 / 👎 (after the ack): stored for the member who pressed, in their
        workspace, for an item it can see (the service refuses anything else); answered only to
        them through the press's ``response_url``, the picks left as they are."""

        def work(who: Who, action: dict[str, Any]) -> dict[str, Any]:
            verdict = PICK_VERDICTS.get(str(action.get("action_id") or ""))
            kind, item = pick_of(action.get("value"))
            if verdict is None:
                raise UserError(STALE_PICK)
            return feedback_message(self.service.feedback(who, kind, item, verdict))

        self._answer_press(body, "pick feedback", work)

    def trending(self, body: dict[str, Any], client: WebClient) -> None:
        def work(who: Who) -> dict[str, Any]:
            window, kind = parse_trending_args(words(command_text(body)))
            return trending_message(self.service.trending(who, window, kind))

        self._share(body, client, work, "/trending")

    def _share(
        self, body: dict[str, Any], client: WebClient, work: Callable[[Who], dict[str, Any]], name: str
    ) -> None:
        """Answer in the channel (``chat.postMessage``, or the ``response_url`` in a channel the bot
        is not in); refusals and failures only to the member."""
        payload = self._work(body, work, name)
        if payload is not None:
            self._post_shared(body, client, payload)

    def _work(self, body: dict[str, Any], work: Callable[[Who], T], name: str) -> T | None:
        """``work`` for the command's member, or ``None`` once a refusal or a failure has been
        answered to the member alone."""
        who = who_from(body)
        try:
            return work(who)
        except UserError as exc:
            _ephemeral(body, error_message(str(exc)))
        except Exception:
            log.exception("slack %s failed", name)
            _ephemeral(body, error_message("something went wrong on my side."))
        return None

    def _post_shared(self, body: dict[str, Any], client: WebClient, payload: dict[str, Any]) -> None:
        """``payload`` in the command's channel (the ``response_url`` where the bot cannot post)."""
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

    # --- members: /tastemaker whoknows|top|recent|profile (in the channel), privacy (ephemeral) -

    def whoknows(self, body: dict[str, Any], client: WebClient) -> None:
        def work(who: Who) -> dict[str, Any]:
            text = subcommand_text(body)
            if not text.strip():
                raise UserError(
                    "Which artist or track? Try `/tastemaker whoknows Radiohead` or "
                    "`/tastemaker whoknows Radiohead - Airbag`."
                )
            return whoknows_message(self.service.whoknows(who, text), self.service.clock())

        self._share(body, client, work, "/tastemaker whoknows")

    def top(self, body: dict[str, Any], client: WebClient) -> None:
        """``/tastemaker top …``, shared like the others. With the word ``chart``, the chart's PNG is
        shared instead (``files_upload_v2``) with the chart as its comment; if Slack refuses it (the
        bot is not in the channel …), the chart goes out as usual and the member alone is told why
        the picture did not."""

        def work(who: Who) -> tuple[MemberChart, bytes | None]:
            usage = "Try `/tastemaker top [artists|tracks] [7d|30d|year|all] [@member] [chart]`."
            member, args = member_args(body, usage)
            kind, period, rest = parse_top_args(args)
            picture, rest = take_chart_word(rest)
            _no_more(rest, usage)
            chart = self.service.top(who, kind, period, member)
            return chart, member_chart_png(chart, shared=True) if picture else None

        answer = self._work(body, work, "/tastemaker top")
        if answer is None:
            return
        chart, png = answer
        problem = None if png is None else _share_picture(body, client, chart, png)
        if png is not None and problem is None:
            return
        self._post_shared(body, client, chart_message(chart))
        if problem is not None:
            _ephemeral(body, text_message(problem))

    def recent(self, body: dict[str, Any], client: WebClient) -> None:
        def work(who: Who) -> dict[str, Any]:
            usage = "Try `/tastemaker recent` or `/tastemaker recent @member`."
            member, args = member_args(body, usage)
            _no_more(args, usage)
            return recent_message(self.service.recent(who, member), self.service.clock())

        self._share(body, client, work, "/tastemaker recent")

    def profile(self, body: dict[str, Any], client: WebClient) -> None:
        """``/tastemaker profile [@member]``, shared like the others. The member's own linked
        accounts and pending notices are left out of the shared profile and answered to them alone
        right after it (when there are any)."""

        def work(who: Who) -> tuple[dict[str, Any], dict[str, Any] | None]:
            usage = "Try `/tastemaker profile` or `/tastemaker profile @member`."
            member, args = member_args(body, usage)
            _no_more(args, usage)
            profile = self.service.profile(who, member)
            mine = None
            if profile.is_you:
                notices = self.service.pending_notices(who)
                if profile.links or notices:
                    mine = links_message(profile.links, self.service.clock(), notices, profile=True)
            return profile_message(profile), mine

        answer = self._work(body, work, "/tastemaker profile")
        if answer is None:
            return
        payload, mine = answer
        self._post_shared(body, client, payload)
        if mine is not None:
            _ephemeral(body, mine)

    # --- taste: /tastemaker neighbours|similar|taste (in the channel) ----------------------------

    def neighbours(self, body: dict[str, Any], client: WebClient) -> None:
        """``/tastemaker neighbours`` (or ``neighbors``): the asker's own closest listeners here."""

        def work(who: Who) -> dict[str, Any]:
            usage = "Try `/tastemaker neighbours`."
            member, args = member_args(body, usage)
            if member is not None:
                raise UserError(
                    "`/tastemaker neighbours` lists your own closest listeners; to compare your taste "
                    "with one member, try `/tastemaker taste @member`."
                )
            _no_more(args, usage)
            return neighbours_message(self.service.neighbours(who))

        self._share(body, client, work, "/tastemaker neighbours")

    def similar(self, body: dict[str, Any], client: WebClient) -> None:
        """``/tastemaker similar <artist | artist - title>``: what this community plays that is like it."""

        def work(who: Who) -> dict[str, Any]:
            text = subcommand_text(body)
            if not text.strip():
                raise UserError(
                    "Which artist or track? Try `/tastemaker similar Radiohead` or "
                    "`/tastemaker similar Radiohead - Airbag`."
                )
            return similar_message(self.service.similar(who, text))

        self._share(body, client, work, "/tastemaker similar")

    def taste(self, body: dict[str, Any], client: WebClient) -> None:
        """``/tastemaker taste @member``: the asker's taste compared with a mentioned member's. No
        mention, oneself, a private member or one without plays here: the service's refusal."""

        def work(who: Who) -> dict[str, Any]:
            usage = "Try `/tastemaker taste @member`."
            member, args = member_args(body, usage)
            if member is None and args:
                raise UserError(f"I can't tell who {args[0]} is: {MENTION_HINT}. {usage}")
            _no_more(args, usage)
            return taste_message(self.service.taste(who, member or ""))

        self._share(body, client, work, "/tastemaker taste")

    def privacy(self, body: dict[str, Any]) -> None:
        """``/tastemaker privacy private|public``: answered only to the member."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            return privacy_message(self.service.privacy(who, subcommand_text(body)))

        self._answer(body, work)

    def plays(self, body: dict[str, Any]) -> None:
        """``/tastemaker plays``: the member's last plays, each with a "Remove" button."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            return plays_message(self.service.my_plays(who), self.service.clock(), who.platform)

        self._answer(body, work)

    def undo(self, body: dict[str, Any]) -> None:
        """``/tastemaker undo``: take back the member's last play, and say which."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            return removal_message(self.service.undo(who), self.service.clock(), who.platform)

        self._answer(body, work)

    def remove(self, body: dict[str, Any]) -> None:
        """A press on a "Remove" button (after the ack): the service removes the play only if it is
        the presser's own (workspace and member from the press), and a second press changes nothing."""

        def work(who: Who, action: dict[str, Any]) -> dict[str, Any]:
            removal = self.service.remove_play(who, play_id_of(action.get("value")))
            return removal_message(removal, self.service.clock(), who.platform)

        self._answer_press(body, "remove_play", work)

    def _answer_press(
        self, body: dict[str, Any], what: str, work: Callable[[Who, dict[str, Any]], dict[str, Any]]
    ) -> None:
        """Answer a button press (after the ack) privately through its ``response_url``: ``work``'s
        message, a bad or stale press's one-line error, or a sorry (the trace goes to the log)."""
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], dict) else {}
        try:
            payload = work(who_from_action(body), action)
        except UserError as exc:
            payload = error_message(str(exc))
        except Exception:
            log.exception("slack %s failed", what)
            payload = error_message(_SORRY)
        respond_via(
            body.get("response_url"), {"response_type": "ephemeral", "replace_original": False, **payload}
        )

    # --- linked accounts: /tastemaker link|unlink|links (answered only to the member) -----------

    def link(self, body: dict[str, Any]) -> None:
        """``/tastemaker link listenbrainz|lastfm <user name or profile URL>``: a URL arrives as a
        ``<https://…|…>`` link and is decoded to its text, which the service reads."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            source, _, account = subcommand_text(body).strip().partition(" ")
            if not source:
                raise UserError(f"Which account? {LINK_USAGE}")
            linked = self.service.link(who, source, account)
            return linked_message(linked, self.service.clock(), self.service.pending_notices(who))

        self._answer(body, work)

    def unlink(self, body: dict[str, Any]) -> None:
        """``/tastemaker unlink [listenbrainz|lastfm] [keep|delete]`` (keep by default)."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            source, keep = parse_unlink_args(words(subcommand_text(body)), UNLINK_USAGE)
            unlinked = self.service.unlink(who, source, keep_plays=keep)
            return unlinked_message(unlinked, self.service.pending_notices(who))

        self._answer(body, work)

    def links(self, body: dict[str, Any]) -> None:
        """``/tastemaker links``: the member's linked accounts and how their sync stands."""

        def work(who: Who, _text: str) -> dict[str, Any]:
            notices = self.service.pending_notices(who)
            return links_message(self.service.links(who), self.service.clock(), notices)

        self._answer(body, work)

    @staticmethod
    def subcommand(body: dict[str, Any]) -> str:
        args = words(command_text(body))
        return args[0].lower() if args else "help"

    def tastemaker_ack(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """What ``/tastemaker`` acknowledges with: the help text (from :meth:`Service.help`), how to
        import a history (``import``: a file sent to the bot in a direct message), or ``None`` (an
        empty ack) for the subcommands :meth:`tastemaker` answers afterwards (they read the
        database; ``digest`` checks the member is an admin)."""
        sub = Commands.subcommand(body)
        if sub in LAZY_SUBCOMMANDS:
            return None
        if sub == "import":  # files come in a direct message: see bot.platforms.slack.uploads
            return {"response_type": "ephemeral", **text_message(UPLOAD_HOW_TO)}
        prefix = "" if sub in ("help", "start", "?") else f"Unknown subcommand `{sub}`."
        return {"response_type": "ephemeral", **help_message(self.service.help(), prefix)}

    def tastemaker(self, body: dict[str, Any], client: WebClient) -> None:
        """The ``/tastemaker`` subcommands that were acknowledged empty (the rest ran in the ack)."""
        sub = self.subcommand(body)
        if sub == "plays":
            self.plays(body)
        elif sub == "undo":
            self.undo(body)
        elif sub == "digest":
            self.digest(body, client)
        elif sub == "privacy":
            self.privacy(body)
        elif sub == "link":
            self.link(body)
        elif sub == "unlink":
            self.unlink(body)
        elif sub == "links":
            self.links(body)
        elif sub == "whoknows":
            self.whoknows(body, client)
        elif sub == "top":
            self.top(body, client)
        elif sub == "recent":
            self.recent(body, client)
        elif sub == "profile":
            self.profile(body, client)
        elif sub in ("neighbours", "neighbors"):
            self.neighbours(body, client)
        elif sub == "similar":
            self.similar(body, client)
        elif sub == "taste":
            self.taste(body, client)

    def digest(self, body: dict[str, Any], client: WebClient) -> None:
        args = words(command_text(body))
        who = who_from(body)
        try:
            command = parse_digest_command(args[1:])
            if not is_admin(client, self.settings, str(body.get("user_id") or "")):
                raise UserError(
                    "Only workspace admins (or members on the bot's admin list) can set up the daily digest."
                )
            payload = text_message(
                run_digest_command(self.service, who, str(body.get("channel_id") or ""), command)
            )
        except UserError as exc:
            payload = error_message(str(exc))
        except Exception:
            log.exception("slack /tastemaker digest failed")
            payload = error_message(_SORRY)
        _ephemeral(body, payload)
