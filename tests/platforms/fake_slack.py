"""A small loopback fake of Slack's Web API and of slash-command ``response_url`` endpoints.

Serves ``POST /api/<method>`` (``auth.test``, ``chat.postMessage``, the other methods of
:data:`~bot.platforms.slack.manifest.METHOD_SCOPES` answer ``ok``; ``GET`` too, for the methods the
SDK calls that way: ``files.info``) and ``POST /response/<id>``, records every call, and can answer
the next call to a path with an error status (e.g. 429 with ``Retry-After``) once.

``files_upload_v2`` works end to end: ``files.getUploadURLExternal`` hands out an upload URL on this
server (``POST /upload/<file id>`` stores the raw bytes in :attr:`FakeSlack.uploads`) and
``files.completeUploadExternal`` shares the uploaded files (see :meth:`FakeSlack.shared`).
``users.info`` answers ``is_admin`` for the ids in :attr:`FakeSlack.admins`.

Files members share (:meth:`FakeSlack.add_file`) are answered by ``files.info`` and served, as
Slack serves private files, at their ``url_private_download`` (``GET /files-pri/…``) only with a
bot token (``Authorization: Bearer xoxb-…``, not revoked) holding ``files:read``; without one the
answer is a 403 HTML page, for a file nobody added a 404. :func:`file_share_event` is the
``message.im`` event Slack sends when a member shares a file with the bot.

Scopes are enforced as Slack does: a bot token holds :attr:`FakeSlack.scopes` (by default the
manifest's, :data:`bot.platforms.slack.manifest.BOT_SCOPES`), an app-level token (``xapp-…``)
:attr:`FakeSlack.app_scopes`; a method whose scopes
(:data:`~bot.platforms.slack.manifest.METHOD_SCOPES`) the token lacks is answered HTTP 200
``{"ok": false, "error": "missing_scope", "needed": "…", "provided": "…"}``, and a method missing
from that table ``unknown_method`` (add a method the bot starts calling there, with its scopes).
Every Web API answer carries Slack's ``X-OAuth-Scopes`` and ``X-Accepted-OAuth-Scopes`` headers.

:func:`encode_command_text` is what Slack does to a slash command's text before sending it, so the
test harness sends what a member typed the way Slack sends it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from bot.platforms.slack.manifest import APP_TOKEN_SCOPES, BOT_SCOPES, METHOD_SCOPES

TEAM_ID = "T0FAKE"
BOT_USER_ID = "UBOT"


def encode_command_text(typed: str) -> str:
    """Slack sends ``&``, ``<`` and ``>`` typed in a slash command as ``&amp;``, ``&lt;`` and ``&gt;``
    (with ``should_escape: false`` mentions and links stay as typed; with ``true`` Slack also turns
    them into ``<@U…|name>`` / ``<https://…>`` sequences, which a test writes out itself)."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def file_share_event(
    file: dict[str, Any],
    *,
    user: str = "U0ADA",
    channel: str = "D0ADA",
    channel_type: str = "im",
    team: str = TEAM_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The Events API envelope of a ``message`` event with ``subtype: file_share``: ``user`` shared
    ``file`` (a file object of :meth:`FakeSlack.add_file`) in ``channel`` (a direct message with the
    bot unless ``channel_type`` says otherwise). Like Slack's, the event carries no ``team``."""
    ts = f"{time.time():.6f}"
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0APP",
        "event": {
            "type": "message",
            "text": "",
            "files": [file],
            "upload": True,
            "user": user,
            "display_as_bot": False,
            "ts": ts,
            "client_msg_id": f"msg-{time.monotonic_ns()}",
            "channel": channel,
            "subtype": "file_share",
            "event_ts": ts,
            "channel_type": channel_type,
        },
        "type": "event_callback",
        "event_id": event_id or f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-fake",
    }


@dataclass
class Call:
    path: str
    payload: dict[str, Any]
    headers: dict[str, str]
    status: int  # what the fake answered
    ok: bool = True  # False for a Web API answer with ``"ok": false``
    answer: dict[str, Any] | None = None  # the Web API answer's body

    @property
    def method(self) -> str:
        return self.path.removeprefix("/api/")


