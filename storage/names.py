"""Name normalisation: one key per spelling family, the original spelling kept for display."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

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


# --- "same name" and "near miss" ------------------------------------------------------------------
#
# The catalog key (:func:`canonical_key`) tells spellings apart by case and whitespace only. Two
# keys that differ beyond that are the *same name* when their :func:`match_key` is equal: letters
# and digits only, diacritics stripped (Sigur Rós = Sigur Ros, Beyoncé = Beyonce, MØ = Mo),
# punctuation and spacing dropped (Blink 182 = Blink-182, AC/DC = ACDC, Guns N' Roses = Guns N
# Roses). A name of punctuation only (!!!) keeps its punctuation, so it stays itself. Anything else
# is a different name; a typo-distance one may be *offered* (see :func:`near_miss`), never merged.

# Letters NFKD does not decompose but readers treat as a letter with a mark.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})
_NOT_WORD = re.compile(r"[^\w]+|_+")
_JOINERS = re.compile(r"[.'\u2018\u2019\u00b4`/]")
# _JOINERS and _NOT_WORD for ASCII text (where \w is a letter, a digit or "_"): joiners deleted,
# every other character but a letter or digit a space.
_ASCII_WORDS = str.maketrans(
    {c: (None if c in ".'`/" else " ") for c in map(chr, range(128)) if not c.isalnum()}
)
_DIGITS = re.compile(r"\d+")
# Roman numerals count as numbers after these words (Pt. II, Symphony No. IX, Vol. III).
_NUMBERED = frozenset({"pt", "part", "no", "nr", "vol", "volume", "symphony", "op", "chapter", "book", "act"})
_ROMAN = re.compile(r"^(?=[mdclxvi]+$)m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUE = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
# Symbols that stand for a letter in stylised names (P!nk, Ke$ha, A$AP): never folded silently.
_LETTER_LIKE = (
    (re.compile(r"(?<=\w)!(?=\w)"), "i"),
    (re.compile(r"\$"), "s"),
    (re.compile(r"(?<=\w)@(?=\w)|^@(?=\w)"), "a"),
)
NEAR_MISS_CUTOFF = 90.0


def _words(key: str) -> list[str]:
    """The letter/digit words of a normalised key, diacritics stripped. Dots, apostrophes and
    slashes join (N.E.R.D = NERD, Guns N' Roses, AC/DC = ACDC); any other punctuation separates
    words (Blink-182 = Blink 182, Smiths, The)."""
    s = canonical_key(key)
    if s.isascii():  # most names: nothing to decompose or fold, and one translate does the rest
        return s.translate(_ASCII_WORDS).split()
    return _unicode_words(s)


def _unicode_words(s: str) -> list[str]:
    """:func:`_words` of any text (``tests/storage/test_names.py`` checks the ASCII path against it)."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).translate(_FOLD)
    return [w for w in _NOT_WORD.split(_JOINERS.sub("", s)) if w]


def match_key(key: str) -> str:
    """The "same name" key of a normalised key: equal match keys are one name, silently. Word
    boundaries stay: ``Cold World`` and ``ColdWorld`` (two bands) are only a question."""
    words = _words(key)
    if words:
        return " ".join(words)[:MAX_KEY_LENGTH]
    # Punctuation only (!!!, ???): the spelling itself, spaces dropped, so it is never empty and
    # never equal to another all-punctuation name.
    return "".join(canonical_key(key).split())[:MAX_KEY_LENGTH]


def _roman(word: str) -> int:
    total = 0
    for a, b in zip(word, word[1:] + " ", strict=True):
        v = _ROMAN_VALUE[a]
        total += -v if b != " " and _ROMAN_VALUE[b] > v else v
    return total


def numbers(key: str) -> tuple[int, ...]:
    """The numbers in a name (digits anywhere, roman numerals after Pt./No./Vol./Symphony …), in
    order: names whose numbers differ are different entries, never even offered as a near miss."""
    out: list[int] = []
    words = _words(key)
    for i, w in enumerate(words):
        if w.isdecimal():  # not isdigit(): superscripts and Brahmi numbers are digits int() refuses
            out.append(int(w))
        elif _DIGITS.search(w):
            out.extend(int(d) for d in _DIGITS.findall(w))
        elif i > 0 and words[i - 1] in _NUMBERED and _ROMAN.match(w):
            out.append(_roman(w))
    return tuple(out)


def _letter_folded(key: str) -> str:
    s = canonical_key(key)
    for pattern, letter in _LETTER_LIKE:
        s = pattern.sub(letter, s)
    return "".join(_words(s)) or match_key(key)


def _without_the(words: list[str]) -> list[str]:
    return words[1:] if len(words) > 1 and words[0] == "the" and words[1:] != ["the"] else words


def same_name(a: str, b: str) -> bool:
    """Two normalised keys name the same thing (merged silently)."""
    return canonical_key(a) == canonical_key(b) or match_key(a) == match_key(b)


def near_miss(typed: str, existing: str) -> bool:
    """``typed`` looks like a slip for ``existing`` (a different name): worth *asking* about, never
    merging. Same numbers are required (Pt. 1 ≠ Pt. 2, Symphony No. 5 ≠ No. 7, 2Pac ≠ Tupac); then
    a letter-like symbol (P!nk, Ke$ha), spacing (ColdWorld), a leading "The" (Beatles), or, with the
    same number of words (The The ≠ The), a typo distance (one edit in 5+ characters, or a rapidfuzz
    ratio ≥ 90 on the words: Eminen, Radiohed, The Kills / The Killers)."""
    if same_name(typed, existing):
        return False
    if numbers(typed) != numbers(existing):
        return False
    if _letter_folded(typed) == _letter_folded(existing):
        return True
    wa, wb = _words(typed), _words(existing)
    if wa and "".join(wa) == "".join(wb):  # spacing only: ColdWorld / Cold World
        return True
    if wa and _without_the(wa) == _without_the(wb):  # Beatles / The Beatles (The The stays itself)
        return True
    if not wa or not wb or len(wa) != len(wb):
        return False
    a, b = " ".join(wa), " ".join(wb)
    # One slip in a name of 5+ characters (Eminen), or a ratio ≥ 90 (The Kills / The Killers).
    return (min(len(a), len(b)) >= 5 and Levenshtein.distance(a, b) <= 1) or fuzz.ratio(
        a, b
    ) >= NEAR_MISS_CUTOFF
