"""``python -m bot.cli …`` of this checkout as a subprocess (never an installed ``tastemaker``
script, which may belong to another checkout), with its output read line by line in threads."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any platform token or tastemaker setting, plus ``extra``; this
    checkout first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "TASTEMAKER_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


class BotProcess:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: dict[str, list[str]] = {"out": [], "err": []}
        self._cond = threading.Condition()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, key: str) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._cond:
                self._lines[key].append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def stdout(self) -> str:
        with self._cond:
            return "\n".join(self._lines["out"])

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self._lines["err"])

    def wait_for_line(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """The first stdout line matching ``pattern``; fails when the process ends first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines["out"]:
                    if m := regex.search(line):
                        return m
                if self.proc.poll() is not None:
                    self._cond.wait(0.2)  # let the readers drain
                    raise AssertionError(f"exited with {self.proc.returncode}:\n{self.stdout}\n{self.stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r}:\n{self.stdout}\n{self.stderr}")
                self._cond.wait(min(left, 0.2))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` (SIGTERM: what ``kill`` and service managers send), wait for the exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            for reader in self._readers:
                reader.join(5)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        return code


def wait_for_job_runs(database_url: str, job: str, count: int = 1, timeout: float = 30.0) -> list[object]:
    """Wait until ``job`` has ``count`` finished runs in ``job_runs``; returns them (newest first).
    Tests wait for the start-up micro-batch before logging plays, so it never needs Spark."""
    from storage import jobs
    from storage.db import open_database

    db = open_database(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with db.read() as conn:
                runs = [r for r in jobs.recent(conn, job) if r.finished_at is not None]
            if len(runs) >= count:
                return list(runs)
            assert time.monotonic() < deadline, f"{job} ran {len(runs)} times, expected {count}"
            time.sleep(0.1)
    finally:
        db.dispose()
