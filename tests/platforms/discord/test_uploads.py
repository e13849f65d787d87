"""``/import file:<attachment>``, end to end: the real client against the fake Discord, the command
delivered over the gateway with its attachment under ``data.resolved`` (as Discord sends it), the
file downloaded from the fake's CDN, the exact HTTP asserted (an ephemeral defer, then edits of
that one private message). Real service, real SQLite file; what landed is checked through the
service, in two guilds."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot import render
from bot.parsing import UserError
from bot.service import Service
from config.settings import Settings
from storage.db import Database
from tests.conftest import Clock
from tests.ingest.exports import (
    LASTFM_ROWS,
    LB_LISTENS,
    lb_lines,
    listenbrainz_old_array,
    listenbrainz_zip,
    plays_csv,
    spotify_zip,
)
from tests.platforms.discord.harness import (
    ADA,
    BOB,
    GUILD_A,
    GUILD_B,
    run,
    running_bot,
    send,
    total_plays,
    who,
)
from tests.platforms.fake_discord import APP_ID, FakeDiscord, command_interaction

NEVER = 3600.0  # upload_progress_seconds: no progress edit within a test
NOT_AN_EXPORT = (
    "Sorry — That file is not a listening history I can read. Send a Spotify extended streaming "
    "history (its JSON files or the ZIP), a ListenBrainz export (the ZIP or a JSONL file) or a "
    "Last.fm scrobble CSV."
)
SPOTIFY_SUMMARY = (
    "Import finished: my\\_spotify\\_data.zip, a Spotify extended streaming history.\n"
    "Imported: 3 new plays\n"
    "Duplicates: 0 (already in your history)\n"
    "Skipped: 3 (audiobook 1, podcast 1, shorter than 30 s 1)"
)


class Recording(Service):
    """The real service, noting the thread each import ran in."""

    threads: list[threading.Thread]

    def import_upload(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread())
        return super().import_upload(*args, **kwargs)


@pytest.fixture
def uploads(db: Database, settings: Settings, clock: Clock) -> Recording:
    service = Recording(db, settings.model_copy(update={"upload_progress_seconds": NEVER}), clock=clock)
    service.threads = []
    return service


@pytest.fixture(autouse=True)
def _temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Downloads go to a folder of this test's own, so the test can see them removed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def with_settings(service: Recording, **update: Any) -> Recording:
    other = Recording(service.db, service.settings.model_copy(update=update), clock=service.clock)
    other.threads = []
    return other


async def upload(
    fake: FakeDiscord,
    filename: str,
    data: bytes,
    *,
    guild: str = GUILD_A,
    user: str = ADA,
    edits: int = 2,
    size: int | None = None,
    timeout: float = 5.0,
) -> list[str]:
    """``/import`` with ``data`` attached: asserts the ephemeral defer and that every other request
    edits the original response with mentions off; the contents of the edits, in order."""
    attachment = fake.attachment(filename, data, size=size)
    payload = command_interaction(
        "import", {}, guild_id=guild, user_id=user, attachments={"file": attachment}
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: len(fake.for_interaction(payload)) >= 1 + edits, timeout)
    await asyncio.sleep(0.1)
    reqs = fake.for_interaction(payload)
    token = payload["token"]
    assert (reqs[0].method, reqs[0].path) == ("POST", f"/interactions/{payload['id']}/{token}/callback")
    assert reqs[0].json == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
    for r in reqs[1:]:
        assert (r.method, r.path) == ("PATCH", f"/webhooks/{APP_ID}/{token}/messages/@original")
        assert set(r.json) == {"content", "tts", "allowed_mentions"}
        assert r.json["allowed_mentions"] == {"parse": []} and r.json["tts"] is False
    assert len(reqs) == 1 + edits  # nothing trails in
    return [r.json["content"] for r in reqs[1:]]


def plays_of(service: Service, guild: str, user: str) -> int:
    return service.profile(who(guild, user)).plays


def artists_in(service: Service, guild: str) -> dict[str, int]:
    return {e.name: e.plays for e in service.trending(who(guild), "all", "artist", limit=50).entries}


# --- the three formats ---------------------------------------------------------------------------


def test_spotify_zip_is_imported_for_the_uploader_then_again_as_duplicates(
    uploads: Recording, settings: Settings, tmp_path: Path, _temp_dir: Path
) -> None:
    data = spotify_zip(tmp_path).read_bytes()

    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            edits = await upload(fake, "my_spotify_data.zip", data)
            assert edits == ["Importing my\\_spotify\\_data.zip…", SPOTIFY_SUMMARY]
            assert fake.downloads == [f"/attachments/{next(iter(fake.files))}/my_spotify_data.zip"]
            again = await upload(fake, "my_spotify_data.zip", data)
            assert again[-1] == (
                "Import finished: my\\_spotify\\_data.zip, a Spotify extended streaming history.\n"
                "Imported: 0 new plays\n"
                "Duplicates: 3 (already in your history)\n"
                "Skipped: 3 (audiobook 1, podcast 1, shorter than 30 s 1)"
            )

    run(scenario())
    assert artists_in(uploads, GUILD_A) == {"Radiohead": 1, "Björk": 1, "Massive Attack": 1}
    profile = uploads.profile(who(GUILD_A, ADA))
    assert (profile.member, profile.plays) == ("ada", 3)  # the member, as /played creates them
    assert plays_of(uploads, GUILD_A, BOB) == 0
    assert total_plays(uploads, GUILD_B) == 0
    assert [p.source for p in uploads.my_plays(who(GUILD_A, ADA))] == ["spotify"] * 3
    assert len(uploads.threads) == 2 and threading.main_thread() not in uploads.threads  # off the loop
    assert list(_temp_dir.iterdir()) == []  # the downloads were removed


def test_listenbrainz_zip_and_jsonl_go_to_the_uploader_whatever_user_they_name(
    uploads: Recording, settings: Settings, tmp_path: Path
) -> None:
    lb_zip = listenbrainz_zip(tmp_path).read_bytes()  # its user.json names "rob"
    jsonl = lb_lines(LB_LISTENS[:5]).encode()
    old = listenbrainz_old_array(tmp_path / "old.json", user="lb_old").read_bytes()  # user_name per listen

    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            edits = await upload(fake, "listenbrainz_rob_1732000000.zip", lb_zip)
            assert edits == [
                "Importing listenbrainz\\_rob\\_1732000000.zip…",
                "Import finished: listenbrainz\\_rob\\_1732000000.zip, a ListenBrainz listens export.\n"
                "Imported: 15 new plays\n"
                "Duplicates: 0 (already in your history)\n"
                "Skipped: 0",
            ]
            # The first 5 listens as JSON lines, by Bob in the other guild: new there.
            edits = await upload(fake, "2024_1.jsonl", jsonl, guild=GUILD_B, user=BOB)
            assert edits[-1] == (
                "Import finished: 2024\\_1.jsonl, a ListenBrainz listens export.\n"
                "Imported: 5 new plays\nDuplicates: 0 (already in your history)\nSkipped: 0"
            )
            edits = await upload(fake, "listens.json", old)  # Ada's first 3 listens again
            assert edits[-1] == (
                "Import finished: listens.json, a ListenBrainz listens export.\n"
                "Imported: 0 new plays\nDuplicates: 3 (already in your history)\nSkipped: 0"
            )

    run(scenario())
    assert plays_of(uploads, GUILD_A, ADA) == 15
    assert plays_of(uploads, GUILD_B, BOB) == 5
    assert total_plays(uploads, GUILD_A) == 15 and total_plays(uploads, GUILD_B) == 5
    for name in ("rob", "lb_old"):  # nobody of that name was created
        with pytest.raises(UserError, match="has not logged any plays here"):
            uploads.profile(who(GUILD_A, ADA), name)


def test_lastfm_csv_with_a_bad_row(uploads: Recording, settings: Settings, tmp_path: Path) -> None:
    data = (LASTFM_ROWS + "Mogwai,Mr Beast,Auto Rock,someday\n").encode()

    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            edits = await upload(fake, "scrobbles.csv", data)
            assert edits[-1] == (
                "Import finished: scrobbles.csv, a Last.fm scrobble export.\n"
                "Imported: 3 new plays\n"
                "Duplicates: 0 (already in your history)\n"
                "Skipped: 0\n"
                "Not readable: 1 (line 4: date 'someday' is neither \\`31 Jan 2021 14:05\\`, Unix time "
                "nor ISO 8601)"
            )

    run(scenario())
    assert artists_in(uploads, GUILD_A) == {"Radiohead": 1, "Björk": 1, "Portishead": 1}
    assert not list(tmp_path.glob("*.rejects"))  # the importer's rejects file was removed


def test_progress_is_shown_by_editing_the_same_message(
    uploads: Recording, settings: Settings, tmp_path: Path
) -> None:
    eager = with_settings(uploads, upload_progress_seconds=0)
    data = spotify_zip(tmp_path).read_bytes()

    async def scenario() -> None:
        async with running_bot(eager, settings) as fake:
            edits = await upload(fake, "my_spotify_data.zip", data, edits=3)
            assert edits == [
                "Importing my\\_spotify\\_data.zip…",
                "Importing my\\_spotify\\_data.zip… 6 plays read",  # 6 entries: 3 plays, 3 skipped
                SPOTIFY_SUMMARY,
            ]

    run(scenario())


# --- refusals ------------------------------------------------------------------------------------


def test_wrong_files_get_one_line_and_nothing_is_imported(
    uploads: Recording, settings: Settings, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.zip"
    with zipfile.ZipFile(notes, "w") as z:
        z.writestr("notes.txt", "Dear diary,\nI listened to music today.\n")
    wrong = [
        ("listening.csv", b"Dear diary,\nI listened to music today.\n", NOT_AN_EXPORT),
        ("notes.zip", notes.read_bytes(), NOT_AN_EXPORT),
        ("history.json", b'[{"song": "Karma Police", "when": "yesterday"}]', NOT_AN_EXPORT),
        (
            "history.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "Sorry — That file cannot be imported: the file is a PDF document.",
        ),
        ("empty.json", b"", "Sorry — That file cannot be imported: the file is empty."),
        (
            "plays.csv",
            plays_csv(tmp_path / "plays.csv").read_bytes(),
            "Sorry — That file is a CSV of plays with a user column: it holds other members' plays, so "
            "it cannot be imported as your history. Send your own Spotify, ListenBrainz or Last.fm "
            "export.",
        ),
    ]

    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            for name, data, refusal in wrong:
                edits = await upload(fake, name, data)
                assert edits == [f"Importing {name}…", refusal], name

    run(scenario())
    assert total_plays(uploads, GUILD_A) == 0
    assert uploads.my_plays(who(GUILD_A, ADA)) == []


def test_over_the_cap_is_refused_before_downloading(
    uploads: Recording, settings: Settings, tmp_path: Path
) -> None:
    capped = with_settings(uploads, upload_max_bytes=1 << 20)
    data = spotify_zip(tmp_path).read_bytes()

    async def scenario() -> None:
        async with running_bot(capped, settings) as fake:
            attachment = fake.attachment("my_spotify_data.zip", data, size=5 << 20)  # as Discord declares
            payload = command_interaction("import", {}, guild_id=GUILD_A, attachments={"file": attachment})
            (answer,) = await send(fake, payload, answers=1)
            await asyncio.sleep(0.1)
            assert len(fake.for_interaction(payload)) == 1
            assert answer.json == {
                "type": 4,
                "data": {
                    "content": "Sorry — my\\_spotify\\_data.zip is 5 MB; I import uploads of up to 1 MB. "
                    "Send your history in smaller parts (the JSON files of a Spotify ZIP one at a time, "
                    "say).",
                    "tts": False,
                    "flags": 64,
                    "allowed_mentions": {"parse": []},
                },
            }
            assert fake.downloads == []  # nothing was fetched

    run(scenario())
    assert capped.threads == []


def test_a_file_larger_than_declared_is_cut_off_while_downloading(
    uploads: Recording, settings: Settings
) -> None:
    capped = with_settings(uploads, upload_max_bytes=1000)
    data = (LASTFM_ROWS * 20).encode()  # 2.4 KB, declared as 100 bytes

    async def scenario() -> None:
        async with running_bot(capped, settings) as fake:
            edits = await upload(fake, "scrobbles.csv", data, size=100)
            assert edits == [
                "Importing scrobbles.csv…",
                f"Sorry — scrobbles.csv is {render.file_size(len(data))}; I import uploads of up to "
                "1000 bytes. Send your history in smaller parts (the JSON files of a Spotify ZIP one at "
                "a time, say).",
            ]
            assert len(fake.downloads) == 1

    run(scenario())
    assert total_plays(capped, GUILD_A) == 0
    assert capped.threads == []  # the import never started


def test_a_vanished_attachment_is_a_friendly_line(uploads: Recording, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            attachment = fake.attachment("scrobbles.csv", LASTFM_ROWS.encode())
            fake.files.clear()  # the CDN answers 404
            payload = command_interaction("import", {}, guild_id=GUILD_A, attachments={"file": attachment})
            await send(fake, payload, answers=3)
            assert fake.for_interaction(payload)[-1].json["content"] == (
                "Sorry — I could not download scrobbles.csv (the chat service answered 404). "
                "Please send it again."
            )

    run(scenario())
    assert total_plays(uploads, GUILD_A) == 0


def test_file_names_cannot_mention_anyone(uploads: Recording, settings: Settings) -> None:
    async def scenario() -> None:
        async with running_bot(uploads, settings) as fake:
            edits = await upload(fake, "@everyone_*.csv", LASTFM_ROWS.encode())
            assert edits[0] == "Importing @\u200beveryone\\_\\*.csv…"
            assert edits[1].startswith(
                "Import finished: @\u200beveryone\\_\\*.csv, a Last.fm scrobble export."
            )

    run(scenario())


def test_a_large_upload_reports_progress_per_batch(uploads: Recording, settings: Settings) -> None:
    """60,000 scrobbles: two batches of the importer (the second process writes them); the progress
    is edited once per 50,000 rows read and once at the end, though the importer reports every few
    thousand rows."""
    eager = with_settings(uploads, upload_progress_seconds=0)
    start = 1_600_000_000
    data = "".join(
        f"Artist {i % 500},Album,Track {i % 3000},{start + 60 * i}\n" for i in range(60_000)
    ).encode()

    async def scenario() -> None:
        async with running_bot(eager, settings) as fake:
            began = time.perf_counter()
            edits = await upload(fake, "big.csv", data, edits=4, timeout=120)
            print(f"60,000-row upload: {len(data) / 2**20:.1f} MiB in {time.perf_counter() - began:.1f} s")
            assert edits == [
                "Importing big.csv…",
                "Importing big.csv… 50,000 plays read",
                "Importing big.csv… 60,000 plays read",
                "Import finished: big.csv, a Last.fm scrobble export.\n"
                "Imported: 60,000 new plays\n"
                "Duplicates: 0 (already in your history)\n"
                "Skipped: 0",
            ]

    run(scenario())
    assert plays_of(eager, GUILD_A, ADA) == 60_000
