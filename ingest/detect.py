"""What an export is, told from its content, and the files it holds, read in place.

An input is a :class:`Source`: one file, a folder (its files, recursively) or a ZIP archive (its
members, read with :mod:`zipfile` without unpacking anything to disk; the uncompressed total is
capped). :func:`detect` looks at the first 64 KiB of its entries — never at the input's own name —
and says which format it is: ``spotify`` (basic or extended streaming history JSON),
``listenbrainz`` (listens as JSON lines or one JSON array), ``lastfm`` (one listener's scrobble CSV),
``csv`` (plays with a ``user`` column), ``hetrec`` or ``audioscrobbler`` (folders known by their
file names). An empty, binary or unrecognised input raises a :class:`~ingest.importers.Rejected`
whose message says what is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ingest.importers import Rejected

# Most bytes a ZIP may unpack to (the sum of its members' sizes), unless the caller gives another cap.
MAX_UNPACKED = 1 << 30
# Bytes of an entry read to tell its format.
HEAD = 1 << 16
# Entries of a folder or ZIP whose first bytes are read before giving up.
MAX_EXAMINED = 200
# Records of a JSON entry's head looked at for a Spotify or ListenBrainz listen.
MAX_RECORDS = 20

# Header names of a Last.fm-style scrobble CSV (lowercase), per field.
LASTFM_HEADER = {
    "artist": ("artist", "artist_name", "artistname", "artist name"),
    "album": ("album", "album_name", "albumname", "album name"),
    "track": ("track", "title", "track_name", "trackname", "track name", "name", "song"),
    "date": ("date", "time", "timestamp", "uts", "date_uts", "utc_time", "played_at", "scrobble time"),
}
# The date of a Last.fm export row: ``31 Jan 2021 14:05`` (UTC).
LASTFM_DATE_FORMATS = ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%d %B %Y %H:%M", "%d %B %Y, %H:%M")

WHAT = {
    "spotify": "a Spotify streaming history",
    "listenbrainz": "a ListenBrainz listens export",
    "lastfm": "a Last.fm scrobble export",
    "csv": "a CSV of plays with a user column",
    "hetrec": "the HetRec 2011 Last.fm-2k data set",
    "audioscrobbler": "the Audioscrobbler data set",
}
SPOTIFY_EXTENDED = "a Spotify extended streaming history"

# Files of a ListenBrainz export folder or ZIP that hold no listens.
LISTENBRAINZ_OTHER = frozenset({"user.json", "feedback.jsonl", "pinned_recording.jsonl"})

# What reading a damaged ZIP member raises (bad CRC, truncated or corrupt deflate stream).
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BINARY_MAGIC = {
    b"\x1f\x8b": "gzip-compressed: unpack it first",
    b"%PDF": "a PDF document",
    b"Rar!": "a RAR archive: unpack it first",
    b"7z\xbc\xaf": "a 7-Zip archive: unpack it first",
    b"\xff\xfe": "UTF-16 text: save it as UTF-8",
    b"\xfe\xff": "UTF-16 text: save it as UTF-8",
}
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")


class UnknownFormat(Rejected):
    """The input holds text, but in no format tastemaker reads."""


@dataclass(frozen=True, slots=True)
class Detected:
    """What :func:`detect` found: the format, a phrase naming it (``a Spotify extended streaming
    history``), the user name the export gives (its first listen's, or ListenBrainz's ``user.json``;
    None when it names none) and the entry that decided."""

    format: str
    what: str
    user: str | None
    entry: str


class WrongFormat(Rejected):
    """An import was asked for one format and the input is another known one."""

    def __init__(self, found: Detected, wanted: str) -> None:
        self.found, self.wanted = found, wanted
        member = " --member NAME" if found.format == "lastfm" else ""
        super().__init__(f"this looks like {found.what}: use tastemaker import {found.format}{member}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a :class:`Source`: its name (relative to the folder, inside the ZIP, or the file's
    own name), its size in bytes (uncompressed) and how to open it."""

    name: str
    size: int
    opener: Callable[[], IO[bytes]]

    @property
    def base(self) -> str:
        return PurePosixPath(self.name).name

    def text(self) -> IO[str]:
        """The entry as text: UTF-8 with the BOM dropped; invalid bytes are kept (surrogateescape) so
        that the row holding them, and only it, is rejected."""
        return io.TextIOWrapper(self.opener(), encoding="utf-8-sig", errors="surrogateescape", newline="")

    def head(self) -> tuple[bytes, bool]:
        """The first :data:`HEAD` bytes, and whether that is the whole entry."""
        try:
            with self.opener() as fh:
                data = fh.read(HEAD + 1)
        except DAMAGED as exc:
            raise damaged(self, exc) from None
        return data[:HEAD], len(data) <= HEAD


