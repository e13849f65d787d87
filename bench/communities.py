"""Shared vs per-community ALS on HetRec 2011 Last.fm-2k split into communities (docs/tuning.md,
"Shared vs per-community models").

HetRec users are split into **small-heavy** communities (3 × 40 of the heaviest listeners) and
**large-sparse** ones (the remaining 1,772 users in 3 communities of ~590). Three splits:

* ``random``: the 120 users with the most listens (sum of play counts; ties by user id), shuffled by
  ``default_rng(2011)`` into 3 × 40; the other 1,772 users shuffled by the same generator into 3
  communities of 591/591/590;
* ``friends``: each small community is a friend group of ``user_friends.dat`` (undirected): start at
  the heaviest listener not yet placed and add unplaced users breadth-first (friends in descending
  listens, ties by id; when a group's reachable users run out, restart from the next heaviest unplaced
  listener) until it has 40; the rest as in ``random``;
* ``sparse``: the ``random`` communities, but each large-community member keeps only 10 of their
  artists (drawn by ``default_rng(2011)``): HetRec lists each user's top 50 artists, so its "sparse"
  users have to be made.

Then, per split: the fixed protocol split of ``engine.evaluate`` (20% of each user's artists held out,
``default_rng(42)``); a community's visible artists = what its members played in the training part;
relevant items = a user's held-out artists visible in their community (the rest no regime can show:
counted, not scored). Regimes: **shared** (one ALS on every training pair, picks cut to the
community's visible artists), **per-community** (one ALS per community on its own training pairs,
the same cut, a no-op there), **popularity** in the community. Both models are
:class:`engine.recommender.AlsRecommender` with the default settings (``params_from_settings``),
top-10 through ``recommend_all(..., visible_for_member=...)`` (the retrain's stored picks).

    .venv/bin/python bench/communities.py [--split random,friends,sparse] [--json out.json]
    .venv/bin/python bench/communities.py --validation   # the same, on the validation split
    .venv/bin/python bench/communities.py --sensitivity --split random,sparse
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from common import ROOT, Section

from config.settings import Settings
from engine.als import AlsParams, params_from_settings
from engine.evaluate import (
    K,
    Metrics,
    histories_of,
    load_pairs,
    metrics,
    paired_ndcg_difference,
    pairs_frame,
    popularity_recs,
    split,
    validation_split,
    visible_by_community,
    visible_test,
)
from engine.recommender import AlsRecommender

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DATA = Path(ROOT).parent / "shared" / "data" / "lastfm-2k"
SEED = 2011
SMALL, SMALL_SIZE, LARGE = 3, 40, 3
THIN = 10
SPLITS = ("random", "friends", "sparse")
SMALL_GROUP, LARGE_GROUP = "small-heavy", "large-sparse"


@dataclass(frozen=True)
class Communities:
    """``community_of``: user → community id (1..3 small, 4..6 large); ``names``: id → label."""

    community_of: dict[int, int]
    names: dict[int, str]

    def group(self, c: int) -> str:
        return SMALL_GROUP if c <= SMALL else LARGE_GROUP

    def members(self, c: int) -> list[int]:
        return sorted(u for u, cc in self.community_of.items() if cc == c)


# --------------------------------------------------------------------------- the splits


def listens(pairs: np.ndarray) -> dict[int, int]:
    users, inv = np.unique(pairs[:, 0], return_inverse=True)
    totals = np.bincount(inv, weights=pairs[:, 2])
    return {int(u): int(t) for u, t in zip(users, totals, strict=True)}


def by_listens(pairs: np.ndarray) -> list[int]:
    """Users, heaviest listener first (ties by user id)."""
    total = listens(pairs)
    return sorted(total, key=lambda u: (-total[u], u))


def _large(rest: Sequence[int], rng: np.random.Generator, out: dict[int, int]) -> None:
    shuffled = rng.permutation(np.array(sorted(rest), dtype=np.int64))
    for n, part in enumerate(np.array_split(shuffled, LARGE)):
        out.update({int(u): SMALL + 1 + n for u in part})


def _names() -> dict[int, str]:
    return {c: (f"S{c}" if c <= SMALL else f"L{c - SMALL}") for c in range(1, SMALL + LARGE + 1)}


def random_split(pairs: np.ndarray, seed: int = SEED) -> Communities:
    rng = np.random.default_rng(seed)
    order = by_listens(pairs)
    heavy = rng.permutation(np.array(order[: SMALL * SMALL_SIZE], dtype=np.int64))
    out = {int(u): 1 + n // SMALL_SIZE for n, u in enumerate(heavy)}
    _large(order[SMALL * SMALL_SIZE :], rng, out)
    return Communities(out, _names())


def load_friends(data_dir: Path) -> dict[int, set[int]]:
    graph: dict[int, set[int]] = {}
    with (data_dir / "user_friends.dat").open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) != 2 or not fields[0].isdigit():
                continue
            a, b = int(fields[0]), int(fields[1])
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set()).add(a)
    return graph


def friends_split(pairs: np.ndarray, friends: Mapping[int, set[int]], seed: int = SEED) -> Communities:
    order = by_listens(pairs)
    total = listens(pairs)
    out: dict[int, int] = {}
    for c in range(1, SMALL + 1):
        group: list[int] = []
        while len(group) < SMALL_SIZE:
            start = next(u for u in order if u not in out)
            queue = deque([start])
            out[start] = c
            group.append(start)
            while queue and len(group) < SMALL_SIZE:
                u = queue.popleft()
                for f in sorted(friends.get(u, ()), key=lambda v: (-total.get(v, 0), v)):
                    if f in total and f not in out and len(group) < SMALL_SIZE:
                        out[f] = c
                        group.append(f)
                        queue.append(f)
    _large([u for u in order if u not in out], np.random.default_rng(seed), out)
    return Communities(out, _names())


def thinned(pairs: np.ndarray, users: set[int], keep: int = THIN, seed: int = SEED) -> np.ndarray:
    """``pairs`` (sorted by user, item) where each of ``users`` keeps ``keep`` random artists."""
    rng = np.random.default_rng(seed)
    rows = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    mask = np.ones(len(rows), dtype=bool)
    _, starts, counts = np.unique(rows[:, 0], return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):
        if int(rows[start, 0]) in users and count > keep:
            drop = rng.permutation(count)[keep:]
            mask[start + drop] = False
    return rows[mask]


# --------------------------------------------------------------------------- one split


@dataclass
class Scored:
    """One community (or group) under the three regimes."""

    members: int
    train_pairs: int
    visible: int
    held_visible: int
    held_all: int
    regimes: dict[str, Metrics]
    delta: tuple[float, float, int]  # per-community minus shared NDCG@10: mean, SE, users
    fit_seconds: dict[str, float] = field(default_factory=dict)


def _fit(spark: SparkSession, rows: np.ndarray, params: AlsParams) -> tuple[AlsRecommender, float]:
    t = time.perf_counter()
    frame = pairs_frame(spark, rows).cache()
    try:
        rec = AlsRecommender(params).fit(frame)
    finally:
        frame.unpersist()
    return rec, time.perf_counter() - t


def _picks(
    rec: AlsRecommender,
    rows: np.ndarray,
    community_of: Mapping[int, int],
    visible: Mapping[int, np.ndarray],
) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for member, _rank, item, _score, _reason in rec.recommend_all(
        histories_of(rows), K, visible_for_member=lambda m: visible[community_of[m]]
    ):
        out.setdefault(member, []).append(item)
    return out


def _sub(d: Mapping[int, object], users: set[int]) -> dict:
    return {u: v for u, v in d.items() if u in users}


def evaluate_split(
    spark: SparkSession,
    pairs: np.ndarray,
    comms: Communities,
    params: AlsParams,
    *,
    shared: tuple[AlsRecommender, float] | None = None,
    validation: bool = False,
    group_params: Mapping[str, AlsParams] | None = None,
    log: bool = True,
) -> tuple[dict[str, Scored], tuple[AlsRecommender, float]]:
    """Scores per community (``S1``…``L3``) and per group, and the shared model (reusable by another
    split of the same ``pairs``). ``group_params`` overrides ``params`` for the per-community fits of a
    group (the shared model always uses ``params``)."""
    s = split(pairs)
    if validation:
        s = validation_split(s.train)
    train, community_of = s.train, comms.community_of
    visible = visible_by_community(train, community_of)
    test, _ = visible_test(s.test, community_of, visible)
    if shared is None:
        shared = _fit(spark, train, params)
        if log:
            print(f"   shared fit on {len(train):,} pairs: {shared[1]:.1f} s", flush=True)
    recs: dict[str, dict[int, list[int]]] = {
        "shared": _picks(shared[0], train, community_of, visible),
        "per-community": {},
        "popularity": {},
    }
    fits: dict[int, float] = {}
    for c in sorted(comms.names):
        users = set(comms.members(c))
        rows = train[np.isin(train[:, 0], list(users))]
        model, fits[c] = _fit(spark, rows, (group_params or {}).get(comms.group(c), params))
        if log:
            print(f"   {comms.names[c]} fit on {len(rows):,} pairs: {fits[c]:.1f} s", flush=True)
        recs["per-community"].update(_picks(model, rows, community_of, visible))
        recs["popularity"].update(popularity_recs(rows, sorted(users)))

    def scored(cs: Sequence[int]) -> Scored:
        users = {u for c in cs for u in comms.members(c)}
        t = _sub(test, users)
        held_all = sum(len(v) for v in _sub(s.test, users).values())
        vis = np.unique(np.concatenate([visible[c] for c in cs]))
        return Scored(
            members=len(users),
            train_pairs=int(np.isin(train[:, 0], list(users)).sum()),
            visible=len(vis),
            held_visible=sum(len(v) for v in t.values()),
            held_all=held_all,
            regimes={name: metrics(_sub(r, users), t, len(vis)) for name, r in recs.items()},
            delta=paired_ndcg_difference(recs["shared"], recs["per-community"], t),
            fit_seconds={"shared": shared[1], "per-community": sum(fits[c] for c in cs)},
        )

    out = {comms.names[c]: scored([c]) for c in sorted(comms.names)}
    for group in (SMALL_GROUP, LARGE_GROUP):
        out[group] = scored([c for c in comms.names if comms.group(c) == group])
    out["all"] = scored(sorted(comms.names))
    return out, shared


# --------------------------------------------------------------------------- the section

HEADERS = [
    "split",
    "community",
    "members",
    "train pairs",
    "visible artists",
    "held-out: visible / all",
    "NDCG@10 popularity / shared / per-community",
    "Δ NDCG per-community − shared (± 2 SE)",
    "P@10 pop / shared / per-comm",
    "R@10 pop / shared / per-comm",
    "fit s shared / per-comm",
]


def _three(sc: Scored, attr: str) -> str:
    regimes = ("popularity", "shared", "per-community")
    return " / ".join(f"{getattr(sc.regimes[r], attr):.3f}" for r in regimes)


def row(split_name: str, name: str, sc: Scored) -> list[object]:
    mean, se, _n = sc.delta
    one = name.startswith(("S", "L")) and len(name) == 2
    fit = (
        f"– / {sc.fit_seconds['per-community']:.1f}"
        if one
        else f"{sc.fit_seconds['shared']:.1f} / {sc.fit_seconds['per-community']:.1f}"
    )
    label = name if one else f"**{name}**"
    return [
        split_name,
        label,
        sc.members,
        sc.train_pairs,
        sc.visible,
        f"{sc.held_visible:,} / {sc.held_all:,}",
        _three(sc, "ndcg"),
        f"{mean:+.3f} ± {2 * se:.3f}",
        _three(sc, "precision"),
        _three(sc, "recall"),
        fit,
    ]


def measure(
    splits: Sequence[str], *, validation: bool = False
) -> tuple[dict[str, dict[str, Scored]], AlsParams, float]:
    from engine.session import build_session

    pairs = load_pairs(DATA)
    settings = Settings(spark_master="local[2]", spark_shuffle_partitions=2)
    params = params_from_settings(settings)
    started = time.perf_counter()
    spark = build_session(settings)
    results: dict[str, dict[str, Scored]] = {}
    shared_full: tuple[AlsRecommender, float] | None = None  # `random` and `friends` share their pairs
    try:
        for name in splits:
            print(f"== split {name}", flush=True)
            data, comms = split_data(name, pairs)
            reuse = shared_full if name != "sparse" else None
            res, model = evaluate_split(spark, data, comms, params, shared=reuse, validation=validation)
            if name != "sparse":
                shared_full = model
            results[name] = res
    finally:
        spark.stop()
    return results, params, time.perf_counter() - started


def split_data(name: str, pairs: np.ndarray) -> tuple[np.ndarray, Communities]:
    """The pairs and communities of one of :data:`SPLITS`."""
    if name == "random":
        return pairs, random_split(pairs)
    if name == "friends":
        return pairs, friends_split(pairs, load_friends(DATA))
    if name == "sparse":
        comms = random_split(pairs)
        large = {u for u, c in comms.community_of.items() if comms.group(c) == LARGE_GROUP}
        return thinned(pairs, large), comms
    raise ValueError(f"unknown split {name!r}")


# --------------------------------------------------------------------------- sensitivity (validation only)

GRID_RANKS = (16, 64)
GRID_REGS = (0.1, 0.5, 2.0)


def sensitivity(splits: Sequence[str]) -> str:
    """Per-community ALS at rank x regParam points, scored on the **validation** split (carved from
    the training part); per group, the best point is then measured once on the test split. The
    shared model keeps the defaults. Returns Markdown."""
    from engine.session import build_session

    pairs = load_pairs(DATA)
    settings = Settings(spark_master="local[2]", spark_shuffle_partitions=2)
    base = params_from_settings(settings)
    grid = [replace(base, rank=r, reg_param=g) for r in GRID_RANKS for g in GRID_REGS]
    started = time.perf_counter()
    spark = build_session(settings)
    lines = [
        "| split | group | per-community rank / regParam | validation NDCG@10 per-community "
        "(shared, defaults) | |",
        "|---|---|---|---|---|",
    ]
    tests = [
        "| split | group | per-community point (chosen on validation) | test NDCG@10 popularity / shared "
        "/ per-community | Δ per-community − shared (± 2 SE) |",
        "|---|---|---|---|---|",
    ]
    try:
        for name in splits:
            data, comms = split_data(name, pairs)
            shared = None
            val: dict[AlsParams, dict[str, Scored]] = {}
            for point in grid:
                print(f"== {name} validation rank {point.rank} reg {point.reg_param}", flush=True)
                groups = {SMALL_GROUP: point, LARGE_GROUP: point}
                val[point], shared = evaluate_split(
                    spark, data, comms, base, shared=shared, validation=True, group_params=groups, log=False
                )
            best = {
                g: max(grid, key=lambda p, g=g: val[p][g].regimes["per-community"].ndcg)
                for g in (SMALL_GROUP, LARGE_GROUP)
            }
            for g in (SMALL_GROUP, LARGE_GROUP):
                for point in grid:
                    sc = val[point][g]
                    per, sha = sc.regimes["per-community"].ndcg, sc.regimes["shared"].ndcg
                    mark = "**chosen**" if point == best[g] else ""
                    lines.append(
                        f"| {name} | {g} | {point.rank} / {point.reg_param} "
                        f"| {per:.3f} ({sha:.3f}) | {mark} |"
                    )
            print(f"== {name} test with {best}", flush=True)
            res, _ = evaluate_split(spark, data, comms, base, group_params=best, log=False)
            for g in (SMALL_GROUP, LARGE_GROUP):
                sc = res[g]
                mean, se, _n = sc.delta
                tests.append(
                    f"| {name} | {g} | rank {best[g].rank} / regParam {best[g].reg_param} "
                    f"| {_three(sc, 'ndcg')} | {mean:+.3f} ± {2 * se:.3f} |"
                )
    finally:
        spark.stop()
    return (
        "\n".join(lines)
        + "\n\n"
        + "\n".join(tests)
        + f"\n\n({time.perf_counter() - started:.0f} s including the Spark start)\n"
    )


def run(quick: bool, splits: Sequence[str] = SPLITS, validation: bool = False) -> Section:
    which = "validation split (carved from the training part)" if validation else "test split"
    sec = Section(
        f"Shared vs per-community ALS, HetRec 2011 Last.fm-2k split into communities ({which}, top-10)",
        "python bench/communities.py" + ("  --validation" if validation else ""),
        HEADERS,
    )
    if not (DATA / "user_artists.dat").is_file():
        sec.notes.append(f"{DATA} is absent on this machine: not measured.")
        return sec
    results, params, seconds = measure(splits, validation=validation)
    for name, res in results.items():
        for key, sc in res.items():
            sec.rows.append(row(name, key, sc))
    sec.notes += [
        f"ALS: the default settings (rank {params.rank}, regParam {params.reg_param}, alpha {params.alpha}, "
        f"{params.iterations} iterations, seed {params.seed}), `local[2]`, 2 blocks; top-10 through "
        "`AlsRecommender.recommend_all(..., visible_for_member=...)`.",
        "Splits: `random` = the 120 heaviest listeners shuffled into S1–S3 (40 each), the other 1,772 "
        "users shuffled into L1–L3; `friends` = S1–S3 are friend groups (breadth-first in "
        "user_friends.dat from the heaviest unplaced listener); `sparse` = `random` with every L member "
        f"cut to {THIN} random artists before the protocol split (seed {SEED} throughout).",
        "Relevant = held-out artists visible in the member's community (played there in training); "
        "'held-out: visible / all' counts both; metrics are over the visible ones only. Group rows pool "
        "their members (user-weighted means). Δ is paired per user; ± is 2 standard errors.",
        "Fit seconds include building the Spark frame; a group's per-community figure is the sum of its "
        "communities' fits; the shared model is fitted once per data set (`random` and `friends` share "
        f"it). Whole run {seconds:.0f} s including the Spark start.",
    ]
    return sec


def as_json(results: Mapping[str, Mapping[str, Scored]]) -> dict:
    return {
        split_name: {
            key: {
                "members": sc.members,
                "train_pairs": sc.train_pairs,
                "visible": sc.visible,
                "held_visible": sc.held_visible,
                "held_all": sc.held_all,
                "regimes": {r: m.as_dict() for r, m in sc.regimes.items()},
                "delta_ndcg": {"mean": sc.delta[0], "se": sc.delta[1], "users": sc.delta[2]},
                "fit_seconds": sc.fit_seconds,
            }
            for key, sc in res.items()
        }
        for split_name, res in results.items()
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default=",".join(SPLITS), help="comma-separated: " + ", ".join(SPLITS))
    ap.add_argument("--validation", action="store_true", help="score on the validation split instead")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument(
        "--sensitivity", action="store_true", help="per-community rank/regParam grid on validation, then test"
    )
    args = ap.parse_args()
    chosen = [s for s in args.split.split(",") if s]
    if args.sensitivity:
        if not (DATA / "user_artists.dat").is_file():
            sys.exit(f"{DATA} is absent")
        print(sensitivity(chosen))
        sys.exit(0)
    if args.json:
        if not (DATA / "user_artists.dat").is_file():
            sys.exit(f"{DATA} is absent")
        res, _, secs = measure(chosen, validation=args.validation)
        args.json.write_text(json.dumps({"seconds": secs, "results": as_json(res)}, indent=1))
        sec = Section("results", "", HEADERS, [row(n, k, sc) for n, r in res.items() for k, sc in r.items()])
        print(sec.markdown())
    else:
        print(run(False, chosen, args.validation).markdown())
