"""A file sent to the bot in a direct message, end to end: signed ``message.im`` events
(``subtype: file_share``, as Slack sends them) to the real Bolt app over HTTP, ``files.info`` and
the download of ``url_private_download`` with the bot token from the fake Web API, the exact
``chat.postMessage`` / ``chat.update`` bodies asserted. Real service, real SQLite file; what landed
is checked through the service, in two workspaces."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot import render
from bot.parsing import UserError
from bot.platforms.slack.app import build_app
from bot.platforms.slack.blocks import escape
from bot.platforms.slack.server import make_http_server
from bot.platforms.slack.uploads import HOW_TO
from bot.service import Service
from config.settings import Settings
from tests.ingest.exports import (
    LASTFM_ROWS,
    LB_LISTENS,
    lb_lines,
    listenbrainz_zip,
    plays_csv,
    spotify_zip,
)
from tests.platforms.fake_slack import TEAM_ID, Call, FakeSlack, file_share_event
from tests.platforms.slack.harness import TOKEN, Reply, SlackClient, slack_who

OTHER_TEAM = "T0OTHER"
NEVER = 3600.0  # upload_progress_seconds: no progress update within a test
NOT_AN_EXPORT = (
    "That file is not a listening history I can read. Send a Spotify extended streaming history "
    "(its JSON files or the ZIP), a ListenBrainz export (the ZIP or a JSONL file) or a Last.fm "
    "scrobble CSV."
)
SPOTIFY_SUMMARY = (
    "Import finished: my_spotify_data.zip, a Spotify extended streaming history.\n"
    "Imported: 3 new plays\n"
    "Duplicates: 0 (already in your history)\n"
    "Skipped: 3 (audiobook 1, podcast 1, shorter than 30 s 1)"
)


@pytest.fixture(autouse=True)
def _temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Downloads go to a folder of this test's own, so the test can see them removed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@contextmanager
def serving(service: Service, settings: Settings, fake: FakeSlack, **update: Any) -> Iterator[SlackClient]:
    """The real Bolt app over HTTP on 127.0.0.1, with ``update`` applied to its settings."""
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-listener")
    app = build_app(
        service,
        settings.model_copy(update={"upload_progress_seconds": NEVER, **update}),
        listener_executor=pool,
    )
    server = make_http_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SlackClient(server.server_port, fake)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        pool.shutdown(wait=True)


@pytest.fixture
def bot(service: Service, slack_settings: Settings, fake: FakeSlack) -> Iterator[SlackClient]:
    with serving(service, slack_settings, fake) as client:
        yield client


def send_event(slack: SlackClient, envelope: dict[str, Any], retry: int | None = None) -> Reply:
    """POST an Events API envelope the way Slack does: JSON, signed; a retry carries its number."""
    body = json.dumps(envelope)
    headers = {**slack.signed_headers(body), "Content-Type": "application/json"}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    reply = slack.post(body, headers)
    assert (reply.status, reply.body) == (200, "")  # acknowledged at once, empty
    return reply


def wait(fake: FakeSlack, check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; calls: {[(c.method, c.payload) for c in fake.calls]}")
        time.sleep(0.05)
    return found


def share(
    slack: SlackClient,
    fake: FakeSlack,
    name: str,
    data: bytes,
    *,
    user: str = "U0ADA",
    team: str = TEAM_ID,
    updates: int = 1,
) -> list[dict[str, Any]]:
    """``user`` sends a file to the bot: asserts files.info, the one message posted in the direct
    message and that every update edits it; the updates' bodies (channel, ts and team left out)."""
    file = fake.add_file(name, data, user=user)
    channel = f"D{user}"
    before = len(fake.calls)
    send_event(slack, file_share_event(file, user=user, channel=channel, team=team))
    wait(fake, lambda: len([c for c in fake.calls[before:] if c.method == "chat.update"]) >= updates)
    time.sleep(0.2)
    mine = [c for c in fake.calls[before:] if c.method in ("files.info", "chat.postMessage", "chat.update")]
    info, post, *edits = mine
    assert info.payload == {"file": file["id"], "team_id": team}
    assert post.payload == {
        "channel": channel,
        **message(escape(render.upload_progress_text(name))),
        "team_id": team,
    }
    assert len(edits) == updates  # nothing trails in
    out = []
    for e in edits:
        body = dict(e.payload)
        assert (body.pop("channel"), body.pop("ts"), body.pop("team_id")) == (
            channel,
            post.answer["ts"],
            team,
        )
        out.append(body)
    return out


