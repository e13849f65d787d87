"""Catalog and play repository: communities, members, artists, tracks, aliases, plays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, and_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from storage import visibility
from storage.members import is_tombstone
from storage.models import Artist, ArtistAlias, Community, Member, Play, Track
from storage.names import canonical_artist, canonical_key, match_key, near_miss
from storage.sql import upsert_insert


@dataclass(frozen=True)
class Resolved:
    id: int
    name: str
    created: bool = False
    # Found under another spelling of the same name (or a near miss the member picked).
    respelled: bool = False
    # Whether the community asking can see the entry (see storage.visibility).
    visible: bool = True


def community_id(conn: Connection, platform: str, external_id: str, name: str) -> int:
    """The community's id, created if new. Looked up first: on Postgres even an insert that
    conflicts takes a number from the id sequence, and most calls find the community."""
    found = find_community(conn, platform, external_id)
    if found is not None:
        return found
    conn.execute(
        upsert_insert(conn, Community)
        .values(platform=platform, external_id=external_id, name=name)
        .on_conflict_do_nothing()
    )
    return conn.execute(
        select(Community.id).where(Community.platform == platform, Community.external_id == external_id)
    ).scalar_one()


def find_community(conn: Connection, platform: str, external_id: str) -> int | None:
    return conn.execute(
        select(Community.id).where(Community.platform == platform, Community.external_id == external_id)
    ).scalar_one_or_none()


def member_id(conn: Connection, community: int, external_id: str, display_name: str) -> int:
    """The member's id, created if new (looked up first, like :func:`community_id`)."""
    found = find_member(conn, community, external_id)
    if found is not None:
        return found
    conn.execute(
        upsert_insert(conn, Member)
        .values(community_id=community, external_id=external_id, display_name=display_name)
        .on_conflict_do_nothing()
    )
    return conn.execute(
        select(Member.id).where(Member.community_id == community, Member.external_id == external_id)
    ).scalar_one()


def find_member(conn: Connection, community: int, external_id: str) -> int | None:
    return conn.execute(
        select(Member.id).where(Member.community_id == community, Member.external_id == external_id)
    ).scalar_one_or_none()


def member_is(conn: Connection, member: int, external_id: str) -> bool:
    """Whether member row ``member`` still carries ``external_id`` (a deleted member's does not)."""
    return conn.execute(select(Member.external_id).where(Member.id == member)).scalar() == external_id


def _prefix_range(column, key: str):
    """Rows whose key starts with the first character of ``key`` (index range scan): the blocking
    step of fuzzy matching, so it costs a slice of the catalog, not all of it."""
    first = key[0]
    return and_(column >= first, column < first + "\U0010ffff")


def _starts_with(column, prefix: str):
    return and_(column >= prefix, column < prefix + "\U0010ffff")


