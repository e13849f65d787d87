"""The Slack app manifest matches the code: every Web API method called from ``bot/`` (found in the
source, through slack_sdk's own wrappers such as ``files_upload_v2``) has its scopes in
``METHOD_SCOPES`` and granted by ``config/slack-manifest.yml``; the file is what
``tastemaker slack manifest`` prints; ``--url`` writes the HTTP-mode variant."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web import client as sdk_client
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.slack import server
from bot.platforms.slack.manifest import BOT_SCOPES, EVENTS_PATH, METHOD_SCOPES, manifest, to_yaml

ROOT = Path(__file__).resolve().parents[3]
MANIFEST_FILE = ROOT / "config" / "slack-manifest.yml"


@cache
def sdk_methods() -> dict[str, frozenset[str]]:
    """Each ``WebClient`` method → the Web API methods it calls, through the other ``WebClient``
    methods it uses (``files_upload_v2`` → files.getUploadURLExternal + files.completeUploadExternal)."""
    tree = ast.parse(inspect.getsource(sdk_client))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "WebClient"]
    direct: dict[str, set[str]] = {}
    uses: dict[str, set[str]] = {}
    for fn in cls.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        direct[fn.name], uses[fn.name] = set(), set()
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
                continue
            if node.func.attr == "api_call":
                direct[fn.name].add(_constant(node.args[0]))
            else:
                uses[fn.name].add(node.func.attr)

    def resolve(name: str, seen: frozenset[str]) -> set[str]:
        found = set(direct.get(name, ()))
        for other in uses.get(name, set()) - seen:
            found |= resolve(other, seen | {other})
        return found

    return {name: frozenset(m) for name in direct if (m := resolve(name, frozenset({name})))}


def _constant(node: ast.expr) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), ast.dump(node)
    return node.value


def called_methods(files: Iterable[Path]) -> dict[str, set[str]]:
    """Web API method → the files calling it: ``<anything>.<WebClient method>(…)`` and
    ``<anything>.api_call("method", …)``."""
    wrappers = sdk_methods()
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name == "api_call" and node.args:
                methods: Iterable[str] = {_constant(node.args[0])}
            else:
                methods = wrappers.get(name, ())
            for method in methods:
                found.setdefault(method, set()).add(path.name)
    return found


def problems(
    methods: Iterable[str], table: Mapping[str, tuple[str, ...]], granted: Iterable[str]
) -> list[str]:
    """What keeps the code's calls from working with the granted scopes, one line per method."""
    out = []
    for method in sorted(methods):
        if method not in table:
            out.append(f"{method}: not in METHOD_SCOPES (add its scopes from Slack's method reference)")
        elif missing := [s for s in table[method] if s not in set(granted)]:
            out.append(f"{method}: needs {', '.join(missing)}, which the manifest does not grant")
    return out


def manifest_scopes() -> list[str]:
    """The bot scopes listed in config/slack-manifest.yml (its ``oauth_config.scopes.bot`` items)."""
    text = MANIFEST_FILE.read_text(encoding="utf-8")
    block = text.split("\n    bot:\n", 1)[1].split("\nsettings:", 1)[0]
    return [line.strip().removeprefix("- ").split("#")[0].strip() for line in block.splitlines()]


def bot_files() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


def test_the_code_calls_these_web_api_methods() -> None:
    found = called_methods(bot_files())
    assert found == {
        "auth.test": {"client.py"},
        "chat.postMessage": {"commands.py", "digest.py", "uploads.py"},
        "chat.update": {"uploads.py"},
        "files.info": {"uploads.py"},
        "users.info": {"commands.py"},
        "files.getUploadURLExternal": {"commands.py", "digest.py"},  # /tastemaker top … chart, the digest
        "files.completeUploadExternal": {"commands.py", "digest.py"},
    }


def test_every_method_the_code_calls_has_its_scopes_granted_by_the_manifest() -> None:
    assert manifest_scopes() == [
        "commands",
        "chat:write",
        "files:write",
        "users:read",
        "files:read",
        "im:history",
    ]
    assert manifest_scopes() == list(BOT_SCOPES)
    assert problems(called_methods(bot_files()), METHOD_SCOPES, manifest_scopes()) == []
    # Bolt's own call (auth.test, no scope) and Socket Mode's (app-level token) are in the table too
    assert METHOD_SCOPES["auth.test"] == () and METHOD_SCOPES["apps.connections.open"] == (
        "connections:write",
    )
    assert "connections:write" not in BOT_SCOPES  # an app-level token scope, not a bot scope


def test_a_new_call_without_its_scope_fails_the_check(tmp_path: Path) -> None:
    new = tmp_path / "new.py"
    new.write_text(
        "def react(client, channel, ts):\n"
        "    client.conversations_history(channel=channel)\n"
        "    client.api_call('reactions.add', json={'channel': channel, 'timestamp': ts})\n"
        "    client.users_info(user='U1')\n"
    )
    found = called_methods([new])
    assert found == {
        "conversations.history": {"new.py"},
        "reactions.add": {"new.py"},
        "users.info": {"new.py"},
    }
    assert problems(found, METHOD_SCOPES, ["commands", "chat:write", "files:write"]) == [
        "conversations.history: not in METHOD_SCOPES (add its scopes from Slack's method reference)",
        "reactions.add: not in METHOD_SCOPES (add its scopes from Slack's method reference)",
        "users.info: needs users:read, which the manifest does not grant",
    ]


