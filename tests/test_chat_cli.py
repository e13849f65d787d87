"""The console adapter end to end, exactly as the README shows it."""

from __future__ import annotations

import subprocess

from tests.chat import run_chat


def _chat(database_url: str, script: str) -> subprocess.CompletedProcess[str]:
    return run_chat(database_url, script)


def test_issue_acceptance_transcript(database_url: str) -> None:
    r = _chat(
        database_url,
        "/played Radiohead - Karma Police\n/played radiohead – karma police\n/played\n/trending all\n",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Logged Radiohead – Karma Police — your 1st play."
    assert lines[1] == "Logged Radiohead – Karma Police — your 2nd play."
    assert lines[2].startswith("Sorry — Tell me what you played.")
    assert "Trending tracks in c — all time" in r.stdout
    assert " 1. Radiohead – Karma Police — 2 plays, 1 listener" in r.stdout
    assert r.stderr == ""


def test_help_unknown_and_recommend_without_model(database_url: str) -> None:
    r = _chat(
        database_url, "/help\n/dance\n/recommend\n/played Bonobo\n/recommend tracks 3\n/trending lastyear\n"
    )
    assert r.returncode == 0, r.stderr
    assert "/played <artist - title> — log a play (e.g. /played Radiohead - Karma Police)" in r.stdout
    assert "Unknown command `/dance`" in r.stdout
    assert "Nothing has been played here yet" in r.stdout
    assert "Unknown window `lastyear`" in r.stdout
