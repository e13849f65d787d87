"""The evaluation protocol's pieces on hand-computed examples (no Spark, no data set)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.evaluate import (
    export_recs_by_user,
    load_pairs,
    metrics,
    paired_ndcg_difference,
    popularity_recs,
    split,
    user_scores,
    validation_split,
    visible_by_community,
    visible_test,
)


def test_user_scores_hand_computed() -> None:
    # hits at ranks 2 and 5; three relevant items, one never recommended
    p, r, ndcg, ap = user_scores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], {2, 5, 20})
    assert p == pytest.approx(0.2)
    assert r == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(6)  # 0.63093 + 0.38685
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # over min(|test|, 10) = 3 positions
    assert ndcg == pytest.approx(dcg / idcg)
    assert ndcg == pytest.approx(0.477624, abs=1e-6)
    assert ap == pytest.approx((1 / 2 + 2 / 5) / 3)


def test_ideal_dcg_is_capped_at_k() -> None:
    relevant = set(range(100, 120))  # 20 relevant, only 10 slots
    p, r, ndcg, ap = user_scores(list(range(100, 110)), relevant)
    assert (p, r, ndcg, ap) == pytest.approx((1.0, 0.5, 1.0, 1.0))


def test_metrics_mean_over_test_users_and_coverage() -> None:
    recs = {1: list(range(1, 11)), 2: [7], 4: [30]}  # user 3 got nothing, user 4 has no test rows
    test = {1: {2, 5, 20}, 2: {7}, 3: {1}}
    m = metrics(recs, test, n_items=40)
    assert m.users == 3
    assert m.precision == pytest.approx((0.2 + 0.1 + 0) / 3)
    assert m.recall == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m.ndcg == pytest.approx((0.477624 + 1 + 0) / 3, abs=1e-6)
    assert m.map == pytest.approx((0.3 + 1 + 0) / 3)
    assert m.coverage == pytest.approx(10 / 40)  # items 1..10; user 4's list is not evaluated


def _rows(counts: dict[int, int]) -> np.ndarray:
    return np.array([(u, 100 + i, 1 + i) for u, n in counts.items() for i in range(n)], dtype=np.int64)


def test_split_follows_the_protocol() -> None:
    rows = _rows({1: 4, 2: 5, 3: 9, 4: 10, 5: 23})
    s = split(rows[::-1])  # input order does not matter: rows are sorted by (user, item) first
    assert 1 not in s.test  # fewer than 5 items: everything stays in train
    assert {u: len(t) for u, t in s.test.items()} == {2: 1, 3: 1, 4: 2, 5: 4}  # floor(20%)
    assert len(s.train) + sum(len(t) for t in s.test.values()) == len(rows)
    # the held-out rows are each user's smallest draws, one draw per sorted row from default_rng(42)
    draws = np.random.default_rng(42).random(len(rows))
    for u, held in s.test.items():
        mine = np.flatnonzero(rows[:, 0] == u)
        smallest = mine[np.argsort(draws[mine])[: len(held)]]
        assert set(rows[smallest, 1].tolist()) == held
    train_pairs = {(int(u), int(i)) for u, i, _ in s.train}
    assert not any((u, i) in train_pairs for u, t in s.test.items() for i in t)


def test_validation_split_only_sees_training_rows() -> None:
    s = split(_rows({1: 30, 2: 12}))
    v = validation_split(s.train)
    assert len(v.train) + sum(len(t) for t in v.test.values()) == len(s.train)
    for u, held in v.test.items():
        assert not held & s.test.get(u, set())


def test_popularity_excludes_training_items() -> None:
    train = np.array([(1, 10, 1), (2, 10, 1), (3, 10, 1), (1, 11, 1), (2, 11, 1), (3, 12, 1)], dtype=np.int64)
    recs = popularity_recs(train, [1, 3, 9], k=2)
    assert recs == {1: [12], 3: [11], 9: [10, 11]}


def test_visible_items_are_what_each_community_played_in_training() -> None:
    train = np.array([(1, 10, 5), (2, 11, 1), (2, 10, 2), (3, 12, 1), (9, 99, 1)], dtype=np.int64)
    community_of = {1: 100, 2: 100, 3: 200}  # user 9 belongs to no community: ignored
    vis = visible_by_community(train, community_of)
    assert {c: v.tolist() for c, v in vis.items()} == {100: [10, 11], 200: [12]}
    # user 1 held out 11 (played by user 2: visible) and 12 (only played in community 200: not)
    test = {1: {11, 12}, 2: {13}, 3: {12, 10}, 4: {10}}  # user 4 has no community
    kept, dropped = visible_test(test, community_of, vis)
    assert kept == {1: {11}, 3: {12}}  # users left with nothing relevant are left out
    assert dropped == 1 + 1 + 1 + 1


def test_paired_ndcg_difference_is_per_user() -> None:
    test = {1: {5}, 2: {6}, 3: {7}, 4: set()}  # user 4 has no test item: not counted
    a = {1: [5], 2: [0, 6], 3: [0]}
    b = {1: [5], 2: [6], 3: [7], 4: [1]}
    mean, se, n = paired_ndcg_difference(a, b, test)
    diffs = np.array([0.0, 1 - 1 / math.log2(3), 1.0])
    assert n == 3
    assert mean == pytest.approx(diffs.mean())
    assert se == pytest.approx(diffs.std(ddof=1) / math.sqrt(3))
    assert paired_ndcg_difference(a, a, test)[:2] == (0.0, 0.0)
    assert paired_ndcg_difference(a, b, {}) == (0.0, 0.0, 0)


def test_load_pairs_is_robust(tmp_path: Path) -> None:
    (tmp_path / "user_artists.dat").write_bytes(
        b"2\t51\t13883\r\n2\t52\t11690\r\n\r\n61\t65  \t170\r\n61\t163\t    316\r\n1\t7\t3\r\n"
    )
    arr = load_pairs(tmp_path)
    assert arr.tolist() == [[1, 7, 3], [2, 51, 13883], [2, 52, 11690], [61, 65, 170], [61, 163, 316]]
    (tmp_path / "user_artists.dat").write_text("userID\tartistID\tweight\n1\t7\t3\n1\t7\t2\n")
    assert load_pairs(tmp_path).tolist() == [[1, 7, 5]]  # header skipped, duplicate pair summed


def test_export_names_map_back_through_the_normalised_key(tmp_path: Path) -> None:
    names = {1: "Red", 2: "RED", 3: "Blue"}
    tsv = tmp_path / "recs.tsv"
    tsv.write_text("7\t2\tBlue\t0.5\t\n7\t1\tRed\t0.9\tBlue\n8\t1\tred\t0.9\t\n8\t2\tUnknown\t0.1\t\n")
    got = export_recs_by_user(tsv, names, {7: {2}, 8: {3}})
    assert got == {7: [2, 3], 8: [1]}  # "Red" counts as id 2 for user 7, whose test set holds RED


def test_cooc_blend_adds_scaled_co_occurrence() -> None:
    from engine.cooc import Blender, Cooc

    item_ids = np.array([10, 20, 30])
    # sim(10, 20) = 0.5 both ways, sim(10, 30) = 0.25 both ways; 99 is not in the model
    cooc = Cooc(
        np.array([10, 20, 10, 30, 10]), np.array([20, 10, 30, 10, 99]), np.array([0.5, 0.5, 0.25, 0.25, 9.0])
    )
    blend = Blender(item_ids, cooc, weight=2.0)
    member_1, member_2 = np.array([0]), np.array([], dtype=np.int64)  # played rows: item 10; nothing
    assert blend.scores(member_1).tolist() == [0.0, 0.5, 0.25]
    als = np.array([[0.2, -0.4, 0.1], [1.0, 0.5, 0.0]], dtype=np.float32)
    out = blend(als, [member_1, member_2])
    # member 1: ALS / max|ALS| + 2 · cooc / max cooc; member 2 has no history, ALS scaled only
    assert out.dtype == np.float32  # the blend keeps the scoring dtype
    assert out[0].tolist() == pytest.approx([0.5, -1.0 + 2.0, 0.25 + 1.0])
    assert out[1].tolist() == pytest.approx([1.0, 0.5, 0.0])


@pytest.mark.spark
def test_eval_hetrec_command_on_a_tiny_data_set(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """``tastemaker eval hetrec DIR --json`` end to end (Spark ALS plus the co-occurrence blend computed
    in Spark) on two taste groups of 10 artists: the model must beat popularity."""
    import json

    from typer.testing import CliRunner

    from bot.cli import app

    rng = np.random.default_rng(3)
    lines = ["userID\tartistID\tweight"]  # a header this time; load_pairs skips it
    for u in range(1, 41):
        group = range(1, 11) if u % 2 else range(11, 21)
        for a in rng.choice(list(group), size=8, replace=False):
            lines.append(f"{u}\t{a} \t{int(rng.integers(1, 500))}")
    (tmp_path / "user_artists.dat").write_text("\r\n".join(lines) + "\r\n")
    for var, value in {
        "TASTEMAKER_SPARK_MASTER": "local[2]",
        "TASTEMAKER_ALS_RANK": "4",
        "TASTEMAKER_ALS_ITERATIONS": "5",
        "TASTEMAKER_ALS_REG": "0.1",
        "TASTEMAKER_BLEND_COOC_WEIGHT": "0.5",
    }.items():
        monkeypatch.setenv(var, value)
    result = CliRunner().invoke(app, ["eval", "hetrec", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["data"] == {
        "users": 40,
        "items": 20,
        "pairs": 320,
        "train_pairs": 280,
        "test_pairs": 40,
        "test_users": 40,
    }
    assert report["params"]["rank"] == 4
    assert report["blend"]["weight"] == 0.5
    assert report["model"]["ndcg"] > report["popularity"]["ndcg"]
    assert report["model"]["ndcg"] > 0.5  # the one held-out artist is one of the group's 2 unplayed


def test_eval_hetrec_command_reports_a_folder_without_data(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, ["eval", "hetrec", str(tmp_path)])
    assert result.exit_code == 2
    assert "user_artists.dat not found" in result.output
