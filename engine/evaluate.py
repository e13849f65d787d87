"""Offline evaluation on HetRec 2011 Last.fm-2k with the fixed protocol of the engine issue.

Protocol (fixed, so numbers are comparable across changes):

* rows are ``(user, item, plays)`` pairs sorted by ``(user, item)``;
* one uniform number per row is drawn with ``numpy.random.default_rng(42)`` in that order;
* for each user with at least 5 items, the ``floor(20%)`` rows with the smallest draws are test
  (users with fewer than 5 items keep all their rows in train);
* each user's top-10 excludes that user's training items;
* precision@10 (hits / 10), recall@10 (hits / |test|), NDCG@10 (binary gain, ideal DCG over
  ``min(|test|, 10)`` hits), MAP@10 (average precision normalised by ``min(|test|, 10)``) are averaged
  over the users with test rows; catalog coverage is the number of distinct items in those users'
  top-10 lists over the number of distinct items in the whole data set.

Tuning never looks at the test rows: :func:`validation_split` applies the same split (seed 7) to the
training rows only. The model path is the production one: :meth:`AlsRecommender.fit
<engine.recommender.AlsRecommender.fit>` then :meth:`~engine.recommender.AlsRecommender.recommend_all`
(without a visibility cut: the data set is one community).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.als import AlsParams
from engine.cooc import BlendParams
from engine.recommender import AlsRecommender
from storage.visibility import contains

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TEST_SEED = 42
VALIDATION_SEED = 7
HOLDOUT = 0.2
MIN_ITEMS = 5
K = 10


class DataError(ValueError):
    """The HetRec files are missing or cannot be parsed."""


# --------------------------------------------------------------------------- loading


def load_pairs(data_dir: str | Path) -> np.ndarray:
    """``user_artists.dat`` as an ``int64`` array of ``(user, item, plays)`` rows sorted by
    ``(user, item)``.

    Robust to what this copy of the file does: no header (or a header), CRLF endings, blank lines,
    fields padded with spaces. Duplicate pairs (none in the released file) are summed."""
    path = Path(data_dir) / "user_artists.dat"
    if not path.is_file():
        raise DataError(f"{path} not found")
    users: list[int] = []
    items: list[int] = []
    plays: list[int] = []
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        for n, line in enumerate(fh, 1):
            fields = [f.strip() for f in line.strip().split("\t")]
            if fields == [""]:
                continue
            if len(fields) != 3:
                fields = line.split()
            try:
                u, i, w = (int(f) for f in fields)
            except ValueError as exc:
                if n == 1:  # a header line such as "userID artistID weight"
                    continue
                raise DataError(f"{path}:{n}: expected userID<TAB>artistID<TAB>weight, got {line!r}") from exc
            users.append(u)
            items.append(i)
            plays.append(w)
    if not users:
        raise DataError(f"{path} holds no rows")
    arr = np.column_stack([np.array(users), np.array(items), np.array(plays)]).astype(np.int64)
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    key = arr[:, 0] * (int(arr[:, 1].max()) + 1) + arr[:, 1]
    first = np.r_[True, key[1:] != key[:-1]]
    if not first.all():  # sum duplicate (user, item) rows
        groups = np.cumsum(first) - 1
        summed = np.bincount(groups, weights=arr[:, 2]).astype(np.int64)
        arr = arr[first].copy()
        arr[:, 2] = summed
    return arr


def load_artist_names(data_dir: str | Path) -> dict[int, str]:
    """``artists.dat``: ``{artist id: name}`` (header line, tab separated, UTF-8)."""
    path = Path(data_dir) / "artists.dat"
    if not path.is_file():
        raise DataError(f"{path} not found")
    names: dict[int, str] = {}
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        for line in fh:
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 2:
                continue
            try:
                names[int(fields[0].strip())] = fields[1]
            except ValueError:
                continue  # the header
    return names


# --------------------------------------------------------------------------- split


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # (user, item, plays) rows, sorted by (user, item)
    test: dict[int, set[int]]  # user -> held-out items (only users with >= MIN_ITEMS items)


def split(
    pairs: np.ndarray, *, seed: int = TEST_SEED, holdout: float = HOLDOUT, min_items: int = MIN_ITEMS
) -> Split:
    """The fixed protocol split of ``pairs`` (any order; sorted by ``(user, item)`` here)."""
    rows = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    draws = np.random.default_rng(seed).random(len(rows))
    is_test = np.zeros(len(rows), dtype=bool)
    _, starts, counts = np.unique(rows[:, 0], return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):
        if count < min_items:
            continue
        n_test = math.floor(holdout * count)
        order = np.argsort(draws[start : start + count], kind="stable")
        is_test[start + order[:n_test]] = True
    test: dict[int, set[int]] = {}
    for u, i in rows[is_test][:, :2]:
        test.setdefault(int(u), set()).add(int(i))
    return Split(rows[~is_test], test)


def validation_split(train_rows: np.ndarray, *, seed: int = VALIDATION_SEED) -> Split:
    """The tuning split: the same protocol with another seed, applied to the training rows only."""
    return split(train_rows, seed=seed)


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    users: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"P@10 {self.precision:.4f}  R@10 {self.recall:.4f}  NDCG@10 {self.ndcg:.4f}  "
            f"MAP@10 {self.map:.4f}  coverage {self.coverage:.4f}  ({self.users} users)"
        )


def user_scores(recs: Sequence[int], relevant: set[int], k: int = K) -> tuple[float, float, float, float]:
    """``(precision, recall, ndcg, ap)`` at ``k`` of one ranked list against one relevant set."""
    top = list(recs)[:k]
    hits = 0
    dcg = 0.0
    ap = 0.0
    for pos, item in enumerate(top):
        if item in relevant:
            hits += 1
            dcg += 1.0 / math.log2(pos + 2)
            ap += hits / (pos + 1)
    ideal_n = min(len(relevant), k)
    idcg = sum(1.0 / math.log2(p + 2) for p in range(ideal_n))
    return (
        hits / k,
        hits / len(relevant),
        dcg / idcg if idcg else 0.0,
        ap / ideal_n if ideal_n else 0.0,
    )


def metrics(
    recs_by_user: Mapping[int, Sequence[int]],
    test_by_user: Mapping[int, set[int]],
    n_items: int,
    k: int = K,
) -> Metrics:
    """Mean P/R/NDCG/MAP at ``k`` over the users with test items (a user without recommendations
    scores 0), and catalog coverage of those users' top-``k`` lists over ``n_items``."""
    totals = np.zeros(4)
    seen: set[int] = set()
    users = [u for u, t in test_by_user.items() if t]
    for u in users:
        recs = list(recs_by_user.get(u, ()))[:k]
        seen.update(recs)
        totals += user_scores(recs, test_by_user[u], k)
    mean = totals / max(len(users), 1)
    return Metrics(
        float(mean[0]),
        float(mean[1]),
        float(mean[2]),
        float(mean[3]),
        len(seen) / n_items if n_items else 0.0,
        len(users),
    )


