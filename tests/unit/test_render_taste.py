"""Known answers for the text of /neighbours, /similar, /taste and the profile's closest neighbour
(bot/render.py), from hand-made service results: what the console prints and what Slack and Discord
use as fallback text."""

from __future__ import annotations

import datetime as dt

from bot import render
from bot.service import Neighbour, Neighbours, Profile, SharedArtist, Similar, SimilarEntry, Taste

BJORK = SharedArtist("Björk", 12, 30)
AIR = SharedArtist("Air", 3, 9)


def test_neighbours_text_lists_match_and_shared_artists() -> None:
    n = Neighbours(
        "Ada",
        [Neighbour(1, "Bob", 0.834, [BJORK, AIR]), Neighbour(2, "Cy", -0.2, [])],
    )
    assert render.neighbours_text(n) == "\n".join(
        [
            "Your closest listeners here",
            " 1. Bob — 83% match · both play Björk, Air",
            " 2. Cy — 0% match",
            "Match: how alike your listening is, by the recommender's model (as of the last retrain).",
        ]
    )
    assert render.neighbours_title(n, shared=True) == "Ada's closest listeners here"
    assert render.neighbours_text(Neighbours("Ada", [], note="Nobody yet.")) == "Nobody yet."


def test_similar_text_and_its_note() -> None:
    s = Similar("track", "Air – La Femme d'Argent", [SimilarEntry(1, "Air – Playground Love", 0.9)])
    assert render.similar_text(s) == (
        "Tracks like Air – La Femme d'Argent, from this community's listening\n 1. Air – Playground Love"
    )
    assert render.similar_text(Similar("artist", "Air", [], note="Not enough.")) == "Not enough."


def _taste(**kw: object) -> Taste:
    base = dict(
        asker="Ada",
        member="Bob",
        shared=[BJORK, AIR],
        shared_count=5,
        model_score=71.6,
        overlap_score=40.2,
        you_could_try=["Caribou"],
        they_could_try=["Four Tet", "Bonobo"],
    )
    return Taste(**{**base, **kw})  # type: ignore[arg-type]


def test_taste_text_private_and_shared_wording() -> None:
    assert render.taste_text(_taste()) == "\n".join(
        [
            "You and Bob: taste compared",
            "Model match: 72% — how alike your listening is, by the recommender's model "
            "(as of the last retrain)",
            "Overlap: 40% — how much of both your plays go to the same artists",
            "5 artists in common (the top 2):",
            "  Björk — you 12, Bob 30",
            "  Air — you 3, Bob 9",
            "You could try (from Bob): Caribou",
            "Bob could try (from you): Four Tet, Bonobo",
        ]
    )
    shared = render.taste_text(_taste(shared_count=2, you_could_try=[]), shared=True).splitlines()
    assert shared[0] == "Ada and Bob: taste compared"
    assert shared[3:] == [
        "2 artists in common:",
        "  Björk — Ada 12, Bob 30",
        "  Air — Ada 3, Bob 9",
        "Bob could try (from Ada): Four Tet, Bonobo",
    ]


def test_taste_without_a_model_score_says_why() -> None:
    t = _taste(model_score=None, shared=[], shared_count=0, note="No taste model has been trained yet.")
    lines = render.taste_text(t).splitlines()
    assert lines[1] == "Model match: — (No taste model has been trained yet.)"
    assert lines[3] == "No artists in common yet."


def test_profile_closest_neighbour_field() -> None:
    p = Profile("Ada", True, 4, 2, 2, dt.datetime(2026, 11, 18), 1, 3, "Air", False, "Bob", 83.4)
    assert render.profile_fields(p)[-1] == ("Closest neighbour", "Bob (83% match)")
    bare = Profile("Ada", True, 4, 2, 2, None, 1, 3, "Air", False)
    assert render.profile_fields(bare)[-1] == ("Closest neighbour", "— (comes with the next retrain)")
