"""Run ``tastemaker chat`` as a member would: a subprocess fed a script on stdin."""

from __future__ import annotations

import os
import subprocess
import sys


def run_chat(database_url: str, script: str, *, member: str = "m") -> subprocess.CompletedProcess[str]:
    """One ``tastemaker chat`` session of ``member`` in community ``c`` on the database ``database_url``."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--db", database_url]
        + ["--community", "c", "--member", member],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