# --------------------------------------------------------------------------- communities


def visible_by_community(train_rows: np.ndarray, community_of: Mapping[int, int]) -> dict[int, np.ndarray]:
    """Sorted item ids each community's members played in ``train_rows``: what the visibility rule
    (:mod:`storage.visibility`, no public community) lets that community be shown. Rows of users
    outside ``community_of`` are ignored."""
    out: dict[int, set[int]] = {}
    for u, i in train_rows[:, :2].tolist():
        c = community_of.get(u)
        if c is not None:
            out.setdefault(c, set()).add(i)
    return {c: np.array(sorted(ids), dtype=np.int64) for c, ids in out.items()}


def visible_test(
    test: Mapping[int, set[int]], community_of: Mapping[int, int], visible: Mapping[int, np.ndarray]
) -> tuple[dict[int, set[int]], int]:
    """Each user's held-out items cut to those their community may be shown (what any recommender
    restricted by the visibility rule could hit), and how many held-out items that drops. Users left
    with no held-out item are left out (as :func:`metrics` would skip them)."""
    kept: dict[int, set[int]] = {}
    dropped = 0
    for u, held in test.items():
        vis = visible.get(community_of.get(u, -1), np.empty(0, dtype=np.int64))
        ids = np.array(sorted(held), dtype=np.int64)
        mine = {int(i) for i in ids[contains(vis, ids)]}
        dropped += len(held) - len(mine)
        if mine:
            kept[u] = mine
    return kept, dropped


