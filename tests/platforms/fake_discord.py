"""A small fake Discord: REST API and gateway on 127.0.0.1 (port 0), for driving the real discord.py
client in tests without any network.

REST (under ``/api/v10``): ``GET /users/@me`` and ``/oauth2/applications/@me`` (login), the
interaction callback, webhook followups (JSON or multipart ``payload_json``; kept in ``messages``),
editing (``PATCH``) and deleting the original response, command sync (``PUT`` global / guild
commands) and channel messages (``POST /channels/{id}/messages``, JSON or multipart with file
attachments; a repeated ``nonce`` with ``enforce_nonce`` returns the first message instead of
creating another, like Discord). Every
request is recorded. A path can be made to answer one ``429`` (with the ``Via`` header and a
``retry_after`` body) before it succeeds; with ``refuse_token`` the login answers 401.

Files members attach to a command (:meth:`FakeDiscord.attachment`) are served from the fake's own
CDN, ``GET /attachments/<id>/<file name>`` (404 once removed from ``files``; fetched paths kept in
``downloads``).

Gateway (``/gateway``): HELLO (op 10) → IDENTIFY (op 2) → READY and one GUILD_CREATE per guild;
heartbeats (op 1) get HEARTBEAT_ACK (op 11). :meth:`FakeDiscord.dispatch` sends any dispatch event,
e.g. INTERACTION_CREATE payloads built with :func:`command_interaction`, :func:`autocomplete_interaction`
or :func:`component_interaction` (a button pressed on a message the fake answered).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
OWNER_ID = "900000000000000003"
TIMESTAMP = "2026-11-20T12:00:00.000000+00:00"
_ids = itertools.count(1_000_000_000_000_000_000)


def snowflake() -> str:
    return str(next(_ids))


def user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
        "public_flags": 0,
    }


def guild_payload(guild_id: str, name: str) -> dict[str, Any]:
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": OWNER_ID,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": guild_id,
                "name": "@everyone",
                "color": 0,
                "hoist": False,
                "position": 0,
                "permissions": "0",
                "managed": False,
                "mentionable": False,
            }
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": TIMESTAMP,
        "large": False,
        "unavailable": False,
        "member_count": 2,
        "voice_states": [],
        "members": [],
        "channels": [
            {
                "id": channel_id(guild_id),
                "type": 0,
                "name": "music",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
            }
        ],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def channel_id(guild_id: str) -> str:
    return str(int(guild_id) + 1)


def _interaction(
    kind: int,
    guild_id: str,
    user_id: str,
    user_name: str,
    data: dict[str, Any],
    *,
    interaction_id: str | None = None,
    nick: str | None = None,
) -> dict[str, Any]:
    return {
        "id": interaction_id or snowflake(),
        "application_id": APP_ID,
        "type": kind,
        "token": f"tok-{snowflake()}",
        "version": 1,
        "guild_id": guild_id,
        "channel_id": channel_id(guild_id),
        "channel": {"id": channel_id(guild_id), "type": 0, "guild_id": guild_id, "name": "music"},
        "member": {
            "user": user_payload(user_id, user_name),
            "nick": nick,
            "roles": [],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2147483647",
        },
        "app_permissions": "2147483647",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "attachment_size_limit": 8 * 1024 * 1024,
        "data": data,
    }


def _option(name: str, value: Any, *, focused: bool = False) -> dict[str, Any]:
    kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3  # boolean, integer, string
    opt: dict[str, Any] = {"name": name, "type": kind, "value": value}
    if focused:
        opt["focused"] = True
    return opt


def command_interaction(
    name: str,
    options: dict[str, Any],
    *,
    guild_id: str,
    user_id: str = "700000000000000001",
    user_name: str = "ada",
    interaction_id: str | None = None,
    nick: str | None = None,
    users: dict[str, tuple[str, str]] | None = None,
    attachments: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a slash command (type 2) as Discord sends it. ``users``:
    user options (type 6), option name → (user id, name); Discord sends the id as the value and
    the user (and their guild member) under ``data.resolved``. ``attachments``: attachment options
    (type 11), option name → attachment object (:meth:`FakeDiscord.attachment`), resolved the same
    way."""
    data: dict[str, Any] = {
        "id": snowflake(),
        "name": name,
        "type": 1,
        "options": [_option(k, v) for k, v in options.items()],
    }
    if users:
        data["options"] += [{"name": k, "type": 6, "value": uid} for k, (uid, _) in users.items()]
        data["resolved"] = {
            "users": {uid: user_payload(uid, uname) for uid, uname in users.values()},
            "members": {
                uid: {"nick": None, "roles": [], "joined_at": TIMESTAMP, "flags": 0, "permissions": "0"}
                for uid, _ in users.values()
            },
        }
    if attachments:
        data["options"] += [{"name": k, "type": 11, "value": a["id"]} for k, a in attachments.items()]
        data.setdefault("resolved", {})["attachments"] = {a["id"]: a for a in attachments.values()}
    return _interaction(2, guild_id, user_id, user_name, data, interaction_id=interaction_id, nick=nick)


