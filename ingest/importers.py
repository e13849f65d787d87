"""Bulk play import: streaming, batched, idempotent, every rejected row reported by line number.

Bulk import matches names only by their normalised key and the alias table — never fuzzily, since
a silent wrong merge in bulk (``Lulu`` vs ``Lulú``) could not be seen or corrected.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import make_url

from ingest.bulk import Batch, Resolver, WriterProcess, Written, write_batch
from storage.catalog import lookup_artists, lookup_artists_by_name
from storage.db import Database
from storage.models import Artist, ArtistAlias
from storage.names import InvalidName, artist_name, fast_checked_name, match_key
from storage.sql import upsert_insert

BATCH_ROWS = 50_000
# import_rows reports progress each time this many more rows are pending for the writer.
PROGRESS_ROWS = 4096
FUTURE_SLACK = dt.timedelta(days=1)


@dataclass(slots=True)
class Row:
    """One play as an importer understood it, before it touches the database.

    ``ident`` is the row's identity in its source when names alone do not give one (the HetRec
    artist id: ``Red`` and ``RED`` are two source rows that land on one artist and must stay two
    plays). ``merged`` is ``"alias"`` when the reader already mapped the artist through an alias
    (audioscrobbler ids), ``"key"`` when its source id shares a catalog key with another source id."""

    line: int
    user: str
    artist: str
    track: str | None = None
    played_at: dt.datetime | None = None
    count: int = 1
    ident: str = ""
    merged: str | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """A record deliberately not imported (e.g. a Spotify play shorter than 30 s); counted by reason."""

    line: int
    reason: str


Item = Row | Skip | tuple[int, str]


@dataclass
class Summary:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Rows whose artist was mapped through the alias table or an alias file.
    merged_by_alias: int = 0
    # Rows whose source artist (id) shares its catalog key with another source artist (Red / RED).
    merged_by_key: int = 0
    # Rows whose artist or track is the same name as a stored spelling (storage.names.match_key:
    # Blink 182 → Blink-182, Sigur Ros → Sigur Rós, Mr Brightside → Mr. Brightside): logged on that
    # entry.
    merged_by_name: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    aliases: int = 0
    rejects_file: str | None = None
    first_rejects: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        s = f"read {self.read}, imported {self.imported}, duplicates {self.duplicates}"
        if self.aliases:
            s += f", aliases stored {self.aliases}"
        if self.merged_by_alias:
            s += f", merged by alias {self.merged_by_alias}"
        if self.merged_by_key:
            s += f", merged by name key {self.merged_by_key}"
        if self.merged_by_name:
            s += f", merged as the same name {self.merged_by_name}"
        if self.skipped:
            detail = ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped.items()))
            s += f", skipped {sum(self.skipped.values())} ({detail})"
        s += f", rejected {self.rejected}"
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
        if value.endswith("Z") and "+" not in value:  # the common UTC form: no tz round trip
            t = dt.datetime.fromisoformat(value[:-1].strip())
        else:
            t = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Rejected(f"played_at {value!r} is not an ISO 8601 date-time") from exc
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    if t > now + FUTURE_SLACK:
        raise Rejected(f"played_at {value!r} is in the future")
    return t


def play_count_field(value: str | None) -> int:
    """A play-count field of an import row (a CSV ``count``, a HetRec or Audioscrobbler weight):
    empty means 1, else a whole number of at least 1; raises :class:`Rejected` otherwise."""
    if not value:
        return 1
    if value.isdigit():  # the common case, no stripping or exception handling
        n = int(value)
        if n >= 1:
            return n
    if not value.strip():
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
    reader = csv.reader(fh)
    header = next(reader, [])
    fields = [f.strip().lower() for f in header]
    missing = {"user", "artist"} - set(fields)
    if missing:
        raise Rejected(
            f"the header must name user and artist columns (missing: {', '.join(sorted(missing))})"
        )
    col = {name: i for i, name in enumerate(fields)}  # a repeated column name: the last one counts
    width = len(fields)
    iu, ia = col["user"], col["artist"]
    it, ip, ic = col.get("track"), col.get("played_at"), col.get("count")
    latest = now + FUTURE_SLACK
    fromiso = dt.datetime.fromisoformat
    for rec in reader:
        if not rec:
            continue
        line = reader.line_num
        try:
            if len(rec) != width:
                if len(rec) > width:
                    raise Rejected("more fields than the header names")
                rec += [""] * (width - len(rec))
            if not "".join(rec).isascii():
                for v in rec:
                    if not _is_utf8(v):
                        raise Rejected("not valid UTF-8 text")
            user = rec[iu].strip()
            artist = rec[ia].strip()
            if not user:
                raise Rejected("user is empty")
            if not artist:
                raise Rejected("artist is empty")
            track = (rec[it].strip() or None) if it is not None else None
            at_raw = rec[ip].strip() if ip is not None else ""
            played_at = None
            if at_raw:
                # The common ``…Z`` form inline; anything else (or a failure) takes the full path.
                if at_raw[-1] == "Z" and "+" not in at_raw:
                    with suppress(ValueError):
                        played_at = fromiso(at_raw[:-1])
                if played_at is None or played_at.tzinfo is not None or played_at > latest:
                    played_at = parse_timestamp(at_raw, now)
            c = rec[ic] if ic is not None else "1"
            count = 1 if c == "1" else play_count_field(c)
            yield Row(line, user, artist, track, played_at, count)
        except Rejected as exc:
            yield (line, str(exc))


# Name checks are cached per raw spelling (names repeat a lot in real histories); the cache is
# cleared when it reaches this size, so memory stays flat however long the file is.
NAME_CACHE_SIZE = 200_000

_SEP = "\x1f"


class _Names:
    """Bounded cache of :func:`~storage.names.artist_name` / :func:`~storage.names.fast_checked_name`
    results per raw spelling."""

    def __init__(self) -> None:
        self.artists: dict[str, tuple[str, str] | str] = {}
        self.tracks: dict[str, tuple[str, str] | str] = {}

    @staticmethod
    def _get(cache: dict[str, tuple[str, str] | str], raw: str, check: Callable[[str], tuple[str, str]]):
        hit = cache.get(raw)
        if hit is None:
            try:
                hit = check(raw)
            except InvalidName as exc:
                hit = str(exc)
            if len(cache) >= NAME_CACHE_SIZE:
                cache.clear()
            cache[raw] = hit
        if isinstance(hit, str):
            raise InvalidName(hit)
        return hit

    def artist(self, raw: str) -> tuple[str, str]:
        return self._get(self.artists, raw, artist_name)

    def track(self, raw: str) -> tuple[str, str]:
        return self._get(self.tracks, raw, _track_name)


def _track_name(raw: str) -> tuple[str, str]:
    return fast_checked_name(raw, "track title")


def import_rows(
    db: Database,
    community: int,
    rows: Iterable[Item],
    *,
    source: str,
    rejects: IO[str] | None = None,
    progress: Callable[[int], None] | None = None,
    keep_rejects: int = 20,
    summary: Summary | None = None,
    batch_rows: int = BATCH_ROWS,
    undated_repeats_are_plays: bool = False,
) -> Summary:
    """Import a stream of rows in batches of ``batch_rows``; each batch is one transaction, so an
    interrupted import leaves whole batches behind and a rerun (idempotent) completes it.

    ``undated_repeats_are_plays``: in a listen log without timestamps (a generic CSV, one row per
    listen), the n-th identical undated row of the file is the n-th play, not a duplicate: its key
    carries ``#n`` (from the second on, so a first occurrence keeps the key it always had). A rerun
    numbers them the same way and adds nothing. Formats whose rows are per-user aggregates (HetRec,
    Audioscrobbler) leave it off: a repeated aggregate row is a duplicate. Costs one small dict
    entry per distinct undated row.

    Artists are matched by :func:`~storage.names.artist_name` key and the alias table only (never
    fuzzily). This process reads and checks rows and builds each play's dedupe key; an import of
    more than one batch is written by a :class:`~ingest.bulk.WriterProcess` meanwhile.

    ``progress`` is called with the number of rows read since its last call: each time
    :data:`PROGRESS_ROWS` more rows are pending (the batch-size check, so no cost per row) and once
    at the end; a progress bar throttles its own redraws."""
    summary = summary or Summary()
    names = _Names()
    sqlite = db.sqlite

    def reject(line: int, reason: str) -> None:
        summary.rejected += 1
        if len(summary.first_rejects) < keep_rejects:
            summary.first_rejects.append((line, reason))
        if rejects is not None:
            rejects.write(f"{line}\t{_one_line(reason)}\n")

    def written(w: Written) -> None:
        summary.imported += w.inserted
        summary.duplicates += w.rows - w.inserted
        summary.merged_by_alias += w.merged_by_alias
        summary.merged_by_key += w.merged_by_key
        summary.merged_by_name += w.merged_by_name

    writer: WriterProcess | None = None

    a_cache, t_cache = names.artists, names.tracks
    users_seen: set[str] = set()
    artists_seen: set[str] = set()
    tracks_seen: set[tuple[str, str]] = set()
    no_track = (None, None)
    cprefix, spref, sep, sha1 = str(community), f"{source}:", _SEP, hashlib.sha1
    batch = Batch()
    pending, new_users, new_artists, new_tracks = batch.rows, batch.users, batch.artists, batch.tracks
    undated_seen: dict[bytes, int] = {}
    read = reported = summary.read
    step = PROGRESS_ROWS if progress else batch_rows
    check_at = min(batch_rows, step)  # the next pending length at which to look
    try:
        with _gc_paused():
            for item in rows:
                read += 1
                if type(item) is not Row:
                    if isinstance(item, Skip):
                        summary.skipped[item.reason] = summary.skipped.get(item.reason, 0) + 1
                    else:
                        reject(*item)  # type: ignore[misc]
                    continue
                # Cache hits inline (the common case); misses and bad names go through _Names.
                user = item.user
                a = a_cache.get(item.artist)
                t = t_cache.get(item.track) if item.track else no_track
                if type(a) is not tuple or type(t) is not tuple or len(user) > 100:
                    try:
                        if len(user) > 100:
                            raise InvalidName("user id is too long (at most 100 characters)")
                        a = names.artist(item.artist)
                        t = names.track(item.track) if item.track else no_track
                    except InvalidName as exc:
                        reject(item.line, str(exc))
                        continue
                a_key, t_key = a[1], t[1]
                if user not in users_seen:
                    users_seen.add(user)
                    new_users.append(user)
                if a_key not in artists_seen:
                    artists_seen.add(a_key)
                    new_artists[a_key] = a[0]
                if t_key is not None and (a_key, t_key) not in tracks_seen:
                    tracks_seen.add((a_key, t_key))
                    new_tracks[(a_key, t_key)] = t[0]  # type: ignore[assignment]  # set with the key
                # The dedupe key ``source:cluster:sha1``: the same row imported again maps to the
                # same key. The cluster is the play's time (``2025-01-31T14:05:00``) or, for an
                # undated play, its user (``u`` + the user id): histories arrive in time or user
                # order, so the keys land next to each other in the unique index and a batch dirties
                # a few index pages instead of most of them (migration 0003 put the cluster into keys
                # stored before it). Built inline, as this loop runs once per row;
                # tests/ingest/test_import_formats.py checks it against a plain reference.
                when = item.played_at
                at: object = None
                if when is None:
                    iso = ""
                    cluster = "u" + user
                else:
                    iso = when.isoformat()
                    cluster = iso[:19]
                    # SQLAlchemy's SQLite DATETIME text; other dialects bind the datetime itself.
                    at = (iso.replace("T", " ") + (".000000" if len(iso) == 19 else "")) if sqlite else when
                count = item.count
                ident = sep.join((cprefix, user, a_key, t_key or "", iso, str(count)))
                if item.ident:
                    ident += sep + item.ident
                digest = sha1(ident.encode())
                if when is None and undated_repeats_are_plays:
                    raw = digest.digest()
                    nth = undated_seen[raw] = undated_seen.get(raw, 0) + 1
                    if nth > 1:
                        digest = sha1(f"{ident}{sep}#{nth}".encode())
                key = f"{spref}{cluster}:{digest.hexdigest()}"
                pending.append((user, a_key, t_key, at, count, key, item.merged))
                if len(pending) >= check_at:
                    if progress is not None:
                        progress(read - reported)
                        reported = read
                    if len(pending) >= batch_rows:
                        pending.sort(key=_BY_KEY)  # key order: the unique index is filled page by page
                        if writer is None:
                            writer = WriterProcess(db.url, community, source, written)
                        writer.submit(batch)
                        batch = Batch()
                        pending, new_users, new_artists, new_tracks = (
                            batch.rows,
                            batch.users,
                            batch.artists,
                            batch.tracks,
                        )
                    check_at = min(batch_rows, len(pending) + step)
            pending.sort(key=_BY_KEY)
            if writer is None:  # the whole import fit in one batch: write it here
                written(write_batch(db, Resolver(community), batch, source))
            else:
                if pending:
                    writer.submit(batch)
                writer.finish()
    finally:
        if writer is not None:
            writer.close()
    summary.read = read
    if progress is not None and read > reported:
        progress(read - reported)
    return summary


_BY_KEY = itemgetter(5)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while importing: the rows make no reference cycles, and with
    batches in flight each full collection walks hundreds of thousands of live objects (2.5 s of
    a 1M-row import). Reference counting still frees everything; the collector is restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _one_line(reason: str) -> str:
    return reason.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def rejects_path(db: Database, source_path: Path) -> Path:
    """Where rejected rows are written: next to the SQLite file, else next to the input."""
    u = make_url(db.url)
    if db.sqlite and u.database and u.database != ":memory:":
        base = Path(u.database)
        return base.with_name(f"{base.name}.{source_path.name}.rejects")
    return source_path.with_name(source_path.name + ".rejects")


# --- aliases --------------------------------------------------------------------------------------


def resolve_chains(mapping: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Follow ``a → b → c`` to the end: returns ``(resolved, cyclic)`` where ``resolved[a] == c`` and
    ``cyclic[x]`` is the loop ``x`` is in (or leads into), e.g. ``[x, y, x]``. Linear time; a cycle is
    detected, never followed forever."""
    resolved: dict[str, str] = {}
    cyclic: dict[str, list[str]] = {}
    for start in mapping:
        if start in resolved or start in cyclic:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        cur = start
        while cur in mapping and cur not in resolved and cur not in cyclic:
            if cur in on_path:
                loop = path[on_path[cur] :] + [cur]
                for p in path:
                    cyclic[p] = loop
                break
            on_path[cur] = len(path)
            path.append(cur)
            cur = mapping[cur]
        else:
            if cur in cyclic:
                for p in path:
                    cyclic[p] = cyclic[cur]
            else:
                final = resolved.get(cur, cur)
                for p in path:
                    resolved[p] = final
    return resolved, cyclic


