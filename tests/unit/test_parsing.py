from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.parsing import UserError, parse_played, parse_recommend_args, parse_trending_args
from storage.names import MAX_KEY_LENGTH, InvalidName, checked_name, clean_display, normalise


@pytest.mark.parametrize(
    ("text", "artist", "title"),
    [
        ("Radiohead - Karma Police", "Radiohead", "Karma Police"),
        ("Radiohead – Karma Police", "Radiohead", "Karma Police"),
        ("Radiohead — Karma Police", "Radiohead", "Karma Police"),
        ("Radiohead \u2212 Karma Police", "Radiohead", "Karma Police"),
        ("Radiohead －  Karma Police", "Radiohead", "Karma Police"),
        ("Jay-Z - 99 Problems", "Jay-Z", "99 Problems"),
        ("Jay-Z", "Jay-Z", None),
        ("  Radiohead  ", "Radiohead", None),
        ("Sigur Rós - Hoppípolla", "Sigur Rós", "Hoppípolla"),
    ],
)
def test_played_forms(text: str, artist: str, title: str | None) -> None:
    p = parse_played(text)
    assert (p.artist, p.title, p.by_split) == (artist, title, None)


@pytest.mark.parametrize(
    ("text", "artist", "title"),
    [
        ("Karma Police by Radiohead", "Radiohead", "Karma Police"),
        ("Stand By Me by Ben E. King", "Ben E. King", "Stand By Me"),
        ("Stand by Me", "Me", "Stand"),
        ("Death by Stereo", "Stereo", "Death"),
    ],
)
def test_title_by_artist_is_a_second_reading(text: str, artist: str, title: str) -> None:
    """The whole text is the artist; "Title by Artist" is the reading the service takes only when
    that artist is known in the community and the whole text is not (see the service tests)."""
    p = parse_played(text)
    assert (p.artist, p.title) == (text, None)
    assert p.by_split is not None and (p.by_split.artist, p.by_split.title) == (artist, title)


@pytest.mark.parametrize(
    "text", ["", "   ", None, " - Karma Police", "Radiohead - ", "Radiohead -", "- -", "\u202e\u200d"]
)
def test_unparseable_or_empty_is_a_friendly_error(text: str | None) -> None:
    with pytest.raises(UserError) as err:
        parse_played(text)
    assert "/played" in str(err.value) or "U+202E" in str(err.value)


def test_normalisation_matches_spelling_families() -> None:
    assert normalise("Radiohead – Karma Police") == normalise("radiohead – karma police")
    assert normalise("  The   Smiths ") == "the smiths"
    assert normalise("ＡＢＢＡ") == "abba"  # NFKC full-width
    assert normalise("Straße") == normalise("STRASSE")  # casefold, not lower
    assert normalise("Lulu") != normalise("Lulú")


def test_invisible_and_control_characters_are_stripped() -> None:
    rlo = "Radio\u202ehead"
    assert normalise(rlo) == "radiohead"
    assert clean_display(rlo) == "Radiohead"
    assert normalise("Ra\u200ddio\u200bhead\u2060") == "radiohead"
    assert clean_display("Bad\x00\x1b[31mName\x7f") == "Bad[31mName"


def test_nfkc_growth_counts_after_normalisation() -> None:
    # U+FDFA expands to 18 characters under NFKC: 12 of them are 216 > 200 after normalisation.
    with pytest.raises(InvalidName):
        checked_name("\ufdfa" * 12)
    display, key = checked_name("\ufdfa" * 11)
    assert len(key) <= MAX_KEY_LENGTH and display


def test_overlong_names_are_rejected() -> None:
    with pytest.raises(UserError, match="too long"):
        parse_played("a" * 201)
    with pytest.raises(UserError, match="too long"):
        parse_played("x" * 5000)
    assert parse_played("a" * 200).artist == "a" * 200


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_parser_never_crashes_and_never_yields_an_empty_name(text: str) -> None:
    try:
        p = parse_played(text)
    except UserError as exc:
        assert str(exc)
        return
    assert p.artist.strip() and p.artist_key and len(p.artist_key) <= MAX_KEY_LENGTH
    assert clean_display(p.artist) == p.artist
    if p.title is not None:
        assert p.title_key and p.title.strip() and len(p.title_key) <= MAX_KEY_LENGTH


def test_command_arguments() -> None:
    assert parse_recommend_args([]) == ("artist", 10)
    assert parse_recommend_args(["tracks", "5"]) == ("track", 5)
    assert parse_recommend_args(["3", "artists"]) == ("artist", 3)
    assert parse_trending_args(["24h", "artists"]) == ("24h", "artist")
    assert parse_trending_args([]) == ("7d", "track")
    with pytest.raises(UserError):
        parse_recommend_args(["0"])
    with pytest.raises(UserError):
        parse_trending_args(["yesterday"])
