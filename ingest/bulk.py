"""Bulk play writes for imports: resolve names to ids and insert plays, one transaction per batch.

A :class:`Batch` is built by :func:`ingest.importers.import_rows` (which reads, checks and keys
the rows); :func:`write_batch` writes it. A long import runs :func:`write_batch` in a writer
*process* (:class:`WriterProcess`): reading and key-building are Python, writing is mostly SQLite,
and in one process the two fight over the GIL: a thread that gives up the GIL for each call into
SQLite waits for it again behind the busy reader, so a writer *thread* was no faster than doing
both in turn (about 16 s for 1M CSV rows either way). Two processes overlap (about 13 s).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, event, func, select, tuple_
from sqlalchemy.exc import OperationalError

from storage import play_indexes
from storage.catalog import lookup_artists, lookup_artists_by_name
from storage.db import Database, open_database
from storage.models import Artist, Member, Play, Track
from storage.names import match_key
from storage.sql import upsert_insert

K = TypeVar("K", bound=Hashable)
# (artist id, track key): a track as the Resolver caches it.
TrackKey = tuple[int, str]

# A play ready for the database but for its ids: (user, artist key, track key, played_at as bound,
# count, dedupe key, Row.merged).
PendingPlay = tuple[str, str, str | None, Any, int, str, str | None]


@dataclass
class Batch:
    """Plays for one write transaction, with the names first seen in this import's stream: the
    reader notes them as it goes, so the writer resolves only those instead of rescanning rows."""

    rows: list[PendingPlay] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    artists: dict[str, str] = field(default_factory=dict)  # key → display name
    tracks: dict[tuple[str, str], str] = field(default_factory=dict)  # (artist key, track key) → title


def _first_spellings(names: dict[K, str], mkeys: Mapping[K, Hashable]) -> dict[K, str]:
    """One spelling per match key (the first seen): the others are the same name, not new rows. For
    tracks the "match key" is ``(artist id, match key)``: a title is the same name only under its
    own artist."""
    first: dict[Hashable, K] = {}
    for k in names:
        first.setdefault(mkeys[k], k)
    return {k: names[k] for k in first.values()}


class Resolver:
    """Key → id caches for one import (bounded by the number of distinct names, not rows)."""

    def __init__(self, community: int) -> None:
        self.community = community
        self.members: dict[str, int] = {}
        self.artists: dict[str, int] = {}
        self.aliased: set[str] = set()  # artist keys that resolved through the alias table
        self.respelled: set[str] = set()  # artist keys that resolved to another spelling's entry
        self.tracks: dict[TrackKey, int] = {}  # (artist id, track key) → id
        # (artist id, track key)s that resolved to another spelling's entry (Mr Brightside → Mr. Brightside)
        self.respelled_tracks: set[TrackKey] = set()

    def resolve(self, conn: Connection, batch: Batch) -> None:
        """Ids for the batch's new names: existing rows are looked up, missing ones inserted."""
        if conn.dialect.name == "sqlite":
            self._resolve_sqlite(conn, batch)
        else:
            self._resolve_generic(conn, batch)

    # SQLite: a handful of statements per batch, each passing its names as one JSON array and
    # returning its answer as one JSON array (instead of a statement per chunk of names and a
    # step per result row).

    def _resolve_sqlite(self, conn: Connection, batch: Batch) -> None:
        if batch.users:
            users = json.dumps(batch.users)
            conn.exec_driver_sql(
                "INSERT INTO members (community_id, external_id, display_name) "
                "SELECT ?, value, value FROM json_each(?) WHERE 1 ON CONFLICT DO NOTHING",
                (self.community, users),
            )
            self.members.update(
                _json_answer(
                    conn,
                    "SELECT json_group_array(json_array(m.external_id, m.id)) FROM json_each(?) j "
                    "CROSS JOIN members m ON m.community_id = ? AND m.external_id = j.value",
                    (users, self.community),
                )
            )
        if batch.artists:
            found = self._sqlite_artists(conn, list(batch.artists))
            missing = {k: n for k, n in batch.artists.items() if k not in found}
            if missing:
                # The same name under another spelling (Blink 182 = Blink-182): the stored entry.
                mkeys = {k: match_key(k) for k in missing}
                by_match = dict(
                    _json_answer(
                        conn,
                        "SELECT json_group_array(json_array(j.value, "
                        "(SELECT min(a.id) FROM artists a WHERE a.match_key = j.value))) "
                        "FROM json_each(?) j",
                        (json.dumps(list(set(mkeys.values()))),),
                    )
                )
                new = _first_spellings(
                    {k: n for k, n in missing.items() if by_match[mkeys[k]] is None}, mkeys
                )
                if new:
                    conn.exec_driver_sql(
                        "INSERT INTO artists (key, name, match_key) SELECT json_extract(value, '$[0]'), "
                        "json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?) "
                        "WHERE 1 ON CONFLICT DO NOTHING",
                        (json.dumps([[k, n, mkeys[k]] for k, n in new.items()]),),
                    )
                    for k, aid in self._sqlite_artists(conn, list(new)).items():
                        by_match[mkeys[k]] = aid
                for k in missing:
                    found[k] = by_match[mkeys[k]]
                    if k not in new:
                        self.respelled.add(k)
            self.artists.update(found)
        wanted = self._new_tracks(batch)
        if wanted:
            self._sqlite_tracks(conn, wanted)

    def _sqlite_tracks(self, conn: Connection, wanted: dict[TrackKey, str]) -> None:
        """Ids for ``wanted`` tracks by /played's rule for one artist's titles, in two statements
        sharing one JSON array of ``[artist id, key, match key, title or null]``: insert the first
        spelling of each ``(artist id, match key)`` (the one given a title) unless that name is
        stored, then read each track's id: its exact key's, else (negated, so the answer says which)
        the lowest id of its match key (Mr Brightside → Mr. Brightside). Never a near miss."""
        keys = list(wanted)
        rows: list[tuple[int, str, str, str | None]] = []
        first: set[TrackKey] = set()
        for (a, t), title in wanted.items():
            mk = match_key(t)
            if (a, mk) in first:
                rows.append((a, t, mk, None))
            else:
                first.add((a, mk))
                rows.append((a, t, mk, title))
        payload = json.dumps(rows)
        conn.exec_driver_sql(
            "INSERT INTO tracks (artist_id, key, match_key, title) SELECT j.a, j.k, j.m, j.n FROM (SELECT "
            "json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS k, "
            "json_extract(value, '$[2]') AS m, json_extract(value, '$[3]') AS n FROM json_each(?)) j "
            "WHERE j.n IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.artist_id = j.a AND t.match_key = j.m) "
            "ON CONFLICT DO NOTHING",
            (payload,),
        )
        for i, tid in _json_answer(
            conn,
            "SELECT json_group_array(json_array(j.i, coalesce("
            "(SELECT t.id FROM tracks t WHERE t.artist_id = j.a AND t.key = j.k), "
            "-(SELECT min(t.id) FROM tracks t WHERE t.artist_id = j.a AND t.match_key = j.m)))) "
            "FROM (SELECT key AS i, json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS k, "
            "json_extract(value, '$[2]') AS m FROM json_each(?)) j",
            (payload,),
        ):
            if tid > 0:
                self.tracks[keys[i]] = tid
            else:
                self.tracks[keys[i]] = -tid
                self.respelled_tracks.add(keys[i])

    def _new_tracks(self, batch: Batch) -> dict[TrackKey, str]:
        """``(artist id, track key) → title`` of the batch's tracks not resolved yet (two artist
        keys can be one artist: an alias)."""
        artists, known = self.artists, self.tracks
        wanted: dict[TrackKey, str] = {}
        for (a, t), title in batch.tracks.items():
            k = (artists[a], t)
            if k not in known:
                wanted.setdefault(k, title)
        return wanted

    def _sqlite_artists(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        """:func:`~storage.catalog.lookup_artists` in one statement: the alias table wins."""
        found: dict[str, int] = {}
        for key, aid, via_alias in _json_answer(
            conn,
            "SELECT json_group_array(json_array(j.value, coalesce(al.artist_id, a.id), "
            "al.artist_id IS NOT NULL)) FROM json_each(?) j "
            "LEFT JOIN artist_aliases al ON al.alias_key = j.value "
            "LEFT JOIN artists a ON a.key = j.value "
            "WHERE al.artist_id IS NOT NULL OR a.id IS NOT NULL",
            (json.dumps(keys),),
        ):
            found[key] = aid
            if via_alias:
                self.aliased.add(key)
        return found

    def _resolve_generic(self, conn: Connection, batch: Batch) -> None:
        if batch.users:
            conn.execute(
                upsert_insert(conn, Member).on_conflict_do_nothing(),
                [{"community_id": self.community, "external_id": u, "display_name": u} for u in batch.users],
            )
            for s in range(0, len(batch.users), 500):
                for ext, mid in conn.execute(
                    select(Member.external_id, Member.id).where(
                        Member.community_id == self.community,
                        Member.external_id.in_(batch.users[s : s + 500]),
                    )
                ):
                    self.members[ext] = mid
        if batch.artists:
            for k, (aid, via_alias) in lookup_artists(conn, batch.artists).items():
                self.artists[k] = aid
                if via_alias:
                    self.aliased.add(k)
            missing = {k: v for k, v in batch.artists.items() if k not in self.artists}
            if missing:
                mkeys = {k: match_key(k) for k in missing}
                by_match = {mkeys[k]: aid for k, (aid, _) in lookup_artists_by_name(conn, missing).items()}
                new = _first_spellings({k: n for k, n in missing.items() if mkeys[k] not in by_match}, mkeys)
                if new:
                    conn.execute(
                        upsert_insert(conn, Artist).on_conflict_do_nothing(),
                        [{"key": k, "name": n, "match_key": mkeys[k]} for k, n in new.items()],
                    )
                    for k, (aid, _alias) in lookup_artists(conn, new).items():
                        by_match[mkeys[k]] = aid
                for k in missing:
                    self.artists[k] = by_match[mkeys[k]]
                    if k not in new:
                        self.respelled.add(k)
        wanted = self._new_tracks(batch)
        if wanted:
            self._generic_resolve_tracks(conn, wanted)

    def _generic_resolve_tracks(self, conn: Connection, wanted: dict[TrackKey, str]) -> None:
        """As :meth:`_sqlite_tracks`, a statement per step: the exact key, else the stored entry of
        the same match key (the lowest id), else one new row per ``(artist id, match key)``, the
        first spelling seen."""
        found = self._generic_tracks(conn, list(wanted))
        self.tracks.update(found)
        missing = {k: title for k, title in wanted.items() if k not in found}
        if not missing:
            return
        groups = {k: (k[0], match_key(k[1])) for k in missing}
        by_match = self._generic_tracks_by_name(conn, list(dict.fromkeys(groups.values())))
        new = _first_spellings({k: t for k, t in missing.items() if groups[k] not in by_match}, groups)
        if new:
            conn.execute(
                upsert_insert(conn, Track).on_conflict_do_nothing(),
                [
                    {"artist_id": aid, "key": t, "title": title, "match_key": groups[(aid, t)][1]}
                    for (aid, t), title in new.items()
                ],
            )
            for k, tid in self._generic_tracks(conn, list(new)).items():
                by_match[groups[k]] = tid
        for k in missing:
            self.tracks[k] = by_match[groups[k]]
            if k not in new:
                self.respelled_tracks.add(k)

    @staticmethod
    def _generic_tracks(conn: Connection, keys: list[TrackKey]) -> dict[TrackKey, int]:
        found: dict[TrackKey, int] = {}
        for s in range(0, len(keys), 400):
            for aid, tkey, tid in conn.execute(
                select(Track.artist_id, Track.key, Track.id).where(
                    tuple_(Track.artist_id, Track.key).in_(keys[s : s + 400])
                )
            ):
                found[(aid, tkey)] = tid
        return found

    @staticmethod
    def _generic_tracks_by_name(conn: Connection, names: list[TrackKey]) -> dict[TrackKey, int]:
        found: dict[TrackKey, int] = {}
        for s in range(0, len(names), 400):
            for aid, mk, tid in conn.execute(
                select(Track.artist_id, Track.match_key, func.min(Track.id))
                .where(tuple_(Track.artist_id, Track.match_key).in_(names[s : s + 400]))
                .group_by(Track.artist_id, Track.match_key)
            ):
                found[(int(aid), str(mk))] = int(tid)
        return found


def _json_answer(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """The JSON array a one-row ``json_group_array`` query returns, decoded."""
    text = conn.exec_driver_sql(sql, params).scalar_one()
    return json.loads(text) if text else []


_PLAY_COLUMNS = (
    "community_id",
    "member_id",
    "artist_id",
    "track_id",
    "played_at",
    "count",
    "source",
    "dedupe_key",
)
# Plays per multi-row INSERT on SQLite (capped by the bound-parameter limit).
ROWS_PER_INSERT = 2000
# Plays per write transaction: short enough that another process's /played waits a fraction of a second.
COMMIT_ROWS = 25_000


def _sqlite_insert_plays(rows: int) -> str:
    one = f"({', '.join('?' * len(_PLAY_COLUMNS))})"
    return (
        f"INSERT INTO plays ({', '.join(_PLAY_COLUMNS)}) VALUES {','.join([one] * rows)} "
        "ON CONFLICT (dedupe_key) DO NOTHING"
    )


def _max_variables(conn: Connection) -> int:
    """SQLite's bound-parameter limit for this connection (32,766 since SQLite 3.32)."""
    raw = conn.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        return raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return 999


@dataclass(frozen=True)
class Written:
    """What one batch did: plays inserted (the rest were duplicates) and rows merged on the way."""

    rows: int
    inserted: int
    merged_by_alias: int
    merged_by_key: int
    # Rows whose artist or track is the same name as another spelling's entry (Blink 182 →
    # Blink-182, Mr Brightside → Mr. Brightside).
    merged_by_name: int = 0


def write_batch(db: Database, resolver: Resolver, batch: Batch, source: str) -> Written:
    """Write one batch: its names in one transaction, then its plays in transactions of at most
    ``COMMIT_ROWS`` rows, so that a `/played` in another process never waits long for the write lock.
    Every play carries its dedupe key, so an interruption between transactions loses nothing: a
    rerun skips what is in. On SQLite the plays go in with multi-row INSERTs and foreign-key checks
    off (every id in them was resolved and committed before); a repeated dedupe key (within the
    batch too) is skipped by ON CONFLICT and counted as a duplicate."""
    if not batch.rows:
        return Written(0, 0, 0, 0)
    community = resolver.community
    with db.write(bulk=True) as conn:
        resolver.resolve(conn, batch)
    members, artists, tracks, aliased = resolver.members, resolver.artists, resolver.tracks, resolver.aliased
    flat: list[Any] = []
    add = flat.extend
    merged_alias = merged_key = merged_name = 0
    respelled, respelled_tracks = resolver.respelled, resolver.respelled_tracks
    for user, a_key, t_key, at, count, key, merged in batch.rows:
        aid = artists[a_key]
        track = None if t_key is None else (aid, t_key)
        add(
            (
                community,
                members[user],
                aid,
                None if track is None else tracks[track],
                at,
                count,
                source,
                key,
            )
        )
        if a_key in respelled or (respelled_tracks and track in respelled_tracks):
            merged_name += 1
        if merged is not None or a_key in aliased:
            if merged == "alias" or a_key in aliased:
                merged_alias += 1
            else:
                merged_key += 1
    inserted = 0
    width = len(_PLAY_COLUMNS)
    for start in range(0, len(flat), COMMIT_ROWS * width):
        part = flat[start : start + COMMIT_ROWS * width]
        with db.write(bulk=True) as conn:
            inserted += _insert_plays(conn, db.sqlite, part, width)
    return Written(len(batch.rows), inserted, merged_alias, merged_key, merged_name)


def _insert_plays(conn: Connection, sqlite: bool, flat: list[Any], width: int) -> int:
    inserted = 0
    if sqlite:
        conn.exec_driver_sql("PRAGMA cache_size=-65536")  # a bounded page cache keeps index inserts in memory
        per = max(1, min(ROWS_PER_INSERT, _max_variables(conn) // width)) * width
        full = _sqlite_insert_plays(per // width)
        for s in range(0, len(flat), per):
            chunk = flat[s : s + per]
            sql = full if len(chunk) == per else _sqlite_insert_plays(len(chunk) // width)
            inserted += conn.exec_driver_sql(sql, tuple(chunk)).rowcount
        return inserted
    # preserve_rowcount: otherwise an INSERT's rowcount is -1 on psycopg.
    stmt = (
        upsert_insert(conn, Play)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .execution_options(preserve_rowcount=True)
    )
    for s in range(0, len(flat), 1000 * width):
        chunk = flat[s : s + 1000 * width]
        maps = [
            dict(zip(_PLAY_COLUMNS, chunk[i : i + width], strict=True)) for i in range(0, len(chunk), width)
        ]
        inserted += conn.execute(stmt, maps).rowcount
    return inserted


class WriterFailed(RuntimeError):
    """The writer process failed; the message carries its traceback."""


class WriterProcess:
    """:func:`write_batch` in a child Python process, fed pickled batches on its stdin; it answers
    each with a pickled :class:`Written` (or its traceback) on a private copy of its stdout. At
    most ``ahead`` batches are in flight; ``done`` is called with each answer in order. Batches
    already sent are written even if the caller fails later: each is its own transaction, and a
    rerun of the import skips them."""

    def __init__(
        self, url: str, community: int, source: str, done: Callable[[Written], None], ahead: int = 2
    ) -> None:
        root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from ingest.bulk import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin, self._proc.stdout
        # The URL goes through the pipe, not the command line: it may hold a password.
        pickle.dump((url, community, source), self._to, _PROTOCOL)
        self._done = done
        self._ahead = ahead
        self._in_flight = 0

    def submit(self, batch: Batch) -> None:
        try:
            pickle.dump((batch.rows, batch.users, batch.artists, batch.tracks), self._to, _PROTOCOL)
            self._to.flush()
        except BrokenPipeError:
            self._failed()
        self._in_flight += 1
        while self._in_flight > self._ahead:
            self._receive()

    def finish(self) -> None:
        """Wait for every batch sent, then let the process end."""
        while self._in_flight:
            self._receive()
        self._to.close()
        if self._proc.wait() != 0:
            self._failed()

    def close(self) -> None:
        """Stop the process: after :meth:`finish`, or when the caller failed (batches already sent
        are still written first)."""
        with contextlib.suppress(OSError):  # BrokenPipeError when the process is gone
            self._to.close()
        if self._proc.poll() is None:
            try:
                self._proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._from.close()

    def _receive(self) -> None:
        try:
            answer = pickle.load(self._from)
        except EOFError:
            self._failed()
        if isinstance(answer, str):
            raise WriterFailed(answer)
        self._in_flight -= 1
        self._done(Written(*answer))

    def _failed(self) -> NoReturn:
        """The process is gone: report its own traceback if it managed to send one (the reason,
        e.g. a full disk), else its exit code."""
        code = self._proc.wait()
        with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError):
            while True:
                answer = pickle.load(self._from)
                if isinstance(answer, str):
                    raise WriterFailed(answer)
        raise WriterFailed(f"the import writer process ended early (exit code {code})")


_PROTOCOL = pickle.HIGHEST_PROTOCOL

# The writer drops the member-command indexes (storage.play_indexes) once the import has brought
# this share of the rows the table held when it started, and builds them at its end. On SQLite,
# keeping them cost each imported row about 76 µs (1M rows into an empty table: 10,758 against
# 59,130 rows/s), building all six over the finished table about 6.5 µs per row of the table:
# dropping pays from about a tenth; a quarter leaves the commands their indexes during small
# imports into a big table (docs/benchmarks.md, "Import throughput").
DROP_INDEXES_AT = 0.25


# How long the writer waits, on PostgreSQL, for the lock that dropping an index takes: a reader of
# ``plays`` that holds its transaction open (a batch's read) would otherwise make every query on
# the table, /played included, queue behind the waiting DROP.
DROP_LOCK_TIMEOUT = "2s"
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout that ran out


def _drop_indexes(db: Database) -> bool:
    """Drop the member-command indexes; ``False`` (and they stay) when PostgreSQL cannot have the
    table's lock within :data:`DROP_LOCK_TIMEOUT`: the import then goes on at the indexed speed."""
    try:
        with db.write() as conn:
            if not db.sqlite:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
            play_indexes.drop(conn)
    except OperationalError as exc:
        if db.sqlite or getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    return True


def drops_indexes(brought: int, before: int) -> bool:
    """Whether an import that has brought ``brought`` rows so far into a table that held ``before``
    plays when it started should write the rest without the member-command indexes."""
    return brought >= DROP_INDEXES_AT * before


def _writer_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # No memory map: the mapped database pages would count as this process's memory and grow with
    # the database (the 64 MiB page cache set per batch is what keeps index pages at hand).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA mmap_size=0")
    cur.close()


def serve() -> None:
    """The writer process (see :class:`WriterProcess`): reads ``(url, community, source)``, then
    batches until its stdin is closed."""
    # Ctrl-C reaches the whole process group: the parent decides (it closes our stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # the batches make no reference cycles; see ingest.importers._gc_paused
    # Answers go to a private copy of stdout; anything printed lands on stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    batches = sys.stdin.buffer
    url, community, source = pickle.load(batches)
    db = open_database(url, migrate=False)
    if db.sqlite:
        event.listen(db.engine, "connect", _writer_pragmas)
    resolver = Resolver(community)
    brought = 0
    tried = dropped = False
    try:
        with db.read() as conn:
            before = conn.scalar(select(func.count()).select_from(Play)) or 0
        while True:
            try:
                rows, users, artists, tracks = pickle.load(batches)
            except EOFError:
                break
            brought += len(rows)
            if not tried and drops_indexes(brought, before):
                tried = True
                dropped = _drop_indexes(db)
            w = write_batch(db, resolver, Batch(rows, users, artists, tracks), source)
            answer = (w.rows, w.inserted, w.merged_by_alias, w.merged_by_key, w.merged_by_name)
            pickle.dump(answer, answers, _PROTOCOL)
            answers.flush()
        if dropped:
            # One transaction per index: a /played meanwhile waits for one build, not for all six.
            for name in play_indexes.NAMES:
                with db.write() as conn:
                    play_indexes.ensure(conn, (name,))
            dropped = False
    except Exception:
        if dropped:  # best effort: the next open of the database builds them anyway
            with contextlib.suppress(Exception), db.write() as conn:
                play_indexes.ensure(conn)
        pickle.dump(traceback.format_exc(), answers, _PROTOCOL)
        answers.flush()
        raise SystemExit(1) from None
    finally:
        db.dispose()