def import_aliases(
    db: Database,
    entries: Iterable[tuple[int, str, str] | tuple[int, str]],
    *,
    rejects: IO[str] | None = None,
    summary: Summary | None = None,
    keep_rejects: int = 20,
    what: str = "",
) -> Summary:
    """Store ``(line, alias spelling, canonical spelling)`` entries in the alias table.

    Both sides get the artist rules (:func:`~storage.names.artist_name`); chains ``a → b → c`` are
    resolved (``a`` and ``b`` both point at ``c``, also through aliases already stored), a cycle is
    rejected with its lines instead of followed. Idempotent: ``imported`` counts new or changed
    aliases, ``duplicates`` the ones already stored as given. ``(line, reason)`` entries are
    rejected as they are. Aliases apply to plays logged or imported afterwards."""
    summary = summary if summary is not None else Summary()
    prefix = f"{what}: " if what else ""

    def reject(line: int, reason: str) -> None:
        summary.rejected += 1
        if len(summary.first_rejects) < keep_rejects:
            summary.first_rejects.append((line, prefix + reason))
        if rejects is not None:
            rejects.write(f"{line}\t{_one_line(prefix + reason)}\n")

    mapping: dict[str, str] = {}
    target_display: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for entry in entries:
        summary.read += 1
        if len(entry) == 2:
            reject(*entry)
            continue
        line, alias, canonical = entry
        try:
            _a_disp, a_key = artist_name(alias)
            c_disp, c_key = artist_name(canonical)
        except InvalidName as exc:
            reject(line, str(exc))
            continue
        if a_key == c_key:
            reason = "alias and canonical name are the same artist"
            summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
            continue
        if a_key in mapping and mapping[a_key] != c_key:
            reject(
                line_of[a_key], f"{alias!r} is given another canonical name on line {line}; the later wins"
            )
        mapping[a_key] = c_key
        line_of[a_key] = line
        target_display.setdefault(c_key, c_disp)
    resolved, cyclic = resolve_chains(mapping)
    for a_key, loop in cyclic.items():
        reject(line_of[a_key], f"alias cycle {' → '.join(loop)}: left unaliased")
    items = list(resolved.items())
    for s in range(0, len(items), 5000):
        chunk = items[s : s + 5000]
        with db.write() as conn:
            targets = {c for _a, c in chunk}
            found = lookup_artists(conn, targets)
            missing = [c for c in targets if c not in found]
            if missing:
                # A canonical name stored under another spelling (Blink 182 → Blink-182) is that entry.
                found.update(lookup_artists_by_name(conn, missing))
                missing = [c for c in missing if c not in found]
            if missing:
                conn.execute(
                    upsert_insert(conn, Artist).on_conflict_do_nothing(),
                    [
                        {"key": c, "name": target_display.get(c, c), "match_key": match_key(c)}
                        for c in missing
                    ],
                )
                found.update(lookup_artists(conn, missing))
            via = {found[c][0] for c in targets if found[c][1]}
            key_of = (
                dict(conn.execute(select(Artist.id, Artist.key).where(Artist.id.in_(via))).all())
                if via
                else {}
            )
            values = []
            for a_key, c_key in chunk:
                aid, via_alias = found[c_key]
                if via_alias and key_of.get(aid) == a_key:
                    reject(
                        line_of[a_key], f"alias cycle {a_key} → {c_key} → {a_key} (stored): left unaliased"
                    )
                    continue
                values.append({"alias_key": a_key, "artist_id": aid})
            if not values:
                continue
            ins = upsert_insert(conn, ArtistAlias)
            upsert = ins.on_conflict_do_update(
                index_elements=["alias_key"],
                set_={"artist_id": ins.excluded.artist_id},
                where=ArtistAlias.artist_id != ins.excluded.artist_id,
            ).execution_options(preserve_rowcount=True)  # an executemany's rowcount is -1 on psycopg
            changed = conn.execute(upsert, values).rowcount
            # Aliases that pointed at the artist now aliased away follow it (chains stay one hop).
            conn.execute(
                update(ArtistAlias)
                .where(
                    ArtistAlias.artist_id
                    == select(Artist.id).where(Artist.key == bindparam("a_key")).scalar_subquery()
                )
                .values(artist_id=bindparam("target")),
                [{"a_key": v["alias_key"], "target": v["artist_id"]} for v in values],
            )
        summary.aliases += changed
        summary.imported += changed
        summary.duplicates += len(values) - changed
    return summary