def message(text: str) -> dict[str, Any]:
    """A plain message as the bot sends it: the text, and the text as one mrkdwn section."""
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def refusal(text: str) -> dict[str, Any]:
    return {
        "text": f"Sorry — {text}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f":warning: Sorry — {text}"}}],
    }


def plays_of(service: Service, team: str = TEAM_ID, user: str = "U0ADA") -> int:
    return service.profile(slack_who(team, user)).plays


def artists_in(service: Service, team: str = TEAM_ID) -> dict[str, int]:
    return {e.name: e.plays for e in service.trending(slack_who(team), "all", "artist", limit=50).entries}


# --- the three formats ---------------------------------------------------------------------------


def test_spotify_zip_is_imported_for_the_uploader_then_again_as_duplicates(
    bot: SlackClient, fake: FakeSlack, service: Service, tmp_path: Path, _temp_dir: Path
) -> None:
    data = spotify_zip(tmp_path).read_bytes()
    assert share(bot, fake, "my_spotify_data.zip", data) == [message(SPOTIFY_SUMMARY)]
    (download,) = fake.downloads
    assert download == (
        f"/files-pri/{TEAM_ID}-{next(iter(fake.files))}/download/my_spotify_data.zip",
        200,
        f"Bearer {TOKEN}",
    )
    assert share(bot, fake, "my_spotify_data.zip", data) == [
        message(
            "Import finished: my_spotify_data.zip, a Spotify extended streaming history.\n"
            "Imported: 0 new plays\n"
            "Duplicates: 3 (already in your history)\n"
            "Skipped: 3 (audiobook 1, podcast 1, shorter than 30 s 1)"
        )
    ]
    assert artists_in(service) == {"Radiohead": 1, "Björk": 1, "Massive Attack": 1}
    assert plays_of(service) == 3
    assert [p.source for p in service.my_plays(slack_who())] == ["spotify"] * 3
    assert list(_temp_dir.iterdir()) == []  # the downloads were removed


def test_listenbrainz_and_lastfm_land_for_the_uploader_in_their_workspace_only(
    bot: SlackClient, fake: FakeSlack, service: Service, tmp_path: Path
) -> None:
    lb_zip = listenbrainz_zip(tmp_path).read_bytes()  # its user.json names "rob"
    assert share(bot, fake, "listenbrainz_rob_1732000000.zip", lb_zip) == [
        message(
            "Import finished: listenbrainz_rob_1732000000.zip, a ListenBrainz listens export.\n"
            "Imported: 15 new plays\nDuplicates: 0 (already in your history)\nSkipped: 0"
        )
    ]
    jsonl = lb_lines(LB_LISTENS[:5]).encode()
    assert share(bot, fake, "2024_1.jsonl", jsonl, user="U0BOB", team=OTHER_TEAM) == [
        message(
            "Import finished: 2024_1.jsonl, a ListenBrainz listens export.\n"
            "Imported: 5 new plays\nDuplicates: 0 (already in your history)\nSkipped: 0"
        )
    ]
    assert share(bot, fake, "scrobbles.csv", LASTFM_ROWS.encode(), user="U0BOB", team=OTHER_TEAM) == [
        message(
            "Import finished: scrobbles.csv, a Last.fm scrobble export.\n"
            "Imported: 3 new plays\nDuplicates: 0 (already in your history)\nSkipped: 0"
        )
    ]
    assert plays_of(service, TEAM_ID, "U0ADA") == 15
    assert plays_of(service, OTHER_TEAM, "U0BOB") == 8
    assert plays_of(service, TEAM_ID, "U0BOB") == 0 and plays_of(service, OTHER_TEAM, "U0ADA") == 0
    assert artists_in(service, OTHER_TEAM) == {
        "Radiohead": 3,  # Lucky, Airbag (ListenBrainz) and Karma Police (Last.fm)
        "Björk": 2,
        "Portishead": 3,
    }
    assert sum(artists_in(service, TEAM_ID).values()) == 15
    with pytest.raises(UserError, match="has not logged any plays here"):
        service.profile(slack_who(), "rob")  # nobody of the export's user name was created


