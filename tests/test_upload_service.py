"""``Service.import_upload`` without a chat platform: every play goes to the uploader in their own
community whatever user the file names, progress counts rows read so far (once per batch's worth
and at the end), and a file that cannot be imported is one :class:`UserError` line with nothing
stored. Real SQLite file in tmp_path."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bot.parsing import UserError
from bot.service import Service, UploadSummary, Who
from config.settings import Settings
from storage.db import Database
from tests.conftest import Clock
from tests.ingest.exports import LB_LISTENS, lb_lines, spotify_json, spotify_zip

ANN = Who("discord", "g1", "u-ann", community_name="One", member_name="Ann")
BOB = Who("slack", "-:T2", "U-BOB", community_name="Two", member_name="Bob")


def plays(service: Service, who: Who) -> int:
    return service.profile(who).plays


def test_the_file_names_someone_else_the_plays_are_the_uploaders(service: Service, tmp_path: Path) -> None:
    path = spotify_json(tmp_path / "Streaming_History_Audio_2024.json", username="spotify-user-42")
    seen: list[int] = []
    summary = service.import_upload(ANN, path, seen.append)
    assert summary == UploadSummary(
        format="spotify",
        what="a Spotify extended streaming history",
        read=1,
        imported=1,
        duplicates=0,
        skipped={},
        rejected=0,
        first_rejects=[],
    )
    assert seen == [1]  # rows read, once at the end of an import smaller than a batch
    assert service.profile(ANN).member == "Ann" and plays(service, ANN) == 1
    with pytest.raises(UserError, match="has not logged any plays here"):
        service.profile(ANN, "spotify-user-42")
    assert plays(service, BOB) == 0


def test_progress_is_reported_once_per_batch_of_rows_read(service: Service, tmp_path: Path) -> None:
    """The importer reports every few thousand rows (for the terminal's bar); the chat message
    that shows an upload's progress hears of it once per 50,000 rows read and once at the end."""
    start = 1_600_000_000
    path = tmp_path / "scrobbles.csv"
    path.write_text(
        "".join(f"Artist {i % 300},Album,Track {i % 2000},{start + 60 * i}\n" for i in range(105_000)),
        encoding="utf-8",
    )
    seen: list[int] = []
    assert service.import_upload(ANN, path, seen.append).imported == 105_000
    assert seen == [50_000, 100_000, 105_000]


def test_two_communities_each_get_their_own_uploads(service: Service, tmp_path: Path) -> None:
    jsonl = tmp_path / "listens.jsonl"
    jsonl.write_text(lb_lines(LB_LISTENS[:4]), encoding="utf-8")
    assert service.import_upload(ANN, jsonl).imported == 4
    assert service.import_upload(BOB, jsonl).imported == 4  # another community: new there
    again = service.import_upload(ANN, jsonl)
    assert (again.imported, again.duplicates) == (0, 4)
    assert plays(service, ANN) == 4 and plays(service, BOB) == 4
    assert {e.name for e in service.trending(ANN, "all", "artist").entries} == {
        "Radiohead",
        "Björk",
        "Portishead",
    }


def test_a_zip_over_the_unpacked_cap_is_refused(
    db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    capped = Service(db, settings.model_copy(update={"upload_max_unpacked": 1000}), clock=clock)
    with pytest.raises(UserError) as refused:
        capped.import_upload(ANN, spotify_zip(tmp_path))
    assert str(refused.value).startswith("That file cannot be imported: the ZIP archive unpacks to ")
    assert str(refused.value).endswith(", over the 1000 bytes limit.")
    assert plays(capped, ANN) == 0


def test_an_encrypted_or_damaged_zip_is_one_line(service: Service, tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(UserError, match=r"^That file cannot be imported: the ZIP archive cannot be read"):
        service.import_upload(ANN, broken)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(UserError, match=r"^That file cannot be imported: the ZIP archive holds no files\.$"):
        service.import_upload(ANN, empty)