def alias_file_entries(
    fh: IO[str], delimiter: str = "\t"
) -> Iterator[tuple[int, str, str] | tuple[int, str]]:
    """``alias<TAB>canonical`` (or ``alias,canonical`` CSV) lines; an optional header naming
    ``alias`` first is skipped, as are blank lines and ``#`` comments."""
    reader = csv.reader(fh, delimiter=delimiter)
    for rec in reader:
        line = reader.line_num
        if not rec or not "".join(rec).strip() or rec[0].lstrip().startswith("#"):
            continue
        if line == 1 and rec[0].strip().lower() == "alias":
            continue
        if len(rec) != 2:
            yield (line, f"expected 2 fields (alias, canonical name), got {len(rec)}")
        elif not all(_is_utf8(v) for v in rec):
            yield (line, "not valid UTF-8 text")
        else:
            yield (line, rec[0], rec[1])


def import_alias_file(db: Database, path: Path) -> Summary:
    """Load an alias file (see :func:`alias_file_entries`) into the alias table."""
    out = rejects_path(db, path)
    with (
        path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh,
        out.open("w", encoding="utf-8") as rej,
    ):
        head = fh.readline()
        fh.seek(0)
        entries = alias_file_entries(fh, "\t" if "\t" in head else ",")
        summary = import_aliases(db, entries, rejects=rej, what=path.name)
    if summary.rejected:
        summary.rejects_file = str(out)
    else:
        out.unlink(missing_ok=True)
    return summary