def test_progress_updates_the_same_message(
    service: Service, slack_settings: Settings, fake: FakeSlack, tmp_path: Path
) -> None:
    data = spotify_zip(tmp_path).read_bytes()
    with serving(service, slack_settings, fake, upload_progress_seconds=0) as slack:
        assert share(slack, fake, "my_spotify_data.zip", data, updates=2) == [
            message("Importing my_spotify_data.zip… 6 plays read"),  # 6 entries: 3 plays, 3 skipped
            message(SPOTIFY_SUMMARY),
        ]


def test_text_is_escaped(bot: SlackClient, fake: FakeSlack) -> None:
    (final,) = share(bot, fake, "<b>&co.csv", LASTFM_ROWS.encode())
    assert final["text"].startswith("Import finished: &lt;b&gt;&amp;co.csv, a Last.fm scrobble export.")


# --- refusals ------------------------------------------------------------------------------------


def test_wrong_files_get_one_line_and_nothing_is_imported(
    bot: SlackClient, fake: FakeSlack, service: Service, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.zip"
    with zipfile.ZipFile(notes, "w") as z:
        z.writestr("notes.txt", "Dear diary,\nI listened to music today.\n")
    cases = [
        ("listening.csv", b"Dear diary,\nI listened to music today.\n", NOT_AN_EXPORT),
        ("notes.zip", notes.read_bytes(), NOT_AN_EXPORT),
        (
            "history.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "That file cannot be imported: the file is a PDF document.",
        ),
        (
            "plays.csv",
            plays_csv(tmp_path / "plays.csv").read_bytes(),
            "That file is a CSV of plays with a user column: it holds other members' plays, so it "
            "cannot be imported as your history. Send your own Spotify, ListenBrainz or Last.fm export.",
        ),
    ]
    for name, data, why in cases:
        assert share(bot, fake, name, data) == [refusal(why)], name
    assert artists_in(service) == {}


def test_over_the_cap_is_refused_before_downloading(
    service: Service, slack_settings: Settings, fake: FakeSlack, tmp_path: Path
) -> None:
    with serving(service, slack_settings, fake, upload_max_bytes=1 << 20) as slack:
        file = fake.add_file("my_spotify_data.zip", spotify_zip(tmp_path).read_bytes(), size=5 << 20)
        send_event(slack, file_share_event(file))
        (post,) = fake.wait_for(lambda c: c.method == "chat.postMessage")
        assert post.payload == {
            "channel": "D0ADA",
            **refusal(
                "my_spotify_data.zip is 5 MB; I import uploads of up to 1 MB. Send your history in "
                "smaller parts (the JSON files of a Spotify ZIP one at a time, say)."
            ),
            "team_id": TEAM_ID,
        }
        time.sleep(0.3)
    assert fake.downloads == [] and fake.calls_to("chat.update") == []
    assert artists_in(service) == {}


def test_only_a_direct_message_imports(bot: SlackClient, fake: FakeSlack, service: Service) -> None:
    file = fake.add_file("scrobbles.csv", LASTFM_ROWS.encode())
    send_event(bot, file_share_event(file, channel="C0CHAN", channel_type="channel"))
    send_event(bot, file_share_event(file, channel="G0GROUP", channel_type="mpim"))
    envelope = file_share_event(file)
    envelope["event"]["bot_id"] = "B0OTHER"  # another app's file in the direct message
    send_event(bot, envelope)
    time.sleep(0.5)
    assert [c.method for c in fake.calls if c.method not in ("auth.test",)] == []
    assert fake.downloads == [] and artists_in(service) == {}


def test_a_retried_event_imports_once(bot: SlackClient, fake: FakeSlack, service: Service) -> None:
    file = fake.add_file("scrobbles.csv", LASTFM_ROWS.encode())
    envelope = file_share_event(file, event_id="Ev0UPLOAD1")
    send_event(bot, envelope)
    send_event(bot, envelope, retry=1)  # Slack's retry: the same event_id
    send_event(bot, envelope, retry=2)
    wait(fake, lambda: fake.calls_to("chat.update"))
    time.sleep(0.5)
    assert len(fake.calls_to("files.info")) == 1 and len(fake.downloads) == 1
    assert len(fake.calls_to("chat.update")) == 1
    assert plays_of(service) == 3


def test_other_message_events_are_acknowledged_and_ignored(bot: SlackClient, fake: FakeSlack) -> None:
    text = file_share_event({"id": "F0"})
    del text["event"]["subtype"], text["event"]["files"]
    text["event"]["text"] = "hello"
    changed = file_share_event({"id": "F0"})
    changed["event"] = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "D0ADA",
        "channel_type": "im",
        "hidden": True,
        "message": {"type": "message", "user": "UBOT", "text": "Importing…", "ts": "1.2"},
        "ts": "1.3",
        "event_ts": "1.3",
    }
    for envelope in (text, changed):
        send_event(bot, envelope)  # 200 and empty: not a 404 that Slack would retry
    time.sleep(0.3)
    assert [c.method for c in fake.calls if c.method != "auth.test"] == []


