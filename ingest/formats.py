"""Readers for real listening-history exports, feeding :func:`ingest.importers.import_rows`.

Each reader streams its input and yields :class:`~ingest.importers.Row` (a play),
:class:`~ingest.importers.Skip` (deliberately not imported, counted by reason) or
``(line, reason)`` (rejected; written to the ``.rejects`` file). A problem with the input as a
whole (missing file, unknown layout) raises :class:`~ingest.importers.Rejected`.

Line numbers are those of the file the record came from; when a format reads several files the
reason starts with the file's name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ingest.detect import (
    DAMAGED,
    LASTFM_DATE_FORMATS,
    LASTFM_HEADER,
    LISTENBRAINZ_OTHER,
    MAX_EXAMINED,
    MAX_UNPACKED,
    Detected,
    Entry,
    Source,
    UnknownFormat,
    WrongFormat,
    classify,
    damaged,
    detect,
    open_source,
)
from ingest.importers import (
    FUTURE_SLACK,
    Item,
    Rejected,
    Row,
    Skip,
    Summary,
    _is_utf8,
    csv_rows,
    import_aliases,
    import_rows,
    parse_timestamp,
    play_count_field,
    rejects_path,
    resolve_chains,
)
from storage.db import Database
from storage.names import InvalidName, artist_name

FORMATS = ("csv", "hetrec", "audioscrobbler", "lastfm", "listenbrainz", "spotify")
# Formats whose files carry no (or an optional) user id: ``--member`` names the member.
SINGLE_USER = frozenset({"lastfm", "listenbrainz", "spotify"})
# Spotify plays shorter than this are skips, not listens (Spotify's own "stream" threshold).
MIN_PLAY_MS = 30_000

SHORT_PLAY = "shorter than 30 s"
PODCAST = "podcast"
AUDIOBOOK = "audiobook"

AliasSink = Callable[[list[tuple[int, str, str] | tuple[int, str]], str], None]


def _open(path: Path) -> IO[str]:
    # utf-8-sig drops a BOM; surrogateescape keeps invalid bytes so that row (only) is rejected.
    return path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")


def _text_ok(*values: object) -> bool:
    return all(not isinstance(v, str) or v.isascii() or _is_utf8(v) for v in values)


# --- HetRec 2011 Last.fm ----------------------------------------------------------------------


def _artist_names(
    path: Path, *, sep: str | None, header: str | None
) -> tuple[dict[str, str], dict[str, str], dict[str, bool], list[tuple[int, str]]]:
    """``id → name`` of an artist file, ``id → reason`` for unusable names, ``id → merged`` (True
    when another, smaller id has the same catalog key: HetRec's ``Red``/``RED``), and the lines
    that could not be read at all."""
    names: dict[str, str] = {}
    bad: dict[str, str] = {}
    unreadable: list[tuple[int, str]] = []
    first_of_key: dict[str, str] = {}
    with _open(path) as fh:
        for n, raw in enumerate(fh, 1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            parts = text.split(sep, 1) if sep is None else text.split(sep)
            if n == 1 and header is not None and parts[0].strip().lower() == header:
                continue
            aid = parts[0].strip()
            if len(parts) < 2 or not aid.isdigit():
                unreadable.append((n, f"{path.name}: not `id{sep or ' '}name` ({text[:80]!r})"))
                continue
            name = parts[1].strip()
            if not _text_ok(name):
                bad[aid] = f"the name of artist id {aid} ({path.name} line {n}) is not valid UTF-8"
                continue
            try:
                _disp, key = artist_name(name)
            except InvalidName as exc:
                bad[aid] = f"artist id {aid} ({path.name} line {n}): {exc}"
                continue
            names[aid] = name
            first = first_of_key.get(key)
            if first is None or int(aid) < int(first):
                first_of_key[key] = aid
            bad.pop(aid, None)
    merged: dict[str, bool] = {}
    for aid, name in names.items():
        key = artist_name(name)[1]
        merged[aid] = first_of_key[key] != aid
    return names, bad, merged, unreadable


def hetrec_rows(folder: Path) -> Iterator[Item]:
    """HetRec 2011 Last.fm-2k: ``user_artists.dat`` (``userID<TAB>artistID<TAB>weight``, header
    optional, CRLF, stray whitespace) with names from ``artists.dat``. Each pair becomes one undated
    play of ``weight`` listens; its identity is the HetRec artist id, so two ids whose names share
    a catalog key (``Red``/``RED``) stay two plays of one artist (counted as merged by name key)."""
    pairs, names_file = folder / "user_artists.dat", folder / "artists.dat"
    for f in (pairs, names_file):
        if not f.is_file():
            raise Rejected(f"{folder} has no {f.name} (is it the HetRec 2011 Last.fm-2k folder?)")
    names, bad, merged, unreadable = _artist_names(names_file, sep="\t", header="id")
    yield from unreadable
    fname = pairs.name
    with _open(pairs) as fh:
        for n, raw in enumerate(fh, 1):
            parts = raw.rstrip("\r\n").split("\t")
            if len(parts) != 3:
                if raw.strip():
                    yield (n, f"{fname}: expected 3 tab-separated fields, got {len(parts)}")
                continue
            user, aid, weight = parts[0].strip(), parts[1].strip(), parts[2].strip()
            if n == 1 and user.lower() == "userid":
                continue
            name = names.get(aid)
            if name is None:
                yield (n, f"{fname}: " + bad.get(aid, f"artist id {aid!r} is not in artists.dat"))
                continue
            if not user.isdigit():
                yield (n, f"{fname}: user id {user!r} is not a number")
                continue
            try:
                count = play_count_field(weight)
            except Rejected as exc:
                yield (n, f"{fname}: {exc}")
                continue
            yield Row(n, user, name, None, None, count, aid, "key" if merged[aid] else None)


# --- Audioscrobbler (2005) ------------------------------------------------------------------------


def _one_file(folder: Path, pattern: str, *, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if not found:
        if required:
            raise Rejected(f"{folder} has no {pattern} file")
        return None
    if len(found) > 1:
        raise Rejected(f"{folder} has several {pattern} files: {', '.join(f.name for f in found)}")
    return found[0]


def audioscrobbler_rows(folder: Path, store_aliases: AliasSink | None = None) -> Iterator[Item]:
    """Audioscrobbler: ``user_artist_data*.txt`` (``user artistid count``, space separated),
    ``artist_data*.txt`` (``id<TAB>name``; malformed lines reported) and ``artist_alias*.txt``
    (``bad id<TAB>canonical id``). Aliases are resolved (chains followed, cycles reported and left
    unaliased) and applied to the ids before import; their names go to the alias table through
    ``store_aliases`` so later plays under a bad spelling land on the canonical artist too."""
    plays = _one_file(folder, "user_artist_data*.txt")
    names_file = _one_file(folder, "artist_data*.txt")
    alias_file = _one_file(folder, "artist_alias*.txt", required=False)
    assert plays is not None and names_file is not None
    names, bad, merged_key, unreadable = _artist_names(names_file, sep=None, header=None)
    yield from unreadable
    alias: dict[str, str] = {}
    alias_line: dict[str, int] = {}
    if alias_file is not None:
        with _open(alias_file) as fh:
            for n, raw in enumerate(fh, 1):
                parts = raw.split()
                if not parts:
                    continue
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    yield (n, f"{alias_file.name}: not `bad id<TAB>canonical id` ({raw.strip()[:80]!r})")
                    continue
                if parts[0] == parts[1]:
                    continue
                if parts[0] in alias and alias[parts[0]] != parts[1]:
                    yield (
                        alias_line[parts[0]],
                        f"{alias_file.name}: id {parts[0]} is aliased again on line {n}; the later wins",
                    )
                alias[parts[0]] = parts[1]
                alias_line[parts[0]] = n
    resolved, cyclic = resolve_chains(alias)
    for bad_id, loop in cyclic.items():
        yield (
            alias_line[bad_id],
            f"{alias_file.name if alias_file else ''}: alias cycle {' → '.join(loop)}: left unaliased",
        )
    if store_aliases is not None and resolved and alias_file is not None:
        entries: list[tuple[int, str, str] | tuple[int, str]] = [
            (alias_line[b], names[b], names[g]) for b, g in resolved.items() if b in names and g in names
        ]
        store_aliases(entries, alias_file.name)
    fname = plays.name
    with _open(plays) as fh:
        for n, raw in enumerate(fh, 1):
            parts = raw.split()
            if len(parts) != 3:
                if parts:
                    yield (n, f"{fname}: expected 3 space-separated fields, got {len(parts)}")
                continue
            user, aid, weight = parts
            target = resolved.get(aid, aid)
            name = names.get(target)
            if name is None:
                why = bad.get(target, f"artist id {target} is not in {names_file.name}")
                yield (n, f"{fname}: {why}" + (f" (alias of {aid})" if target != aid else ""))
                continue
            try:
                count = play_count_field(weight)
            except Rejected as exc:
                yield (n, f"{fname}: {exc}")
                continue
            mark = "alias" if target != aid else ("key" if merged_key[target] else None)
            yield Row(n, user, name, None, None, count, aid, mark)


# --- Last.fm scrobble CSV -------------------------------------------------------------------------


def _epoch(value: float, now: dt.datetime) -> dt.datetime:
    if value > 1e11:  # milliseconds
        value /= 1000
    t = dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)
    if t > now + FUTURE_SLACK:
        raise Rejected(f"time {value!r} is in the future")
    return t


def lastfm_time(value: str, now: dt.datetime) -> dt.datetime:
    """``31 Jan 2021 14:05`` (Last.fm export, UTC), Unix seconds, or ISO 8601."""
    v = value.strip()
    if not v:
        raise Rejected("date is empty (a scrobble needs its time)")
    if v.isdigit():
        return _epoch(int(v), now)
    for fmt in LASTFM_DATE_FORMATS:
        try:
            t = dt.datetime.strptime(v, fmt)
        except ValueError:
            continue
        if t > now + FUTURE_SLACK:
            raise Rejected(f"date {v!r} is in the future")
        return t
    try:
        return parse_timestamp(v, now)
    except Rejected:
        raise Rejected(f"date {v!r} is neither `31 Jan 2021 14:05`, Unix time nor ISO 8601") from None


def lastfm_rows(fh: IO[str], member: str, now: dt.datetime) -> Iterator[Item]:
    """A Last.fm scrobble export: ``artist,album,track,date`` without header, or with a header
    naming the columns (any order, extra columns ignored). Every play belongs to ``member``."""
    reader = csv.reader(fh)
    cols: dict[str, int] = {"artist": 0, "album": 1, "track": 2, "date": 3}
    width: int | None = 4
    first = True
    for rec in reader:
        line = reader.line_num
        if not rec or not "".join(rec).strip():
            continue
        if first:
            first = False
            lower = [c.strip().lower() for c in rec]
            found = {
                field: next(i for i, c in enumerate(lower) if c in names)
                for field, names in LASTFM_HEADER.items()
                if any(c in names for c in lower)
            }
            if "artist" in found:
                if "date" not in found:
                    raise Rejected("the header names no date column (date, timestamp, uts, utc_time)")
                cols, width = found, None
                continue
        try:
            if width is not None and len(rec) != width:
                raise Rejected(f"expected 4 fields (artist, album, track, date), got {len(rec)}")
            if width is None and len(rec) <= max(cols.values()):
                raise Rejected(f"{len(rec)} fields, fewer than the header names")
            if not _text_ok(*rec):
                raise Rejected("not valid UTF-8 text")
            artist = rec[cols["artist"]].strip()
            if not artist:
                raise Rejected("artist is empty")
            track = (rec[cols["track"]].strip() or None) if "track" in cols else None
            yield Row(line, member, artist, track, lastfm_time(rec[cols["date"]], now))
        except Rejected as exc:
            yield (line, str(exc))


# --- JSON: ListenBrainz and Spotify ---------------------------------------------------------------

_CHUNK = 1 << 16
_MAX_RECORD = 1 << 20  # a single JSON record larger than this is malformed, not "incomplete"
_SEP = re.compile(r"[\s,]*")
_RESYNC = re.compile(r",\s*\{")


def json_records(fh: IO[str]) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` from a JSON array (streamed: memory bounded by one record) or a JSON-lines
    file. A record that cannot be parsed comes as ``(line, JSONDecodeError)``; in an array the reader
    then resumes at the next ``, {``."""
    head = fh.read(_CHUNK)
    if not head.lstrip().startswith("["):
        yield from _json_lines(head, fh)
        return
    dec = json.JSONDecoder()
    buf, eof = head, len(head) < _CHUNK
    pos = buf.index("[") + 1
    line = 1 + buf.count("\n", 0, pos)

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = fh.read(_CHUNK)
        eof = not chunk
        buf, pos = buf[pos:] + chunk, 0
        return bool(chunk)

    while True:
        end = _SEP.match(buf, pos).end()  # type: ignore[union-attr]
        line += buf.count("\n", pos, end)
        pos = end
        if pos >= len(buf):
            if more():
                continue
            yield (line, json.JSONDecodeError("the JSON array is not closed", buf, pos))
            return
        if buf[pos] == "]":
            return
        try:
            obj, end = dec.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if len(buf) - pos < _MAX_RECORD and more():
                continue
            yield (line, exc)
            while True:  # resume at the next record
                m = _RESYNC.search(buf, pos + 1)
                if m is not None:
                    line += buf.count("\n", pos, m.start() + 1)
                    pos = m.start() + 1
                    break
                keep = max(pos, len(buf) - 16)
                line += buf.count("\n", pos, keep)
                pos = keep
                if not more():
                    return
            continue
        yield (line, obj)
        line += buf.count("\n", pos, end)
        pos = end


def _json_lines(head: str, fh: IO[str]) -> Iterator[tuple[int, Any]]:
    # Finish the line the first chunk cut, then split exactly as the file object does.
    first = io.StringIO(head + (fh.readline() if head and not head.endswith("\n") else ""), newline="")
    for n, text in enumerate(itertools.chain(first, fh), 1):
        if not text.strip():
            continue
        try:
            yield (n, json.loads(text))
        except json.JSONDecodeError as exc:
            yield (n, exc)


def _json_items(src: Source, entries: list[Entry], record: Callable[[int, Any], Item]) -> Iterator[Item]:
    for entry in entries:
        prefix = f"{entry.name}: " if src.kind != "file" else ""
        try:
            with entry.text() as fh:
                for line, rec in json_records(fh):
                    if isinstance(rec, json.JSONDecodeError):
                        item: Item = (line, f"malformed JSON ({rec.msg})")
                    elif not isinstance(rec, dict):
                        item = (line, "not a JSON object")
                    else:
                        item = record(line, rec)
                    if prefix and isinstance(item, tuple):
                        item = (item[0], prefix + item[1])
                    yield item
        except DAMAGED as exc:
            raise damaged(entry, exc) from None


def _when(value: Any, now: dt.datetime, what: str) -> dt.datetime:
    if value is None or value == "":
        raise Rejected(f"{what} is missing")
    if isinstance(value, bool):
        raise Rejected(f"{what} {value!r} is not a time")
    if isinstance(value, int | float):
        return _epoch(value, now)
    if isinstance(value, str):
        if value.strip().isdigit():
            return _epoch(int(value), now)
        return parse_timestamp(value, now)
    raise Rejected(f"{what} {value!r} is not a time")


def _name(value: Any, what: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Rejected(f"{what} is empty")
        return None
    if not isinstance(value, str):
        raise Rejected(f"{what} {value!r} is not text")
    if not _text_ok(value):
        raise Rejected(f"{what} is not valid UTF-8 text")
    return value.strip()


def _user(member: str | None, value: Any, fallback: str | None = None) -> str:
    user = member or (value.strip() if isinstance(value, str) else "") or fallback
    if not user:
        raise Rejected("no member for this play: pass --member")
    if not _text_ok(user):
        raise Rejected("user name is not valid UTF-8 text")
    return user


def listenbrainz_record(
    line: int, rec: dict[str, Any], member: str | None, now: dt.datetime, fallback: str | None = None
) -> Item:
    """One listen: ``listened_at`` (Unix seconds, as an integer or, in the 2024+ export, a float),
    ``track_metadata.artist_name`` and ``track_name`` (``release_name`` and ``additional_info`` are
    not used); its member is ``member``, else the listen's ``user_name``, else ``fallback`` (the
    export's ``user.json``)."""
    try:
        meta = rec.get("track_metadata")
        if not isinstance(meta, dict):
            raise Rejected("track_metadata is missing")
        artist = _name(meta.get("artist_name"), "artist_name", required=True)
        assert artist is not None
        track = _name(meta.get("track_name"), "track_name", required=False)
        return Row(
            line,
            _user(member, rec.get("user_name"), fallback),
            artist,
            track,
            _when(rec.get("listened_at"), now, "listened_at"),
        )
    except Rejected as exc:
        return (line, str(exc))


def listenbrainz_rows(
    src: Source, member: str | None, now: dt.datetime, fallback: str | None = None
) -> Iterator[Item]:
    """A ListenBrainz export: one JSON array or JSON-lines file, or the export as a folder or as the
    ZIP the site gives (``listens/YYYY/M.jsonl``, beside ``user.json``, ``feedback.jsonl`` and
    ``pinned_recording.jsonl``, which hold no listens). Members as in :func:`listenbrainz_record`."""
    entries = _listen_files(src)
    return _json_items(src, entries, lambda n, r: listenbrainz_record(n, r, member, now, fallback))


def _listen_files(src: Source) -> list[Entry]:
    if src.kind == "file":
        return src.entries
    json_files = src.matching("*.jsonl", "*.json")
    in_listens = [e for e in json_files if "listens" in e.name.split("/")[:-1]]
    found = in_listens or [e for e in json_files if e.base not in LISTENBRAINZ_OTHER]
    if not found:
        raise Rejected(f"{src.path.name} holds no listens/*.jsonl or *.json file")
    return found


def spotify_record(line: int, rec: dict[str, Any], member: str | None, now: dt.datetime) -> Item:
    """One entry of basic (``endTime``, ``artistName``, ``trackName``, ``msPlayed``) or extended
    (``ts``, ``master_metadata_*``, ``ms_played``) streaming history."""
    try:
        if "ts" in rec or "ms_played" in rec:
            if rec.get("episode_name") or rec.get("spotify_episode_uri") or rec.get("episode_show_name"):
                return Skip(line, PODCAST)
            if rec.get("audiobook_title") or rec.get("audiobook_uri"):
                return Skip(line, AUDIOBOOK)
            ms, at, user = rec.get("ms_played"), rec.get("ts"), rec.get("username")
            artist_v = rec.get("master_metadata_album_artist_name")
            track_v = rec.get("master_metadata_track_name")
        elif "endTime" in rec or "msPlayed" in rec:
            if "podcastName" in rec or "episodeName" in rec:
                return Skip(line, PODCAST)
            ms, at, user = rec.get("msPlayed"), rec.get("endTime"), None
            artist_v, track_v = rec.get("artistName"), rec.get("trackName")
        else:
            raise Rejected("not a Spotify streaming-history entry (no ts/endTime)")
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise Rejected(f"ms played {ms!r} is not a whole number of milliseconds")
        if ms < MIN_PLAY_MS:
            return Skip(line, SHORT_PLAY)
        artist = _name(artist_v, "artist name", required=True)
        assert artist is not None
        track = _name(track_v, "track name", required=False)
        return Row(line, _user(member, user), artist, track, _when(at, now, "time"))
    except Rejected as exc:
        return (line, str(exc))


SPOTIFY_FILES = ("StreamingHistory*.json", "Streaming_History_Audio_*.json", "endsong*.json")
SPOTIFY_PODCAST_FILES = "StreamingHistory_podcast*.json"


def spotify_rows(src: Source, member: str | None, now: dt.datetime) -> Iterator[Item]:
    """Spotify streaming history: a file, or the export as a folder or as its ZIP
    (``my_spotify_data.zip``: ``StreamingHistory*.json``, ``Streaming_History_Audio_*.json``,
    ``endsong_*.json``). Plays under 30 s and podcast (and audiobook) entries are skipped and
    counted; video history files (``Streaming_History_Video_*.json``) are not read."""
    if src.kind == "file":
        files, podcast_files = src.entries, []
    else:
        podcast_files = src.matching(SPOTIFY_PODCAST_FILES)
        files = [e for e in src.matching(*SPOTIFY_FILES) if e not in podcast_files]
        if not files and not podcast_files:
            raise Rejected(f"{src.path.name} holds no {' / '.join(SPOTIFY_FILES)} file")
    for entry in podcast_files:  # whole podcast files: every entry counted as a podcast skip
        try:
            with entry.text() as fh:
                for line, _rec in json_records(fh):
                    yield Skip(line, PODCAST)
        except DAMAGED as exc:
            raise damaged(entry, exc) from None
    yield from _json_items(src, files, lambda n, r: spotify_record(n, r, member, now))


# --- entry point ----------------------------------------------------------------------------------


# Formats with one row per listen: an undated row repeated is a play repeated (``import_rows``).
LISTEN_LOGS = frozenset({"csv", "lastfm", "listenbrainz", "spotify"})


NO_USER_NAME = "this export has no user name: pass --member NAME"
# Formats read from JSON; for them, content in no known format is refused before reading a row.
JSON_FORMATS = frozenset({"listenbrainz", "spotify"})


def import_path(
    db: Database,
    community: int,
    fmt: str,
    path: Path,
    *,
    now: dt.datetime,
    member: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_unpacked: int = MAX_UNPACKED,
) -> Summary:
    """Import ``path`` (a file, a folder, or a ZIP read in place: see :func:`~ingest.detect.open_source`)
    in format ``fmt`` (one of :data:`FORMATS`) into ``community``; rejected rows go to
    :func:`~ingest.importers.rejects_path`.

    The content is looked at first (:func:`~ingest.detect.detect`): input of another known format
    raises :class:`~ingest.detect.WrongFormat` naming the right one; for a JSON format, content in
    no known format raises :class:`~ingest.detect.UnknownFormat` (a CSV or a folder in no known
    format is left to the reader, whose error says what it misses). Raises :class:`Rejected` for any
    unusable input (empty, binary, a ZIP unpacking to more than ``max_unpacked`` bytes, no user name
    for a single-user export without ``member``)."""
    if fmt not in FORMATS:
        raise Rejected(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    _member_allowed(fmt, member)
    with open_source(path, max_unpacked=max_unpacked) as src:
        try:
            found: Detected | None = detect(src)
        except UnknownFormat:
            if fmt in JSON_FORMATS:
                raise
            found = None
        if found is not None and found.format != fmt:
            raise WrongFormat(found, fmt)
        return _import(db, community, fmt, src, found, now=now, member=member, progress=progress)


def import_detected(
    db: Database,
    community: int,
    path: Path,
    *,
    now: dt.datetime,
    member: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_unpacked: int = MAX_UNPACKED,
) -> Summary:
    """Import whatever export ``path`` is (file, folder or ZIP; the format told from its content by
    :func:`~ingest.detect.detect`) into ``community``: the entry for an upload that names no format.
    ``member`` gets every play of a single-user export (:data:`SINGLE_USER`); it must be None for a
    format that names its own users. Raises :class:`Rejected` (:class:`~ingest.detect.UnknownFormat`
    for text in no known format) when there is nothing to import."""
    with open_source(path, max_unpacked=max_unpacked) as src:
        found = detect(src)
        _member_allowed(found.format, member)
        return _import(db, community, found.format, src, found, now=now, member=member, progress=progress)


def _member_allowed(fmt: str, member: str | None) -> None:
    if member is not None and fmt not in SINGLE_USER:
        raise Rejected(
            f"{fmt} files carry their own user ids; --member is for {', '.join(sorted(SINGLE_USER))}"
        )


def _import(
    db: Database,
    community: int,
    fmt: str,
    src: Source,
    found: Detected | None,
    *,
    now: dt.datetime,
    member: str | None,
    progress: Callable[[int], None] | None,
) -> Summary:
    user = found.user if found is not None else None
    if fmt in SINGLE_USER and not member and not user:
        raise Rejected(NO_USER_NAME)
    if fmt in ("hetrec", "audioscrobbler") and src.kind != "folder":
        raise Rejected(f"{fmt} is read from a folder: unpack the archive and import the folder")
    summary = Summary()
    out = rejects_path(db, src.path)
    with out.open("w", encoding="utf-8") as rej:
        # (the file is removed again below when nothing was rejected or the input is unusable)

        def store_aliases(entries: list[tuple[int, str, str] | tuple[int, str]], what: str) -> None:
            aliases = import_aliases(db, entries, rejects=rej, what=what)
            summary.aliases += aliases.aliases
            summary.rejected += aliases.rejected
            summary.first_rejects.extend(aliases.first_rejects[: max(0, 20 - len(summary.first_rejects))])

        fh: IO[str] | None = None
        try:
            rows: Iterator[Item]
            if fmt in ("csv", "lastfm"):
                entry = _table_entry(src, fmt)
                fh = entry.text()
                if fmt == "csv":
                    rows = csv_rows(fh, now)
                else:
                    assert member is not None  # a Last.fm export names no user
                    rows = lastfm_rows(fh, member, now)
                if src.kind == "zip":
                    rows = _guarded(entry, rows)
            elif fmt == "hetrec":
                rows = hetrec_rows(src.path)
            elif fmt == "audioscrobbler":
                rows = audioscrobbler_rows(src.path, store_aliases)
            elif fmt == "listenbrainz":
                rows = listenbrainz_rows(src, member, now, user)
            else:
                rows = spotify_rows(src, member, now)
            import_rows(
                db,
                community,
                rows,
                source=fmt,
                rejects=rej,
                progress=progress,
                summary=summary,
                undated_repeats_are_plays=fmt in LISTEN_LOGS,
            )
        except Rejected:
            rej.close()
            out.unlink(missing_ok=True)
            raise
        finally:
            if fh is not None:
                fh.close()
    if summary.rejected:
        summary.rejects_file = str(out)
    else:
        out.unlink(missing_ok=True)
    return summary


_TABLES = {"csv": "CSV of plays with a user column", "lastfm": "Last.fm scrobble CSV"}


def _table_entry(src: Source, fmt: str) -> Entry:
    """The one CSV of a file, folder or ZIP that is in format ``fmt``."""
    if src.kind == "file":
        return src.entries[0]
    found = []
    for entry in src.entries[:MAX_EXAMINED]:
        kind = classify(entry, alone=False)
        if isinstance(kind, Detected) and kind.format == fmt:
            found.append(entry)
    if not found:
        raise Rejected(f"{src.path.name} holds no {_TABLES[fmt]}")
    if len(found) > 1:
        names = ", ".join(e.name for e in found)
        raise Rejected(f"{src.path.name} holds several CSV files ({names}): import them one by one")
    return found[0]


def _guarded(entry: Entry, rows: Iterator[Item]) -> Iterator[Item]:
    try:
        yield from rows
    except DAMAGED as exc:
        raise damaged(entry, exc) from None
