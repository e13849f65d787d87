"""A member's own history from a file they uploaded in chat: what the Discord and Slack adapters
share (no SDK here).

The adapter refuses a file whose declared size is over ``upload_max_bytes`` before anything is
downloaded (:func:`too_large`). :func:`download` then streams the file to a temporary file
(:func:`temporary_file`, removed afterwards; never held in memory), refusing it as soon as it grows
past the cap whatever size was declared, and :meth:`~bot.service.Service.import_upload` imports it.
:class:`Throttle` spaces the progress edits of the one message that shows how far the import is.
Everything here blocks: adapters run it off their event loop.
"""

from __future__ import annotations

import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bot import render
from bot.parsing import UserError

USER_AGENT = "tastemaker (chat upload import)"
CHUNK = 1 << 20  # bytes read and written at a time
TIMEOUT = 60.0  # seconds without a byte before a download is given up


def too_large(name: str, size: int, cap: int, *, esc: Callable[[str], str] = lambda s: s) -> UserError:
    return UserError(render.upload_too_large_text(name, size, cap, esc=esc))


@contextmanager
def temporary_file() -> Iterator[Path]:
    """A new, empty temporary file (named ``tastemaker-upload-…``: the format is told from the
    content, never from a name), removed when the block ends, whatever happened in it."""
    fd, name = tempfile.mkstemp(prefix="tastemaker-upload-")
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def download(
    url: str,
    dest: Path,
    *,
    name: str,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    refuse_html: bool = False,
    timeout: float = TIMEOUT,
    esc: Callable[[str], str] = lambda s: s,
) -> int:
    """Stream ``url`` (http or https only) into ``dest``; the number of bytes written. More than
    ``max_bytes`` (announced by ``Content-Length`` or counted while reading) is refused with
    :func:`too_large`'s line. ``refuse_html``: an HTML answer is a sign-in page, not the file (what
    Slack serves for a private file fetched without a valid token). Every failure is a
    :class:`UserError` naming the file (``name``, shown through ``esc``)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UserError(f"I could not download {esc(name)}: it has no web address I can fetch.")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    total = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp, dest.open("wb") as out:
            if refuse_html and resp.headers.get_content_type() == "text/html":
                raise UserError(f"I could not download {esc(name)}: the chat service did not let me read it.")
            declared = resp.headers.get("Content-Length") or ""
            if declared.isdigit() and int(declared) > max_bytes:
                raise too_large(name, int(declared), max_bytes, esc=esc)
            while chunk := resp.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise too_large(name, total, max_bytes, esc=esc)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise UserError(
            f"I could not download {esc(name)} (the chat service answered {exc.code}). Please send it again."
        ) from None
    except (OSError, TimeoutError) as exc:  # URLError, a reset connection, a full disk
        raise UserError(
            f"I could not download {esc(name)} ({type(exc).__name__}). Please try again in a moment."
        ) from None
    return total


class Throttle:
    """At most one progress report every ``every`` seconds: :meth:`due` says whether now is one
    (and counts it). Starting counts as a report: the first message says the import began."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._last = clock()

    def due(self) -> bool:
        now = self._clock()
        if now - self._last < self.every:
            return False
        self._last = now
        return True
