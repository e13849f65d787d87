"""Logging for every entry point: full records (tracebacks included) to a log file, one line per
warning or error on stderr — or everything on stderr with ``--debug``."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

DEFAULT_LOG_FILE = "var/tastemaker.log"


class _LazyFile(logging.handlers.RotatingFileHandler):
    """A rotating log file whose folder and file appear only when the first record is written."""

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


class _OneLine(logging.Formatter):
    """``level: message`` with no traceback (the traceback is in the log file); INFO lines get a
    timestamp, as a long-running bot's progress."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().strip().splitlines()
        first = message[0] if message else ""
        if record.levelno <= logging.INFO:
            return f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.name}: {first}"
        return f"{record.levelname.lower()}: {first}"


def log_file() -> Path:
    return Path(os.environ.get("TASTEMAKER_LOG_FILE") or DEFAULT_LOG_FILE)


def configure(*, debug: bool = False, console_level: int = logging.WARNING) -> None:
    """Set up the root logger (idempotent: a second call replaces the first's handlers).
    ``console_level``: what reaches stderr, one line per record (``tastemaker run`` shows INFO)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tastemaker", False):
            root.removeHandler(handler)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else console_level)
    console.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s") if debug else _OneLine()
    )
    if not debug:
        # Py4J reports a dying Spark JVM itself ("Exception while sending command."); the job runner
        # explains that failure in its own line, so Py4J's records go to the log file only.
        console.addFilter(lambda record: not record.name.startswith("py4j"))
    handlers: list[logging.Handler] = [console]
    if not debug:
        fh = _LazyFile(log_file(), maxBytes=10_000_000, backupCount=3, encoding="utf-8", delay=True)
        fh.setLevel(logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(fh)
    for handler in handlers:
        handler._tastemaker = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # The scheduler's per-run chatter only when it matters (a run missed or failed).
    for noisy in ("py4j", "urllib3", "asyncio", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
