"""/trending movement and the rising pick, answered from the tail (no batch has run yet)."""

from __future__ import annotations

import datetime as dt

from bot.service import Service, Who, growth_score
from tests.conftest import Clock


def test_movement_and_rising_against_the_previous_window(service: Service, clock: Clock) -> None:
    who = Who("local", "crew", "m0")
    now = clock.now  # 2026-11-20 12:00 UTC; 7d = Nov 13..20, previous = Nov 5..12
    plan = {  # artist: (plays in the previous window, plays in this window)
        "Steady": (12, 12),
        "Climber": (2, 20),
        "Faller": (20, 4),
        "Newcomer": (0, 3),
    }
    n = 0
    for artist, (prev, cur) in plan.items():
        for k in range(prev):
            service.played(
                Who("local", "crew", f"m{k % 4}"),
                artist,
                played_at=now - dt.timedelta(days=9),
                event_id=f"p{n}",
            )
            n += 1
        for k in range(cur):
            service.played(
                Who("local", "crew", f"m{k % 4}"),
                artist,
                played_at=now - dt.timedelta(days=1),
                event_id=f"c{n}",
            )
            n += 1
    t = service.trending(who, "7d", "artist")
    by_name = {e.name: e for e in t.entries}
    assert [e.name for e in t.entries] == ["Climber", "Steady", "Faller", "Newcomer"]
    assert by_name["Climber"].movement == "up" and by_name["Climber"].prev_rank == 3
    assert by_name["Steady"].movement == "same" and by_name["Steady"].prev_rank == 2
    assert by_name["Faller"].movement == "down" and by_name["Faller"].prev_rank == 1
    assert by_name["Newcomer"].movement == "new" and by_name["Newcomer"].prev_plays == 0
    assert by_name["Climber"].listeners == 4 and t.pending_plays == n
    # The smoothed growth ranks a 2 -> 20 climb above a 0 -> 3 newcomer.
    assert t.rising is not None and t.rising.name == "Climber"
    assert growth_score(20, 2) > growth_score(3, 0) > 0 > growth_score(4, 20)
    # "all" has no previous window: no movement markers, no rising pick.
    everything = service.trending(who, "all", "artist")
    assert all(e.movement == "" for e in everything.entries) and everything.rising is None