def test_files_upload_v2_is_resolved_through_the_sdk() -> None:
    methods = sdk_methods()
    assert methods["files_upload_v2"] == {"files.getUploadURLExternal", "files.completeUploadExternal"}
    assert methods["chat_postMessage"] == {"chat.postMessage"} and methods["users_info"] == {"users.info"}


def test_config_file_is_the_generated_socket_mode_manifest() -> None:
    assert MANIFEST_FILE.read_text(encoding="utf-8") == to_yaml(manifest())


def test_events_path_is_the_servers() -> None:
    assert EVENTS_PATH == server.EVENTS_PATH == "/slack/events"


def test_the_app_subscribes_to_direct_messages_only() -> None:
    """The one bot event, ``message.im`` (a file sent to the bot), with the scope it needs; the app
    listens to message events and nothing else."""
    source = (ROOT / "bot" / "platforms" / "slack" / "app.py").read_text(encoding="utf-8")
    assert source.count(".event(") == 2 and ".message(" not in source  # file_share, then any other message
    assert manifest()["settings"]["event_subscriptions"] == {"bot_events": ["message.im"]}
    assert manifest("https://h.example")["settings"]["event_subscriptions"] == {
        "request_url": "https://h.example/slack/events",
        "bot_events": ["message.im"],
    }
    assert "im:history" in BOT_SCOPES  # what message.im needs
    assert manifest()["features"]["app_home"]["messages_tab_enabled"] is True


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["slack", "manifest", *args])


def with_urls(doc: dict[str, Any], url: str) -> dict[str, Any]:
    """``doc`` (the Socket Mode manifest) as HTTP mode at ``url``, built independently of the module."""
    out = json.loads(json.dumps(doc))
    out["features"]["slash_commands"] = [
        {"command": c["command"], "url": url, **{k: v for k, v in c.items() if k != "command"}}
        for c in out["features"]["slash_commands"]
    ]
    out["settings"]["interactivity"]["request_url"] = url
    out["settings"]["event_subscriptions"] = {"request_url": url, **out["settings"]["event_subscriptions"]}
    out["settings"]["socket_mode_enabled"] = False
    return out


def test_manifest_command_prints_the_socket_mode_manifest() -> None:
    result = _run()
    assert result.exit_code == 0, result.output
    assert result.stdout == MANIFEST_FILE.read_text(encoding="utf-8")
    as_json = _run("--json")
    assert as_json.exit_code == 0
    doc = json.loads(as_json.stdout)
    assert doc == manifest()
    assert (
        doc["settings"]["socket_mode_enabled"] is True
        and "request_url" not in doc["settings"]["interactivity"]
    )
    assert all("url" not in c for c in doc["features"]["slash_commands"])
    assert doc["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "files:write",
        "users:read",
        "files:read",
        "im:history",
    ]


@pytest.mark.parametrize(
    ("given", "request_url"),
    [
        ("https://bot.example.org", "https://bot.example.org/slack/events"),
        ("https://bot.example.org/", "https://bot.example.org/slack/events"),
        ("https://bot.example.org:8443/tm/", "https://bot.example.org:8443/tm/slack/events"),
        ("HTTPS://Bot.Example.org/slack/events", "https://bot.example.org/slack/events"),
        (" https://bot.example.org ", "https://bot.example.org/slack/events"),
    ],
)
def test_manifest_command_sets_every_request_url(given: str, request_url: str) -> None:
    as_json = _run("--url", given, "--json")
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert doc == with_urls(manifest(), request_url)
    assert [c["url"] for c in doc["features"]["slash_commands"]] == [request_url] * 4
    assert doc["settings"]["interactivity"] == {"is_enabled": True, "request_url": request_url}
    assert doc["settings"]["event_subscriptions"] == {
        "request_url": request_url,
        "bot_events": ["message.im"],
    }

    yaml = _run("--url", given)
    assert yaml.exit_code == 0
    lines = yaml.stdout.splitlines()
    assert lines.count(f"      url: {request_url}") == 4  # one per slash command
    assert lines.count(f"    request_url: {request_url}") == 2  # event subscriptions, interactivity
    assert "  socket_mode_enabled: false  # Slack calls the request URLs above" in lines
    assert yaml.stdout == to_yaml(with_urls(manifest(), request_url), given)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("http://bot.example.org", "is not an https:// URL"),
        ("bot.example.org", "is not an https:// URL"),
        ("https://", "has no host name"),
        ("https://bot example.org", "has a space in it"),
        ("https://me:secret@bot.example.org", "holds a user name or password"),
        ("https://bot.example.org/?x=1", "has a query or fragment"),
        ("https://bot.example.org:https", "is not a URL"),
    ],
)
def test_a_bad_url_is_one_line(given: str, reason: str) -> None:
    result = _run("--url", given)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: --url: {given!r} {reason}"), line


def _python_with_pyyaml() -> str:
    for exe in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if (
            Path(exe).exists()
            and subprocess.run([exe, "-c", "import yaml"], capture_output=True).returncode == 0
        ):
            return exe
    pytest.skip("no Python with PyYAML on this machine (the project's venv has none)")


@pytest.mark.parametrize("url", [None, "https://bot.example.org"])
def test_pyyaml_reads_the_yaml_as_the_manifest(url: str | None) -> None:
    """An independent YAML parser (PyYAML of the system's Python) reads what the command prints."""
    printed = _run(*(["--url", url] if url else [])).stdout
    loaded = subprocess.run(
        [_python_with_pyyaml(), "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
        input=printed,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(loaded.stdout) == manifest(url)