def autocomplete_interaction(
    name: str,
    options: dict[str, Any],
    focused: str,
    *,
    guild_id: str,
    user_id: str = "700000000000000001",
    user_name: str = "ada",
) -> dict[str, Any]:
    """An APPLICATION_COMMAND_AUTOCOMPLETE interaction (type 4) with ``focused`` being typed."""
    data = {
        "id": snowflake(),
        "name": name,
        "type": 1,
        "options": [_option(k, v, focused=k == focused) for k, v in options.items()],
    }
    return _interaction(4, guild_id, user_id, user_name, data)


def component_interaction(
    custom_id: str,
    message: dict[str, Any],
    *,
    guild_id: str,
    user_id: str = "700000000000000001",
    user_name: str = "ada",
) -> dict[str, Any]:
    """A MESSAGE_COMPONENT interaction (type 3): a button (component type 2) pressed on ``message``
    (a message object as the fake returned it, components included)."""
    payload = _interaction(3, guild_id, user_id, user_name, {"custom_id": custom_id, "component_type": 2})
    payload["message"] = {**message, "channel_id": channel_id(guild_id)}
    return payload


def message_payload(body: dict[str, Any], app_id: str = APP_ID) -> dict[str, Any]:
    """The message object Discord answers for a message posted with ``body``."""
    return {
        "id": snowflake(),
        "channel_id": "1",
        "type": 0,
        "content": body.get("content", ""),
        "author": user_payload(BOT_ID, "tastemaker", bot=True),
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds", []),
        "components": body.get("components", []),
        "pinned": False,
        "flags": body.get("flags", 0),
        "webhook_id": app_id,
        "application_id": app_id,
    }


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Like Discord: ``Content-Type: application/json`` exactly (discord.py compares the whole header)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass
class Request:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, bytes)