def lookup_artists(conn: Connection, keys: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """Catalog keys (already :func:`~storage.names.canonical_key`) → ``(artist id, via alias)``.

    The alias table wins over an artist of the same key: an alias is an explicit statement that the
    spelling means another artist. Exact only — bulk import and ``/played`` share this lookup."""
    want = list(dict.fromkeys(keys))
    found: dict[str, tuple[int, bool]] = {}
    for s in range(0, len(want), 500):
        chunk = want[s : s + 500]
        for k, aid in conn.execute(
            select(ArtistAlias.alias_key, ArtistAlias.artist_id).where(ArtistAlias.alias_key.in_(chunk))
        ):
            found[k] = (aid, True)
        rest = [k for k in chunk if k not in found]
        if rest:
            for k, aid in conn.execute(select(Artist.key, Artist.id).where(Artist.key.in_(rest))):
                found[k] = (aid, False)
    return found


def lookup_artists_by_name(conn: Connection, keys: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """Catalog keys → ``(artist id, False)`` of the stored artist with the same
    :func:`~storage.names.match_key` (the lowest id when several share it): the "same name" step
    after :func:`lookup_artists` found no key or alias."""
    mkeys = {k: match_key(k) for k in dict.fromkeys(keys)}
    wanted = sorted(set(mkeys.values()))
    by_match: dict[str, int] = {}
    for s in range(0, len(wanted), 500):
        for mk, aid in conn.execute(
            select(Artist.match_key, func.min(Artist.id))
            .where(Artist.match_key.in_(wanted[s : s + 500]))
            .group_by(Artist.match_key)
        ):
            by_match[str(mk)] = int(aid)
    return {k: (by_match[m], False) for k, m in mkeys.items() if m in by_match}


# The interactive path's look-ups, built once: an alias wins over an artist of the same key.
_ARTIST_BY_ALIAS = (
    select(Artist.id, Artist.name)
    .join(ArtistAlias, ArtistAlias.artist_id == Artist.id)
    .where(ArtistAlias.alias_key == bindparam("k"))
)
_ARTIST_BY_KEY = select(Artist.id, Artist.name).where(Artist.key == bindparam("k"))
_ADD_PLAY = MappingProxyType(
    {
        name: dialect.insert(Play).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Play.id)
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
    }
)
_PLAY_BY_DEDUPE = select(Play.id).where(Play.dedupe_key == bindparam("k"))
_MEMBER_ITEM_PLAYS = MappingProxyType(
    {
        kind: select(func.coalesce(func.sum(Play.count), 0)).where(
            Play.member_id == bindparam("m"), col == bindparam("i"), Play.removed.is_(False)
        )
        for kind, col in (("artist", Play.artist_id), ("track", Play.track_id))
    }
)
_TRACK_BY_KEY = select(Track.id, Track.title).where(
    Track.artist_id == bindparam("a"), Track.key == bindparam("k")
)
_TRACKS_BY_MATCH_KEY = select(Track.id, Track.title).where(
    Track.artist_id == bindparam("a"), Track.match_key == bindparam("m")
)


def lookup_artist(conn: Connection, key: str) -> Resolved | None:
    """Alias, then exact key (the rule-based variants of ``key`` folded first)."""
    k = {"k": canonical_key(key)}
    row = conn.execute(_ARTIST_BY_ALIAS, k).first() or conn.execute(_ARTIST_BY_KEY, k).first()
    return Resolved(row[0], row[1]) if row else None


def _among(rows: Iterable[Any], visible: np.ndarray) -> dict[str, int]:
    """``{key: id}`` of the ``(key, id)`` rows whose id is in the sorted ``visible`` ids."""
    pairs = [(str(k), int(i)) for k, i in rows]
    keep = visibility.contains(visible, np.array([i for _, i in pairs], dtype=np.int64))
    return {k: i for (k, i), ok in zip(pairs, keep, strict=True) if ok}


def _visible(visible: np.ndarray | None, ids: list[int]) -> list[bool]:
    if visible is None:
        return [True] * len(ids)
    return [bool(v) for v in visibility.contains(visible, np.array(ids, dtype=np.int64))]


def _first_of(rows: list[tuple[int, str]], visible: np.ndarray | None) -> Resolved | None:
    """The entry among ``(id, name)`` rows of one name: a visible one first, then the lowest id."""
    if not rows:
        return None
    seen = _visible(visible, [i for i, _ in rows])
    (aid, name), shown = min(zip(rows, seen, strict=True), key=lambda r: (not r[1], r[0][0]))
    return Resolved(aid, name, respelled=True, visible=shown)


def find_artist(conn: Connection, key: str, *, visible: np.ndarray | None = None) -> Resolved | None:
    """The artist that *is* ``key``'s name, or ``None``: alias, exact key, then the same
    :func:`~storage.names.match_key` (``Blink 182`` = ``Blink-182``, ``Sigur Ros`` = ``Sigur Rós``).
    Never a near miss. ``visible`` (sorted artist ids the community can see) only says whether the
    entry found is one of them (and prefers those when several share a match key)."""
    found = lookup_artist(conn, key)
    if found is None:
        rows = conn.execute(
            select(Artist.id, Artist.name).where(Artist.match_key == match_key(canonical_key(key)))
        ).all()
        found = _first_of([(int(i), str(n)) for i, n in rows], visible)
        if found is None:
            return None
    if visible is None:
        return found
    return replace(found, visible=_visible(visible, [found.id])[0])


def artist_near_miss(conn: Connection, key: str, visible: np.ndarray) -> Resolved | None:
    """The existing artist ``key`` is probably a slip for (:func:`~storage.names.near_miss`), among
    the ``visible`` ids only (this community's own plays, and public ones) — a question to ask,
    never an answer."""
    key = canonical_key(key)
    mk = match_key(key)
    # Blocking: the same first character, or the same after a leading "the " (Beatles / The Beatles).
    ranges = [_prefix_range(Artist.match_key, mk), _starts_with(Artist.match_key, "the " + mk[0])]
    if mk.startswith("the ") and len(mk) > 4:
        ranges.append(_prefix_range(Artist.match_key, mk[4:]))
    rows = conn.execute(select(Artist.key, Artist.id).where(or_(*ranges))).all()
    candidates = _among(rows, visible)
    hits = [(k, i) for k, i in candidates.items() if near_miss(key, k)]
    if not hits:
        return None
    k, aid = max(hits, key=lambda h: (fuzz.ratio(key, h[0]), -h[1]))
    nm = conn.execute(select(Artist.name).where(Artist.id == aid)).scalar_one()
    return Resolved(aid, nm, respelled=True)


def create_artist(conn: Connection, name: str, key: str) -> Resolved:
    """Insert the artist (``Smiths, The`` → ``The Smiths``) unless its key exists."""
    name, key = canonical_artist(name, key)
    conn.execute(
        upsert_insert(conn, Artist)
        .values(key=key, name=name, match_key=match_key(key))
        .on_conflict_do_nothing()
    )
    aid = conn.execute(select(Artist.id).where(Artist.key == key)).scalar_one()
    return Resolved(aid, name, created=True)


def resolve_artist(conn: Connection, name: str, key: str) -> Resolved:
    """Find (:func:`find_artist`, same name only) or create the artist. Never fuzzy: a near miss is
    a question for the member (:func:`artist_near_miss`), asked by the service."""
    return find_artist(conn, key) or create_artist(conn, name, key)


def _artist_tracks(conn: Connection, artist: int) -> list[tuple[str, int, str]]:
    return [
        (str(k), int(i), str(t))
        for k, i, t in conn.execute(select(Track.key, Track.id, Track.title).where(Track.artist_id == artist))
    ]


def find_track(
    conn: Connection, artist: int, key: str, *, visible: np.ndarray | None = None
) -> Resolved | None:
    """``artist``'s track that *is* ``key``'s title: exact key, then the same match key
    (``Mr Brightside`` = ``Mr. Brightside``; ``Pt. 2`` ≠ ``Pt. 1``: numbers are part of the match
    key), looked up by ``(artist_id, match_key)``. ``visible`` as in :func:`find_artist`."""
    row = conn.execute(_TRACK_BY_KEY, {"a": artist, "k": key}).first()
    if row:
        found = Resolved(row.id, row.title)
    else:
        rows = conn.execute(_TRACKS_BY_MATCH_KEY, {"a": artist, "m": match_key(key)}).all()
        found_or_none = _first_of([(int(i), str(t)) for i, t in rows], visible)
        if found_or_none is None:
            return None
        found = found_or_none
    if visible is None:
        return found
    return replace(found, visible=_visible(visible, [found.id])[0])


def track_near_miss(conn: Connection, artist: int, key: str, visible: np.ndarray) -> Resolved | None:
    """As :func:`artist_near_miss`, among ``artist``'s tracks the community can see."""
    rows = _artist_tracks(conn, artist)
    if not rows:
        return None
    seen = _visible(visible, [i for _, i, _ in rows])
    hits = [(k, i, t) for (k, i, t), ok in zip(rows, seen, strict=True) if ok and near_miss(key, k)]
    if not hits:
        return None
    _k, tid, title = max(hits, key=lambda h: (fuzz.ratio(key, h[0]), -h[1]))
    return Resolved(tid, title, respelled=True)


def create_track(conn: Connection, artist: int, title: str, key: str) -> Resolved:
    """Insert ``artist``'s track (with its :func:`~storage.names.match_key`) unless its key exists."""
    conn.execute(
        upsert_insert(conn, Track)
        .values(artist_id=artist, key=key, title=title, match_key=match_key(key))
        .on_conflict_do_nothing()
    )
    tid = conn.execute(select(Track.id).where(Track.artist_id == artist, Track.key == key)).scalar_one()
    return Resolved(tid, title, created=True)


def resolve_track(conn: Connection, artist: int, title: str, key: str) -> Resolved:
    """Find (same name only) or create ``artist``'s track for ``key``."""
    return find_track(conn, artist, key) or create_track(conn, artist, title, key)


def add_play(
    conn: Connection,
    *,
    community: int,
    member: int,
    artist: int,
    track: int | None,
    played_at: dt.datetime | None,
    count: int,
    source: str,
    dedupe_key: str,
) -> tuple[int, bool]:
    """Insert a play unless its dedupe key is known; return ``(play_id, inserted)``."""
    params = {
        "community_id": community,
        "member_id": member,
        "artist_id": artist,
        "track_id": track,
        "played_at": played_at,
        "count": count,
        "source": source,
        "dedupe_key": dedupe_key,
    }
    new_id = conn.execute(_ADD_PLAY[conn.dialect.name], params).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    return conn.execute(_PLAY_BY_DEDUPE, {"k": dedupe_key}).scalar_one(), False


def catalog_suggestions(
    conn: Connection, community: int, query_key: str, *, field: str, artist_key: str | None, limit: int
) -> list[str]:
    """Names from this community's own plays, ranked by fuzzy score against ``query_key``."""
    if field == "artist":
        stmt = (
            select(Artist.key, Artist.name, func.sum(Play.count))
            .join(Play, Play.artist_id == Artist.id)
            .where(Play.community_id == community, Play.removed.is_(False))
            .group_by(Artist.id)
            .order_by(func.sum(Play.count).desc())
            .limit(5000)
        )
    else:
        stmt = (
            select(Track.key, Track.title, func.sum(Play.count))
            .join(Play, Play.track_id == Track.id)
            .join(Artist, Artist.id == Track.artist_id)
            .where(Play.community_id == community, Play.removed.is_(False))
            .group_by(Track.id)
            .order_by(func.sum(Play.count).desc())
            .limit(5000)
        )
        if artist_key:
            stmt = stmt.where(Artist.key == canonical_key(artist_key))
    rows = conn.execute(stmt).all()
    if not query_key:
        return [r[1] for r in rows[:limit]]
    keys = [r[0] for r in rows]
    ranked = process.extract(query_key, keys, scorer=fuzz.WRatio, limit=limit, score_cutoff=50)
    return [rows[idx][1] for _k, _score, idx in ranked]


def member_items(conn: Connection, member: int, kind: str) -> list[tuple[int, int]]:
    """``(item_id, total plays)`` of a member for ``kind`` ('artist' or 'track'), removed plays left out."""
    col = Play.artist_id if kind == "artist" else Play.track_id
    rows = conn.execute(
        select(col, func.sum(Play.count))
        .where(Play.member_id == member, col.is_not(None), Play.removed.is_(False))
        .group_by(col)
    ).all()
    return [(int(i), int(c)) for i, c in rows if i is not None]


def member_item_plays(conn: Connection, member: int, kind: str, item: int) -> int:
    return int(conn.execute(_MEMBER_ITEM_PLAYS[kind], {"m": member, "i": item}).scalar_one())


@dataclass(frozen=True)
class StoredPlay:
    id: int
    member: int
    artist: Resolved
    track: Resolved | None


def play_by_dedupe_key(conn: Connection, dedupe_key: str) -> StoredPlay | None:
    """The play stored under ``dedupe_key`` (an answered question, a retried delivery), if any."""
    row = conn.execute(
        select(Play.id, Play.member_id, Artist.id, Artist.name, Track.id, Track.title)
        .join(Artist, Artist.id == Play.artist_id)
        .outerjoin(Track, Track.id == Play.track_id)
        .where(Play.dedupe_key == dedupe_key)
    ).first()
    if row is None:
        return None
    track = Resolved(int(row[4]), row[5]) if row[4] is not None else None
    return StoredPlay(int(row[0]), int(row[1]), Resolved(int(row[2]), row[3]), track)


def play_items(conn: Connection, play_id: int) -> tuple[int, int | None]:
    """``(artist id, track id or None)`` of a play."""
    row = conn.execute(select(Play.artist_id, Play.track_id).where(Play.id == play_id)).one()
    return int(row[0]), None if row[1] is None else int(row[1])


def member_last_play_id(conn: Connection, member: int) -> int:
    return conn.execute(
        select(func.coalesce(func.max(Play.id), 0)).where(Play.member_id == member)
    ).scalar_one()


def item_names(conn: Connection, kind: str, ids: list[int]) -> dict[int, str]:
    """Display names: artist name, or ``Artist – Title`` for tracks."""
    if not ids:
        return {}
    out: dict[int, str] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        if kind == "artist":
            for i, n in conn.execute(select(Artist.id, Artist.name).where(Artist.id.in_(chunk))):
                out[i] = n
        else:
            for i, t, a in conn.execute(
                select(Track.id, Track.title, Artist.name)
                .join(Artist, Artist.id == Track.artist_id)
                .where(Track.id.in_(chunk))
            ):
                out[i] = f"{a} – {t}"
    return out


def member_communities(conn: Connection) -> dict[int, int]:
    """member id → community id, for every member."""
    return {int(m): int(c) for m, c in conn.execute(select(Member.id, Member.community_id))}


def list_members(
    conn: Connection, platform_and_id: tuple[str, str] | None
) -> list[tuple[str, str, int, str, int]]:
    """``(platform, community external id, community id, member external id, member id)`` of every
    member (deleted ones left out), or of one community's given as ``(platform, external id)``."""
    stmt = (
        select(Community.platform, Community.external_id, Community.id, Member.external_id, Member.id)
        .join(Member, Member.community_id == Community.id)
        .where(~is_tombstone())
        .order_by(Community.id, Member.id)
    )
    if platform_and_id is not None:
        platform, external_id = platform_and_id
        stmt = stmt.where(Community.platform == platform, Community.external_id == external_id)
    return [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]


def track_artists(conn: Connection, track_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(track ids, their artist ids)`` as aligned int64 arrays (every track, or the given ones),
    for the per-artist cap of track picks."""
    stmt = select(Track.id, Track.artist_id).order_by(Track.id)
    if track_ids is not None:
        ids = [int(i) for i in track_ids]
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        stmt = stmt.where(Track.id.in_(ids))
    rows = conn.execute(stmt).all()
    return (
        np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
    )


def member_recent_artists(conn: Connection, member: int, since: dt.datetime) -> set[int]:
    """Artists the member played (not removed) at or after ``since``."""
    rows = conn.execute(
        select(Play.artist_id)
        .where(Play.member_id == member, Play.played_at >= since, Play.removed.is_(False))
        .distinct()
    ).scalars()
    return {int(a) for a in rows}
