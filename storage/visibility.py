"""The one visibility rule: what a community may be shown.

A community sees an artist or track when it was played **in that community** (a play its member
removed does not count), or in a community an
operator marked **public** (``tastemaker community public …``, e.g. one that holds an imported open
data set). Everything a member is shown — stored picks, fold-in picks and their reasons, "did you
mean" questions, exports — goes through this module; nothing else decides visibility.

The recommender *learns* from every community's plays (measured against per-community models in
docs/tuning.md): its factors carry no names, and what it *shows* is always cut down to the asker's
community by this rule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, func, select, update

from storage.models import Community, Play, PlayRemoval

KINDS = ("artist", "track")


def _column(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return Play.artist_id if kind == "artist" else Play.track_id


def public_communities(conn: Connection) -> list[int]:
    return [int(c) for c in conn.execute(select(Community.id).where(Community.public.is_(True))).scalars()]


def scopes(conn: Connection, community: int) -> list[int]:
    """The communities whose plays ``community`` may see: itself and every public one."""
    return sorted({community, *public_communities(conn)})


def visible_ids_query(
    community_scopes: Iterable[int], kind: str, *, after_play: int = 0, upto_play: int | None = None
) -> Select:
    """``SELECT DISTINCT item`` over the plays of ``community_scopes`` (see :func:`scopes`) with an
    id above ``after_play`` (and at most ``upto_play``): usable as a sub-query or run on its own."""
    col = _column(kind)
    stmt = select(col).where(
        Play.community_id.in_(list(community_scopes)), col.is_not(None), Play.removed.is_(False)
    )
    if after_play:
        stmt = stmt.where(Play.id > after_play)
    if upto_play is not None:
        stmt = stmt.where(Play.id <= upto_play)
    return stmt.distinct()


def visible_items(conn: Connection, community: int, kind: str) -> np.ndarray:
    """Sorted ids of the ``kind`` items ``community`` may be shown."""
    ids = conn.execute(visible_ids_query(scopes(conn, community), kind)).scalars().all()
    return np.unique(np.fromiter((int(i) for i in ids), dtype=np.int64, count=len(ids)))


def visible_items_by_community(conn: Connection, kind: str) -> dict[int, np.ndarray]:
    """:func:`visible_items` for every community at once (one scan of the plays): the retrain's view."""
    col = _column(kind)
    own: dict[int, list[int]] = {}
    for c, i in conn.execute(
        select(Play.community_id, col).where(col.is_not(None), Play.removed.is_(False)).distinct()
    ):
        own.setdefault(int(c), []).append(int(i))
    public = np.unique(
        np.array([i for c in public_communities(conn) for i in own.get(c, [])], dtype=np.int64)
    )
    return {c: np.union1d(np.array(ids, dtype=np.int64), public) for c, ids in own.items()}


def contains(visible: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Boolean mask over ``ids``: True where the id is among the sorted ``visible`` ids."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(visible) == 0 or len(ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(visible, ids), len(visible) - 1)
    return np.asarray(visible[pos] == ids)


def set_public(conn: Connection, community: int, public: bool) -> None:
    conn.execute(update(Community).where(Community.id == community).values(public=public))


class VisibleItems:
    """Per-process cache of :func:`visible_items`, brought up to date incrementally: new plays only
    add visibility, so a refresh reads just the plays logged since the last look (the
    ``(community_id, id)`` index). A change of the public set, or a removed play, rebuilds the entry."""

    def __init__(self, max_entries: int = 10_000) -> None:
        # (community, kind) -> ((scopes, newest removal), newest play, ids)
        self._entries: dict[tuple[int, str], tuple[tuple, int, np.ndarray]] = {}
        # (community, kind, upto play) -> ((scopes, newest removal), ids)
        self._as_of: dict[tuple[int, str, int], tuple[tuple, np.ndarray]] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    @staticmethod
    def _state(conn: Connection, community: int) -> tuple[tuple, int]:
        """What invalidates an entry (the communities it may see and the newest removal), and the
        newest play: one statement for both numbers, one for the public communities."""
        removal, top = conn.execute(
            select(
                select(func.coalesce(func.max(PlayRemoval.id), 0)).scalar_subquery(),
                select(func.coalesce(func.max(Play.id), 0)).scalar_subquery(),
            )
        ).one()
        return (tuple(scopes(conn, community)), int(removal)), int(top)

    def get(self, conn: Connection, community: int, kind: str) -> np.ndarray:
        return self.get_many(conn, community, (kind,))[0]

    def get_many(self, conn: Connection, community: int, kinds: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """:meth:`get` for several kinds at once (a play names an artist and a track), reading what
        invalidates the entries once."""
        state, top = self._state(conn, community)
        return tuple(self._get(conn, community, kind, state, top) for kind in kinds)

    def _get(self, conn: Connection, community: int, kind: str, state: tuple, top: int) -> np.ndarray:
        with self._lock:
            entry = self._entries.get((community, kind))
        if entry is not None and entry[0] == state and entry[1] == top:
            return entry[2]
        if entry is not None and entry[0] == state:
            new = np.array(
                conn.execute(visible_ids_query(state[0], kind, after_play=entry[1])).scalars().all(),
                dtype=np.int64,
            )
            # Mostly plays of items already seen: then the cached array is kept as it is.
            ids = entry[2] if contains(entry[2], new).all() else np.union1d(entry[2], new)
        else:
            ids = visible_items(conn, community, kind)
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[(community, kind)] = (state, top, ids)
        return ids

    def as_of(self, conn: Connection, community: int, kind: str, upto_play: int) -> np.ndarray:
        """What ``community`` could see when play ``upto_play`` was the newest — what a generation
        trained up to that play learned *from this community's side* (less the plays removed since,
        which only narrows it). The fold-in only uses a member's plays of these items: otherwise
        whether an item has factors at all would tell a member that some other community played it."""
        state, _top = self._state(conn, community)
        key = (community, kind, upto_play)
        with self._lock:
            entry = self._as_of.get(key)
        if entry is not None and entry[0] == state:
            return entry[1]
        rows = conn.execute(visible_ids_query(state[0], kind, upto_play=upto_play)).scalars().all()
        ids = np.unique(np.array(rows, dtype=np.int64))
        with self._lock:
            if len(self._as_of) >= self._max:
                self._as_of.clear()
            self._as_of[key] = (state, ids)
        return ids
