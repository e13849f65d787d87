"""What the model probes share: the split they score on, the index of its members and artists, the
NDCG@10 scorer, production's ALS and EASE^R as score matrices, the blends' normalisation and the
JSON-lines log (``bench/ials_probe.py``, ``bench/vae_probe.py``,
``bench/friends_probe.py``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.als_confidence import ndcg_at_10
from engine.evaluate import load_pairs, split, validation_split


@dataclass(frozen=True)
class ProbeData:
    """The training rows of one split as matrix coordinates, and its held-out artists."""

    train: np.ndarray  # (user, item, plays) rows
    test: dict[int, set[int]]
    user_ids: np.ndarray  # sorted; row k of a score matrix is user_ids[k]
    item_ids: np.ndarray  # sorted; column k is item_ids[k]
    u: np.ndarray  # each training row's matrix row
    i: np.ndarray  # each training row's matrix column
    split_name: str

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.user_ids), len(self.item_ids)

    @property
    def plays(self) -> np.ndarray:
        return self.train[:, 2].astype(np.float64)

    def score(self, scores: np.ndarray) -> float:
        """NDCG@10 of a (members × artists) score matrix, training artists excluded."""
        return ndcg_at_10(scores, self.user_ids, self.item_ids, self.train, self.test)


def load(data: Path, *, test: bool, also_needs: tuple[str, ...] = ()) -> ProbeData | None:
    """The validation split (carved from the training part only), or the protocol's test split;
    ``None`` after saying so when the data set (or a file in ``also_needs``) is not present."""
    if not all((data / name).is_file() for name in ("user_artists.dat", *also_needs)):
        print(f"skipped: {data} is not present", file=sys.stderr)
        return None
    sp = split(load_pairs(data))
    if not test:
        sp = validation_split(sp.train)
    train = sp.train
    user_ids, item_ids = np.unique(train[:, 0]), np.unique(train[:, 1])
    u, i = np.searchsorted(user_ids, train[:, 0]), np.searchsorted(item_ids, train[:, 1])
    return ProbeData(train, sp.test, user_ids, item_ids, u, i, "test" if test else "validation")


def ease_scores(u: np.ndarray, i: np.ndarray, shape: tuple[int, int], lam: float) -> np.ndarray:
    """EASE^R over the artists with at least 2 listeners."""
    x = np.zeros(shape)
    x[u, i] = 1.0
    keep = np.flatnonzero(x.sum(axis=0) >= 2)
    g = x[:, keep].T @ x[:, keep]
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    b[np.diag_indices_from(b)] = 0
    kept = x[:, keep] @ b
    s = np.full(shape, kept.min())  # artists outside the item model rank below every kept one
    s[:, keep] = kept
    return s


def als_scores(
    u: np.ndarray, i: np.ndarray, plays: np.ndarray, shape: tuple[int, int], seed: int
) -> np.ndarray:
    """Production's ALS point (rank 64, reg 0.5, α 1, 10 iterations) fitted by Spark, as a score matrix."""
    import pandas as pd

    from config.settings import Settings
    from engine.als import AlsParams, train_factors
    from engine.session import build_session

    spark = build_session(Settings())
    frame = spark.createDataFrame(
        pd.DataFrame({"user": u.astype(np.int32), "item": i.astype(np.int32), "plays": plays})
    )
    f = train_factors(frame, AlsParams(rank=64, reg_param=0.5, alpha=1.0, iterations=10, seed=seed))
    s = np.zeros(shape)
    s[np.ix_(f.user_ids, f.item_ids)] = f.user_factors @ f.item_factors.T
    return s


def normalised(s: np.ndarray, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Each member's scores divided by their largest absolute score off the training artists: what
    the probes' blends add up."""
    s = s.copy()
    s[u, i] = 0  # training artists are excluded from the ranking anyway; keep them out of the max
    return s / np.maximum(np.abs(s).max(axis=1, keepdims=True), 1e-12)


def als_bases(d: ProbeData) -> dict[str, np.ndarray]:
    """Production's ALS normalised ("als", seed 42) and three seeds' (42, 1, 2) normalised sum ("als3"):
    the bases every probe's blend starts from."""
    als = [normalised(als_scores(d.u, d.i, d.plays, d.shape, seed), d.u, d.i) for seed in (42, 1, 2)]
    return {"als": als[0], "als3": als[0] + als[1] + als[2]}


def log_point(path: Path, split_name: str, rec: Mapping[str, object]) -> None:
    """Print one point as a JSON line and append it to ``path``."""
    line = json.dumps({"split": split_name, **rec})
    print(line, flush=True)
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as fh:
        fh.write(line + "\n")
