"""Recommendation generations: item factors, stored top-N picks, member factors, taste neighbours,
per-community similar items, and the atomic switch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, delete, insert, select, update

from storage.db import Database
from storage.models import (
    ItemFactor,
    ItemWeight,
    MemberFactor,
    MemberNeighbour,
    RecGeneration,
    Recommendation,
    SimilarItem,
)
from storage.trends import no_fault

_CHUNK = 5000
KEEP_GENERATIONS = 2  # the active one and its predecessor per kind


@dataclass(frozen=True)
class Generation:
    id: int
    kind: str
    last_play_id: int
    rank: int
    reg_param: float
    alpha: float
    conf_scale: float
    yty: np.ndarray
    created_at: dt.datetime
    last_removal_id: int = 0
    model: str = "als"
    item_weight: float = 0.0
    validation: str | None = None  # the model selection's numbers, JSON (None: no selection ran)


ItemLinks = tuple[int, np.ndarray, np.ndarray]
"""``(item id, target item ids, float32 weights)``: an item model's kept weights of one item."""


@dataclass(frozen=True)
class GenerationData:
    """What a retrain hands storage for a new generation (the model's side of it): the parameters a
    fold-in needs, item ids with their float32 factor rows, each item's popularity, and the trained
    members' ids with their float32 user vectors (for /taste; none by default)."""

    rank: int
    reg_param: float
    alpha: float
    conf_scale: float
    item_ids: Sequence[int] | np.ndarray
    factors: np.ndarray
    popularity: Sequence[float] | np.ndarray
    user_ids: Sequence[int] | np.ndarray = ()
    user_factors: np.ndarray | None = None
    model: str = "als"
    item_weight: float = 0.0
    item_links: Sequence[ItemLinks] = ()
    validation: str | None = None


NeighbourRow = tuple[int, int, int, float]
"""``(member id, rank, neighbour member id, score)``: a stored taste neighbour."""

SimilarRow = tuple[int, int, int, int, float]
"""``(community id, item id, rank, similar item id, score)``: a stored similar item of a community."""


@dataclass(frozen=True)
class Factors:
    """Item factors of one generation: ``ids[i]`` has row ``matrix[i]``."""

    ids: np.ndarray
    matrix: np.ndarray
    popularity: np.ndarray


def gram(factors: np.ndarray) -> np.ndarray:
    """``YᵀY`` of float32 factor rows, in float64: what a generation stores for the fold-in."""
    y = np.asarray(factors, dtype=np.float32).astype(np.float64)
    return y.T @ y


class GenerationRef(NamedTuple):
    id: int
    last_play_id: int  # trained on the plays up to this id ...
    last_removal_id: int  # ... less the removals up to this one


def active_generation_ref(conn: Connection, kind: str) -> GenerationRef | None:
    """The active generation's id and what it was trained on, cheaply."""
    row = conn.execute(
        select(RecGeneration.id, RecGeneration.last_play_id, RecGeneration.last_removal_id).where(
            RecGeneration.kind == kind, RecGeneration.active.is_(True)
        )
    ).first()
    return GenerationRef(int(row[0]), int(row[1]), int(row[2] or 0)) if row else None


def active_generation(conn: Connection, kind: str) -> Generation | None:
    ref = active_generation_ref(conn, kind)
    return generation(conn, ref[0]) if ref else None


def generation(conn: Connection, generation_id: int) -> Generation | None:
    row = conn.execute(select(RecGeneration.__table__).where(RecGeneration.id == generation_id)).first()
    if row is None:
        return None
    k = row.rank
    return Generation(
        id=row.id,
        kind=row.kind,
        last_play_id=row.last_play_id,
        rank=k,
        reg_param=row.reg_param,
        alpha=row.alpha,
        conf_scale=row.conf_scale,
        yty=np.frombuffer(row.yty, dtype=np.float64).reshape(k, k),
        created_at=row.created_at,
        last_removal_id=row.last_removal_id or 0,
        model=row.model or "als",
        item_weight=float(row.item_weight or 0.0),
        validation=row.validation,
    )


def load_item_weights(conn: Connection, generation: Generation) -> list[ItemLinks]:
    """The item model's kept weights of a generation (none for an ALS-only one)."""
    if generation.item_weight <= 0:
        return []
    rows = conn.execute(
        select(ItemWeight.item_id, ItemWeight.targets, ItemWeight.weights)
        .where(ItemWeight.generation_id == generation.id)
        .order_by(ItemWeight.item_id)
    ).all()
    return [
        (int(i), np.frombuffer(t, dtype=np.int64), np.frombuffer(w, dtype=np.float32)) for i, t, w in rows
    ]


