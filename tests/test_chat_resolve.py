"""The console asks about a near miss on the next line, reading the answer from the same input."""

from __future__ import annotations

import subprocess

from tests.chat import run_chat


def _chat(database_url: str, script: str) -> subprocess.CompletedProcess[str]:
    return run_chat(database_url, script)


def test_near_miss_is_asked_and_answered_on_the_next_line(database_url: str) -> None:
    r = _chat(
        database_url,
        "/played The Killers - Mr. Brightside\n"
        "/played The Kills - Doing It to Death\n"
        "n\n"
        "/played The Kills - Doing It to Death\n"
        "/played Radiohead\n"
        "/played Radiohed\n"
        "yes\n"
        "/played Eminem\n"
        "/played Eminen\n"
        "/played Blink-182\n"
        "/played Eminem\n"
        "/trending all artists\n",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:10] == [
        "Logged The Killers – Mr. Brightside — your 1st play.",
        "Did you mean The Killers – Doing It to Death? [y]es / [n]o, log as typed "
        "(The Kills – Doing It to Death)",
        "Logged The Kills – Doing It to Death — your 1st play.",
        "Logged The Kills – Doing It to Death — your 2nd play.",  # known now: no question
        "Logged Radiohead — your 1st play.",
        "Did you mean Radiohead? [y]es / [n]o, log as typed (Radiohed)",
        "Logged Radiohead — your 2nd play. (matched “Radiohed” to the existing entry)",
        "Logged Eminem — your 1st play.",
        "Did you mean Eminem? [y]es / [n]o, log as typed (Eminen)",
        # Not an answer: nothing logged for Eminen, and the line is a command of its own.
        "Nothing logged (the answer was not y or n).",
    ]
    assert lines[10] == "Logged Blink-182 — your 1st play."
    assert lines[11] == "Logged Eminem — your 2nd play."
    assert "Eminen" not in r.stdout.split("Trending")[1]
    assert r.stderr == ""