class FakeDiscord:
    def __init__(self, guilds: list[tuple[str, str]] | None = None) -> None:
        self.guilds = guilds or []  # (id, name)
        self.requests: list[Request] = []
        self.gateway_log: list[dict[str, Any]] = []  # what the client sent on the gateway
        self.identified = asyncio.Event()
        self.heartbeats = 0
        self.rate_limits: dict[str, int] = {}  # path prefix → number of 429s still to answer
        self.channel_messages: list[dict[str, Any]] = []  # messages created in channels, in order
        self.fail_channel_posts: int | None = None  # answer channel posts with this status
        self.refuse_token = False  # answer the login (GET /users/@me) with 401, like a reset token
        self.messages: dict[str, dict[str, Any]] = {}  # webhook followups by id, as answered
        self.files: dict[str, bytes] = {}  # attachment id → the bytes its CDN URL serves
        self.downloads: list[str] = []  # CDN paths fetched, in order
        self._by_nonce: dict[tuple[str, str], dict[str, Any]] = {}
        self.retry_after = 0.2
        self.port = 0
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._cdn)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- attachments ------------------------------------------------------------------------

    def attachment(
        self, filename: str, data: bytes, *, size: int | None = None, content_type: str | None = None
    ) -> dict[str, Any]:
        """An attachment object as a command's ``data.resolved`` carries it, its ``url`` on this
        fake's CDN. ``size``: the size Discord declares, when a test wants it to differ from the
        bytes served."""
        aid = snowflake()
        self.files[aid] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
        payload: dict[str, Any] = {
            "id": aid,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url + "?ex=6740a1b2&is=673f5032&hm=0f1e2d3c",
            "proxy_url": url,
            "ephemeral": True,
        }
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        self.downloads.append(request.path)
        data = self.files.get(request.match_info["id"])
        try:
            if data is None:
                return web.Response(status=404, text="404: Not Found")
            return web.Response(body=data, content_type="application/octet-stream")
        finally:
            await self._notify()

    # --- waiting ----------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every request) and return it."""

        async def waiter() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(waiter(), timeout)

    def for_interaction(self, payload: dict[str, Any]) -> list[Request]:
        """Requests answering one interaction (callback, followups, deletions), in order."""
        token = payload["token"]
        return [r for r in self.requests if token in r.path]

    # --- gateway ----------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._ws is not None, "no client connected"
        self._seq += 1
        await self._ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            self.gateway_log.append(payload)
            op = payload.get("op")
            if op == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                await self._ready()
                self.identified.set()
            await self._notify()
        return ws

    async def _ready(self) -> None:
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": user_payload(BOT_ID, "tastemaker", bot=True),
                "guilds": [{"id": gid, "unavailable": True} for gid, _ in self.guilds],
                "session_id": "fake-session",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": APP_ID, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for gid, name in self.guilds:
            await self.dispatch("GUILD_CREATE", guild_payload(gid, name))

    # --- REST -------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[tuple[str, str, bytes]] = []
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            body = json.loads(raw) if isinstance(raw, str) else None
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files.append((name, value.filename, value.file.read()))
        rec = Request(request.method, path, dict(request.query), body, files=files)
        self.requests.append(rec)
        try:
            for prefix, left in self.rate_limits.items():
                if left > 0 and path.startswith(prefix):
                    self.rate_limits[prefix] = left - 1
                    rec.status = 429
                    return json_response(
                        {
                            "message": "You are being rate limited.",
                            "retry_after": self.retry_after,
                            "global": False,
                        },
                        status=429,
                        headers={"Via": "1.1 google", "Retry-After": "1"},
                    )
            return await self._answer(request.method, path, body)
        finally:
            await self._notify()

    async def _answer(self, method: str, path: str, body: Any) -> web.StreamResponse:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/users/@me":
            if self.refuse_token:
                return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
            return json_response(user_payload(BOT_ID, "tastemaker", bot=True))
        if method == "GET" and path == "/oauth2/applications/@me":
            return json_response(
                {
                    "id": APP_ID,
                    "name": "tastemaker",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": user_payload(OWNER_ID, "owner"),
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "summary": "",
                }
            )
        if method == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            return json_response(
                {
                    "interaction": {"id": parts[1], "type": 2},
                    "resource": {"type": (body or {}).get("type", 5)},
                }
            )
        if method == "POST" and parts[0] == "channels" and parts[-1] == "messages" and len(parts) == 3:
            if self.fail_channel_posts is not None:
                return json_response({"message": "Missing Access", "code": 50001}, self.fail_channel_posts)
            return json_response(self._channel_message(parts[1], body or {}))
        if method == "POST" and parts[0] == "webhooks" and len(parts) == 3:
            message = self._message(parts[1], body or {})
            self.messages[message["id"]] = message
            return json_response(message)
        if method == "PATCH" and parts[0] == "webhooks" and parts[-2] == "messages":
            edited = self.messages.get(parts[-1], message_payload(body or {}, parts[1]))
            edited = {**edited, **(body or {}), "edited_timestamp": TIMESTAMP}
            return json_response(edited)
        if method == "DELETE" and parts[0] == "webhooks":
            return web.Response(status=204)
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            return json_response(
                [{**cmd, "id": snowflake(), "application_id": APP_ID, "version": "1"} for cmd in (body or [])]
            )
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    def _channel_message(self, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce") and (channel, str(nonce)) in self._by_nonce:
            return self._by_nonce[(channel, str(nonce))]
        message = {
            **self._message(APP_ID, body),
            "channel_id": channel,
            "webhook_id": None,
            "nonce": nonce,
            "attachments": [
                {
                    "id": snowflake(),
                    "filename": a.get("filename", ""),
                    "size": 0,
                    "url": f"https://cdn.fake/{a.get('filename', '')}",
                    "proxy_url": f"https://cdn.fake/{a.get('filename', '')}",
                }
                for a in body.get("attachments", [])
            ],
        }
        self.channel_messages.append(message)
        if nonce is not None:
            self._by_nonce[(channel, str(nonce))] = message
        return message

    def _message(self, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return message_payload(body, app_id)
