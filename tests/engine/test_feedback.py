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
    rows = [(1, 10, 3), (1, 11, 1), (2, 10, 2), (2, 11, 4)]
    pairs = spark.createDataFrame(rows, "user int, item int, plays long")
    plain = {(r.user, r.item): r.rating for r in ratings(pairs, 2.0).collect()}
    assert plain == pytest.approx({(u, i): math.log1p(p) / 2 for u, i, p in rows})
    fb = feedback_frame(
        spark, [(1, 11, "down"), (1, 12, "up"), (2, 10, "up"), (3, 10, "down"), (2, 13, "down")]
    )
    got = {(r.user, r.item): r.rating for r in ratings(pairs, 1.0, fb).collect()}
    assert got == pytest.approx(
        {
            (1, 10): math.log1p(3),  # no verdict: as before
            (1, 11): -math.log1p(DISLIKE_PLAYS),  # 👎 on a played pair: the 👎 wins
            (1, 12): math.log1p(LIKE_PLAYS),  # 👍 on a pick never played
            (2, 10): math.log1p(2 + LIKE_PLAYS),  # 👍 on a played pair: one play more
            (2, 11): math.log1p(4),
        }  # member 3 (only a 👎) and item 13 (only a 👎) are left out: Spark could not solve for them
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


def test_a_retrain_with_a_member_who_only_pressed_thumbs_down_succeeds(  # type: ignore[no-untyped-def]
    service, settings, db, spark
) -> None:
    """A member without plays can 👎 a trending pick; the retrain leaves that member (and an item
    nobody plays any more) out of the ALS input instead of failing on a singular solve, and the
    item stays hidden for them."""
    from bot.service import FEEDBACK_DOWN, Who
    from engine.batch import EngineContext, batch

    players = [Who("local", "c1", f"m{k}", community_name="Crew") for k in range(3)]
    for k, member in enumerate(players):
        for artist in ("Air", "Blur", "Caribou")[: k + 1]:
            service.played(member, artist)
    newcomer = Who("local", "c1", "new", community_name="Crew")
    first = service.recommend(newcomer, "artist", 3)
    assert first.source == "trending" and first.picks
    service.feedback(newcomer, "artist", first.picks[0].item_id or 0, FEEDBACK_DOWN)
    result = batch(EngineContext(settings, db, spark=lambda: spark, clock=service.clock), retrain_now=True)
    assert [r.split(" ")[0] for r in result.retrained] == ["artist"]  # no tracks played
    again = service.recommend(newcomer, "artist", 3)
    assert first.picks[0].name not in [p.name for p in again.picks] and again.hidden == 1
