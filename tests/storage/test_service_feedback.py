"""👍 / 👎 on picks at the service layer, with known answers: a generation written with known factors
and stored picks, then what /recommend shows from stored picks, fold-in and the trending fallback
once a member hid something — in one community and not the other."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.parsing import UserError
from bot.service import FEEDBACK_DOWN, FEEDBACK_UP, HiddenReset, Recommendations, Service, Who
from storage import catalog
from storage import feedback as pick_feedback
from storage.db import Database
from storage.models import PickFeedback
from tests.conftest import Clock
from tests.known_picks import write_known_generation

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
BOB = Who("local", "c1", "bob", member_name="Bob")
CAT = Who("local", "c1", "cat", member_name="Cat")
EVE = Who("local", "c2", "ann", community_name="Other", member_name="Eve")  # same member id, other community
DAN = Who("local", "c2", "dan", member_name="Dan")


def names(r: Recommendations) -> list[str]:
    return [p.name for p in r.picks]


@pytest.fixture
def world(service: Service, db: Database, clock: Clock) -> dict[str, int]:
    """c1: Ann (Air, Blur), Bob (Caribou, Daft Punk, Eels), Cat (Air). c2: Eve (Air), Dan (Caribou,
    Daft Punk). A generation with known factors; Ann's stored picks Caribou, Daft Punk, Eels."""
    for artist in ("Air", "Blur"):
        service.played(ANN, artist)
    for artist in ("Caribou", "Daft Punk", "Eels"):
        service.played(BOB, artist)
    service.played(CAT, "Air")
    service.played(EVE, "Air")
    for artist in ("Caribou", "Daft Punk"):
        service.played(DAN, artist)
    return write_known_generation(db, clock(), "local", "c1", "ann")


def test_picks_carry_their_item_ids_and_no_hidden_count(service: Service, world: dict[str, int]) -> None:
    r = service.recommend(ANN, "artist", 3)
    assert r.source == "model" and names(r) == ["Caribou", "Daft Punk", "Eels"] and r.hidden == 0
    assert [p.item_id for p in r.picks] == [world["C"], world["D"], world["E"]]


def test_a_thumbs_down_hides_the_item_from_stored_picks_at_once(
    service: Service, world: dict[str, int]
) -> None:
    done = service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)
    assert (done.name, done.verdict, done.before, done.hidden, done.changed) == (
        "Caribou",
        FEEDBACK_DOWN,
        None,
        1,
        True,
    )
    # Two asked, three stored: the stored picks still fill the answer without Caribou.
    r = service.recommend(ANN, "artist", 2)
    assert (r.source, names(r), r.hidden) == ("model", ["Daft Punk", "Eels"], 1)
    assert [p.rank for p in r.picks] == [1, 2]
    # Three asked: the stored picks run out without Caribou, so the answer is folded in (without it).
    r = service.recommend(ANN, "artist", 3)
    assert (r.source, names(r), r.hidden) == ("fold-in", ["Daft Punk", "Eels"], 1)
    again = service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)  # a second press
    assert (again.before, again.changed, again.hidden) == (FEEDBACK_DOWN, False, 1)


def test_a_hidden_item_stays_out_of_the_fold_in_after_new_plays(
    service: Service, world: dict[str, int]
) -> None:
    service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)
    service.played(ANN, "Air")  # newer than the generation: the answer is a fold-in
    r = service.recommend(ANN, "artist", 10)
    assert (r.source, names(r), r.hidden) == ("fold-in", ["Daft Punk", "Eels"], 1)
    # Even once Ann plays it: a hidden item is neither offered nor a reason.
    service.played(ANN, "Caribou")
    r = service.recommend(ANN, "artist", 10)
    assert r.source == "fold-in" and "Caribou" not in names(r) and all(p.reason != "Caribou" for p in r.picks)


def test_hidden_is_per_member_and_per_community(service: Service, world: dict[str, int]) -> None:
    service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)
    # Cat, in the same community, and Eve, the same member id in another one, still get Caribou.
    assert names(service.recommend(CAT, "artist", 10))[:1] == ["Caribou"]
    eve = service.recommend(EVE, "artist", 10)
    assert names(eve) == ["Caribou", "Daft Punk"] and eve.hidden == 0
    assert "Caribou" not in names(service.recommend(ANN, "artist", 10))


