"""/whoknows, /top, /recent, /profile, /privacy and /help on the console: through ``tastemaker chat``
(two members' sessions on one database) and through :func:`handle` with a settable clock, exact
replies."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import render
from bot.platforms.console.commands import HELP_REPLACE, handle, help_text
from bot.service import Service, Who
from ingest.importers import Row, import_rows
from storage import catalog
from tests.chat import run_chat
from tests.conftest import Clock

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
BOB = Who("local", "c1", "bob", member_name="Bob")
CAT = Who("local", "c1", "cat", member_name="Cat")
DAN = Who("local", "c1", "dan", member_name="Dan")
EVE = Who("local", "c2", "eve", community_name="Other", member_name="Eve")  # another community


def say(service: Service, who: Who, line: str) -> str:
    reply = handle(service, who, line, [], [])
    assert reply is not None
    return reply


@pytest.fixture
def crew(service: Service, clock: Clock) -> Service:
    """Nov 18: Ann Radiohead x2, Bob Radiohead x2, Cat Björk. Nov 19: Ann Radiohead - Airbag, Cat
    Radiohead. Nov 20 (today, 12:00): Ann Björk - Jóga. Eve (community c2) plays The Kills."""
    clock.now = dt.datetime(2026, 11, 18, 9, 0)
    for who, text in [(ANN, "Radiohead"), (ANN, "Radiohead"), (BOB, "Radiohead"), (BOB, "Radiohead")]:
        service.played(who, text)
    service.played(CAT, "Björk")
    clock.now = dt.datetime(2026, 11, 19, 20, 0)
    service.played(ANN, "Radiohead - Airbag")
    service.played(CAT, "Radiohead")
    service.played(EVE, "The Kills")
    clock.now = dt.datetime(2026, 11, 20, 12, 0)
    service.played(ANN, "Björk - Jóga")
    return service


def _chat(database_url: str, member: str, script: str) -> list[str]:
    r = run_chat(database_url, script, member=member)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.splitlines()


def test_two_members_sessions_transcript(database_url: str) -> None:
    assert _chat(
        database_url, "bob", "/played Radiohead\n/played Radiohead - Airbag\n/privacy private\n"
    ) == [
        "Logged Radiohead — your 1st play.",
        "Logged Radiohead – Airbag — your 1st play.",
        "Your listening is now private. Others no longer see your name in whoknows (you show as "
        "“a private member”, your plays still counted), nor your top, recent plays or profile, "
        "and you are left out of their neighbours and taste. Your plays still count anonymously in "
        "/trending and the daily digest. /privacy public undoes it.",
    ]
    lines = _chat(
        database_url,
        "ann",
        "/played Radiohead\n/whoknows radiohead\n/profile bob\n/top\n/recent\n/whoknows Björk\n",
    )
    assert lines == [
        "Logged Radiohead — your 1st play.",
        "Who knows Radiohead?",
        " 1. a private member — 2 plays",
        " 2. ann (you) — 1 play, last played just now",
        "2 listeners, 3 plays in all",
        "Sorry — bob keeps their listening private.",
        "Your top artists — all time",
        " 1. Radiohead — 1 play",
        "Your last play",
        " 1. Radiohead — just now",
        "Nobody here has played Björk yet.",
    ]
    assert _chat(database_url, "bob", "/privacy public\n/profile\n")[0] == (
        "Your listening is public: others see your name in whoknows, your top, recent plays and "
        "profile, and may find you in neighbours and taste. /privacy private hides them."
    )
    assert _chat(database_url, "ann", "/whoknows Radiohead - Airbag\n") == [
        "Who knows Radiohead – Airbag?",
        " 1. bob — 1 play, last played just now",
        "1 listener, 1 play in all",
    ]


def test_whoknows_ranks_times_and_a_private_member(crew: Service) -> None:
    assert say(crew, CAT, "/whoknows radiohead") == "\n".join(
        [
            "Who knows Radiohead?",
            " 1. Ann — 3 plays, last played 16 h ago",
            " 2. Bob — 2 plays, last played 2 days ago",
            " 3. Cat (you) — 1 play, last played 16 h ago",
            "3 listeners, 6 plays in all",
        ]
    )
    crew.privacy(BOB, "private")
    assert say(crew, ANN, "/whoknows Radiohead").splitlines()[2] == " 2. a private member — 2 plays"
    assert say(crew, BOB, "/whoknows Radiohead").splitlines()[2] == (
        " 2. Bob (you) — 2 plays, last played 2 days ago"  # a private member sees themself
    )
    assert say(crew, ANN, "/whoknows") == (
        "Sorry — Which artist or track? Try `/whoknows Radiohead` or `/whoknows Radiohead - Airbag`."
    )


def test_whoknows_shows_the_askers_row_below_the_top_ten(service: Service) -> None:
    for n in range(12):
        member = Who("local", "c1", f"m{n:02}", member_name=f"M{n:02}")
        for _ in range(20 - n):
            service.played(member, "Low")
    lines = say(service, Who("local", "c1", "m11"), "/whoknows low").splitlines()
    assert len(lines) == 14
    assert lines[10:] == [
        "10. M09 — 11 plays, last played just now",
        "   …",
        "12. M11 (you) — 9 plays, last played just now",
        "12 listeners, 174 plays in all",
    ]


def test_nothing_of_another_community_in_whoknows(crew: Service) -> None:
    assert say(crew, ANN, "/whoknows The Kills") == "Nobody here has played The Kills yet."
    assert say(crew, EVE, "/whoknows the kills").startswith("Who knows The Kills?\n 1. Eve (you) — 1 play")
    assert say(crew, EVE, "/whoknows Radiohead") == "Nobody here has played Radiohead yet."
    assert say(crew, EVE, "/profile ann") == "Sorry — That member has not logged any plays here yet."


def test_top_by_kind_period_and_member_id(crew: Service, clock: Clock) -> None:
    assert (
        say(crew, ANN, "/top") == "Your top artists — all time\n 1. Radiohead — 3 plays\n 2. Björk — 1 play"
    )
    assert say(crew, CAT, "/top tracks ann 30d") == "\n".join(
        [
            "Ann's top tracks — the last 30 days",
            " 1. Radiohead – Airbag — 1 play",
            " 2. Björk – Jóga — 1 play",
        ]
    )
    assert say(crew, ANN, "/top year cat").startswith("Cat's top artists — the last 12 months\n")
    clock.now = dt.datetime(2026, 12, 10, 12, 0)
    assert say(crew, ANN, "/top 7d") == "You have no plays in the last 7 days."
    assert say(crew, CAT, "/top week ann") == "Ann has no plays in the last 7 days."
    assert say(crew, ANN, "/top decade") == "Sorry — That member has not logged any plays here yet."
    crew.privacy(BOB, "private")
    assert say(crew, ANN, "/top bob") == "Sorry — Bob keeps their listening private."
    assert say(crew, DAN, "/top") == "You have no plays here yet: log one with /played."


def test_recent_with_times_and_undated_imports(crew: Service, clock: Clock) -> None:
    with crew.db.read() as conn:
        community = catalog.find_community(conn, "local", "c1")
    assert community is not None
    import_rows(crew.db, community, [Row(1, "cat", "Portishead", count=3)], source="csv")
    clock.advance(hours=2)
    assert say(crew, ANN, "/recent cat") == "\n".join(
        [
            "Cat's last 3 plays, newest first",
            " 1. Radiohead — 18 h ago",
            " 2. Björk — 2 days ago",
            " 3. Portishead (3 plays) — undated",  # an undated import comes last
        ]
    )
    assert say(crew, ANN, "/recent").splitlines()[:2] == [
        "Your last 4 plays, newest first",
        " 1. Björk – Jóga — 2 h ago",
    ]
    assert say(crew, DAN, "/recent") == "You have no plays here yet: log one with /played."


def test_profile_and_the_friendly_line_without_plays(crew: Service) -> None:
    assert say(crew, BOB, "/profile ann") == "\n".join(
        [
            "Ann's profile",
            "Plays: 4",
            "Artists: 2",
            "Tracks: 2",
            "Member since: 2026-11-18",
            "Current streak: 3 days",
            "Longest streak: 3 days",
            "Top artist: Radiohead",
            "Closest neighbour: — (comes with the next retrain)",
        ]
    )
    assert say(crew, DAN, "/profile") == "You have no plays here yet: log one with /played."
    assert say(crew, ANN, "/profile dan") == "Sorry — That member has not logged any plays here yet."
    say(crew, DAN, "/privacy public")  # Dan is known here now, still without plays
    assert say(crew, ANN, "/profile dan") == "Dan has no plays here yet."
    say(crew, ANN, "/privacy private")
    mine = say(crew, ANN, "/profile").splitlines()
    assert mine[-1] == (
        "Your listening is private: others see you only as “a private member” in whoknows and cannot "
        "see your top, recent plays or profile, nor find you in neighbours or taste. /privacy public "
        "changes that."
    )
    assert say(crew, BOB, "/profile ann") == "Sorry — Ann keeps their listening private."
    assert say(crew, BOB, "/recent ann") == "Sorry — Ann keeps their listening private."
    assert say(crew, ANN, "/privacy") == "Sorry — Use `privacy private` or `privacy public`."


def test_help_is_generated_from_the_service(service: Service, who: Who) -> None:
    text = say(service, who, "/help")
    assert text == help_text(service.help())
    lines = text.splitlines()
    for entry in render.help_entries(service.help(), HELP_REPLACE):  # as the console has them
        if entry.command == "digest":
            continue  # the console's /digest shows yesterday's post
        assert any(line.startswith(f"/{entry.command}") for line in lines), entry.command
        if entry.example:
            assert f"(e.g. /{entry.command} {entry.example})" in text
    assert "/whoknows <artist | artist - title> — who here plays it most (e.g. /whoknows Björk)" in lines
    assert "/remove <n> — take back play number n of your last /plays list (e.g. /remove 1)" in lines
    assert "/digest — yesterday's daily trending post" in lines
    assert "/taste <member id> — compare your taste with another member's (e.g. /taste ann)" in lines
    assert "/neighbours — the members here whose taste is closest to yours" in lines
