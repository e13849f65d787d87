"""A hand-made artist generation with known factors, for the 👍 / 👎 tests on every platform: five
artists, rank-2 factors, and one member's stored picks Caribou, Daft Punk, Eels (because of Air,
Air, Blur). The tests play the artists first (through the service, in their own communities)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import func, select

from engine.als import AlsParams
from engine.recommender import AlsRecommender
from storage import catalog, recs
from storage.db import Database
from storage.models import Play

NAMES = {"A": "Air", "B": "Blur", "C": "Caribou", "D": "Daft Punk", "E": "Eels"}
# A member who plays Air and Blur (the first axis): Caribou, then Daft Punk, then Eels are the picks.
FACTORS = {"A": [1.0, 0.0], "B": [0.9, 0.1], "C": [1.0, 0.05], "D": [0.8, 0.2], "E": [0.1, 1.0]}


def write_known_generation(
    db: Database, now: dt.datetime, platform: str, community: str, member: str
) -> dict[str, int]:
    """Store the generation with ``member`` of ``community`` (on ``platform``) as the one member with
    picks; returns the artist ids by letter. Every artist must have been played already."""
    with db.read() as conn:
        ids = {k: catalog.find_artist(conn, n.lower()).id for k, n in NAMES.items()}  # type: ignore[union-attr]
        owner = catalog.find_member(conn, catalog.find_community(conn, platform, community), member)  # type: ignore[arg-type]
        high = int(conn.execute(select(func.max(Play.id))).scalar_one())
    model = AlsRecommender.from_factors(
        AlsParams(rank=2, reg_param=0.1, alpha=2.0),
        [ids[k] for k in FACTORS],
        np.array(list(FACTORS.values()), dtype=np.float32),
        popularity=[1] * len(FACTORS),
    )
    picks = [
        (owner, 1, ids["C"], 0.9, ids["A"]),
        (owner, 2, ids["D"], 0.8, ids["A"]),
        (owner, 3, ids["E"], 0.1, ids["B"]),
    ]
    recs.write_generation(
        db, kind="artist", last_play_id=high, model=model.to_generation(), picks=picks, now=now
    )
    return ids
