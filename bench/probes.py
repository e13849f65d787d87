"""What the model probes share: the split they score on, the index of its members and artists, the
NDCG@10 scorer and the JSON-lines log (``bench/ials_probe.py``, ``bench/vae_probe.py``,
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


def log_point(path: Path, split_name: str, rec: Mapping[str, object]) -> None:
    """Print one point as a JSON line and append it to ``path``."""
    line = json.dumps({"split": split_name, **rec})
    print(line, flush=True)
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as fh:
        fh.write(line + "\n")
