"""/undo and /plays at the service layer: what a member can remove, what everyone sees afterwards."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import func, select

from bot.parsing import UserError
from bot.service import Service, Who
from engine.als import AlsParams
from engine.recommender import AlsRecommender
from storage import catalog, recs
from storage.db import Database
from storage.models import Play, PlayRemoval
from tests.conftest import Clock

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
BOB = Who("local", "c1", "bob", member_name="Bob")
EVE = Who("local", "c2", "ann", community_name="Other", member_name="Eve")  # same member id, other community


def test_undo_removes_the_last_play_and_says_which(service: Service, db: Database, clock: Clock) -> None:
    service.played(ANN, "Radiohead - Karma Police")
    clock.advance(minutes=3)
    service.played(ANN, "Radiohead - Karma Police")
    clock.advance(minutes=3)
    service.played(ANN, "Björk - Jóga")
    shown = service.my_plays(ANN)
    assert [p.what for p in shown] == ["Björk – Jóga", "Radiohead – Karma Police", "Radiohead – Karma Police"]
    undone = service.undo(ANN)
    assert undone.play.what == "Björk – Jóga" and undone.plays_left == 0 and not undone.folded
    again = service.undo(ANN)
    assert again.play.what == "Radiohead – Karma Police" and again.plays_left == 1
    assert [p.what for p in service.my_plays(ANN)] == ["Radiohead – Karma Police"]
    assert service.played(ANN, "Radiohead - Karma Police").plays_by_member == 2
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(PlayRemoval)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(Play)).scalar_one() == 4  # rows stay, marked


def test_nothing_to_undo_is_a_friendly_error(service: Service) -> None:
    with pytest.raises(UserError, match="Nothing to undo"):
        service.undo(ANN)
    assert service.my_plays(ANN) == []


def test_only_the_member_who_logged_a_play_can_remove_it(service: Service) -> None:
    service.played(ANN, "Radiohead - Karma Police")
    service.played(BOB, "Blur - Song 2")  # makes Bob a member of c1
    service.played(EVE, "Blur - Song 2")  # a member of c2 with the same platform member id as Ann
    play = service.my_plays(ANN)[0].id
    for other in (BOB, EVE, Who("local", "c3", "zed")):
        with pytest.raises(UserError, match="not one of yours"):
            service.remove_play(other, play)
    assert [p.id for p in service.my_plays(ANN)] == [play]
    assert service.remove_play(ANN, play).play.id == play
    with pytest.raises(UserError, match="already removed; nothing changed"):
        service.remove_play(ANN, play)  # the second press
    assert service.my_plays(ANN) == [] and len(service.my_plays(EVE)) == 1


def test_a_removed_play_leaves_trending_before_the_batch_runs(service: Service) -> None:
    service.played(ANN, "Radiohead - Karma Police")
    service.played(BOB, "Radiohead - Karma Police")
    service.played(BOB, "Blur - Song 2")
    assert [e.name for e in service.trending(ANN, "all", "artist").entries] == ["Radiohead", "Blur"]
    service.remove_play(BOB, service.my_plays(BOB)[1].id)  # Bob's Radiohead
    entries = service.trending(ANN, "all", "artist").entries
    assert [(e.name, e.plays, e.listeners) for e in entries] == [("Radiohead", 1, 1), ("Blur", 1, 1)]
    service.undo(ANN)
    assert [e.name for e in service.trending(ANN, "all", "artist").entries] == ["Blur"]


def test_a_removed_play_is_never_offered_as_a_suggestion(service: Service) -> None:
    service.played(ANN, "=The Kilers")  # a typo, logged as typed …
    assert service.suggest(ANN, "kil") == ["The Kilers"]
    service.undo(ANN)  # … and taken back
    assert service.suggest(ANN, "kil") == []
    assert service.played(ANN, "The Killers").artist == "The Killers"  # no "did you mean The Kilers?"


def test_recommend_no_longer_gives_a_reason_naming_a_removed_play(
    service: Service, db: Database, clock: Clock
) -> None:
    """Stored picks explain themselves with the member's plays at the retrain; once the member removes
    one, the answer is a fresh fold-in of what is left, whose reasons name only remaining plays."""
    service.played(ANN, "Aphex Twin")
    service.played(ANN, "Boards of Canada")
    service.played(BOB, "Caribou")
    with db.read() as conn:
        ids = {
            n: catalog.find_artist(conn, k).id
            for n, k in [("A", "aphex twin"), ("B", "boards of canada"), ("C", "caribou")]
        }  # type: ignore[union-attr]
        ann = catalog.find_member(conn, catalog.find_community(conn, "local", "c1"), "ann")  # type: ignore[arg-type]
        high = int(conn.execute(select(func.max(Play.id))).scalar_one())
    # C is like A; B points elsewhere. Stored pick for Ann: C, because of A.
    factors = np.array([[1.0, 0.0, 0.1], [0.0, 1.0, 0.0], [0.9, 0.2, 0.1]], dtype=np.float32)
    model = AlsRecommender.from_factors(
        AlsParams(rank=3, reg_param=0.1, alpha=2.0),
        [ids["A"], ids["B"], ids["C"]],
        factors,
        popularity=[1, 1, 1],
    )
    recs.write_generation(
        db,
        kind="artist",
        last_play_id=high,
        model=model.to_generation(),
        picks=[(ann, 1, ids["C"], 0.9, ids["A"])],
        now=clock(),
    )
    before = service.recommend(ANN, "artist", 1)
    assert before.source == "model" and (before.picks[0].name, before.picks[0].reason) == (
        "Caribou",
        "Aphex Twin",
    )
    service.remove_play(ANN, service.my_plays(ANN)[1].id)  # Aphex Twin
    after = service.recommend(ANN, "artist", 1)
    assert after.source == "fold-in"
    assert [p.name for p in after.picks] == ["Caribou"]
    assert all(p.reason != "Aphex Twin" for p in after.picks)
    assert after.picks[0].reason == "Boards of Canada"


def test_removing_an_imported_play_works_the_same_way(service: Service, db: Database) -> None:
    service.played(ANN, "Radiohead - Karma Police")
    with db.write() as conn:
        community = catalog.find_community(conn, "local", "c1")
        member = catalog.find_member(conn, community, "ann")  # type: ignore[arg-type]
        a = catalog.resolve_artist(conn, "Portishead", "portishead")
        catalog.add_play(
            conn,
            community=community,  # type: ignore[arg-type]
            member=member,  # type: ignore[arg-type]
            artist=a.id,
            track=None,
            played_at=dt.datetime(2019, 5, 1),
            count=12,
            source="lastfm",
            dedupe_key="lastfm:ann:1",
        )
    imported = service.my_plays(ANN)[0]
    assert (imported.what, imported.count, imported.source) == ("Portishead", 12, "lastfm")
    assert service.remove_play(ANN, imported.id).plays_left == 0
    assert [p.what for p in service.my_plays(ANN)] == ["Radiohead – Karma Police"]
