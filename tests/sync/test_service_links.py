"""The service side of linking: /link and /unlink (keep or delete the synced plays), the profile
line, and notices — with the real sync against the loopback fakes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

from bot import service as service_module
from bot.parsing import UserError
from bot.service import (
    LINK_BACKFILLING,
    LINK_OK,
    LINK_WAITING,
    Linked,
    LinkStatus,
    Service,
    Unlinked,
    parse_account,
    parse_link_source,
)
from config.settings import Settings
from storage import trends
from storage.db import Database
from storage.models import Play, PlayRemoval, Watermark
from tests.conftest import Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, run_sync, stored, who

ANN = who("crew", "ann")
BOB = who("crew", "bob")


def _listens(n: int) -> list[FakeListen]:
    return [FakeListen(T0 + 60 * k, f"Artist {k % 5}", f"Song {k}") for k in range(n)]


def test_link_sources_and_account_names() -> None:
    assert [parse_link_source(s) for s in ("listenbrainz", " LB ", "Last.fm", "lastfm")] == [
        "listenbrainz",
        "listenbrainz",
        "lastfm",
        "lastfm",
    ]
    with pytest.raises(UserError, match="“spotify” is not a service I can link: use listenbrainz or lastfm"):
        parse_link_source("spotify")
    assert parse_account("lastfm", " @RJ_77 ") == "RJ_77"
    assert parse_account("lastfm", "https://www.last.fm/user/RJ_77") == "RJ_77"
    assert parse_account("listenbrainz", "https://listenbrainz.org/user/mr%20monkey/") == "mr monkey"
    assert parse_account("listenbrainz", "rob") == "rob"
    with pytest.raises(UserError, match="Which Last.fm account"):
        parse_account("lastfm", "  ")
    with pytest.raises(UserError, match="is not a Last.fm user name"):
        parse_account("lastfm", "9lives")
    with pytest.raises(UserError, match="is not a ListenBrainz user name"):
        parse_account("listenbrainz", "a/b")


def test_linking_a_lastfm_account_needs_the_operators_key(
    db: Database, settings: Settings, clock: Clock
) -> None:
    service = Service(db, settings.model_copy(update={"lastfm_api_key": None}), clock=clock)
    with pytest.raises(UserError) as info:
        service.link(ANN, "lastfm", "annfm")
    assert str(info.value) == (
        "Last.fm accounts cannot be linked on this bot yet: its operator has to set LASTFM_API_KEY."
    )
    assert service.links(ANN) == []


def test_link_once_per_source_and_one_member_per_account_in_a_community(
    linker: Service, clock: Clock
) -> None:
    first = linker.link(ANN, "listenbrainz", "Ann_LB")
    assert first == Linked(LinkStatus("listenbrainz", "Ann_LB", clock.now, None, LINK_WAITING, 0))
    assert linker.link(ANN, "lb", "ann_lb").already  # the same account, any case
    with pytest.raises(UserError) as info:
        linker.link(ANN, "listenbrainz", "someone_else")
    assert str(info.value) == (
        "You have already linked the ListenBrainz account “Ann_LB” here. Unlink it first "
        "(/unlink listenbrainz), keeping or deleting its plays."
    )
    with pytest.raises(UserError, match="Another member here has linked the ListenBrainz account “ANN_LB”"):
        linker.link(BOB, "listenbrainz", "ANN_LB")
    # Another community: fine; and a Last.fm account beside the ListenBrainz one.
    assert not linker.link(who("other", "bob"), "listenbrainz", "ann_lb").already
    linker.link(ANN, "lastfm", "annfm")
    assert [s.source for s in linker.links(ANN)] == ["lastfm", "listenbrainz"]


def test_the_profile_shows_your_links_and_last_sync_only_to_you(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(30))
    linked_at = clock.now
    linker.link(ANN, "listenbrainz", "ann_lb")
    assert linker.profile(ANN).links == (
        LinkStatus("listenbrainz", "ann_lb", linked_at, None, LINK_WAITING, 0),
    )
    clock.advance(minutes=1)
    small = sync_settings.model_copy(update={"listenbrainz_page_size": 20, "sync_pages_per_account": 1})
    run_sync(db, small, clock)
    assert linker.profile(ANN).links == (
        LinkStatus("listenbrainz", "ann_lb", linked_at, clock.now, LINK_BACKFILLING, 20),
    )
    clock.advance(minutes=5)
    run_sync(db, sync_settings, clock)
    profile = linker.profile(ANN)
    assert profile.plays == 30
    assert profile.links == (LinkStatus("listenbrainz", "ann_lb", linked_at, clock.now, LINK_OK, 30),)
    assert profile.links[0].source_name == "ListenBrainz"
    linker.played(BOB, "Radiohead - Creep")
    assert linker.profile(BOB, "ann").links == ()  # another member's profile: no accounts shown


def test_unlink_keeping_the_plays_then_linking_again_resumes_without_duplicates(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(12))
    linker.link(ANN, "listenbrainz", "ann_lb")
    run_sync(db, sync_settings, clock)
    assert linker.unlink(ANN) == Unlinked("listenbrainz", "ann_lb", kept=True)
    assert linker.links(ANN) == [] and linker.profile(ANN).links == ()
    assert len(stored(db, member="ann")) == 12
    lb.add_listens("ann_lb", [FakeListen(T0 + 5000, "New Band", "While unlinked")])
    assert run_sync(db, sync_settings, clock, due_only=False).accounts == []  # nothing linked
    again = linker.link(ANN, "listenbrainz", "ann_lb")
    assert again.resumed and again.link.plays == 12
    assert run_sync(db, sync_settings, clock).added == 1
    assert len(stored(db, member="ann")) == 13


def test_unlink_deleting_the_plays_removes_them_the_way_undo_does(
    db: Database,
    sync_settings: Settings,
    linker: Service,
    lb: FakeListenBrainz,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lb.add_user("ann_lb", _listens(25))
    linker.link(ANN, "listenbrainz", "ann_lb")
    linker.played(ANN, "Typed Band - Typed Song")  # logged by hand: stays
    run_sync(db, sync_settings, clock)
    linker.played(BOB, "Artist 1 - Song 1")
    monkeypatch.setattr(service_module, "UNLINK_CHUNK", 10)  # three transactions of at most 10
    # Pretend the batch has folded every play so far.
    with db.write() as conn:
        top = conn.execute(select(func.max(Play.id))).scalar_one()
        conn.execute(insert(Watermark).values(job=trends.TRENDS_WATERMARK, last_play_id=top, batches=1))
    result = linker.unlink(ANN, "listenbrainz", keep_plays=False)
    assert result == Unlinked("listenbrainz", "ann_lb", kept=False, removed=25, folded=True)
    assert [r[3:] for r in stored(db, member="ann")] == [("Typed Band", "Typed Song")]
    assert [p.what for p in linker.my_plays(ANN)] == ["Typed Band – Typed Song"]
    with db.read() as conn:
        removals = conn.execute(select(func.count()).select_from(PlayRemoval)).scalar_one()
        removed = conn.execute(
            select(func.count()).select_from(Play).where(Play.removed.is_(True))
        ).scalar_one()
    assert removals == removed == 25
    # Linking it again brings the whole history back (the removed plays do not block it).
    assert not linker.link(ANN, "listenbrainz", "ann_lb").resumed
    assert run_sync(db, sync_settings, clock).added == 25
    assert len(stored(db, member="ann")) == 26


def test_unlink_needs_a_link_and_says_which_when_there_are_two(linker: Service) -> None:
    with pytest.raises(UserError, match="You have no ListenBrainz or Last.fm account linked here"):
        linker.unlink(ANN)
    linker.link(ANN, "listenbrainz", "ann_lb")
    with pytest.raises(UserError, match="You have no Last.fm account linked here"):
        linker.unlink(ANN, "lastfm")
    linker.link(ANN, "lastfm", "annfm")
    with pytest.raises(UserError, match="say which, e.g. /unlink lastfm"):
        linker.unlink(ANN)
    assert linker.unlink(ANN, "last.fm", keep_plays=False) == Unlinked("lastfm", "annfm", kept=False)
    assert [s.source for s in linker.links(ANN)] == ["listenbrainz"]


def test_pending_notices_for_members_without_any(linker: Service) -> None:
    assert linker.pending_notices(who("nowhere", "nobody")) == []
    linker.link(ANN, "listenbrainz", "ann_lb")
    assert linker.pending_notices(ANN) == []


def test_a_lastfm_link_end_to_end(
    db: Database, sync_settings: Settings, linker: Service, lfm: FakeLastfm, clock: Clock
) -> None:
    lfm.add_user("BobFM", [Scrobble(T0 + 60 * k, "Band", f"Tune {k}") for k in range(7)])
    linker.link(BOB, "lastfm", "https://www.last.fm/user/BobFM")
    run_sync(db, sync_settings, clock)
    (link,) = linker.links(BOB)
    assert (link.account, link.state, link.plays) == ("BobFM", LINK_OK, 7)
    assert linker.recent(BOB, limit=1).entries[0].what == "Band – Tune 6"