def test_a_press_on_an_item_this_community_cannot_see_is_refused_and_names_nothing(
    service: Service, db: Database, world: dict[str, int]
) -> None:
    service.played(DAN, "Zola Jesus")  # only c2 played it
    with db.read() as conn:
        zola = catalog.find_artist(conn, "zola jesus").id  # type: ignore[union-attr]
    for item in (zola, 10_000_000):
        with pytest.raises(UserError, match="not available here") as caught:
            service.feedback(ANN, "artist", item, FEEDBACK_DOWN)
        assert "Zola" not in str(caught.value)
    with pytest.raises(UserError, match="not available here"):
        service.feedback(ANN, "playlist", world["C"], FEEDBACK_DOWN)
    with pytest.raises(UserError, match="not available here"):
        service.feedback(ANN, "artist", world["C"], "meh")
    with pytest.raises(UserError, match="not available here"):
        service.feedback(Who("local", "c9", "ann"), "artist", world["C"], FEEDBACK_DOWN)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(PickFeedback)).scalar_one() == 0


def test_reset_brings_hidden_items_back_and_keeps_thumbs_up(
    service: Service, db: Database, world: dict[str, int]
) -> None:
    service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)
    service.feedback(ANN, "artist", world["E"], FEEDBACK_DOWN)
    liked = service.feedback(ANN, "artist", world["D"], FEEDBACK_UP)
    assert (liked.verdict, liked.hidden) == (FEEDBACK_UP, 2)
    r = service.recommend(ANN, "artist", 10)
    assert names(r) == ["Daft Punk"] and r.hidden == 2
    assert service.reset_hidden(ANN) == HiddenReset(artists=2, tracks=0)
    r = service.recommend(ANN, "artist", 3)
    assert (r.source, names(r), r.hidden) == ("model", ["Caribou", "Daft Punk", "Eels"], 0)
    assert service.reset_hidden(ANN) == HiddenReset(0, 0)
    assert service.reset_hidden(Who("local", "c9", "nobody")).total == 0
    with db.read() as conn:
        assert pick_feedback.verdicts(conn, "artist") == [
            (catalog.find_member(conn, catalog.find_community(conn, "local", "c1"), "ann"), world["D"], "up")  # type: ignore[arg-type]
        ]


def test_a_thumbs_up_after_a_thumbs_down_brings_the_item_back(
    service: Service, world: dict[str, int]
) -> None:
    service.feedback(ANN, "artist", world["C"], FEEDBACK_DOWN)
    back = service.feedback(ANN, "artist", world["C"], FEEDBACK_UP)
    assert (back.before, back.verdict, back.hidden) == (FEEDBACK_DOWN, FEEDBACK_UP, 0)
    assert names(service.recommend(ANN, "artist", 3)) == ["Caribou", "Daft Punk", "Eels"]


def test_trending_picks_leave_hidden_items_out_too(service: Service) -> None:
    service.played(BOB, "Caribou - Sun")
    service.played(BOB, "Caribou - Sun")
    service.played(BOB, "Eels - Novocaine")
    newcomer = Who("local", "c1", "new", member_name="New")  # no plays, no model: trending picks
    first = service.recommend(newcomer, "track", 5)
    assert first.source == "trending" and names(first) == ["Caribou – Sun", "Eels – Novocaine"]
    done = service.feedback(newcomer, "track", first.picks[0].item_id or 0, FEEDBACK_DOWN)  # makes them known
    assert (done.name, done.hidden) == ("Caribou – Sun", 1)
    again = service.recommend(newcomer, "track", 5)
    assert (again.source, names(again), again.hidden) == ("trending", ["Eels – Novocaine"], 1)
    assert service.recommend(newcomer, "artist", 5).hidden == 0  # counted per kind
    assert service.reset_hidden(newcomer) == HiddenReset(0, 1)