@dataclass
class _Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class FakeSlack:
    def __init__(self, scopes: Iterable[str] | None = None) -> None:
        self.scopes: set[str] = set(BOT_SCOPES if scopes is None else scopes)  # the bot token's
        self.app_scopes: set[str] = set(APP_TOKEN_SCOPES)  # an app-level token's (xapp-…)
        self.calls: list[Call] = []
        self.not_in_channel: set[str] = set()
        self.socket_url = ""  # what apps.connections.open answers
        self.revoked_tokens: set[str] = set()  # bearer tokens the Web API refuses (invalid_auth)
        self.uploads: dict[str, bytes] = {}  # file id → bytes uploaded to its upload URL
        self.admins: set[str] = set()  # users.info says is_admin for these
        self.files: dict[str, dict[str, Any]] = {}  # file id → file object (files.info)
        self.file_bytes: dict[str, bytes] = {}  # file id → what its url_private_download serves
        self.downloads: list[tuple[str, int, str]] = []  # (path, status, Authorization) per download
        self._failures: dict[str, list[_Failure]] = {}
        self._cond = threading.Condition()
        self._ids = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                if self.path.startswith("/api/"):
                    fake._handle(self)
                else:
                    fake._download(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        with self._cond:
            self._ids += 1
            return f"{self.base}/response/{self._ids}"

    # --- scripting and inspection -----------------------------------------------------------

    def add_file(
        self, name: str, data: bytes, *, user: str = "U0ADA", size: int | None = None
    ) -> dict[str, Any]:
        """A file ``user`` uploaded: its file object as ``files.info`` answers it (``size`` as
        Slack declares it, by default the bytes' length)."""
        with self._cond:
            self._ids += 1
            file_id = f"F{self._ids:08d}"
        url = f"{self.base}/files-pri/{TEAM_ID}-{file_id}/{name}"
        obj = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": "application/octet-stream",
            "filetype": "binary",
            "pretty_type": "Binary",
            "user": user,
            "user_team": TEAM_ID,
            "editable": False,
            "size": len(data) if size is None else size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url,
            "url_private_download": f"{self.base}/files-pri/{TEAM_ID}-{file_id}/download/{name}",
            "permalink": f"https://fake.slack.test/files/{user}/{file_id}/{name}",
            "channels": [],
            "groups": [],
            "ims": [],
            "comments_count": 0,
        }
        with self._cond:
            self.files[file_id] = obj
            self.file_bytes[file_id] = data
        return obj

    def calls_to(self, method: str) -> list[Call]:
        """Every call of one Web API method (``chat.update`` …), in order."""
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def fail_next(self, path: str, status: int = 429, retry_after: int | None = 0, body: str = "") -> None:
        """Answer the next request to ``path`` (``/api/chat.postMessage``, ``/response/…``) with
        ``status`` once; 429s carry ``Retry-After``."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._cond:
            self._failures.setdefault(path, []).append(_Failure(status, headers, body or "rate_limited"))

    def delivered(self, predicate: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        """Successful deliveries: chat.postMessage and response_url posts answered 200."""
        with self._cond:
            return [
                c
                for c in self.calls
                if c.status == 200
                and c.ok
                and (c.method == "chat.postMessage" or c.path.startswith("/response/"))
                and predicate(c)
            ]

    def shared(self) -> list[Call]:
        """Successful ``files.completeUploadExternal`` calls (files shared into a channel)."""
        with self._cond:
            return [c for c in self.calls if c.method == "files.completeUploadExternal" and c.ok]

    def wait_for(
        self, predicate: Callable[[Call], bool] = lambda c: True, count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.delivered(predicate)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} deliveries, saw {len(found)}; all calls: "
                        f"{[(c.path, c.status) for c in self.calls]}"
                    )
                self._cond.wait(left)

    # --- serving ----------------------------------------------------------------------------

    def _download(self, h: BaseHTTPRequestHandler) -> None:
        """``GET /files-pri/<team>-<file id>/[download/]<name>``: a private file, for a bot token."""
        path = h.path.partition("?")[0]
        parts = path.strip("/").split("/")
        file_id = parts[1].rpartition("-")[2] if len(parts) >= 3 and parts[0] == "files-pri" else ""
        bearer = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._cond:
            data = self.file_bytes.get(file_id)
        if data is None:
            status, body, ctype = 404, b"not found", "text/plain"
        elif (
            not bearer.startswith("xoxb-") or bearer in self.revoked_tokens or "files:read" not in self.scopes
        ):
            status, body, ctype = 403, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html"
        else:
            status, body, ctype = 200, data, "application/octet-stream"
        with self._cond:
            self.downloads.append((path, status, h.headers.get("Authorization") or ""))
            self._cond.notify_all()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        data = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if h.path.startswith("/upload/"):  # a files_upload_v2 upload URL: raw bytes
            file_id = h.path.removeprefix("/upload/").partition("?")[0]
            with self._cond:
                self.uploads[file_id] = data
            self._record(Call(h.path, {"length": len(data)}, dict(h.headers), 200))
            self._send(h, 200, f"OK - {len(data)}", "text/plain")
            return
        raw = data.decode("utf-8") or h.path.partition("?")[2]  # GET methods (files.info): the query
        ctype = h.headers.get("Content-Type") or ""
        payload: dict[str, Any]
        if "json" in ctype and raw:
            payload = json.loads(raw)
        else:
            payload = dict(parse_qsl(raw))
            for key in ("blocks", "attachments"):
                if isinstance(payload.get(key), str):
                    payload[key] = json.loads(payload[key])
        path = h.path.partition("?")[0]
        with self._cond:
            queue = self._failures.get(path)
            failure = queue.pop(0) if queue else None
        if failure is not None:
            self._record(Call(path, payload, dict(h.headers), failure.status))
            self._send(h, failure.status, failure.body, "text/plain", failure.headers)
            return
        if path.startswith("/response/"):
            self._record(Call(path, payload, dict(h.headers), 200))
            self._send(h, 200, "ok", "text/plain")
            return
        if not path.startswith("/api/"):
            self._send(h, 404, "not found", "text/plain")
            return
        method = path.removeprefix("/api/")
        body: dict[str, Any] = {"ok": True}
        bearer = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
        if bearer in self.revoked_tokens:  # as Slack does: HTTP 200, ok false
            self._record(Call(path, payload, dict(h.headers), 200))
            self._send(h, 200, json.dumps({"ok": False, "error": "invalid_auth"}), "application/json")
            return
        granted = sorted(self.app_scopes if bearer.startswith("xapp-") else self.scopes)
        needed = METHOD_SCOPES.get(method)
        scope_headers = {
            "X-OAuth-Scopes": ",".join(granted),
            "X-Accepted-OAuth-Scopes": ",".join(needed or ()),
        }
        missing = [scope for scope in needed or () if scope not in granted]
        if needed is None:
            body = {"ok": False, "error": "unknown_method"}
        elif missing:  # as Slack does: HTTP 200, ok false, what was needed and what the token has
            body = {
                "ok": False,
                "error": "missing_scope",
                "needed": ",".join(missing),
                "provided": ",".join(granted),
            }
        if not body["ok"]:
            self._record(Call(path, payload, dict(h.headers), 200, ok=False, answer=body))
            self._send(h, 200, json.dumps(body), "application/json", scope_headers)
            return
        if method == "auth.test":
            body = {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "user": "tastemaker",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "BFAKE",
                "is_enterprise_install": False,
            }
        elif method == "apps.connections.open":
            body = {"ok": True, "url": self.socket_url}
        elif method == "files.getUploadURLExternal":
            with self._cond:
                self._ids += 1
                file_id = f"F{self._ids:06d}"
            body = {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}
        elif method == "files.completeUploadExternal":
            files = json.loads(payload.get("files") or "[]")
            if payload.get("channel_id") in self.not_in_channel:
                body = {"ok": False, "error": "not_in_channel"}
            elif any(f.get("id") not in self.uploads for f in files):
                body = {"ok": False, "error": "file_not_found"}
            else:
                body = {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}
        elif method == "users.info":
            user = str(payload.get("user") or "")
            body = {"ok": True, "user": {"id": user, "is_admin": user in self.admins, "is_owner": False}}
        elif method == "files.info":
            with self._cond:
                found = self.files.get(str(payload.get("file") or ""))
            body = {"ok": True, "file": found} if found else {"ok": False, "error": "file_not_found"}
        elif method == "chat.update":
            body = {"ok": True, "channel": payload.get("channel"), "ts": payload.get("ts"), "text": ""}
        elif method == "chat.postMessage":
            if payload.get("channel") in self.not_in_channel:
                body = {"ok": False, "error": "not_in_channel"}
            else:
                body = {"ok": True, "channel": payload.get("channel"), "ts": f"{time.time():.6f}"}
        self._record(Call(path, payload, dict(h.headers), 200, ok=bool(body["ok"]), answer=body))
        self._send(h, 200, json.dumps(body), "application/json", scope_headers)

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, body: str, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        data = body.encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


class FakeSocketMode:
    """A loopback Socket Mode endpoint: the WebSocket that ``apps.connections.open`` points to.

    Runs aiohttp on its own event loop in a thread; :meth:`send` pushes an envelope to the connected
    app and :meth:`wait_ack` returns the app's acknowledgement of it."""

    def __init__(self) -> None:
        import asyncio

        from aiohttp import web

        self._web = web
        self.loop = asyncio.new_event_loop()
        self.acks: dict[str, dict[str, Any]] = {}
        self.connections = 0
        self._ws: Any = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: Any = None
        self.port = 0

    def start(self) -> FakeSocketMode:
        import asyncio

        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=5)
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    async def _start(self) -> None:
        app = self._web.Application()
        app.router.add_get("/link", self._link)
        self._runner = self._web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = self._web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _link(self, request: Any) -> Any:
        from aiohttp import WSMsgType

        ws = self._web.WebSocketResponse()
        await ws.prepare(request)
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}
        await ws.send_str(json.dumps(hello))
        with self._cond:
            self._ws = ws
            self.connections += 1
            self._cond.notify_all()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                with self._cond:
                    self.acks[data.get("envelope_id", "")] = data
                    self._cond.notify_all()
        return ws

    def wait_connected(self, timeout: float = 5.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._ws is not None, timeout):
                raise AssertionError("the app never opened the Socket Mode connection")

    def send(self, envelope: dict[str, Any]) -> None:
        import asyncio

        self.wait_connected()
        asyncio.run_coroutine_threadsafe(self._ws.send_str(json.dumps(envelope)), self.loop).result(5)

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"envelope {envelope_id} was never acknowledged")
            return self.acks[envelope_id]

    def stop(self) -> None:
        import asyncio

        async def _stop() -> None:
            if self._ws is not None:
                await self._ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()
