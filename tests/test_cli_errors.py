"""Operational failures on the command line: one clear line on stderr, a non-zero exit, no traceback,
and no secret."""

from __future__ import annotations

import os
import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_database_password_is_never_printed() -> None:
    r = _cli("jobs", "--db", "postgresql+psycopg://tm:SECRET@127.0.0.1:1/tm")
    assert r.returncode != 0
    assert "SECRET" not in r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open database postgresql+psycopg://tm:***@")
    assert "Traceback" not in r.stderr
