"""Community isolation at the service layer: after a batch, after a retrain and on the fold-in path,
nothing community A is shown names an artist or track seen only in community B."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest

from bot.service import NameQuestion, Recommendations, Service, Who
from config.settings import Settings
from engine.batch import EngineContext, batch
from engine.recommender import AlsRecommender
from storage import catalog, recs, visibility
from storage.db import Database
from tests.conftest import Clock
from tests.engine.helpers import add_plays
from tests.isolation import ONLY_A, ONLY_B, SHARED, assert_clean, plays

pytestmark = pytest.mark.spark

DAY = dt.datetime(2026, 11, 19, 10, 0)


def _rows() -> list[tuple[str, str, str, str | None, dt.datetime | None, int]]:
    return [(c, m, a, t, DAY, n) for c in ("A", "B") for m, a, t, n in plays(c)]


def _texts(recs: Recommendations) -> Iterable[str]:
    for p in recs.picks:
        yield p.name
        if p.reason:
            yield p.reason
    yield recs.note


@pytest.fixture
def world(settings: Settings, db: Database, spark, clock: Clock) -> Service:  # type: ignore[no-untyped-def]
    clock.now = DAY + dt.timedelta(hours=3)
    add_plays(db, _rows())
    ctx = EngineContext(settings, db, spark=lambda: spark, clock=clock)
    batch(ctx, retrain_now=True)
    return Service(db, settings, clock=clock)


def test_no_answer_of_A_names_what_only_B_played(world: Service, db: Database) -> None:
    svc = world
    shown: list[str] = []
    for m in range(6):
        who = Who("local", "A", f"a{m}")
        for kind in ("artist", "track"):
            r = svc.recommend(who, kind, 25)
            assert r.source == "model"
            shown += assert_clean(_texts(r), ONLY_B)
    with db.read() as conn:
        a = catalog.find_community(conn, "local", "A")
        b = catalog.find_community(conn, "local", "B")
        assert a is not None and b is not None
        names_a = catalog.item_names(conn, "artist", visibility.visible_items(conn, a, "artist").tolist())
        names_b = catalog.item_names(conn, "artist", visibility.visible_items(conn, b, "artist").tolist())
    assert set(names_a.values()) == set(SHARED + ONLY_A)
    assert set(names_b.values()) == set(SHARED + ONLY_B)
    assert any(name in " ".join(shown) for name in ONLY_A)  # A's own artists are recommended
    # The model scores B's private artists for A's members: without the rule a 25-pick answer shows them.
    with db.read() as conn:
        ref = recs.active_generation_ref(conn, "artist")
        assert ref is not None
        gen = recs.generation(conn, ref[0])
        assert gen is not None
        factors = recs.load_factors(conn, gen)
        member = catalog.find_member(conn, a, "a0")
        assert member is not None
        history = catalog.member_items(conn, member, "artist")
    unfiltered = AlsRecommender.from_generation(gen, factors).recommend(history, 25, visible=factors.ids)
    assert set(names_b[p.item_id] for p in unfiltered if p.item_id in names_b) & set(ONLY_B)

    # Trending, digest and export of A.
    who = Who("local", "A", "a0")
    for window in ("24h", "7d", "all"):
        for kind in ("artist", "track"):
            t = svc.trending(who, window, kind)
            assert_clean([e.name for e in t.entries] + [t.note], ONLY_B)
    d = svc.digest(who, day=DAY.date())
    assert_clean([e.name for e in d.top_tracks + d.top_artists] + d.new_artists + list(d.series), ONLY_B)
    for kind in ("artist", "track"):
        rows = list(svc.all_recommendations(kind=kind, k=50, platform_and_id=("local", "A")))
        assert rows
        assert_clean([f"{r[2]} {r[4]}" for r in rows], ONLY_B)


def test_fold_in_and_new_members_see_only_their_community(world: Service) -> None:
    svc = world
    # A brand-new member of A, and an existing one, log a shared artist: fold-in picks.
    for member in ("newcomer", "a1"):
        who = Who("local", "A", member)
        svc.played(who, "Radiohead - Radiohead Song 0")
        svc.played(who, "Portishead - Portishead Song 1")
        for kind in ("artist", "track"):
            r = svc.recommend(who, kind, 25)
            assert r.source == "fold-in", r
            assert_clean(_texts(r), ONLY_B)
    # B's members do get B's world (the rule cuts per community, it does not empty the model).
    who_b = Who("local", "B", "newcomer-b")
    svc.played(who_b, "Radiohead - Radiohead Song 0")
    picks = [p.name for p in svc.recommend(who_b, "artist", 25).picks]
    assert set(picks) & set(ONLY_B)


def test_played_never_corrects_to_another_communitys_spelling(world: Service) -> None:
    svc = world
    # Within B, a near miss is a question naming B's own entry (nothing is merged silently) …
    with pytest.raises(NameQuestion) as asked:
        svc.played(Who("local", "B", "b0"), "Hidden Orchestra Of Be - Intro")
    assert asked.value.question.candidate.startswith("Hidden Orchestra Of Bee")
    # … while in A the same spelling is A's own new entry, and the reply names nothing of B's.
    who = Who("local", "A", "a0")
    r = svc.played(who, "Hidden Orchestra Of Be - Intro")
    assert r.artist == "Hidden Orchestra Of Be" and r.corrected_from is None
    for query in ("secret", "private band", "hidden", "basement", ""):
        assert_clean(svc.suggest(who, query), ONLY_B)
    assert svc.suggest(who, "hidden")[0] == "Hidden Orchestra Of Be"


def test_public_community_is_visible_to_every_community(world: Service, db: Database) -> None:
    svc = world
    who = Who("local", "A", "a2")
    with db.write() as conn:
        b = catalog.find_community(conn, "local", "B")
        assert b is not None
        visibility.set_public(conn, b, True)
    # Stored picks were cut to A's items at retrain; now B's items are visible, fold-in may use them.
    svc.played(who, "Radiohead - Radiohead Song 0")
    names = [p.name for p in svc.recommend(who, "artist", 25).picks]
    assert set(names) & set(ONLY_B)
    with db.write() as conn:
        visibility.set_public(conn, b, False)
    svc.played(who, "Radiohead - Radiohead Song 0")
    assert_clean(_texts(svc.recommend(who, "artist", 25)), ONLY_B)


def test_fold_in_does_not_reveal_that_another_community_played_an_item(world: Service) -> None:
    """A's newcomer plays only an artist that only B had played before the retrain: the model has
    factors for it, but answering with model picks would tell the member "someone here played it"."""
    svc = world
    who = Who("local", "A", "curious")
    svc.played(who, "Secret Quartet - Secret Quartet Secret Song 1")
    r = svc.recommend(who, "artist", 10)
    assert r.source in ("trending", "none"), r
    assert_clean(_texts(r), [name for name in ONLY_B if name != "Secret Quartet"])
    # Once the member also plays an artist A had played, fold-in works, and never offers the other back.
    svc.played(who, "Radiohead - Radiohead Song 0")
    r = svc.recommend(who, "artist", 10)
    assert r.source == "fold-in"
    assert "Secret Quartet" not in [p.name for p in r.picks]
    assert_clean([p.reason or "" for p in r.picks], ONLY_B)
