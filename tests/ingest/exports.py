"""Files shaped like the real history exports, written into a test's tmp_path.

- ListenBrainz "export listens" (2024+): ``listenbrainz_<user>_<unix time>.zip`` holding
  ``user.json`` (``{"user_id", "username"}``), ``listens/YYYY/M.jsonl`` (one listen per line:
  ``inserted_at``, ``listened_at`` as a float of Unix seconds, ``recording_msid``,
  ``track_metadata`` with ``artist_name``, ``track_name``, ``release_name``, ``additional_info``,
  ``mbid_mapping``; no user name), ``feedback.jsonl`` and ``pinned_recording.jsonl``. Older exports
  are one JSON array whose listens carry ``user_name``.
- Spotify "Extended streaming history": ``my_spotify_data.zip`` holding ``Spotify Extended
  Streaming History/Streaming_History_Audio_*.json`` (JSON arrays; recent exports have no
  ``username``), ``Streaming_History_Video_*.json`` and a PDF read-me.
- Last.fm scrobble CSV: ``artist,album,track,date`` rows without header (``31 Jan 2021 14:05``, UTC).
- tastemaker's generic CSV: ``user,artist,track,played_at``.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

LB_USER = "rob"
# (artist, track, release, UTC time) of the 15 listens of the ListenBrainz export, in file order.
LB_LISTENS = [
    ("Radiohead", "Lucky", "OK Computer", dt.datetime(2023, 12, 30, 21, 0, 5)),
    ("Radiohead", "Airbag", "OK Computer", dt.datetime(2023, 12, 30, 21, 5, 0)),
    ("Björk", "Jóga", "Homogenic", dt.datetime(2023, 12, 31, 10, 0, 0)),
    ("Portishead", "Roads", "Dummy", dt.datetime(2024, 1, 2, 8, 0, 0)),
    ("Portishead", "Glory Box", "Dummy", dt.datetime(2024, 1, 2, 8, 5, 0)),
    ("Massive Attack", "Teardrop", "Mezzanine", dt.datetime(2024, 1, 3, 19, 0, 0)),
    ("Massive Attack", "Angel", "Mezzanine", dt.datetime(2024, 1, 3, 19, 6, 0)),
    ("Boards of Canada", "Roygbiv", "Music Has the Right to Children", dt.datetime(2024, 1, 20, 23, 0, 0)),
    ("Boards of Canada", "Aquarius", "Music Has the Right to Children", dt.datetime(2024, 1, 20, 23, 5, 0)),
    ("Aphex Twin", "Xtal", "Selected Ambient Works 85-92", dt.datetime(2024, 2, 1, 7, 30, 0)),
    ("Aphex Twin", "Avril 14th", "Drukqs", dt.datetime(2024, 2, 1, 7, 40, 0)),
    ("Sigur Rós", "Svefn-g-englar", "Ágætis byrjun", dt.datetime(2024, 2, 14, 22, 0, 0)),
    ("Sigur Rós", "Starálfur", "Ágætis byrjun", dt.datetime(2024, 2, 14, 22, 10, 0)),
    ("Mogwai", "Auto Rock", "Mr Beast", dt.datetime(2024, 2, 28, 18, 0, 0)),
    ("Mogwai", "Friend of the Night", "Mr Beast", dt.datetime(2024, 2, 28, 18, 6, 0)),
]


def _epoch(t: dt.datetime) -> float:
    return t.replace(tzinfo=dt.UTC).timestamp()


def lb_listen(artist: str, track: str, release: str, at: dt.datetime, n: int = 0) -> dict[str, Any]:
    """One listen as the 2024+ export writes it (no user name; ``listened_at`` a float)."""
    msid = f"00000000-0000-4000-8000-{n:012d}"
    return {
        "inserted_at": int(_epoch(at)) + 30,
        "listened_at": _epoch(at),
        "recording_msid": msid,
        "track_metadata": {
            "artist_name": artist,
            "track_name": track,
            "release_name": release,
            "additional_info": {
                "duration_ms": 241000,
                "media_player": "Strawberry",
                "submission_client": "Strawberry",
                "submission_client_version": "1.0.23",
                "recording_msid": msid,
            },
            "mbid_mapping": None,
        },
    }


def lb_lines(listens: list[tuple[str, str, str, dt.datetime]], start: int = 0) -> str:
    return "".join(json.dumps(lb_listen(*x, n=start + i)) + "\n" for i, x in enumerate(listens))


def listenbrainz_zip(folder: Path, user: str = LB_USER) -> Path:
    """The ZIP of ListenBrainz's "export listens" with :data:`LB_LISTENS` (3 + 6 + 6 per month)."""
    path = folder / f"listenbrainz_{user}_1732000000.zip"
    months: dict[str, list[tuple[str, str, str, dt.datetime]]] = {}
    for x in LB_LISTENS:
        months.setdefault(f"listens/{x[3].year}/{x[3].month}.jsonl", []).append(x)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("user.json", json.dumps({"user_id": 4711, "username": user}) + "\n")
        n = 0
        for name, listens in months.items():
            z.writestr(name, lb_lines(listens, n))
            n += len(listens)
        z.writestr(
            "feedback.jsonl",
            json.dumps({"recording_msid": "m1", "recording_mbid": None, "score": 1, "created": 1704000000})
            + "\n",
        )
        z.writestr(
            "pinned_recording.jsonl",
            json.dumps(
                {
                    "recording_msid": "m2",
                    "recording_mbid": None,
                    "blurb_content": "on repeat",
                    "pinned_until": 1705000000,
                    "created": 1704000000,
                }
            )
            + "\n",
        )
    return path


