"""Name normalisation: one key per spelling family, the original spelling kept for display."""

from __future__ import annotations

import re
import unicodedata

MAX_KEY_LENGTH = 200
# Raw input longer than this is refused before any work (NFKC can grow text ~18x).
MAX_RAW_LENGTH = 1000

# Categories stripped everywhere: controls (Cc), format characters such as U+202E and the
# zero-width (non-)joiners (Cf), surrogates (Cs), private use (Co) and unassigned (Cn).
_STRIP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_WS = re.compile(r"\s+")


class InvalidName(ValueError):
    """A name that cannot be stored: empty or too long once normalised."""


def _strip_invisible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in _STRIP_CATEGORIES)


def clean_display(text: str) -> str:
    """The user's spelling, minus invisible/control characters, whitespace collapsed."""
    return _WS.sub(" ", _strip_invisible(unicodedata.normalize("NFC", text))).strip()


def normalise(text: str) -> str:
    """Matching key: NFKC, invisible characters stripped, casefolded, whitespace collapsed."""
    s = _strip_invisible(unicodedata.normalize("NFKC", text))
    s = unicodedata.normalize("NFKC", s.casefold())
    s = _strip_invisible(s)
    return _WS.sub(" ", s).strip()


def checked_name(text: str, what: str = "name") -> tuple[str, str]:
    """Return ``(display, key)`` or raise :class:`InvalidName` with a user-facing message."""
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidName(f"That {what} is too long (at most {MAX_KEY_LENGTH} characters).")
    key = normalise(text)
    if not key:
        raise InvalidName(f"The {what} is empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidName(f"That {what} is too long (at most {MAX_KEY_LENGTH} characters).")
    display = clean_display(text)
    if not display:  # cannot happen when key is non-empty, but never store an empty name
        raise InvalidName(f"The {what} is empty.")
    return display[:MAX_RAW_LENGTH], key


# "Smiths, The" → "The Smiths": a trailing ", The" (any case, any spacing around the comma) moves to
# the front. Only "The": a trailing ", A" is too often part of a real name to rewrite blindly.
_KEY_TRAILING_THE = re.compile(r"^(.+?) ?, ?the$")
_DISPLAY_TRAILING_THE = re.compile(r"^(.+?)\s*,\s*(the)$", re.IGNORECASE)


def canonical_key(key: str) -> str:
    """The catalog key of an artist from its normalised key: rule-based variants folded together
    (case and whitespace by :func:`normalise`, ``smiths, the`` → ``the smiths`` here). The one rule
    every path (chat ``/played``, bulk import, alias files) applies before looking an artist up."""
    m = _KEY_TRAILING_THE.match(key)
    return f"the {m.group(1)}" if m else key


def canonical_artist(display: str, key: str) -> tuple[str, str]:
    """``(display, key)`` of an artist with :func:`canonical_key` applied, the display spelling
    rewritten the same way (``Smiths, The`` → ``The Smiths``)."""
    canon = canonical_key(key)
    if canon == key:
        return display, key
    m = _DISPLAY_TRAILING_THE.match(display)
    return (f"{m.group(2)} {m.group(1)}" if m else display), canon


def fast_checked_name(text: str, what: str) -> tuple[str, str]:
    """:func:`checked_name`, with a shortcut for printable ASCII (most names), where NFC/NFKC are
    the identity, nothing is invisible, casefold is lower() and the only whitespace is the space.
    Same result (``tests/storage/test_names.py`` checks it); bulk import checks every name with it."""
    if text.isascii() and text.isprintable() and len(text) <= MAX_KEY_LENGTH:
        display = " ".join(text.split())
        if display:
            return display, display.lower()
    return checked_name(text, what)


def artist_name(text: str) -> tuple[str, str]:
    """:func:`checked_name` for an artist, canonicalised: ``(display, catalog key)``."""
    return canonical_artist(*fast_checked_name(text, "artist name"))
