"""The issue's reproduction of the cross-community leak, through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", "TASTEMAKER_ALS_RANK": "8"},
    )
    assert r.returncode == 0, r.stderr
    return r


def test_reproduction_shows_c1_only_its_own_artists(tmp_path: Path, database_url: str) -> None:
    db = database_url
    _cli("chat", "--db", db, "--community", "c1", "--member", "alice", stdin="/played Radiohead - Creep\n")
    _cli(
        "chat", "--db", db, "--community", "c2", "--member", "bob",
        stdin="/played Radiohead - Creep\n/played Private Band of c2 - Secret Song\n",
    )  # fmt: skip
    _cli("batch", "--retrain", "--db", db)
    out = _cli("chat", "--db", db, "--community", "c1", "--member", "alice", stdin="/recommend artists\n")
    assert "Private Band" not in out.stdout
    out_tracks = _cli(
        "chat", "--db", db, "--community", "c1", "--member", "alice", stdin="/recommend tracks\n"
    )
    assert "Secret Song" not in out_tracks.stdout and "Private Band" not in out_tracks.stdout
    # c2's own member is still offered what c2 can see.
    _cli("chat", "--db", db, "--community", "c2", "--member", "carol", stdin="/played Radiohead - Creep\n")
    carol = _cli("chat", "--db", db, "--community", "c2", "--member", "carol", stdin="/recommend artists\n")
    assert "Private Band of c2" in carol.stdout
    for kind in ("artist", "track"):
        tsv = tmp_path / f"c1-{kind}.tsv"
        _cli("export", "recommendations", "--db", db, "--community", "c1", "--kind", kind, "--out", str(tsv))
        assert "Private Band" not in tsv.read_text(encoding="utf-8")
    # Marked public, c2's plays become visible to c1 (the operator's explicit choice).
    _cli("community", "public", "c2", "--db", db)
    _cli("chat", "--db", db, "--community", "c1", "--member", "alice", stdin="/played Radiohead - Creep\n")
    shared = _cli("chat", "--db", db, "--community", "c1", "--member", "alice", stdin="/recommend artists\n")
    assert "Private Band of c2" in shared.stdout