def listenbrainz_old_array(path: Path, user: str = "lb_old") -> Path:
    """An older export: one JSON array whose listens carry ``user_name`` and integer times."""
    records = []
    for i, (artist, track, release, at) in enumerate(LB_LISTENS[:3]):
        rec = lb_listen(artist, track, release, at, i)
        rec["listened_at"] = int(rec["listened_at"])
        rec["user_name"] = user
        records.append(rec)
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return path


def spotify_entry(
    ts: str,
    ms: int,
    artist: str | None,
    track: str | None,
    *,
    episode: str | None = None,
    show: str | None = None,
    audiobook: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """One entry of recent extended streaming history (no ``username`` unless given)."""
    rec: dict[str, Any] = {
        "ts": ts,
        "platform": "android",
        "ms_played": ms,
        "conn_country": "DE",
        "ip_addr": "192.0.2.10",
        "master_metadata_track_name": track,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": "Album" if track else None,
        "spotify_track_uri": "spotify:track:4uLU6hMCjMI75M1A2tKUQC" if track else None,
        "episode_name": episode,
        "episode_show_name": show,
        "spotify_episode_uri": "spotify:episode:0Q86acNRm6V9GYx55SXKwf" if episode else None,
        "audiobook_title": audiobook,
        "audiobook_uri": "spotify:audiobook:7iHfbu1YPACw6oZPAFJtqe" if audiobook else None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }
    if username is not None:
        rec = {"ts": ts, "username": username, **{k: v for k, v in rec.items() if k != "ts"}}
    return rec


SPOTIFY_AUDIO_0 = [
    spotify_entry("2024-03-01T08:00:00Z", 215000, "Radiohead", "Lucky"),
    spotify_entry("2024-03-01T08:04:00Z", 12000, "Radiohead", "Airbag"),  # under 30 s
    spotify_entry("2024-03-01T09:00:00Z", 1800000, None, None, episode="Ep. 12", show="A Podcast"),
    spotify_entry("2024-03-01T10:00:00Z", 900000, None, None, audiobook="A Book"),
]
SPOTIFY_AUDIO_1 = [
    spotify_entry("2024-06-10T20:00:00Z", 240000, "Björk", "Jóga"),
    spotify_entry("2024-06-10T20:05:00Z", 300000, "Massive Attack", "Teardrop"),
]
SPOTIFY_DIR = "Spotify Extended Streaming History"


def spotify_zip(folder: Path) -> Path:
    """``my_spotify_data.zip`` of recent extended history: 2 audio files (6 entries: 3 plays, 1 under
    30 s, 1 podcast episode, 1 audiobook), 1 video file and the read-me PDF."""
    path = folder / "my_spotify_data.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            f"{SPOTIFY_DIR}/Streaming_History_Audio_2024_0.json", json.dumps(SPOTIFY_AUDIO_0, indent=2)
        )
        z.writestr(
            f"{SPOTIFY_DIR}/Streaming_History_Audio_2024_1.json", json.dumps(SPOTIFY_AUDIO_1, indent=2)
        )
        video = [spotify_entry("2024-05-01T12:00:00Z", 60000, "Some Artist", "Some Video")]
        z.writestr(f"{SPOTIFY_DIR}/Streaming_History_Video_2024.json", json.dumps(video))
        z.writestr(
            f"{SPOTIFY_DIR}/ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        )
    return path


def spotify_json(path: Path, *, username: str | None = None) -> Path:
    """One ``Streaming_History_Audio_*.json`` file of extended history."""
    path.write_text(
        json.dumps([spotify_entry("2024-03-01T08:00:00Z", 215000, "Radiohead", "Lucky", username=username)]),
        encoding="utf-8",
    )
    return path


LASTFM_ROWS = (
    "Radiohead,OK Computer,Karma Police,31 Jan 2021 14:05\n"
    "Björk,Homogenic,Jóga,01 Feb 2021 09:00\n"
    "Portishead,Dummy,Roads,01 Feb 2021 10:00\n"
)


def lastfm_csv(path: Path) -> Path:
    path.write_text(LASTFM_ROWS, encoding="utf-8")
    return path


PLAYS_CSV = (
    "user,artist,track,played_at\n"
    "ann,Radiohead,Lucky,2021-02-01T09:00:00Z\n"
    "bob,Björk,Jóga,2021-02-01T10:00:00Z\n"
)


def plays_csv(path: Path) -> Path:
    path.write_text(PLAYS_CSV, encoding="utf-8")
    return path
