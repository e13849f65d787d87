"""Logging for every entry point: full records (tracebacks included) to a log file, one line per
warning or error on stderr — or everything on stderr with ``--debug``. The console's level comes from
``--log-level`` / ``TASTEMAKER_LOG_LEVEL``; ``TASTEMAKER_LOG_FORMAT=json`` makes every record one
JSON object per line, on the console and in the file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

import platformdirs

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
FORMATS = ("text", "json")
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and,
    when the record carries an exception, ``exc_info`` (the formatted traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _voice_warning(record: logging.LogRecord) -> bool:
    """discord.py's start-up warnings that voice is unsupported (no PyNaCl / davey): tastemaker never
    joins a voice channel."""
    return record.name == "discord.client" and "voice will NOT be supported" in record.getMessage()


def default_log_file() -> Path:
    """``tastemaker.log`` in the per-user log folder (platformdirs: ``~/.local/state/tastemaker/log``
    on Linux, or under ``$XDG_STATE_HOME``)."""
    return Path(platformdirs.user_log_dir("tastemaker")) / "tastemaker.log"


def log_file() -> Path:
    """``$TASTEMAKER_LOG_FILE``, else :func:`default_log_file`."""
    override = os.environ.get("TASTEMAKER_LOG_FILE")
    return Path(override) if override else default_log_file()


def parse_level(value: str) -> int:
    """``DEBUG``/``INFO``/``WARNING``/``ERROR`` (any case) → a logging level; ValueError otherwise."""
    level = LEVELS.get(value.strip().upper())
    if level is None:
        raise ValueError(f"{value!r} is not a log level: use DEBUG, INFO, WARNING or ERROR")
    return level


def parse_format(value: str) -> str:
    """``text`` or ``json`` (any case) → itself in lower case; ValueError otherwise."""
    fmt = value.strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"{value!r} is not a log format: use text or json")
    return fmt


def configure(*, debug: bool = False, console_level: int = logging.WARNING, json_lines: bool = False) -> None:
    """Set up the root logger (idempotent: a second call replaces the first's handlers).
    ``console_level``: what reaches stderr, one line per record (``tastemaker run`` shows INFO);
    ``debug``: everything on stderr with tracebacks, no log file; ``json_lines``: JSON records on
    stderr and in the file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tastemaker", False):
            root.removeHandler(handler)
            handler.close()
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else console_level)
    if json_lines:
        console.setFormatter(JsonFormatter())
    else:
        console.setFormatter(logging.Formatter(_FILE_FORMAT) if debug else _OneLine())
    if not debug:
        # Py4J reports a dying Spark JVM itself ("Exception while sending command."); the job runner
        # explains that failure in its own line, so Py4J's records go to the log file only.
        console.addFilter(lambda record: not record.name.startswith("py4j"))
    handlers: list[logging.Handler] = [console]
    if not debug:
        fh = _LazyFile(log_file(), maxBytes=10_000_000, backupCount=3, encoding="utf-8", delay=True)
        fh.setLevel(logging.INFO)
        fh.setFormatter(JsonFormatter() if json_lines else logging.Formatter(_FILE_FORMAT))
        handlers.append(fh)
    for handler in handlers:
        handler.addFilter(lambda record: not _voice_warning(record))
        handler._tastemaker = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else min(logging.INFO, console_level))
    # The scheduler's per-run chatter only when it matters (a run missed or failed); Alembic's plugin
    # set-up on every start never.
    for noisy in ("py4j", "urllib3", "asyncio", "apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
