"""Real confusable names, each decided as a music fan would: the same entry (logged silently), a
question (nothing logged until the member picks), or two different entries. Run through the service
against a real SQLite file, one fresh database per row.

The rule (storage.names): the same name is the catalog key, an alias, or the same match key
(case, diacritics, punctuation: Blink 182 = Blink-182, Sigur Ros = Sigur Rós, Smiths, The = The
Smiths). Different numbers are different entries, never even a question. A near miss (typo
distance, spacing, a leading "The", a letter-like symbol) is a question, never a merge.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.parsing import parse_played
from bot.service import NameQuestion, Service, Who
from ingest.importers import import_alias_file
from storage.db import Database
from storage.models import Artist, Play, Track

SAME, ASK, DIFFERENT = "same", "ask", "different"

# (already logged, then typed, outcome, why)
TABLE: list[tuple[str, str, str, str]] = [
    # --- artists: the same name --------------------------------------------------------------
    ("Blink-182", "Blink 182", SAME, "hyphen vs space: one band"),
    ("Blink 182", "blink-182", SAME, "either spelling first"),
    ("Beyoncé", "Beyonce", SAME, "diacritic dropped on a keyboard without é"),
    ("Sigur Rós", "Sigur Ros", SAME, "diacritic"),
    ("Sigur Rós", "Sigur Ro\u0301s", SAME, "decomposed (NFD) accent"),
    ("Björk", "Bjork", SAME, "diacritic"),
    ("Motörhead", "Motorhead", SAME, "metal umlaut"),
    ("The Smiths", "Smiths, The", SAME, "library sort order"),
    ("Smiths, The", "the smiths", SAME, "library sort order, either first"),
    ("Chvrches", "CHVRCHES", SAME, "case only"),
    ("AC/DC", "ACDC", SAME, "the slash is stylisation; nobody means another band"),
    ("Guns N' Roses", "Guns N Roses", SAME, "apostrophe"),
    ("Guns N' Roses", "Guns N\u2019 Roses", SAME, "curly apostrophe"),
    ("MØ", "Mo", SAME, "Ø typed as O: the Danish singer, as fans without an Ø key write her"),
    ("Mary J. Blige", "Mary J Blige", SAME, "initial's dot"),
    ("N.E.R.D", "NERD", SAME, "dotted acronym"),
    ("Panic! at the Disco", "Panic at the Disco", SAME, "punctuation (the band dropped it themselves)"),
    ("Jay-Z", "Jay Z", SAME, "hyphen vs space"),
    ("Lulu", "Lulú", SAME, "diacritic"),
    ("!!!", "!!!", SAME, "all punctuation is still a name, equal to itself"),
    ("Sunn O)))", "sunn o)))", SAME, "case; the parentheses stay part of the name"),
    ("Sunn O)))", "Sunn O", SAME, "the parentheses are stylisation of the same band"),
    # --- artists: a question ------------------------------------------------------------------
    ("The Killers", "The Kills", ASK, "two bands a letter apart: a typo or the other band, ask"),
    ("The Kills", "The Killers", ASK, "the other way round"),
    ("Radiohead", "Radiohed", ASK, "typo"),
    ("Eminem", "Eminen", ASK, "typo"),
    (
        "Pink",
        "P!nk",
        ASK,
        "P!nk is Pink to a fan, but ! is also real punctuation and Pink is also a band name: ask",
    ),
    ("P!nk", "Pink", ASK, "the other way round"),
    ("Ke$ha", "Kesha", ASK, "$ for S: the same singer (who dropped the $), yet a symbol, not a letter: ask"),
    ("The Beatles", "Beatles", ASK, "a leading The is a whole word: probably them, ask"),
    ("Beatles", "The Beatles", ASK, "the other way round"),
    ("Cold World", "ColdWorld", ASK, "spacing: Cold World (hardcore) and ColdWorld (black metal) differ"),
    ("AC/DC", "AC-DC", ASK, "a hyphen separates words, the slash joins: spacing only, ask"),
    # --- artists: different entries -----------------------------------------------------------
    ("2Pac", "Tupac", DIFFERENT, "a digit vs letters: only an alias makes them one (see below)"),
    ("The The", "The", DIFFERENT, "The The is a band; 'The' is a whole word fewer"),
    ("The", "The The", DIFFERENT, "the other way round"),
    ("!!!", "!!", DIFFERENT, "punctuation-only names keep their punctuation: !!! (chk chk chk) is not !!"),
    ("!!!", "???", DIFFERENT, "two all-punctuation names are not equal"),
    ("Sunn O)))", "Sunn", DIFFERENT, "a whole word fewer"),
    ("Blur", "Blue", DIFFERENT, "two bands; too far apart to even ask"),
    ("Pink", "Pink Floyd", DIFFERENT, "a whole word more"),
    ("Blink-182", "Blink-181", DIFFERENT, "a different number"),
    # --- tracks -----------------------------------------------------------------------------
    (
        "Pink Floyd - Another Brick in the Wall, Pt. 1",
        "Pink Floyd - Another Brick in the Wall, Pt. 2",
        DIFFERENT,
        "parts are different tracks",
    ),
    (
        "Pink Floyd - Another Brick in the Wall, Part II",
        "Pink Floyd - Another Brick in the Wall, Part III",
        DIFFERENT,
        "roman numerals after Part are numbers",
    ),
    ("Beethoven - Symphony No. 5", "Beethoven - Symphony No. 7", DIFFERENT, "different symphonies"),
    ("Prince - 1999", "Prince - 1998", DIFFERENT, "years are numbers"),
    ("Radiohead - Creep", "Radiohead - Creep (Acoustic)", DIFFERENT, "a version is a whole word more"),
    ("Bryan Adams - Summer of '69", "Bryan Adams - Summer of 69", SAME, "apostrophe"),
    (
        "Daft Punk - Harder, Better, Faster, Stronger",
        "daft punk - Harder Better Faster Stronger",
        SAME,
        "commas",
    ),
    ("Beyoncé - Halo", "Beyonce - Halo", SAME, "diacritic in the artist"),
    ("Radiohead - Karma Police", "Radiohead - Karma Polise", ASK, "typo in the title"),
    ("Ke$ha - TiK ToK", "Kesha - Tik Tok", ASK, "the artist is a question; the title then matches"),
]


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(m)).scalar_one() for m in (Artist, Track, Play)
        )


def _shown(text: str) -> tuple[str, str | None]:
    p = parse_played(text)
    return p.artist, p.title


def test_the_table_is_big_and_covers_every_outcome() -> None:
    outcomes = [row[2] for row in TABLE]
    assert len(TABLE) >= 40
    assert {o: outcomes.count(o) for o in (SAME, ASK, DIFFERENT)} == {SAME: 25, ASK: 13, DIFFERENT: 14}


@pytest.mark.parametrize(("first", "typed", "outcome", "why"), TABLE, ids=[f"{r[0]}|{r[1]}" for r in TABLE])
def test_confusable_pair(
    service: Service, who: Who, db: Database, first: str, typed: str, outcome: str, why: str
) -> None:
    before = service.played(who, first)
    counts = _counts(db)
    if outcome == ASK:
        with pytest.raises(NameQuestion) as asked:
            service.played(who, typed)
        assert _counts(db) == counts, "a question logs nothing"
        q = asked.value.question
        assert q.candidate == (f"{before.artist} – {before.track}" if before.track else before.artist)
        # Either answer logs exactly one play.
        picked = service.played(who, typed, resolve="existing")
        assert (picked.artist, picked.track) == (before.artist, before.track)
        assert _counts(db)[2] == counts[2] + 1
        return
    after = service.played(who, typed)
    if outcome == SAME:
        assert (after.artist, after.track) == (before.artist, before.track), why
        assert _counts(db)[:2] == counts[:2]
    else:
        assert (after.artist, after.track) == _shown(typed), why
        assert _counts(db)[:2] != counts[:2]


def test_2pac_and_tupac_are_one_artist_by_alias_only(
    service: Service, who: Who, db: Database, tmp_path: Path
) -> None:
    f = tmp_path / "aliases.tsv"
    f.write_text("Tupac\t2Pac\n", encoding="utf-8")
    assert import_alias_file(db, f).imported == 1
    assert service.played(who, "2Pac - California Love").artist == "2Pac"
    r = service.played(who, "Tupac - California Love")
    assert (r.artist, r.track, r.plays_by_member) == ("2Pac", "California Love", 2)


def test_title_by_artist_splits_only_on_a_known_artist(service: Service, who: Who) -> None:
    # Nobody known: the whole text is the artist (the Stereo – Death / Me – Stand).
    assert (service.played(who, "Death by Stereo").artist, service.played(who, "Stand by Me").track) == (
        "Death by Stereo",
        None,
    )
    assert service.played(who, "Stand by Me").artist == "Stand by Me"
    # A known artist after "by", and the whole text unknown: Title by Artist.
    service.played(who, "Radiohead")
    r = service.played(who, "Karma Police by Radiohead")
    assert (r.artist, r.track) == ("Radiohead", "Karma Police")
    service.played(who, "Ben E. King")
    r = service.played(who, "Stand By Me by Ben E. King")
    assert (r.artist, r.track) == ("Ben E. King", "Stand By Me")
    # Both known: the whole text wins.
    service.played(who, "Stereo")
    assert (service.played(who, "Death by Stereo").artist, service.played(who, "death by stereo").track) == (
        "Death by Stereo",
        None,
    )


def test_a_spelling_seen_only_in_community_a_is_never_offered_in_b(service: Service, db: Database) -> None:
    a, b = Who("local", "A", "ann"), Who("local", "B", "bob")
    service.played(a, "The Killers - Mr. Brightside")
    service.played(a, "Blink-182 - Dammit")
    # In A, The Kills is a question naming The Killers …
    with pytest.raises(NameQuestion) as asked:
        service.played(a, "The Kills - Doing It to Death")
    assert "The Killers" in str(asked.value)
    # … in B it is logged as typed, and nothing in the reply names A's entries.
    r = service.played(b, "The Kills - Doing It to Death")
    assert (r.artist, r.track, r.corrected_from) == ("The Kills", "Doing It to Death", None)
    assert "Killers" not in repr(r)
    assert all("Killers" not in s for s in service.suggest(b, "kill"))
    # The same name is one catalog entry, but B sees its own spelling, not A's.
    r = service.played(b, "Blink 182 - Dammit")
    assert (r.artist, r.track) == ("Blink 182", "Dammit") and "Blink-182" not in repr(r)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Artist)).scalar_one() == 3