def test_download_needs_the_bot_token(bot: SlackClient, fake: FakeSlack, service: Service) -> None:
    file = fake.add_file("scrobbles.csv", LASTFM_ROWS.encode())
    revoked = "xoxb-revoked"
    fake.revoked_tokens.add(revoked)
    for headers in ({}, {"Authorization": f"Bearer {revoked}"}, {"Authorization": "Bearer xoxp-a-user"}):
        request = urllib.request.Request(file["url_private_download"], headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        refused.value.close()
        assert refused.value.code == 403
    assert [status for _, status, _ in fake.downloads] == [403, 403, 403]


def test_a_file_slack_cannot_find_is_one_line(bot: SlackClient, fake: FakeSlack, service: Service) -> None:
    send_event(bot, file_share_event({"id": "F0GONE"}))
    (post,) = fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert post.payload == {
        "channel": "D0ADA",
        **refusal("I could not open that file (file_not_found): it is gone; please send it again."),
        "team_id": TEAM_ID,
    }


def test_without_files_read_the_member_is_told_why(
    bot: SlackClient, fake: FakeSlack, service: Service
) -> None:
    fake.scopes.discard("files:read")  # an app installed from an older manifest
    file = fake.add_file("scrobbles.csv", LASTFM_ROWS.encode())
    send_event(bot, file_share_event(file))
    (post,) = fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert post.payload == {
        "channel": "D0ADA",
        **refusal(
            "I could not open that file (missing_scope): the app lacks the files:read permission; a "
            "workspace admin can reinstall it from the current manifest."
        ),
        "team_id": TEAM_ID,
    }
    (info,) = fake.calls_to("files.info")
    assert info.answer == {
        "ok": False,
        "error": "missing_scope",
        "needed": "files:read",
        "provided": "chat:write,commands,files:write,im:history,users:read",
    }
    assert fake.downloads == [] and artists_in(service) == {}


# --- how to ---------------------------------------------------------------------------------------


def test_tastemaker_import_says_how_and_help_lists_it(bot: SlackClient) -> None:
    reply, _ = bot.command("/tastemaker", "import")
    assert reply.json() == {"response_type": "ephemeral", **message(HOW_TO)}
    reply, _ = bot.command("/tastemaker", "help")
    assert (
        "• `/tastemaker import` — how to add your own history: send me a Spotify, ListenBrainz or "
        "Last.fm export in a direct message" in "\n".join(b["text"]["text"] for b in reply.json()["blocks"])
    )


def test_calls_are_made_with_the_bot_token(bot: SlackClient, fake: FakeSlack) -> None:
    share(bot, fake, "scrobbles.csv", LASTFM_ROWS.encode())
    used: list[Call] = [
        c for c in fake.calls if c.method in ("files.info", "chat.postMessage", "chat.update")
    ]
    assert {c.headers["Authorization"] for c in used} == {f"Bearer {TOKEN}"}


def test_manifest_subscribes_to_direct_messages_with_the_scopes_needed() -> None:
    manifest = (Path(__file__).resolve().parents[3] / "config" / "slack-manifest.yml").read_text(
        encoding="utf-8"
    )
    for scope in ("chat:write", "files:read", "im:history"):  # chat.update, files.info + download, message.im
        assert f"      - {scope} " in manifest
    assert "  event_subscriptions:\n    bot_events:\n      - message.im " in manifest
    assert "    messages_tab_enabled: true " in manifest  # members can write to the bot at all
    assert "    messages_tab_read_only_enabled: false\n" in manifest
