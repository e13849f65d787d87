"""/plays, /remove <n> and /undo on the console: end to end through ``tastemaker chat``, and through
:func:`handle` with a settable clock (times, imported plays, a play the batch already folded)."""

from __future__ import annotations

import subprocess

from bot.platforms.console.commands import handle, help_text
from bot.service import Service, Who
from ingest.importers import Row, import_rows
from storage import catalog, trends
from tests.chat import run_chat
from tests.conftest import Clock


def _chat(database_url: str, script: str) -> subprocess.CompletedProcess[str]:
    return run_chat(database_url, script)


def test_plays_remove_and_undo_transcript(database_url: str) -> None:
    r = _chat(
        database_url,
        "/plays\n"
        "/undo\n"
        "/remove 1\n"
        "/played Radiohead - Karma Police\n"
        "/played Portishead - Roads\n"
        "/played Radiohead - Karma Police\n"
        "/plays\n"
        "/remove 2\n"
        "/remove 2\n"
        "/remove 4\n"
        "/undo\n"
        "/plays\n"
        "/trending all\n",
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[:16] == [
        "You have no plays here yet: log one with /played.",
        "Sorry — Nothing to undo: you have no plays logged here.",
        "Sorry — List your plays with /plays first, then take one back with /remove <n>.",
        "Logged Radiohead – Karma Police — your 1st play.",
        "Logged Portishead – Roads — your 1st play.",
        "Logged Radiohead – Karma Police — your 2nd play.",
        "Your last 3 plays, newest first (/remove <n> takes one back):",
        " 1. Radiohead – Karma Police — logged just now",
        " 2. Portishead – Roads — logged just now",
        " 3. Radiohead – Karma Police — logged just now",
        "Removed Portishead – Roads (logged just now). You have no plays of it left.",
        # The number still means the play it was listed as: a second press changes nothing.
        "Sorry — Portishead – Roads was already removed; nothing changed.",
        "Sorry — Use /remove <n> with a number from your last /plays list (1–3).",
        "Removed Radiohead – Karma Police (logged just now). You now have 1 play of it.",
        "Your last play (/remove <n> takes one back):",
        " 1. Radiohead – Karma Police — logged just now",
    ]
    assert lines[16:] == [
        "Trending tracks in c — all time",
        " 1. Radiohead – Karma Police — 1 play, 1 listener",
    ]


def test_help_lists_the_new_commands(database_url: str) -> None:
    r = _chat(database_url, "/help\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == help_text()
    for line in (
        "/plays — your last plays, numbered (newest first)",
        "/remove <n> — take back play number n of your last /plays list (e.g. /remove 1)",
        "/undo — remove your last logged play",
    ):
        assert line in r.stdout.splitlines()


def test_times_imports_and_folded_plays(service: Service, who: Who, clock: Clock) -> None:
    pending: list[str] = []
    listed: list[int] = []

    def say(line: str) -> str | None:
        return handle(service, who, line, pending, listed)

    assert say("/played Björk - Jóga") == "Logged Björk – Jóga — your 1st play."
    clock.advance(hours=2, minutes=5)
    assert say("/played Radiohead - Karma Police") == "Logged Radiohead – Karma Police — your 1st play."
    with service.db.read() as conn:
        community = catalog.find_community(conn, "local", "c1")
    assert community is not None
    # An imported, undated play of the same member standing for 3 listens.
    import_rows(service.db, community, [Row(1, "m1", "Portishead", count=3)], source="csv")
    clock.advance(days=3)
    assert say("/plays") == "\n".join(
        [
            "Your last 3 plays, newest first (/remove <n> takes one back):",
            " 1. Portishead (3 plays) — imported from csv, undated",
            " 2. Radiohead – Karma Police — logged 3 days ago",
            " 3. Björk – Jóga — logged 3 days ago",
        ]
    )
    assert len(listed) == 3
    # The batch has folded everything so far (its watermark is past these plays).
    with service.db.write() as conn:
        trends.merge_batch(conn, trends.TRENDS_WATERMARK, 0, max(listed), [], [])
    assert say("/remove 3") == (
        "Removed Björk – Jóga (logged 3 days ago). You have no plays of it left. "
        "/trending has counted it already and drops it at the next batch update."
    )
    assert say("/remove 1") == (
        "Removed Portishead (3 plays) (imported from csv, undated). You have no plays of it left. "
        "/trending has counted it already and drops it at the next batch update."
    )
    clock.advance(days=40)
    assert say("/played Radiohead - Karma Police") == "Logged Radiohead – Karma Police — your 2nd play."
    assert say("/remove 2") == (
        "Removed Radiohead – Karma Police (logged on 2026-11-20). You now have 1 play of it. "
        "/trending has counted it already and drops it at the next batch update."
    )
    assert say("/undo") == "Removed Radiohead – Karma Police (logged just now). You have no plays of it left."
    assert say("/plays") == "You have no plays here yet: log one with /played."
    assert say("/remove 1") == (
        "Sorry — List your plays with /plays first, then take one back with /remove <n>."
    )
    assert [p.what for p in service.my_plays(who)] == []


def test_another_member_cannot_remove_by_number(service: Service, who: Who) -> None:
    listed: list[int] = []
    handle(service, who, "/played Radiohead - Karma Police", [], listed)
    handle(service, who, "/plays", [], listed)
    # Another member's session holding Ada's listing (the ids) cannot take her play back.
    bob = Who("local", "c1", "m2")
    handle(service, bob, "/played Portishead", [], [])
    assert handle(service, bob, "/remove 1", [], listed) == (
        "Sorry — That play is not one of yours, so it was not removed."
    )
    # Nor can a member of another community.
    other = Who("local", "c2", "m1")
    handle(service, other, "/played Portishead", [], [])
    assert handle(service, other, "/remove 1", [], listed) == (
        "Sorry — That play is not one of yours, so it was not removed."
    )
    assert [p.what for p in service.my_plays(who)] == ["Radiohead – Karma Police"]