def paired_ndcg_difference(
    recs_a: Mapping[int, Sequence[int]],
    recs_b: Mapping[int, Sequence[int]],
    test_by_user: Mapping[int, set[int]],
    k: int = K,
) -> tuple[float, float, int]:
    """``(mean, standard error, users)`` of the per-user NDCG@``k`` of ``recs_b`` minus that of
    ``recs_a`` over the users with test items (paired: both lists scored against the same held-out
    items, so the user-to-user spread cancels)."""
    diffs = [
        user_scores(list(recs_b.get(u, ()))[:k], t, k)[2] - user_scores(list(recs_a.get(u, ()))[:k], t, k)[2]
        for u, t in test_by_user.items()
        if t
    ]
    if not diffs:
        return 0.0, 0.0, 0
    d = np.array(diffs)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), se, len(d)


# --------------------------------------------------------------------------- recommenders


def popularity_recs(train_rows: np.ndarray, users: Iterable[int], k: int = K) -> dict[int, list[int]]:
    """Most listened-to items (by distinct listeners in train), minus each user's training items."""
    items, listeners = np.unique(train_rows[:, 1], return_counts=True)
    order = np.lexsort((items, -listeners))  # ties broken by item id
    ranked = items[order]
    played = histories_of(train_rows)
    out: dict[int, list[int]] = {}
    for u in users:
        mine = played.get(int(u), {})
        picks: list[int] = []
        for i in ranked:
            if int(i) not in mine:
                picks.append(int(i))
                if len(picks) == k:
                    break
        out[int(u)] = picks
    return out


def histories_of(rows: np.ndarray) -> dict[int, dict[int, int]]:
    """``{user: {item: plays}}`` of ``(user, item, plays)`` rows (as :func:`engine.als.histories`)."""
    out: dict[int, dict[int, int]] = {}
    for u, i, w in rows.tolist():
        out.setdefault(u, {})[i] = w
    return out


def pairs_frame(spark: SparkSession, rows: np.ndarray) -> DataFrame:
    """``(user, item, plays)`` rows as the Spark frame :meth:`AlsRecommender.fit` takes."""
    import pandas as pd

    pdf = pd.DataFrame(
        {
            "user": rows[:, 0].astype(np.int32),
            "item": rows[:, 1].astype(np.int32),
            "plays": rows[:, 2].astype(np.int64),
        }
    )
    return spark.createDataFrame(pdf)


def model_recs(
    rec: AlsRecommender, history: Mapping[int, Mapping[int, int]], k: int = K
) -> dict[int, list[int]]:
    """Top-``k`` per user through :meth:`AlsRecommender.recommend_all` (the production code path)."""
    out: dict[int, list[int]] = {}
    for member, _rank, item, _score, _reason in rec.recommend_all(history, k, visible_for_member=None):
        out.setdefault(member, []).append(item)
    return out


@dataclass(frozen=True)
class ModelResult:
    metrics: Metrics
    fit_seconds: float
    score_seconds: float