def damaged(entry: Entry, exc: Exception) -> Rejected:
    """The error for a ZIP member that cannot be read back (``exc`` is one of :data:`DAMAGED`)."""
    return Rejected(f"{entry.name}: the ZIP archive is damaged ({exc})")


@dataclass
class Source:
    """A file, a folder or a ZIP to import from: ``kind`` is ``file``, ``folder`` or ``zip``;
    ``entries`` are its files sorted by name (a folder's recursively; hidden files and macOS
    ``__MACOSX`` folders left out)."""

    path: Path
    kind: str
    entries: list[Entry] = field(default_factory=list)

    def matching(self, *patterns: str) -> list[Entry]:
        """The entries whose own name (not their folder) matches one of the glob ``patterns``."""
        return [e for e in self.entries if any(fnmatch.fnmatchcase(e.base, p) for p in patterns)]


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


@contextmanager
def open_source(path: Path, *, max_unpacked: int = MAX_UNPACKED) -> Iterator[Source]:
    """The entries of ``path`` (file, folder or ZIP, told by its first bytes), readable while the
    context is open. A ZIP whose members add up to more than ``max_unpacked`` bytes, a damaged or
    encrypted ZIP, and a missing path raise :class:`~ingest.importers.Rejected`."""
    if path.is_dir():
        files = sorted(
            (f for f in path.rglob("*") if f.is_file() and not _hidden(f.relative_to(path).parts)),
            key=lambda f: f.relative_to(path).as_posix(),
        )
        yield Source(
            path,
            "folder",
            [Entry(f.relative_to(path).as_posix(), f.stat().st_size, _file_opener(f)) for f in files],
        )
        return
    if not path.is_file():
        raise Rejected("no such file or folder")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic not in _ZIP_MAGIC:
        yield Source(path, "file", [Entry(path.name, path.stat().st_size, _file_opener(path))])
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Rejected(f"the ZIP archive cannot be read ({exc})") from None
    with archive:
        infos = [
            i for i in archive.infolist() if not i.is_dir() and not _hidden(PurePosixPath(i.filename).parts)
        ]
        if any(i.flag_bits & 0x1 for i in infos):
            raise Rejected("the ZIP archive is encrypted: unpack it with its password first")
        total = sum(i.file_size for i in infos)
        if total > max_unpacked:
            raise Rejected(f"the ZIP archive unpacks to {_size(total)}, over the {_size(max_unpacked)} limit")
        entries = [Entry(i.filename, i.file_size, _member_opener(archive, i)) for i in infos]
        yield Source(path, "zip", sorted(entries, key=lambda e: e.name))


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _member_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    # zipfile stops at the member's declared size (and then checks its CRC), so the cap on declared
    # sizes bounds what is unpacked even when the archive lies about them.
    return lambda: archive.open(info)


# --- detection --------------------------------------------------------------------------------


def detect(src: Source) -> Detected:
    """The format of ``src``, from its content. Raises :class:`UnknownFormat` for text in no known
    format and :class:`~ingest.importers.Rejected` for an input with nothing to read (an empty file,
    a binary one, a folder or ZIP without a single readable entry)."""
    if src.kind == "folder":
        names = {e.name for e in src.entries}
        if {"user_artists.dat", "artists.dat"} <= names:
            return Detected("hetrec", WHAT["hetrec"], None, "user_artists.dat")
        plays = [e for e in src.matching("user_artist_data*.txt") if "/" not in e.name]
        if plays and any("/" not in e.name for e in src.matching("artist_data*.txt")):
            return Detected("audioscrobbler", WHAT["audioscrobbler"], None, plays[0].name)
    if src.kind == "file":
        found = classify(src.entries[0], alone=True)
        if isinstance(found, str):
            raise UnknownFormat(found)
        return _with_user(src, found)
    if not src.entries:
        raise Rejected(f"the {'folder' if src.kind == 'folder' else 'ZIP archive'} holds no files")
    for entry in src.entries[:MAX_EXAMINED]:
        found = classify(entry, alone=False)
        if isinstance(found, Detected):
            return _with_user(src, found)
    where = "folder" if src.kind == "folder" else "ZIP archive"
    raise UnknownFormat(
        f"the {where} holds no listening history tastemaker reads (Spotify or ListenBrainz JSON, "
        "a Last.fm or plays CSV, HetRec, Audioscrobbler)"
    )


def detect_format(path: Path, *, max_unpacked: int = MAX_UNPACKED) -> str:
    """The format of the file, folder or ZIP at ``path`` (one of ``spotify``, ``listenbrainz``,
    ``lastfm``, ``csv``, ``hetrec``, ``audioscrobbler``), from its content; raises
    :class:`~ingest.importers.Rejected` (:class:`UnknownFormat` for text in no known format) with
    the reason otherwise."""
    with open_source(path, max_unpacked=max_unpacked) as src:
        return detect(src).format


