"""Does HetRec's friend graph lift ALS towards NDCG@10 0.27? A probe of a signal the product does not have.

Chat communities have no friend graph, and this copy of HetRec ships no tag assignments (only the tag
dictionary, ``tags.dat``), so the friend graph is the one outside signal left to measure. Score =
production's Spark ALS (per-member max-normalised) + ``w`` · the member's friends' training artists
(each friend's artists weighted ``1 / #artists``, summed, max-normalised), on the validation split
(carved from the training part only) unless ``--test``. One JSON line per point goes to ``--log``.

    .venv/bin/python bench/friends_probe.py 0.05,0.1,0.2,0.5,1     # validation
    .venv/bin/python bench/friends_probe.py 0.2 --test             # the chosen weight, once
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.probes import (  # noqa: E402
    als_scores,
    log_point,
    normalised,
)
from bench.probes import load as load_probe_data  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"


def friend_pairs(data: Path) -> list[tuple[int, int]]:
    out = []
    for line in (data / "user_friends.dat").read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            out.append((int(fields[0]), int(fields[1])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", help="comma-separated weights of the friends' score")
    ap.add_argument("--test", action="store_true", help="the protocol's test split (chosen weight only)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--log", type=Path, default=ROOT / "var" / "friends_probe.jsonl")
    args = ap.parse_args()
    d = load_probe_data(args.data, test=args.test, also_needs=("user_friends.dat",))
    if d is None:
        return
    os.environ.setdefault("TASTEMAKER_SPARK_MASTER", "local[2]")
    u, i, shape = d.u, d.i, d.shape
    x = np.zeros(shape)
    x[u, i] = 1.0
    x /= np.maximum(x.sum(axis=1, keepdims=True), 1)
    upos = {int(v): k for k, v in enumerate(d.user_ids)}
    f = np.zeros((shape[0], shape[0]))
    for a, b in friend_pairs(args.data):
        if a in upos and b in upos:
            f[upos[a], upos[b]] = f[upos[b], upos[a]] = 1.0
    friends = normalised(f @ x, u, i)
    als = normalised(als_scores(u, i, d.plays, shape, 42), u, i)
    for w in [0.0, *(float(t) for t in args.weights.split(","))]:
        value = d.score(als + w * friends)
        log_point(args.log, d.split_name, {"model": f"als + {w}·friends", "ndcg": round(value, 4)})
    print(json.dumps({"friends only": round(d.score(friends), 4)}), flush=True)


if __name__ == "__main__":
    main()
