"""Bulk play import: streaming, batched, idempotent, every rejected row reported by line number.

Bulk import matches names only by their normalised key and the alias table — never fuzzily, since
a silent wrong merge in bulk (``Lulu`` vs ``Lulú``) could not be seen or corrected.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, select

from storage.db import Database
from storage.models import Artist, ArtistAlias, Member, Play, Track
from storage.names import InvalidName, checked_name
from storage.sql import upsert_insert

BATCH_ROWS = 5000
FUTURE_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class Row:
    """One play as an importer understood it, before it touches the database."""

    line: int
    user: str
    artist: str
    track: str | None = None
    played_at: dt.datetime | None = None
    count: int = 1


@dataclass
class Summary:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    first_rejects: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        s = (
            f"read {self.read}, imported {self.imported}, duplicates {self.duplicates}, "
            f"rejected {self.rejected}"
        )
        if self.rejected and self.rejects_file:
            s += f" (details in {self.rejects_file})"
        return s

    def to_json(self) -> str:
        d = asdict(self)
        d["first_rejects"] = [{"line": n, "reason": r} for n, r in self.first_rejects]
        return json.dumps(d)


class Rejected(ValueError):
    """A row that cannot be imported; the message says why."""


def parse_timestamp(value: str, now: dt.datetime) -> dt.datetime:
    """ISO 8601 → naive UTC. Naive input is taken as UTC."""
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Rejected(f"played_at {value!r} is not an ISO 8601 date-time") from exc
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    if t > now + FUTURE_SLACK:
        raise Rejected(f"played_at {value!r} is in the future")
    return t


def parse_count(value: str | None) -> int:
    if value is None or not value.strip():
        return 1
    try:
        n = int(value.strip())
    except ValueError as exc:
        raise Rejected(f"count {value!r} is not a whole number") from exc
    if n < 1:
        raise Rejected(f"count {n} must be at least 1")
    return n


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from errors="surrogateescape"
        return False
    return True


def csv_rows(fh: IO[str], now: dt.datetime) -> Iterator[Row | tuple[int, str]]:
    """Rows of a ``user,artist,track,played_at,count`` CSV (only user and artist required).

    Yields :class:`Row` or ``(line, reason)`` for a rejected row."""
    reader = csv.DictReader(fh)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = {"user", "artist"} - set(fields)
    if missing:
        raise Rejected(
            f"the header must name user and artist columns (missing: {', '.join(sorted(missing))})"
        )
    reader.fieldnames = fields
    for rec in reader:
        line = reader.line_num
        try:
            if None in rec:
                raise Rejected("more fields than the header names")
            for v in rec.values():
                if v and not _is_utf8(v):
                    raise Rejected("not valid UTF-8 text")
            user = (rec.get("user") or "").strip()
            artist = (rec.get("artist") or "").strip()
            if not user:
                raise Rejected("user is empty")
            if not artist:
                raise Rejected("artist is empty")
            track = (rec.get("track") or "").strip() or None
            at_raw = (rec.get("played_at") or "").strip()
            played_at = parse_timestamp(at_raw, now) if at_raw else None
            yield Row(line, user, artist, track, played_at, parse_count(rec.get("count")))
        except Rejected as exc:
            yield (line, str(exc))


class _Resolver:
    """Key → id caches for one import (bounded by the number of distinct names, not rows)."""

    def __init__(self, community: int) -> None:
        self.community = community
        self.members: dict[str, int] = {}
        self.artists: dict[str, int] = {}
        self.tracks: dict[tuple[int, str], int] = {}

    def resolve(self, conn: Connection, rows: list[tuple[Row, str, str, str | None, str | None]]) -> None:
        users = {r.user for r, *_ in rows} - self.members.keys()
        if users:
            conn.execute(
                upsert_insert(conn, Member).on_conflict_do_nothing(),
                [{"community_id": self.community, "external_id": u, "display_name": u} for u in users],
            )
            for ext, mid in conn.execute(
                select(Member.external_id, Member.id).where(
                    Member.community_id == self.community, Member.external_id.in_(users)
                )
            ):
                self.members[ext] = mid
        want: dict[str, str] = {}
        for _r, a_disp, a_key, _t, _tk in rows:
            if a_key not in self.artists:
                want.setdefault(a_key, a_disp)
        if want:
            self._artists(conn, want)
        tracks: dict[tuple[int, str], str] = {}
        for _r, _a, a_key, t_disp, t_key in rows:
            if t_key is not None and t_disp is not None:
                k = (self.artists[a_key], t_key)
                if k not in self.tracks:
                    tracks.setdefault(k, t_disp)
        if tracks:
            conn.execute(
                upsert_insert(conn, Track).on_conflict_do_nothing(),
                [{"artist_id": a, "key": k, "title": t} for (a, k), t in tracks.items()],
            )
            by_artist: dict[int, list[str]] = {}
            for artist_id, track_key in tracks:
                by_artist.setdefault(artist_id, []).append(track_key)
            for a, keys in by_artist.items():
                for tkey, tid in conn.execute(
                    select(Track.key, Track.id).where(Track.artist_id == a, Track.key.in_(keys))
                ):
                    self.tracks[(a, tkey)] = tid

    def _artists(self, conn: Connection, want: dict[str, str]) -> None:
        keys = list(want)
        for s in range(0, len(keys), 500):
            chunk = keys[s : s + 500]
            for k, aid in conn.execute(
                select(ArtistAlias.alias_key, ArtistAlias.artist_id).where(ArtistAlias.alias_key.in_(chunk))
            ):
                self.artists[k] = aid
        new = {k: v for k, v in want.items() if k not in self.artists}
        if new:
            conn.execute(
                upsert_insert(conn, Artist).on_conflict_do_nothing(),
                [{"key": k, "name": n} for k, n in new.items()],
            )
            nk = list(new)
            for s in range(0, len(nk), 500):
                for k, aid in conn.execute(
                    select(Artist.key, Artist.id).where(Artist.key.in_(nk[s : s + 500]))
                ):
                    self.artists[k] = aid


def dedupe_key(source: str, community: int, r: Row, a_key: str, t_key: str | None) -> str:
    """Identity of an imported play: the same row imported again maps to the same key."""
    ident = "\x1f".join(
        [
            str(community),
            r.user,
            a_key,
            t_key or "",
            r.played_at.isoformat() if r.played_at else "",
            str(r.count),
        ]
    )
    return f"{source}:{hashlib.sha1(ident.encode()).hexdigest()}"


def import_rows(
    db: Database,
    community: int,
    rows: Iterable[Row | tuple[int, str]],
    *,
    source: str,
    rejects: IO[str] | None = None,
    progress: Callable[[int], None] | None = None,
    keep_rejects: int = 20,
) -> Summary:
    """Import a stream of rows in batches; each batch is one transaction, so an interrupted import
    leaves whole batches behind and a rerun (idempotent) completes it."""
    summary = Summary()
    resolver = _Resolver(community)
    pending: list[tuple[Row, str, str, str | None, str | None]] = []

    def reject(line: int, reason: str) -> None:
        summary.rejected += 1
        if len(summary.first_rejects) < keep_rejects:
            summary.first_rejects.append((line, reason))
        if rejects is not None:
            rejects.write(f"{line}\t{reason}\n")

    def flush() -> None:
        if not pending:
            return
        with db.write() as conn:
            resolver.resolve(conn, pending)
            seen: set[str] = set()
            values = []
            for r, _a, a_key, _t, t_key in pending:
                key = dedupe_key(source, community, r, a_key, t_key)
                if key in seen:
                    continue
                seen.add(key)
                aid = resolver.artists[a_key]
                values.append(
                    {
                        "community_id": community,
                        "member_id": resolver.members[r.user],
                        "artist_id": aid,
                        "track_id": resolver.tracks[(aid, t_key)] if t_key else None,
                        "played_at": r.played_at,
                        "count": r.count,
                        "source": source,
                        "dedupe_key": key,
                    }
                )
            inserted = 0
            stmt = upsert_insert(conn, Play).on_conflict_do_nothing(index_elements=["dedupe_key"])
            for s in range(0, len(values), 1000):
                inserted += conn.execute(stmt, values[s : s + 1000]).rowcount
        summary.imported += inserted
        summary.duplicates += len(pending) - inserted
        if progress:
            progress(len(pending))
        pending.clear()

    for item in rows:
        summary.read += 1
        if isinstance(item, tuple):
            reject(*item)
            continue
        try:
            if len(item.user) > 100:
                raise InvalidName("user id is too long (at most 100 characters)")
            a_disp, a_key = checked_name(item.artist, "artist name")
            t_disp, t_key = checked_name(item.track, "track title") if item.track else (None, None)
        except InvalidName as exc:
            reject(item.line, str(exc))
            continue
        pending.append((item, a_disp, a_key, t_disp, t_key))
        if len(pending) >= BATCH_ROWS:
            flush()
    flush()
    return summary


def rejects_path(db: Database, source_path: Path) -> Path:
    """Where rejected rows are written: next to the SQLite file, else next to the input."""
    from sqlalchemy.engine import make_url

    u = make_url(db.url)
    if db.sqlite and u.database and u.database != ":memory:":
        base = Path(u.database)
        return base.with_name(f"{base.name}.{source_path.name}.rejects")
    return source_path.with_name(source_path.name + ".rejects")


def import_csv(
    db: Database,
    community: int,
    path: Path,
    *,
    now: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    out = rejects_path(db, path)
    with (
        path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh,
        out.open("w", encoding="utf-8") as rej,
    ):
        summary = import_rows(db, community, csv_rows(fh, now), source="csv", rejects=rej, progress=progress)
    if summary.rejected:
        summary.rejects_file = str(out)
    else:
        out.unlink(missing_ok=True)
    return summary