def evaluate_model(
    spark: SparkSession,
    train_rows: np.ndarray,
    test: Mapping[int, set[int]],
    params: AlsParams,
    *,
    n_items: int,
    blend: BlendParams | None = None,
) -> ModelResult:
    """Fit ALS on ``train_rows`` with ``params`` (blended with co-occurrence if ``blend`` has a
    weight) and score its top-10 against ``test``."""
    t0 = time.perf_counter()
    frame = pairs_frame(spark, train_rows).cache()
    history = histories_of(train_rows)
    try:
        rec = AlsRecommender(params, blend=blend).fit(frame)
    finally:
        frame.unpersist()
    t1 = time.perf_counter()
    recs = model_recs(rec, history)
    result = metrics(recs, test, n_items)
    return ModelResult(result, t1 - t0, time.perf_counter() - t1)


def hetrec_report(
    spark: SparkSession, data_dir: str | Path, params: AlsParams, blend: BlendParams | None = None
) -> dict[str, object]:
    """The ``tastemaker eval hetrec`` report: popularity and model metrics on the test split."""
    pairs = load_pairs(data_dir)
    s = split(pairs)
    n_items = len(np.unique(pairs[:, 1]))
    pop = metrics(popularity_recs(s.train, s.test), s.test, n_items)
    res = evaluate_model(spark, s.train, s.test, params, n_items=n_items, blend=blend)
    return {
        "data": {
            "users": len(np.unique(pairs[:, 0])),
            "items": n_items,
            "pairs": len(pairs),
            "train_pairs": len(s.train),
            "test_pairs": sum(len(t) for t in s.test.values()),
            "test_users": len(s.test),
        },
        "params": asdict(params),
        "blend": asdict(blend) if blend is not None else None,
        "popularity": pop.as_dict(),
        "model": res.metrics.as_dict(),
        "seconds": {"fit": round(res.fit_seconds, 2), "score": round(res.score_seconds, 2)},
    }


def report_text(report: Mapping[str, object]) -> str:
    """:func:`hetrec_report` as two aligned lines (popularity, model)."""
    lines = []
    for name in ("popularity", "model"):
        m = report[name]
        assert isinstance(m, dict)
        lines.append(
            f"{name:<10}  P@10 {m['precision']:.4f}  R@10 {m['recall']:.4f}  NDCG@10 {m['ndcg']:.4f}  "
            f"MAP@10 {m['map']:.4f}  coverage {m['coverage']:.4f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- acceptance path helpers


def write_training_csv(train_rows: np.ndarray, names: Mapping[int, str], path: str | Path) -> int:
    """Write ``user,artist,count`` (artist by name, as ``tastemaker import csv`` reads it)."""
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user", "artist", "count"])
        for u, i, c in train_rows.tolist():
            w.writerow([u, names[i], c])
            n += 1
    return n


def export_recs_by_user(
    tsv: str | Path, names: Mapping[int, str], test: Mapping[int, set[int]]
) -> dict[int, list[int]]:
    """Read an export TSV (``member, rank, name, score, reason``) back into artist ids.

    Our catalog merges names that share a normalised key (``Red``/``RED``), so an exported name maps
    to a *set* of HetRec ids. A pick counts as that user's held-out id when any id of its key is in
    their test set (else as the smallest id of the key, which only matters for coverage)."""
    from storage.names import normalise

    by_key: dict[str, list[int]] = {}
    for i, name in sorted(names.items()):
        by_key.setdefault(normalise(name), []).append(i)
    ranked: dict[int, list[tuple[int, int]]] = {}
    with Path(tsv).open("r", encoding="utf-8", newline="") as fh:
        for line in fh:
            member, rank, name, *_ = line.rstrip("\n").split("\t")
            u = int(member)
            ids = by_key.get(normalise(name), [])
            if not ids:
                continue
            hit = [i for i in ids if i in test.get(u, ())]
            ranked.setdefault(u, []).append((int(rank), hit[0] if hit else ids[0]))
    return {u: [i for _, i in sorted(r)] for u, r in ranked.items()}
