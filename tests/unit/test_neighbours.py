"""engine.neighbours on hand-made factors: neighbours stay in their community, similar items are
the blend the docstring states (checked against a brute-force loop), and never leave the set of items
the community itself played by at least two members."""

from __future__ import annotations

import itertools

import numpy as np

from engine.neighbours import _colisten, member_neighbours, similar_items
from engine.recommender import normalised


def test_neighbours_are_of_the_same_community_closest_first() -> None:
    # Members 1..4 in community 10, 5..7 in community 20; 1 and 2 point the same way, 5 and 6 too.
    ids = np.array([1, 2, 3, 4, 5, 6, 7])
    f = np.array(
        [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.5, 0.5, 0], [1, 0, 0.01], [1, 0, 0], [-1, 0, 0]],
        dtype=np.float32,
    )
    community = {1: 10, 2: 10, 3: 10, 4: 10, 5: 20, 6: 20, 7: 20}
    rows = list(member_neighbours(ids, f, community, k=10))
    by_member: dict[int, list[tuple[int, int, float]]] = {}
    for m, rank, other, score in rows:
        assert community[m] == community[other] and m != other and score > 0
        by_member.setdefault(m, []).append((rank, other, score))
    assert [o for _, o, _ in by_member[1]] == [2, 4]  # 3 is orthogonal to 1: not a neighbour
    assert [r for r, _, _ in by_member[1]] == [1, 2]
    assert [o for _, o, _ in by_member[5]] == [6]  # 7 points away (negative cosine); 1 is elsewhere
    assert 7 not in by_member
    scores = [s for _, _, s in by_member[4]]
    assert scores == sorted(scores, reverse=True)
    assert len(list(member_neighbours(ids, f, community, k=1))) == len(by_member)


def test_colisten_counts_members_who_played_both() -> None:
    rng = np.random.default_rng(3)
    members, n = 40, 23
    played = [np.flatnonzero(rng.random(n) < 0.3) for _ in range(members)]
    played = [p for p in played if len(p)]
    indptr = np.r_[0, np.cumsum([len(p) for p in played])]
    cols = np.concatenate(played)
    by_col = np.argsort(cols, kind="stable")
    full = np.vstack([_colisten(indptr, cols, by_col, lo, min(lo + 5, n), n) for lo in range(0, n, 5)])
    expected = np.zeros((n, n), dtype=np.int64)
    for p in played:
        for i, j in itertools.product(p, p):
            expected[i, j] += 1
    assert (full == expected).all()


def test_similar_items_blend_and_isolation() -> None:
    rng = np.random.default_rng(7)
    item_ids = np.arange(100, 120)
    factors = rng.normal(size=(20, 4)).astype(np.float32)
    unit = normalised(factors)
    # Community 1: members 1-5 over items 100-109; community 2: members 6-9 over items 105-119.
    hist = {
        1: {100: 3, 101: 1, 102: 2},
        2: {100: 1, 101: 5, 103: 1},
        3: {101: 2, 102: 2, 104: 9},
        4: {100: 1, 102: 1, 109: 1},  # 109: one listener in community 1
        5: {103: 4, 104: 1},
        6: {105: 1, 110: 1, 111: 1},
        7: {105: 1, 110: 2, 112: 1},
        8: {111: 1, 112: 1, 119: 1},
        9: {100: 1, 110: 1, 111: 1},  # community 2 plays 100 once: a listener count of its own
    }
    community = {m: (1 if m <= 5 else 2) for m in hist}
    visible = {1: np.arange(100, 110), 2: np.arange(100, 120)}
    rows = list(similar_items(item_ids, unit, hist, community, visible, k=3, weight=0.5))
    assert rows
    for c in (1, 2):
        members = [m for m in hist if community[m] == c]
        counts: dict[int, int] = {}
        for m in members:
            for i in hist[m]:
                counts[i] = counts.get(i, 0) + 1
        eligible = sorted(i for i, k in counts.items() if k >= 2)
        mine = [r for r in rows if r[0] == c]
        assert {r[1] for r in mine} | {r[3] for r in mine} <= set(eligible)
        for i in eligible:
            expected = []
            for j in eligible:
                if j == i:
                    continue
                both = sum(1 for m in members if i in hist[m] and j in hist[m])
                cos = float(unit[i - 100] @ unit[j - 100])
                score = 0.5 * cos + 0.5 * both / np.sqrt(counts[i] * counts[j])
                if score > 0:
                    expected.append((score, j))
            expected.sort(reverse=True)
            got = [(r[4], r[3]) for r in sorted((r for r in mine if r[1] == i), key=lambda r: r[2])]
            assert [j for _, j in got] == [j for _, j in expected[:3]]
            assert np.allclose([s for s, _ in got], [s for s, _ in expected[:3]], atol=1e-5)
    # 109 has one listener in community 1: it is neither asked about nor offered.
    assert not [r for r in rows if 109 in (r[1], r[3])]
    # Community 1 cannot see 110-119: a visible set that excludes an item removes it from both sides.
    narrowed = {1: np.array([100, 101, 103, 104]), 2: visible[2]}
    for c, i, _rank, j, _s in similar_items(item_ids, unit, hist, community, narrowed, k=3):
        if c == 1:
            assert i in narrowed[1] and j in narrowed[1]
