"""👍 / 👎 in the ALS input (engine.feedback): the ratings fed to Spark, known answers, and the
direction each verdict moves a member's score of the item after a real fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.als import AlsParams
from engine.feedback import DISLIKE_PLAYS, LIKE_PLAYS, dislike_rating, feedback_frame, ratings
from engine.recommender import AlsRecommender

pytestmark = pytest.mark.spark


def test_ratings_known_answers(spark) -> None:  # type: ignore[no-untyped-def]
    pairs = spark.createDataFrame([(1, 10, 3), (1, 11, 1), (2, 10, 2)], "user int, item int, plays long")
    plain = {(r.user, r.item): r.rating for r in ratings(pairs, 2.0).collect()}
    assert plain == pytest.approx(
        {(1, 10): math.log1p(3) / 2, (1, 11): math.log1p(1) / 2, (2, 10): math.log1p(2) / 2}
    )
    fb = feedback_frame(spark, [(1, 11, "down"), (1, 12, "up"), (2, 10, "up"), (3, 10, "down")])
    got = {(r.user, r.item): r.rating for r in ratings(pairs, 1.0, fb).collect()}
    assert got == pytest.approx(
        {
            (1, 10): math.log1p(3),  # no verdict: as before
            (1, 11): -math.log1p(DISLIKE_PLAYS),  # 👎 on a played pair: the 👎 wins
            (1, 12): math.log1p(LIKE_PLAYS),  # 👍 on a pick never played
            (2, 10): math.log1p(2 + LIKE_PLAYS),  # 👍 on a played pair: one play more
            (3, 10): -math.log1p(DISLIKE_PLAYS),  # 👎 on a pick never played
        }
    )
    assert dislike_rating() == pytest.approx(-math.log1p(10)) and dislike_rating(2.0) == pytest.approx(
        -math.log1p(10) / 2
    )
    assert feedback_frame(spark, []).count() == 0


def test_a_thumbs_down_lowers_and_a_thumbs_up_raises_the_members_score_of_the_item(spark) -> None:  # type: ignore[no-untyped-def]
    # Two taste clusters of 8 members over 6 items each; member 0 played items 0-3 of cluster A,
    # and item 4 (cluster A, played by the others) is the pick under judgement.
    rows = []
    for user in range(16):
        base = 0 if user < 8 else 6
        for item in range(base, base + 6):
            if user == 0 and item in (4, 5):
                continue
            if (user + item) % 5 != 0 or user == 0:
                rows.append((user, item, 1 + (user * item) % 4))
    pairs = spark.createDataFrame(rows, "user int, item int, plays long")
    params = AlsParams(rank=4, reg_param=0.1, alpha=2.0, iterations=10, seed=3)

    def score(verdict: str | None) -> float:
        fb = feedback_frame(spark, [(0, 4, verdict)]) if verdict else None
        rec = AlsRecommender(params).fit(pairs, blocks=2, feedback=fb)
        vector = rec.trained_vector(0)
        assert vector is not None
        row = int(np.searchsorted(rec.item_ids, 4))
        return float(vector @ rec.item_factors[row])

    neutral, down, up = score(None), score("down"), score("up")
    assert down < neutral - 0.1, (down, neutral)
    assert up > neutral, (up, neutral)
