"""Run ``tastemaker chat`` as a member would: a subprocess fed a script on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_chat(tmp_path: Path, script: str, *, member: str = "m") -> subprocess.CompletedProcess[str]:
    """One ``tastemaker chat`` session of ``member`` in community ``c`` on ``tmp_path/x.db``."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        + ["--community", "c", "--member", member],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