def load_factors(conn: Connection, generation: Generation) -> Factors:
    rows = conn.execute(
        select(ItemFactor.item_id, ItemFactor.vector, ItemFactor.popularity)
        .where(ItemFactor.generation_id == generation.id)
        .order_by(ItemFactor.item_id)
    ).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), generation.rank)
    pop = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    return Factors(ids, mat, pop)


def stored_picks(
    conn: Connection, generation: int, member: int, n: int
) -> list[tuple[int, float, int | None]]:
    rows = conn.execute(
        select(Recommendation.item_id, Recommendation.score, Recommendation.reason_item_id)
        .where(Recommendation.generation_id == generation, Recommendation.member_id == member)
        .order_by(Recommendation.rank)
        .limit(n)
    ).all()
    return [(int(i), float(s), None if r is None else int(r)) for i, s, r in rows]


def stored_neighbours(conn: Connection, generation: int, member: int, n: int) -> list[tuple[int, float]]:
    """``(neighbour member id, score)`` of a member in a generation, closest first."""
    rows = conn.execute(
        select(MemberNeighbour.neighbour_id, MemberNeighbour.score)
        .where(MemberNeighbour.generation_id == generation, MemberNeighbour.member_id == member)
        .order_by(MemberNeighbour.rank)
        .limit(n)
    ).all()
    return [(int(m), float(s)) for m, s in rows]


def stored_similar(
    conn: Connection, generation: int, community: int, item: int, n: int
) -> list[tuple[int, float]]:
    """``(similar item id, score)`` of ``item`` for ``community`` in a generation, best first."""
    rows = conn.execute(
        select(SimilarItem.similar_id, SimilarItem.score)
        .where(
            SimilarItem.generation_id == generation,
            SimilarItem.community_id == community,
            SimilarItem.item_id == item,
        )
        .order_by(SimilarItem.rank)
        .limit(n)
    ).all()
    return [(int(i), float(s)) for i, s in rows]


