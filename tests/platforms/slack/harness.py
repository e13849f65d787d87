"""The Slack test harness: signed slash commands sent the way Slack sends them, and helpers to
read what the fake Web API received (shared by the Slack, scheduler and run-all tests)."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.platforms.slack.ids import community_key
from bot.service import Service, Who
from tests.platforms.bot_process import BotProcess, clean_env
from tests.platforms.fake_slack import TEAM_ID, Call, FakeSlack, encode_command_text

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-fake-token"
ACK_BUDGET = 3.0  # Slack gives up on a slash command after 3 s


@dataclass
class Reply:
    status: int
    body: str
    seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class SlackClient:
    """Sends slash commands the way Slack does: the text Slack-encoded (``&`` as ``&amp;`` …),
    form-encoded and signed. ``encoded=`` sends a text exactly as given (mentions, links)."""

    def __init__(self, port: int, fake: FakeSlack, secret: str = SECRET) -> None:
        self.port = port
        self.fake = fake
        self.verifier = SignatureVerifier(secret)
        self.acks: list[float] = []

    def form(
        self, command: str, text: str = "", *, encoded: str | None = None, **over: str
    ) -> dict[str, str]:
        """A slash command's fields: ``text`` as typed (Slack encodes it here), or ``encoded`` as
        Slack sends it."""
        fields = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fakecrew",
            "channel_id": "C0CHAN",
            "channel_name": "music",
            "user_id": "U0ADA",
            "user_name": "ada",
            "command": command,
            "text": encode_command_text(text) if encoded is None else encoded,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(),
            "trigger_id": f"trig-{time.monotonic_ns()}",
        }
        fields.update(over)
        return fields

    def post(self, body: str, headers: dict[str, str]) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.perf_counter()
        try:
            conn.request("POST", "/slack/events", body=body.encode("utf-8"), headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8")
        finally:
            conn.close()
        return Reply(resp.status, text, time.perf_counter() - started)

    def signed_headers(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }

    def command(
        self, command: str, text: str = "", *, encoded: str | None = None, **over: str
    ) -> tuple[Reply, dict[str, str]]:
        form = self.form(command, text, encoded=encoded, **over)
        body = urlencode(form)
        reply = self.post(body, self.signed_headers(body))
        if reply.status == 200:
            self.acks.append(reply.seconds)
        return reply, form

    def press(
        self,
        button: dict[str, Any],
        *,
        user: str = "U0ADA",
        team: str = TEAM_ID,
        value: str | None = None,
        trigger_id: str | None = None,
        block_id: str = "played_question",
    ) -> tuple[Reply, dict[str, Any]]:
        """A press on a message button, sent the way Slack sends a ``block_actions`` interaction:
        ``payload=<JSON>`` form-encoded and signed, with a response_url of its own."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": "C0CHAN",
                "is_ephemeral": True,
            },
            "trigger_id": trigger_id or f"trig-{time.monotonic_ns()}",
            "team": {"id": team, "domain": "fakecrew"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": "C0CHAN", "name": "music"},
            "response_url": self.fake.response_url(),
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": block_id,
                    "text": button["text"],
                    "value": button["value"] if value is None else value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        reply = self.post(body, self.signed_headers(body))
        if reply.status == 200:
            self.acks.append(reply.seconds)
        return reply, payload


def buttons(call: Call) -> dict[str, dict[str, Any]]:
    """A message's buttons by action_id."""
    return {
        e["action_id"]: e
        for b in call.payload.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("type") == "button"
    }


def slack_who(team: str = TEAM_ID, user: str = "U0ADA", enterprise: str | None = None) -> Who:
    return Who("slack", community_key(enterprise, team), user)


def plays(service: Service, who: Who) -> dict[str, int]:
    return {e.name: e.plays for e in service.trending(who, "all", "track").entries}


def c_base(form: dict[str, str]) -> str:
    url = form["response_url"]
    return url[: url.index("/response/")]


def at(form: dict[str, str]) -> Any:
    """Deliveries answering this command's response_url."""
    path = form["response_url"][len(c_base(form)) :]
    return lambda c: c.path == path


def all_text(call: Call) -> str:
    """Every mrkdwn/plain text string of a message's blocks."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(call.payload.get("blocks", []))
    return "\n".join(out)


def slack_http_bot(tmp_path: Path, fake: FakeSlack, *, token: str = TOKEN) -> BotProcess:
    """``tastemaker run --platform slack`` in HTTP mode on 127.0.0.1 (any free port), against the
    fake Web API, with a fresh SQLite file in ``tmp_path`` (its cwd)."""
    env = clean_env(
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_BOT_TOKEN=token,
        TASTEMAKER_SLACK_API_URL=fake.api_url,
        TASTEMAKER_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
    )
    return BotProcess(
        ["run", "--platform", "slack", "--http-port", "0", "--http-host", "127.0.0.1"], env, tmp_path
    )
