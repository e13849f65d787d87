"""/neighbours, /similar and /taste through the production path (SQLite → Spark retrain → generation →
service), on a hand-made two-community data set whose taste structure is obvious.

Community A has two clusters with disjoint artists (the "Alpha" and "Beta" bands; everybody in A also
plays a little Common Ground) and a private member of the Alpha cluster. Community B plays the Alpha
bands *together with* its own Gamma bands, so the model (trained on both communities) ties Alpha to
Gamma and B's members to A's Alpha cluster: only the per-community computation and the visibility rule
keep B's members and B's bands out of A's answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator

import numpy as np
import pytest
from sqlalchemy import func, select

from bot import render
from bot.parsing import UserError
from bot.platforms.console.commands import handle
from bot.service import Service, Who
from config.settings import Settings
from engine.batch import EngineContext, batch, retrain
from storage import catalog, recs, visibility
from storage.db import Database, open_database
from storage.models import MemberFactor, MemberNeighbour, RecGeneration, SimilarItem
from tests.conftest import Clock
from tests.databases import fresh_database_url
from tests.engine.helpers import add_plays
from tests.isolation import assert_clean

pytestmark = pytest.mark.spark

DAY = dt.datetime(2026, 11, 19, 10, 0)
ALPHA = [f"Alpha Band {k}" for k in range(1, 6)]
BETA = [f"Beta Band {k}" for k in range(1, 6)]
GAMMA = [f"Gamma Band {k}" for k in range(1, 6)]  # only community B plays these
COMMON = "Common Ground"
CLUSTER_1 = ["ann", "abe", "ada", "al", "amy"]
CLUSTER_2 = ["bob", "ben", "bea", "bill", "bo"]
PRIVATE = "quinn"  # Alpha cluster, plays it most of all, private
B_MEMBERS = ["cy", "cal", "cleo", "cora", "cruz", "cid"]
A_MEMBERS = CLUSTER_1 + CLUSTER_2 + [PRIVATE]
KINDS = ("artist", "track")

Row = tuple[str, str, str, str | None, dt.datetime | None, int]


def _band_plays(community: str, member: str, k: int, bands: list[str], weight: int) -> Iterator[Row]:
    """The member plays every band but the k-th of ``bands``, each with one track, varied counts."""
    for n, band in enumerate(bands):
        if n != k % len(bands):
            yield community, member, band, f"{band} Song", DAY, weight + (n * 3 + k) % 4


def world_rows() -> list[Row]:
    rows: list[Row] = []
    for k, m in enumerate(CLUSTER_1):
        rows += _band_plays("A", m, k, ALPHA, 3)
        rows.append(("A", m, COMMON, "Common Song", DAY, 1))
    for k, m in enumerate(CLUSTER_2):
        rows += _band_plays("A", m, k, BETA, 3)
        rows.append(("A", m, COMMON, "Common Song", DAY, 1))
    rows += [("A", PRIVATE, band, f"{band} Song", DAY, 12) for band in ALPHA]
    for k, m in enumerate(B_MEMBERS):
        rows += _band_plays("B", m, k, ALPHA, 4)
        rows += _band_plays("B", m, k + 2, GAMMA, 4)
    return rows


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        spark_master="local[2]",
        spark_shuffle_partitions=2,
        als_rank=8,
        als_iterations=8,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, spark) -> Iterator[tuple[Service, Database]]:  # type: ignore[no-untyped-def]
    with fresh_database_url(tmp_path_factory.mktemp("taste"), "taste.db") as url:
        yield from _world(_settings(url), spark)


def _world(settings: Settings, spark) -> Iterator[tuple[Service, Database]]:  # type: ignore[no-untyped-def]
    db = open_database(settings.database_url)
    add_plays(db, world_rows())
    clock = Clock(DAY + dt.timedelta(hours=3))
    svc = Service(db, settings, clock=clock)
    svc.privacy(Who("local", "A", PRIVATE), "private")
    batch(EngineContext(settings, db, spark=lambda: spark, clock=clock), retrain_now=True)
    yield svc, db
    db.dispose()


def a(member: str) -> Who:
    return Who("local", "A", member)


def _names_in(texts: Iterable[str], allowed: set[str]) -> None:
    for text in texts:
        assert text in allowed, text


# --- known answers ----------------------------------------------------------------------------


def test_neighbours_of_a_cluster_member_are_their_cluster_mates(world: tuple[Service, Database]) -> None:
    svc, db = world
    for me in CLUSTER_1:
        r = svc.neighbours(a(me))
        names = [e.name for e in r.entries]
        mates = set(CLUSTER_1) - {me}
        assert set(names[: len(mates)]) == mates, names
        assert me not in names and PRIVATE not in names
        scores = [e.score for e in r.entries]
        assert scores == sorted(scores, reverse=True)
        assert all(e.score > 0 and 0 < e.percent <= 100 for e in r.entries)
        # Any member of the other cluster comes after every cluster mate, with a lower score.
        others = [e.score for e in r.entries if e.name in CLUSTER_2]
        assert all(s < min(scores[: len(mates)]) for s in others)
        for e in r.entries[: len(mates)]:
            assert 1 <= len(e.shared) <= 3
            assert all(
                s.name in ALPHA + [COMMON] and s.your_plays > 0 and s.their_plays > 0 for s in e.shared
            )
    # The shared artists carry both members' play counts.
    with db.read() as conn:
        community = catalog.find_community(conn, "local", "A")
        assert community is not None
        ann, abe, quinn = (catalog.find_member(conn, community, m) for m in ("ann", "abe", PRIVATE))
        assert ann is not None and abe is not None
        mine = dict(catalog.member_items(conn, ann, "artist"))
        theirs = dict(catalog.member_items(conn, abe, "artist"))
        id_of = {name: i for i, name in catalog.item_names(conn, "artist", list(mine)).items()}
        ref = recs.active_generation_ref(conn, "artist")
        assert ref is not None
        stored = [m for m, _ in recs.stored_neighbours(conn, ref.id, ann, 10)]
    abe_entry = next(e for e in svc.neighbours(a("ann")).entries if e.name == "abe")
    assert abe_entry.shared
    for s in abe_entry.shared:
        assert (s.your_plays, s.their_plays) == (mine[id_of[s.name]], theirs[id_of[s.name]])
    # The private member is stored as a neighbour (privacy can change after a retrain) but never shown.
    assert quinn in stored


def test_similar_artists_and_tracks_of_a_cluster_are_that_cluster(world: tuple[Service, Database]) -> None:
    svc, _ = world
    for band in ALPHA:
        r = svc.similar(a("bob"), band.lower())  # any member asks; resolved by name
        assert (r.kind, r.item) == ("artist", band) and not r.note
        names = [e.name for e in r.entries]
        assert set(names[:4]) == set(ALPHA) - {band}, names
        assert band not in names
        assert [e.score for e in r.entries] == sorted((e.score for e in r.entries), reverse=True)
    for band in BETA:
        names = [e.name for e in svc.similar(a("ann"), band).entries]
        assert set(names[:4]) == set(BETA) - {band}, names
    track = svc.similar(a("ann"), "Alpha Band 2 - Alpha Band 2 Song")
    assert (track.kind, track.item) == ("track", "Alpha Band 2 – Alpha Band 2 Song")
    assert {e.name for e in track.entries[:4]} == {f"{b} – {b} Song" for b in ALPHA if b != "Alpha Band 2"}


def test_similar_answers_nobody_here_for_what_only_another_community_played(
    world: tuple[Service, Database],
) -> None:
    svc, _ = world
    for text in (GAMMA[0], GAMMA[1].upper(), f"{GAMMA[2]} - {GAMMA[2]} Song", "Never Heard Of Them"):
        r = svc.similar(a("ann"), text)
        shown = text.replace(" - ", " – ")  # "Artist – Title", as /whoknows shows what was typed
        assert r.empty and r.item == shown and r.note == f"Nobody here has played {shown} yet."
    # "Title by Artist" reads as /whoknows reads it, hit or miss.
    hit = svc.similar(a("ann"), "Alpha Band 2 Song by Alpha Band 2")
    assert hit.item == "Alpha Band 2 – Alpha Band 2 Song" and hit.entries
    miss = svc.similar(a("ann"), "Unknown Song by Alpha Band 2")
    assert miss.empty and miss.note == "Nobody here has played Alpha Band 2 – Unknown Song yet."
    assert svc.whoknows(a("ann"), "Unknown Song by Alpha Band 2").item == miss.item
    # B sees its own Gamma bands and their neighbours among what B played.
    r = svc.similar(Who("local", "B", "cy"), GAMMA[0])
    assert not r.empty and {e.name for e in r.entries} <= set(ALPHA + GAMMA)


def test_taste_scores_cluster_mates_above_other_clusters(world: tuple[Service, Database]) -> None:
    svc, _ = world
    mate = svc.taste(a("ann"), "abe")
    other = svc.taste(a("ann"), "bob")
    assert mate.member == "abe" and not mate.note
    assert mate.model_score is not None and other.model_score is not None
    assert mate.model_score > other.model_score
    assert mate.overlap_score > other.overlap_score
    assert 0 <= other.overlap_score < mate.overlap_score <= 100
    assert {s.name for s in mate.shared} <= set(ALPHA) | {COMMON} and mate.shared_count >= 3
    assert [s.name for s in other.shared] == [COMMON] and other.shared_count == 1
    # Ann skips Alpha Band 1, Abe skips Alpha Band 2: each could try the other's.
    assert mate.you_could_try == ["Alpha Band 1"] and mate.they_could_try == ["Alpha Band 2"]
    assert len(other.you_could_try) == 3 and set(other.you_could_try) <= set(BETA)
    assert len(other.they_could_try) == 3 and set(other.they_could_try) <= set(ALPHA)
    for pair in itertools.combinations(CLUSTER_1, 2):
        for across in CLUSTER_2:
            same, diff = svc.taste(a(pair[0]), pair[1]), svc.taste(a(pair[0]), across)
            assert same.model_score is not None and diff.model_score is not None
            assert same.model_score > diff.model_score and same.overlap_score > diff.overlap_score


def test_taste_refuses_private_unknown_and_other_communities_members(world: tuple[Service, Database]) -> None:
    svc, _ = world
    with pytest.raises(UserError, match=f"^{PRIVATE} keeps their listening private.$"):
        svc.taste(a("ann"), PRIVATE)
    for unknown in ("nobody", "cy"):  # cy is a member of B, not of A
        with pytest.raises(UserError, match="^That member has not logged any plays here yet.$"):
            svc.taste(a("ann"), unknown)
    with pytest.raises(UserError):
        svc.taste(a("ann"), "ann")
    # The private member may compare themselves with others.
    assert svc.taste(a(PRIVATE), "ann").model_score is not None


def test_profile_names_the_closest_public_neighbour(world: tuple[Service, Database]) -> None:
    svc, _ = world
    for me in [*CLUSTER_1, *CLUSTER_2]:
        first = svc.neighbours(a(me)).entries[0]
        p = svc.profile(a(me))
        assert (p.closest, p.closest_percent) == (first.name, first.percent)
        assert p.closest in (CLUSTER_1 if me in CLUSTER_1 else CLUSTER_2) and p.closest != PRIVATE
    # The private member's own profile names a public cluster mate; B's members name B's members.
    assert svc.profile(a(PRIVATE)).closest in CLUSTER_1
    for me in B_MEMBERS:
        assert svc.profile(Who("local", "B", me)).closest in B_MEMBERS


def test_console_renders_neighbours_similar_and_taste(world: tuple[Service, Database]) -> None:
    svc, _ = world
    out = handle(svc, a("ann"), "/neighbours")
    assert out == render.neighbours_text(svc.neighbours(a("ann")))
    assert out is not None and out.splitlines()[0] == "Your closest listeners here"
    assert out.splitlines()[1].startswith(" 1. ") and "% match · both play " in out
    similar = handle(svc, a("ann"), "/similar Alpha Band 1")
    assert similar == render.similar_text(svc.similar(a("ann"), "Alpha Band 1"))
    assert similar is not None and similar.startswith("Artists like Alpha Band 1, from this community's")
    taste_out = handle(svc, a("ann"), "/taste abe")
    assert taste_out == render.taste_text(svc.taste(a("ann"), "abe"))
    assert taste_out is not None and taste_out.splitlines()[0] == "You and abe: taste compared"
    assert "You could try (from abe): Alpha Band 1" in taste_out.splitlines()
    assert handle(svc, a("ann"), "/taste quinn") == "Sorry — quinn keeps their listening private."
    assert handle(svc, a("ann"), "/taste") == "Sorry — Whose taste? Try `/taste <member id>`."
    assert handle(svc, a("ann"), "/similar Gamma Band 1") == "Nobody here has played Gamma Band 1 yet."
    assert handle(svc, a("ann"), "/similar").startswith("Sorry — Which artist or track?")  # type: ignore[union-attr]


def test_notes_without_a_model_or_for_a_member_the_model_does_not_know(
    world: tuple[Service, Database], settings: Settings, db: Database, clock: Clock
) -> None:
    fresh = Service(db, settings, clock=clock)
    assert fresh.neighbours(a("ann")).note.startswith("You have not logged any plays")
    fresh.played(a("ann"), "Alpha Band 1")
    fresh.played(a("abe"), "Alpha Band 1")
    assert fresh.neighbours(a("ann")).note.startswith("No taste model has been trained yet")
    assert fresh.similar(a("ann"), "Alpha Band 1").note.startswith("No taste model")
    t = fresh.taste(a("ann"), "abe")
    assert t.model_score is None and t.note.startswith("No taste model")
    assert [s.name for s in t.shared] == ["Alpha Band 1"] and t.overlap_score == 100.0
    svc, _ = world
    svc.played(a("newcomer"), "Alpha Band 2")  # after the retrain: not in the model
    r = svc.neighbours(a("newcomer"))
    assert r.empty and r.note.startswith("The model does not know your taste yet")
    t = svc.taste(a("newcomer"), "ann")
    assert t.model_score is None and t.note.startswith("The model does not know both of you")
    assert [s.name for s in t.shared] == ["Alpha Band 2"]
    # An artist only one member here played has no stored similar artists: a note says why.
    svc.played(a("newcomer"), "=Solo Project")
    r = svc.similar(a("ann"), "Solo Project")
    assert (r.item, r.entries) == ("Solo Project", [])
    assert r.note.startswith("Not enough to go on yet: similar artists come from what at least two members")


# --- isolation ------------------------------------------------------------------------------


def test_nothing_of_B_appears_in_As_neighbours_similar_or_taste(world: tuple[Service, Database]) -> None:
    svc, db = world
    with db.read() as conn:
        community = catalog.find_community(conn, "local", "A")
        assert community is not None
        a_artists = set(
            catalog.item_names(
                conn, "artist", visibility.visible_items(conn, community, "artist").tolist()
            ).values()
        )
        a_tracks = set(
            catalog.item_names(
                conn, "track", visibility.visible_items(conn, community, "track").tolist()
            ).values()
        )
    assert a_artists >= set(ALPHA + BETA + [COMMON]) and not a_artists & set(GAMMA)
    svc.played(a("newcomer"), "Beta Band 1 - Beta Band 1 Song")  # logged after the retrain
    members = A_MEMBERS + ["newcomer"]
    shown: list[str] = []
    for me in members:
        n = svc.neighbours(a(me))
        _names_in((e.name for e in n.entries), set(A_MEMBERS) - {me, PRIVATE})
        _names_in((s.name for e in n.entries for s in e.shared), a_artists)
        shown += [e.name for e in n.entries] + [s.name for e in n.entries for s in e.shared] + [n.note]
        for other in members:
            if other in (me, PRIVATE):
                continue
            t = svc.taste(a(me), other)
            _names_in([s.name for s in t.shared] + t.you_could_try + t.they_could_try, a_artists)
            shown += [s.name for s in t.shared] + t.you_could_try + t.they_could_try + [t.note, t.member]
    for artist in sorted(a_artists):
        r = svc.similar(a("ann"), artist)
        _names_in((e.name for e in r.entries), a_artists - {artist})
        shown += [e.name for e in r.entries] + [r.note]
    for track in sorted(a_tracks):
        r = svc.similar(a("ann"), track.replace(" – ", " - "))
        assert r.kind == "track" and r.item == track
        _names_in((e.name for e in r.entries), a_tracks - {track})
        shown += [e.name for e in r.entries] + [r.note]
    assert_clean(shown, GAMMA + B_MEMBERS)


def test_stored_rows_never_cross_communities(world: tuple[Service, Database]) -> None:
    _, db = world
    with db.read() as conn:
        community_of = catalog.member_communities(conn)
        kind_of = {int(g): str(k) for g, k in conn.execute(select(RecGeneration.id, RecGeneration.kind))}
        neighbours = conn.execute(select(MemberNeighbour.member_id, MemberNeighbour.neighbour_id)).all()
        similar = conn.execute(
            select(
                SimilarItem.generation_id,
                SimilarItem.community_id,
                SimilarItem.item_id,
                SimilarItem.similar_id,
            )
        ).all()
        seen = {
            (c, k): visibility.visible_items(conn, c, k) for c in set(community_of.values()) for k in KINDS
        }
    assert neighbours and similar
    assert all(community_of[m] == community_of[o] and m != o for m, o in neighbours)
    assert {c for _, c, _, _ in similar} == set(community_of.values())
    for gen, c, i, j in similar:
        assert visibility.contains(seen[(c, kind_of[gen])], np.array([i, j])).all()


# --- atomicity ------------------------------------------------------------------------------


def test_a_failed_retrain_keeps_the_previous_neighbours_and_similar_serving(
    settings: Settings,
    db: Database,
    spark,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    add_plays(db, world_rows())
    svc = Service(db, settings, clock=clock)
    ctx = EngineContext(settings, db, spark=lambda: spark, clock=clock)
    assert retrain(ctx, "artist") is not None
    before = (svc.neighbours(a("ann")), svc.similar(a("ann"), ALPHA[0]), svc.taste(a("ann"), "bob"))
    assert before[0].entries and before[1].entries and before[2].model_score is not None
    with db.read() as conn:
        good = recs.active_generation_ref(conn, "artist")
        rows_before = _taste_rows(conn)
    assert good is not None and set(rows_before) == {good.id}
    # New plays that would change the answers: Ann now plays Beta bands a lot.
    add_plays(db, [("A", "ann", band, None, DAY, 30) for band in BETA], tag="more")

    def boom(point: str) -> None:
        if point == "before-switch-commit":
            raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError, match="executor lost"):
        retrain(EngineContext(settings, db, spark=lambda: spark, clock=clock, fault=boom), "artist")
    with db.read() as conn:
        assert recs.active_generation_ref(conn, "artist") == good
        assert _taste_rows(conn) == rows_before  # no row of the failed generation is left
        assert set(conn.execute(select(RecGeneration.id)).scalars()) == {good.id}
    # Who and how close come from the generation (the shared artists are read now: Ann's new plays
    # may show up in them).
    assert [(e.name, e.score) for e in svc.neighbours(a("ann")).entries] == [
        (e.name, e.score) for e in before[0].entries
    ]
    assert svc.similar(a("ann"), ALPHA[0]) == before[1]
    assert svc.taste(a("ann"), "bob").model_score == before[2].model_score
    # The next retrain that succeeds switches all of it at once.
    assert retrain(ctx, "artist") is not None
    with db.read() as conn:
        new = recs.active_generation_ref(conn, "artist")
        assert new is not None and new.id != good.id
        assert new.id in _taste_rows(conn)
    assert svc.taste(a("ann"), "bob").model_score != before[2].model_score


def _taste_rows(conn) -> dict[int, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Per generation: member vectors, neighbour rows and similar-item rows."""
    out: dict[int, list[int]] = {}
    for n, table in enumerate((MemberFactor, MemberNeighbour, SimilarItem)):
        for gen, count in conn.execute(
            select(table.generation_id, func.count()).group_by(table.generation_id)
        ).all():
            out.setdefault(int(gen), [0, 0, 0])[n] = int(count)
    return {g: (c[0], c[1], c[2]) for g, c in out.items()}
