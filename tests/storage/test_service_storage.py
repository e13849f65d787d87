"""The service against a real SQLite file: /played resolution, dedupe, nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.parsing import UserError
from bot.service import NameQuestion, Service, Who
from storage.db import Database
from storage.models import Artist, Member, Play, Track


def _count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_same_name_resolves_silently_a_typo_is_a_question(service: Service, who: Who, db: Database) -> None:
    a = service.played(who, "Radiohead – Karma Police")
    b = service.played(who, "radiohead - karma police")
    with pytest.raises(NameQuestion) as asked:  # typo: a question, nothing logged
        service.played(who, "Radiohed - Karma Polise")
    q = asked.value.question
    assert (q.typed, q.candidate) == ("Radiohed – Karma Polise", "Radiohead – Karma Police")
    assert q.existing_command == "/played Radiohead - Karma Police"
    assert q.as_typed_command == "/played =Radiohed - Karma Polise"
    assert _count(db, Play) == 2
    c = service.played(who, "Radiohed - Karma Polise", resolve="existing")
    assert (a.artist, a.track) == ("Radiohead", "Karma Police")
    assert (b.artist, b.track) == (c.artist, c.track) == ("Radiohead", "Karma Police")
    assert c.corrected_from == "Radiohed – Karma Polise" and b.corrected_from is None
    assert c.plays_by_member == 3
    assert _count(db, Artist) == 1 and _count(db, Track) == 1 and _count(db, Play) == 3
    d = service.played(who, "=Radiohed - Karma Polise")  # as typed: what the reply says to send
    assert (d.artist, d.track, d.plays_by_member, d.corrected_from) == ("Radiohed", "Karma Polise", 1, None)
    assert service.played(who, "Radiohed - Karma Polise").plays_by_member == 2  # known now: no question
    assert _count(db, Artist) == 2 and _count(db, Play) == 5


def test_distinct_names_are_not_merged(service: Service, who: Who, db: Database) -> None:
    service.played(who, "Lulu")
    assert service.played(who, "Lulú").artist == "Lulu"  # diacritics only: the same name
    service.played(who, "Blur")
    service.played(who, "Blue")
    with db.read() as conn:
        assert sorted(conn.execute(select(Artist.name)).scalars()) == ["Blue", "Blur", "Lulu"]


def test_original_spelling_is_kept_for_display(service: Service, who: Who) -> None:
    r = service.played(who, "sigur RÓS - Hoppípolla")
    assert r.artist == "sigur RÓS"
    assert service.played(who, "Sigur Rós - hoppípolla").artist == "sigur RÓS"


def test_same_event_id_is_stored_once(service: Service, who: Who, db: Database) -> None:
    first = service.played(who, "Bonobo - Kerala", event_id="trigger-1")
    again = service.played(who, "Bonobo - Kerala", event_id="trigger-1")
    assert not first.duplicate and again.duplicate
    assert _count(db, Play) == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 300, "\u202e", " - Title", "\ufdfa" * 12])
def test_bad_input_stores_nothing(service: Service, who: Who, db: Database, text: str) -> None:
    with pytest.raises(UserError):
        service.played(who, text)
    assert _count(db, Play) == 0 and _count(db, Artist) == 0 and _count(db, Member) == 0


def test_communities_are_isolated(service: Service) -> None:
    a = Who("slack", "E1:T1", "U1")
    b = Who("slack", "E1:T2", "U1")
    service.played(a, "Bonobo - Kerala")
    assert service.trending(a, "all").entries[0].plays == 1
    assert service.trending(b, "all").entries == []


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from config.settings import Settings
    from storage.db import open_database
    from tests.databases import fresh_database_url

    with fresh_database_url(tmp_path_factory.mktemp("fuzz"), "fuzz.db") as url:
        db = open_database(url)
        yield Service(db, Settings(database_url=url))
        db.dispose()


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=250))
def test_any_text_is_stored_with_a_name_or_refused(fuzz_service: Service, text: str) -> None:
    """10k generated strings through /played into a real SQLite file: never a crash, and never an
    artist or track stored with an empty name or key."""
    who = Who("local", "fuzz", "m")
    try:
        r = fuzz_service.played(who, text)
    except UserError:
        return
    assert r.artist.strip() and (r.track is None or r.track.strip())
    with fuzz_service.db.read() as conn:
        last = conn.execute(select(func.max(Play.id))).scalar_one()
        a_key, a_name, t_id = conn.execute(
            select(Artist.key, Artist.name, Play.track_id)
            .join(Play, Play.artist_id == Artist.id)
            .where(Play.id == last)
        ).one()
        assert a_key.strip() and a_name.strip()
        if t_id is not None:
            t_key, t_title = conn.execute(select(Track.key, Track.title).where(Track.id == t_id)).one()
            assert t_key.strip() and t_title.strip()


def test_answering_a_question_twice_logs_and_creates_nothing_more(
    service: Service, who: Who, db: Database
) -> None:
    """Yes, then No (or a redelivered answer): the second answer finds the play its question id
    already logged and creates no catalog entry for the spelling it would have logged."""
    service.played(who, "The Killers - Mr. Brightside")
    with pytest.raises(NameQuestion):
        service.played(who, "The Kilers - Mr. Brightside")
    yes = service.played(who, "The Kilers - Mr. Brightside", resolve="existing", event_id="q1")
    no = service.played(who, "The Kilers - Mr. Brightside", resolve="as typed", event_id="q1")
    assert (yes.artist, yes.duplicate) == ("The Killers", False)
    assert (no.artist, no.track, no.plays_by_member, no.duplicate) == (
        "The Killers",
        "Mr. Brightside",
        2,
        True,
    )
    assert _count(db, Artist) == 1 and _count(db, Track) == 1 and _count(db, Play) == 2