def member_vectors(conn: Connection, generation: int, members: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored float32 user vectors of ``members`` in a generation (members it does not know are
    left out)."""
    if not members:
        return {}
    rows = conn.execute(
        select(MemberFactor.member_id, MemberFactor.vector).where(
            MemberFactor.generation_id == generation, MemberFactor.member_id.in_(list(members))
        )
    ).all()
    return {int(m): np.frombuffer(v, dtype=np.float32) for m, v in rows}


def write_generation(
    db: Database,
    *,
    kind: str,
    last_play_id: int,
    last_removal_id: int = 0,
    model: GenerationData,
    picks: Iterable[tuple[int, int, int, float, int | None]],
    neighbours: Iterable[NeighbourRow] = (),
    similar: Iterable[SimilarRow] = (),
    now: dt.datetime,
    fault: Callable[[str], None] = no_fault,
) -> int:
    """Write a complete generation and make it the active one.

    The generation is written **inactive** in short transactions (its row, then item factors and
    picks in chunks of ``_CHUNK`` rows, ``picks`` consumed lazily between them), so that neither the
    write lock nor the pick computation blocks a ``/played`` for long; then one short transaction
    switches it active. Readers only ever read the active generation: they see the old one or the new
    one, never a mix. On any failure the partial generation is deleted; one left behind by a killed
    process is deleted by the next write of the same kind. Older generations beyond the last two
    are dropped. ``picks`` rows are ``(member_id, rank, item_id, score, reason_item_id)``; ``YᵀY`` is
    computed here, in float64 from the float32 rows, once per generation. ``last_removal_id``: the
    newest play removal the training data already left out (read before the plays were).

    The member vectors of ``model``, the taste ``neighbours`` (:data:`NeighbourRow`) and the
    per-community ``similar`` items (:data:`SimilarRow`) belong to the generation too: they are
    written (lazily consumed, chunked like the picks) before the switch, so they go live with the
    picks in the same switch and a failed retrain leaves the previous generation's serving."""
    y = np.asarray(model.factors, dtype=np.float32)
    with db.write() as conn:
        _drop(conn, _orphans(conn, kind))
        gen_id = int(
            conn.execute(
                insert(RecGeneration)
                .values(
                    kind=kind,
                    created_at=now,
                    active=False,
                    last_play_id=last_play_id,
                    last_removal_id=last_removal_id,
                    rank=model.rank,
                    reg_param=model.reg_param,
                    alpha=model.alpha,
                    conf_scale=model.conf_scale,
                    yty=gram(y).tobytes(),
                    model=model.model,
                    item_weight=model.item_weight,
                    validation=model.validation,
                )
                .returning(RecGeneration.id)
            ).scalar_one()
        )
    try:
        items = list(zip(model.item_ids, model.popularity, strict=True))
        for s in range(0, len(items), _CHUNK):
            rows = [
                {
                    "generation_id": gen_id,
                    "item_id": int(i),
                    "vector": y[s + n].tobytes(),
                    "popularity": float(p),
                }
                for n, (i, p) in enumerate(items[s : s + _CHUNK])
            ]
            with db.write() as conn:
                conn.execute(insert(ItemFactor), rows)
        if model.user_factors is not None and len(model.user_ids):
            x = np.asarray(model.user_factors, dtype=np.float32)
            _insert_chunked(
                db,
                MemberFactor,
                (
                    {"generation_id": gen_id, "member_id": int(m), "vector": x[n].tobytes()}
                    for n, m in enumerate(model.user_ids)
                ),
            )
        _insert_chunked(
            db,
            ItemWeight,
            (
                {
                    "generation_id": gen_id,
                    "item_id": int(i),
                    "targets": np.asarray(t, dtype=np.int64).tobytes(),
                    "weights": np.asarray(w, dtype=np.float32).tobytes(),
                }
                for i, t, w in model.item_links
            ),
        )
        _insert_chunked(
            db,
            Recommendation,
            (
                {
                    "generation_id": gen_id,
                    "member_id": member,
                    "rank": rnk,
                    "item_id": item,
                    "score": score,
                    "reason_item_id": reason,
                }
                for member, rnk, item, score, reason in picks
            ),
        )
        _insert_chunked(
            db,
            MemberNeighbour,
            (
                {"generation_id": gen_id, "member_id": m, "rank": r, "neighbour_id": other, "score": sc}
                for m, r, other, sc in neighbours
            ),
        )
        _insert_chunked(
            db,
            SimilarItem,
            (
                {
                    "generation_id": gen_id,
                    "community_id": c,
                    "item_id": item,
                    "rank": r,
                    "similar_id": other,
                    "score": sc,
                }
                for c, item, r, other, sc in similar
            ),
        )
        with db.write() as conn:
            conn.execute(update(RecGeneration).where(RecGeneration.kind == kind).values(active=False))
            conn.execute(update(RecGeneration).where(RecGeneration.id == gen_id).values(active=True))
            old = (
                conn.execute(
                    select(RecGeneration.id)
                    .where(RecGeneration.kind == kind)
                    .order_by(RecGeneration.id.desc())
                    .offset(KEEP_GENERATIONS)
                )
                .scalars()
                .all()
            )
            _drop(conn, list(old))
            fault("before-switch-commit")
    except BaseException:
        with db.write() as conn:
            _drop(conn, [gen_id])
        raise
    return gen_id


def _orphans(conn: Connection, kind: str) -> list[int]:
    """Inactive generations newer than the active one: written by a retrain that never switched."""
    active = active_generation_ref(conn, kind)
    stmt = select(RecGeneration.id).where(RecGeneration.kind == kind, RecGeneration.active.is_(False))
    if active is not None:
        stmt = stmt.where(RecGeneration.id > active[0])
    return [int(i) for i in conn.execute(stmt).scalars()]


def _insert_chunked(db: Database, table: type, rows: Iterable[dict]) -> None:
    """Insert ``rows`` (consumed lazily) in transactions of ``_CHUNK`` rows."""
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _CHUNK:
            with db.write() as conn:
                conn.execute(insert(table), batch)
            batch = []
    if batch:
        with db.write() as conn:
            conn.execute(insert(table), batch)


def _drop(conn: Connection, generations: list[int]) -> None:
    if generations:
        conn.execute(delete(SimilarItem).where(SimilarItem.generation_id.in_(generations)))
        conn.execute(delete(MemberNeighbour).where(MemberNeighbour.generation_id.in_(generations)))
        conn.execute(delete(MemberFactor).where(MemberFactor.generation_id.in_(generations)))
        conn.execute(delete(Recommendation).where(Recommendation.generation_id.in_(generations)))
        conn.execute(delete(ItemWeight).where(ItemWeight.generation_id.in_(generations)))
        conn.execute(delete(ItemFactor).where(ItemFactor.generation_id.in_(generations)))
        conn.execute(delete(RecGeneration).where(RecGeneration.id.in_(generations)))
