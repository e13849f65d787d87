"""/like <n>, /hide <n> and /recommend reset-hidden on the console, end to end through ``tastemaker
chat``: the console's 👍 / 👎 on the picks of the last /recommend."""

from __future__ import annotations

from tests.chat import run_chat


def test_hide_like_and_reset_transcript(database_url: str) -> None:
    seed = run_chat(database_url, "/played Caribou\n/played Caribou\n/played Daft Punk\n", member="other")
    assert seed.returncode == 0, seed.stderr
    r = run_chat(
        database_url,
        "/hide 1\n"
        "/played Air\n"
        "/recommend artists\n"
        "/hide 1\n"
        "/hide 1\n"
        "/recommend artists\n"
        "/like 1\n"
        "/hide 7\n"
        "/recommend reset-hidden\n"
        "/recommend artists\n",
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    hint = "👍 /like <n> · 👎 /hide <n> (never picked for you again)"
    note = "No personal model has been trained yet, so here is what's trending in this community."
    assert r.stdout.splitlines()[1:] == [
        "Logged Air — your 1st play.",
        "Trending artists you haven't played yet",
        note,
        " 1. Caribou",
        " 2. Daft Punk",
        hint,
        "Hidden Caribou: it will not be picked for you again. "
        "1 artist hidden with 👎 — /recommend reset-hidden brings them back.",
        "Caribou was already hidden. 1 artist hidden with 👎 — /recommend reset-hidden brings them back.",
        "Trending artists you haven't played yet",
        note,
        " 1. Daft Punk",
        hint,
        "1 artist hidden with 👎 — /recommend reset-hidden brings them back.",
        "Noted: you like Daft Punk. It counts as a play at the next retrain.",
        "Sorry — Use /hide <n> with a number from your last /recommend list (1).",
        "Back in your picks: 1 artist you had hidden with 👎.",
        "Trending artists you haven't played yet",
        note,
        " 1. Caribou",
        " 2. Daft Punk",
        hint,
    ]
    assert r.stdout.splitlines()[0] == "Sorry — Ask /recommend first, then rate a pick with /hide <n>."
