"""Artist name rules shared by chat ``/played``, every importer and alias files, and the ASCII fast
paths of the name check and the match key that bulk import uses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import names
from storage.names import artist_name, canonical_key, checked_name, fast_checked_name


@pytest.mark.parametrize(
    ("raw", "display", "key"),
    [
        ("Smiths, The", "The Smiths", "the smiths"),
        ("  SMITHS ,   the ", "the SMITHS", "the smiths"),
        ("The Smiths", "The Smiths", "the smiths"),
        ("the  smiths", "the smiths", "the smiths"),
        ("Earth, Wind & Fire", "Earth, Wind & Fire", "earth, wind & fire"),
        ("The", "The", "the"),
    ],
)
def test_artist_rules(raw: str, display: str, key: str) -> None:
    assert artist_name(raw) == (display, key)
    assert canonical_key(checked_name(raw)[1]) == key


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_fast_name_path_matches_checked_name(text: str) -> None:
    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn(text, "x")
        except ValueError as exc:
            return str(exc)

    assert outcome(fast_checked_name) == outcome(checked_name)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_match_key_path_matches_the_full_rule(text: str) -> None:
    for key in (text, text.lower(), names.normalise(text)):
        assert names._words(key) == names._unicode_words(canonical_key(key))


def test_ascii_match_keys() -> None:
    got = [names.match_key(k) for k in ("guns n' roses", "ac/dc", "smiths, the", "blink-182", "a_b", "!!!")]
    assert got == ["guns n roses", "acdc", "the smiths", "blink 182", "a b", "!!!"]


def test_digits_int_refuses_are_no_crash() -> None:
    """Found by the service's fuzz test: '𑁒' (Brahmi number one) is a digit to str.isdigit but not
    a decimal int() reads."""
    assert names.numbers("0𑁒") == (0,)
    assert names.match_key("0𑁒")