def _with_user(src: Source, found: Detected) -> Detected:
    """A ListenBrainz export names its user in ``user.json`` rather than in each listen."""
    if found.format != "listenbrainz" or found.user or src.kind == "file":
        return found
    for entry in src.entries:
        if entry.base == "user.json" and entry.size <= HEAD:
            try:
                with entry.opener() as fh:
                    info = json.loads(fh.read().decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError):
                continue
            except DAMAGED as exc:
                raise damaged(entry, exc) from None
            name = info.get("username") if isinstance(info, dict) else None
            if isinstance(name, str) and name.strip():
                return Detected(found.format, found.what, name.strip(), found.entry)
    return found


def classify(entry: Entry, *, alone: bool) -> Detected | str:
    """The format of one entry from its first bytes, or why it has none. ``alone``: the entry is the
    whole input (an empty or binary file is then an error, not an entry to pass over)."""
    head, whole = entry.head()
    problem = _unusable(head, whole)
    if problem is not None:
        if alone:
            raise Rejected(problem)
        return problem
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text[:1] in ("[", "{"):
        return _classify_json(entry.name, text, whole, alone)
    return _classify_table(entry.name, text, whole)


def _unusable(head: bytes, whole: bool) -> str | None:
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"the file is {what}"
    if b"\0" in head or sum(b < 32 and b not in _TEXT_CONTROLS for b in head) > 1 + len(head) // 100:
        return "the file is not text (a ZIP, JSON or CSV export was expected)"
    if whole and not head.decode("utf-8", errors="replace").strip("\ufeff \t\r\n"):
        return "the file is empty"
    return None


def _head_records(text: str) -> Iterator[Any]:
    """The complete JSON values at the start of ``text``: the items of an array, or the objects of
    JSON lines (or a single object); stops at the first one cut off or malformed."""
    dec = json.JSONDecoder()
    pos = 1 if text.startswith("[") else 0
    for _ in range(MAX_RECORDS):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        try:
            value, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            return
        yield value


def _classify_json(name: str, text: str, whole: bool, alone: bool) -> Detected | str:
    seen = 0
    for rec in _head_records(text):
        seen += 1
        if not isinstance(rec, dict):
            continue
        if isinstance(rec.get("track_metadata"), dict) or "listened_at" in rec:
            user = rec.get("user_name")
            return Detected("listenbrainz", WHAT["listenbrainz"], _clean(user), name)
        if "ms_played" in rec or ("ts" in rec and any(k.startswith("master_metadata_") for k in rec)):
            return Detected("spotify", SPOTIFY_EXTENDED, _clean(rec.get("username")), name)
        if "msPlayed" in rec or ("endTime" in rec and "artistName" in rec):
            return Detected("spotify", WHAT["spotify"], None, name)
    if whole and seen == 0 and text.rstrip().rstrip("]").strip() in ("", "["):
        if alone:
            raise Rejected("the file is empty (no records)")
        return f"{name}: no records"
    return f"{name}: JSON, but no Spotify or ListenBrainz listen in its first records"


def _clean(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _classify_table(name: str, text: str, whole: bool) -> Detected | str:
    lines = text.splitlines(keepends=True)
    if not whole and len(lines) > 1:
        lines.pop()  # cut off by the end of the head
    rows = [r for r in csv.reader(lines) if r and "".join(r).strip()]
    unknown = (
        f"{name}: not a CSV tastemaker reads (`tastemaker import csv` needs a header naming user and "
        "artist columns; a Last.fm export is artist,album,track,date)"
    )
    if not rows:
        return unknown
    header = [c.strip().lower() for c in rows[0]]
    if "user" in header and "artist" in header:
        return Detected("csv", WHAT["csv"], None, name)
    if any(c in LASTFM_HEADER["artist"] for c in header) and any(c in LASTFM_HEADER["date"] for c in header):
        return Detected("lastfm", WHAT["lastfm"], None, name)
    if any(len(r) == 4 and _date_like(r[3]) for r in rows[:5]):
        return Detected("lastfm", WHAT["lastfm"], None, name)
    return unknown


def _date_like(value: str) -> bool:
    v = value.strip()
    if v.isdigit():
        return True
    for fmt in LASTFM_DATE_FORMATS:
        try:
            dt.datetime.strptime(v, fmt)
        except ValueError:
            continue
        return True
    try:
        dt.datetime.fromisoformat(v[:-1] if v.endswith("Z") else v)
    except ValueError:
        return False
    return True
