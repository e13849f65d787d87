"""/whoknows, /top, /recent, /profile and /privacy at the service layer: known answers on a small
hand-made community (ties, a private member, a member with no plays, a name only another community
played, a removed play), and nothing crossing into a second community."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.parsing import UserError
from bot.service import Service, Who
from tests.conftest import Clock

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
BOB = Who("local", "c1", "bob", member_name="Bob")
CAT = Who("local", "c1", "cat", member_name="Cat")
DAN = Who("local", "c1", "dan", member_name="Dan")  # never plays
EVE = Who("local", "c2", "eve", community_name="Other", member_name="Eve")


@pytest.fixture
def crew(service: Service, clock: Clock) -> Service:
    """Day 1 (Nov 18): Ann Radiohead x2, Bob Radiohead x2 (a tie, Bob later), Cat Björk.
    Day 2 (Nov 19): Ann Radiohead - Airbag, Cat Radiohead. Day 4 (Nov 20, today): Ann Björk - Jóga.
    Eve (another community) plays The Kills, and The Killers a lot."""
    clock.now = dt.datetime(2026, 11, 18, 9, 0)
    service.played(ANN, "Radiohead")
    service.played(ANN, "Radiohead")
    clock.advance(hours=1)
    service.played(BOB, "Radiohead")
    service.played(BOB, "Radiohead")
    service.played(CAT, "Björk")
    clock.now = dt.datetime(2026, 11, 19, 20, 0)
    service.played(ANN, "Radiohead - Airbag")
    service.played(CAT, "Radiohead")
    for _ in range(5):
        service.played(EVE, "The Killers")
    service.played(EVE, "=The Kills")
    clock.now = dt.datetime(2026, 11, 20, 12, 0)
    service.played(ANN, "Björk - Jóga")
    return service


def test_whoknows_ranks_members_ties_by_the_latest_play(crew: Service) -> None:
    w = crew.whoknows(CAT, "radiohead")
    assert w.item == "Radiohead" and w.kind == "artist"
    assert [(k.rank, k.name, k.plays, k.is_you) for k in w.top] == [
        (1, "Ann", 3, False),  # 2 + Airbag
        (2, "Bob", 2, False),
        (3, "Cat", 1, True),
    ]
    assert (w.listeners, w.plays, w.you) == (3, 6, None)
    track = crew.whoknows(ANN, "Radiohead - Airbag")
    assert (track.kind, track.item, [(k.name, k.plays) for k in track.top]) == (
        "track",
        "Radiohead – Airbag",
        [("Ann", 1)],
    )
    assert crew.whoknows(ANN, "Airbag by Radiohead").item == "Radiohead – Airbag"


def test_whoknows_tie_on_plays_goes_to_the_most_recent(crew: Service, clock: Clock) -> None:
    crew.played(ANN, "=Mogwai")
    clock.advance(minutes=5)
    crew.played(BOB, "Mogwai")
    assert [k.name for k in crew.whoknows(ANN, "Mogwai").top] == ["Bob", "Ann"]


def test_whoknows_never_names_another_communitys_artist(crew: Service) -> None:
    for text in ("The Kills", "The Killers", "the killers"):
        w = crew.whoknows(ANN, text)
        assert w.empty and w.item == text and (w.listeners, w.plays) == (0, 0)
    assert crew.whoknows(EVE, "The Kills").top[0].plays == 1  # Eve's own community sees it
    assert crew.whoknows(EVE, "Radiohead").empty


def test_a_removed_play_of_a_name_only_another_community_plays_leaves_nothing_here(crew: Service) -> None:
    crew.played(ANN, "The Kills")  # the entry Eve's community plays: same name
    assert [k.name for k in crew.whoknows(ANN, "The Kills").top] == ["Ann"]
    crew.undo(ANN)
    for ask in (ANN, BOB):
        w = crew.whoknows(ask, "The Kills")
        assert w.empty and (w.item, w.listeners, w.plays) == ("The Kills", 0, 0)
        s = crew.similar(ask, "The Kills")
        assert s.empty and s.note == "Nobody here has played The Kills yet."
    assert "The Kills" not in [e.name for e in crew.top(ANN).entries]
    assert "The Kills" not in [e.what for e in crew.recent(BOB, "ann").entries]
    assert (crew.profile(ANN).plays, crew.profile(ANN).artists) == (4, 2)
    with pytest.raises(UserError, match="^That member has not logged any plays here yet.$"):
        crew.taste(ANN, "eve")
    assert crew.whoknows(EVE, "The Kills").top[0].name == "Eve"  # still Eve's, in her community


def test_the_askers_rank_is_shown_outside_the_top_ten(service: Service) -> None:
    for n in range(12):
        m = Who("local", "c1", f"m{n:02}", member_name=f"M{n:02}")
        for _ in range(20 - n):
            service.played(m, "Low")
    last = Who("local", "c1", "m11")
    w = service.whoknows(last, "Low")
    assert len(w.top) == 10 and w.you is not None
    assert (w.you.rank, w.you.name, w.you.plays, w.you.is_you) == (12, "M11", 9, True)


def test_a_private_member_is_left_out_of_others_answers(crew: Service) -> None:
    assert crew.privacy(BOB, "private") is True
    w = crew.whoknows(ANN, "Radiohead")
    # Still counted (the figures add up), never named.
    assert [(k.rank, k.name, k.plays) for k in w.top] == [(1, "Ann", 3), (2, None, 2), (3, "Cat", 1)]
    assert crew.whoknows(BOB, "Radiohead").top[1].name == "Bob"  # Bob sees himself
    for ask in (crew.recent, crew.profile):
        with pytest.raises(UserError, match="Bob keeps their listening private"):
            ask(ANN, "bob")
    with pytest.raises(UserError, match="private"):
        crew.top(ANN, "artist", "all", "bob")
    assert crew.profile(BOB).private and crew.recent(BOB).entries  # their own view is unchanged
    assert [e.name for e in crew.trending(ANN, "all", "artist").entries][0] == "Radiohead"
    assert crew.trending(ANN, "all", "artist").entries[0].plays == 6  # anonymous figures count them
    assert crew.privacy(BOB, "public") is False
    assert crew.whoknows(ANN, "Radiohead").top[1].name == "Bob"
    with pytest.raises(UserError, match="privacy private"):
        crew.privacy(BOB, "hidden")


def test_top_charts_by_period(crew: Service) -> None:
    chart = crew.top(ANN, "artist", "all")
    assert chart.is_you and [(e.rank, e.name, e.plays) for e in chart.entries] == [
        (1, "Radiohead", 3),
        (2, "Björk", 1),
    ]
    tracks = crew.top(CAT, "track", "all", "ann")
    assert not tracks.is_you and tracks.member == "Ann"
    # A tie keeps the catalog's order (the older entry first): stable from one ask to the next.
    assert [(e.name, e.plays) for e in tracks.entries] == [("Radiohead – Airbag", 1), ("Björk – Jóga", 1)]
    day = crew.top(ANN, "artist", "7d")
    assert [e.name for e in day.entries] == ["Radiohead", "Björk"]
    with pytest.raises(UserError, match="Unknown period"):
        crew.top(ANN, "artist", "decade")


def test_top_within_a_window(crew: Service, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 12, 10, 12, 0)
    assert crew.top(ANN, "artist", "7d").entries == []
    assert [e.name for e in crew.top(ANN, "artist", "30d").entries] == ["Radiohead", "Björk"]


def test_recent_newest_first_and_removed_plays_gone(crew: Service) -> None:
    recent = crew.recent(ANN)
    assert [e.what for e in recent.entries] == [
        "Björk – Jóga",
        "Radiohead – Airbag",
        "Radiohead",
        "Radiohead",
    ]
    assert recent.entries[0].played_at == dt.datetime(2026, 11, 20, 12, 0)
    crew.undo(ANN)
    assert [e.what for e in crew.recent(BOB, "ann").entries][0] == "Radiohead – Airbag"


def test_profile_totals_and_streaks(crew: Service, clock: Clock) -> None:
    p = crew.profile(ANN)
    assert (p.member, p.is_you, p.plays, p.artists, p.tracks) == ("Ann", True, 4, 2, 2)
    assert p.member_since == dt.datetime(2026, 11, 18, 9, 0)
    assert (p.current_streak, p.longest_streak, p.top_artist) == (3, 3, "Radiohead")
    clock.now = dt.datetime(2026, 11, 23, 8, 0)
    later = crew.profile(CAT, "ann")
    assert (later.current_streak, later.longest_streak, later.is_you) == (0, 3, False)


def test_a_member_with_no_plays_gets_a_friendly_answer(crew: Service) -> None:
    mine = crew.profile(DAN)
    assert (mine.plays, mine.top_artist, mine.current_streak) == (0, None, 0)
    assert crew.recent(DAN).entries == [] and crew.top(DAN).entries == []
    with pytest.raises(UserError, match="has not logged any plays here"):
        crew.profile(ANN, "dan")
    with pytest.raises(UserError, match="has not logged any plays here"):
        crew.recent(ANN, "eve")  # a member of another community is nobody here


def test_help_lists_every_command_with_an_example(service: Service) -> None:
    names = [h.command for h in service.help()]
    for command in (
        "played",
        "undo",
        "plays",
        "trending",
        "recommend",
        "whoknows",
        "top",
        "recent",
        "profile",
        "neighbours",
        "similar",
        "taste",
        "privacy",
        "help",
    ):
        assert command in names
    assert all(h.what for h in service.help())
