"""The two HTTP clients against the loopback fakes: paging and response shapes, the rate-limit
headers and 429, 5xx and malformed JSON retried, and each Last.fm error code mapped."""

from __future__ import annotations

import pytest

from ingest.sync.clients import (
    NOW_PLAYING,
    AccountGone,
    AccountPrivate,
    LastfmClient,
    Listen,
    ListenBrainzClient,
    OperatorError,
    RateLimited,
    TryLater,
)
from tests.conftest import LASTFM_KEY
from tests.fakes.base import Answer
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, Sleeps


def _lb(fake: FakeListenBrainz, sleeps: Sleeps, **kw) -> ListenBrainzClient:  # type: ignore[no-untyped-def]
    return ListenBrainzClient(fake.api_url, timeout=5, sleep=sleeps, monotonic=sleeps.monotonic, **kw)


def _lfm(fake: FakeLastfm, sleeps: Sleeps, key: str = LASTFM_KEY) -> LastfmClient:
    return LastfmClient(fake.api_url, key, timeout=5, sleep=sleeps, monotonic=sleeps.monotonic)


def test_listenbrainz_pages_back_with_max_ts_and_forward_with_min_ts(lb: FakeListenBrainz) -> None:
    lb.add_user("Ann Lee", [FakeListen(T0 + i, f"Artist {i % 3}", f"Song {i}", "LP") for i in range(12)])
    with _lb(lb, Sleeps()) as client:
        newest = client.listens("ann lee", count=5)
        older = client.listens("Ann Lee", count=5, max_ts=T0 + 7)
        after = client.listens("Ann Lee", count=5, min_ts=T0 + 2)
    assert [x.listened_at - T0 for x in newest.listens] == [11, 10, 9, 8, 7]
    assert newest.listens[0] == Listen(T0 + 11, "Artist 2", "Song 11")
    assert newest.oldest == T0
    assert [x.listened_at - T0 for x in older.listens] == [6, 5, 4, 3, 2]
    # min_ts: the oldest five after it, newest first
    assert [x.listened_at - T0 for x in after.listens] == [7, 6, 5, 4, 3]
    # The user name is escaped into the path.
    assert lb.requests[0].path == "/1/user/ann%20lee/listens"
    assert lb.requests[1].params == {"count": "5", "max_ts": str(T0 + 7)}


def test_listenbrainz_unknown_user_is_gone(lb: FakeListenBrainz) -> None:
    with _lb(lb, Sleeps()) as client, pytest.raises(AccountGone):
        client.listens("nobody", count=10)
    assert len(lb.requests) == 1  # not retried


def test_listenbrainz_listen_without_names_comes_back_empty(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [FakeListen(T0, None, None), FakeListen(T0 + 1, "", "x")])
    with _lb(lb, Sleeps()) as client:
        page = client.listens("ann", count=10)
    assert page.listens == [Listen(T0 + 1, None, "x"), Listen(T0, None, None)]


def test_a_429_waits_for_the_reset_then_succeeds(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [FakeListen(T0, "A", "B")])
    lb.rate_limit_next(reset_in=7)
    sleeps = Sleeps()
    with _lb(lb, sleeps) as client:
        page = client.listens("ann", count=10)
    assert [x.listened_at for x in page.listens] == [T0]
    assert [r.status for r in lb.requests] == [429, 200]
    assert sleeps.waits == [7.0]


def test_a_429_longer_than_the_longest_wait_is_given_up_at_once(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [FakeListen(T0, "A", "B")])
    lb.rate_limit_next(reset_in=600)
    sleeps = Sleeps()
    with _lb(lb, sleeps, max_wait=60) as client:
        with pytest.raises(RateLimited) as info:
            client.listens("ann", count=10)
        assert info.value.retry_after == 600
        # The next request does not even go out while the window is closed.
        with pytest.raises(RateLimited):
            client.listens("ann", count=10)
    assert len(lb.requests) == 1 and sleeps.waits == []


def test_no_requests_remaining_waits_before_the_next_request(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [FakeListen(T0, "A", "B")])
    lb.window(limit=1, seconds=30)  # the first answer says Remaining: 0, Reset-In: 30
    sleeps = Sleeps()
    with _lb(lb, sleeps) as client:
        client.listens("ann", count=10)
        assert lb.requests[-1].status == 200
        lb.window(limit=5, seconds=30)  # (the fake's window reset while we "waited")
        client.listens("ann", count=10)
    assert len(sleeps.waits) == 1 and 29 <= sleeps.waits[0] <= 30
    assert [r.status for r in lb.requests] == [200, 200]


def test_5xx_and_malformed_json_are_retried_with_growing_waits(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [FakeListen(T0, "A", "B")])
    lb.fail_next(503)
    lb.malformed_next()
    sleeps = Sleeps()
    with _lb(lb, sleeps) as client:
        page = client.listens("ann", count=10)
    assert len(page.listens) == 1
    assert [r.status for r in lb.requests] == [503, 200, 200]
    assert sleeps.waits == [1.0, 2.0]


def test_a_lasting_5xx_is_try_later(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [])
    lb.fail_next(500, times=3)
    with _lb(lb, Sleeps()) as client, pytest.raises(TryLater, match="HTTP 500"):
        client.listens("ann", count=10)
    assert len(lb.requests) == 3


def test_malformed_json_three_times_is_try_later(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [])
    lb.malformed_next(times=3)
    with _lb(lb, Sleeps()) as client, pytest.raises(TryLater, match="malformed JSON"):
        client.listens("ann", count=10)


def test_a_json_answer_without_listens_is_try_later(lb: FakeListenBrainz) -> None:
    lb.script(*[Answer(200, '{"payload": {"count": 0}}')] * 3)
    with _lb(lb, Sleeps()) as client, pytest.raises(TryLater, match="no payload.listens"):
        client.listens("ann", count=10)


def test_a_server_that_does_not_answer_is_try_later(lb: FakeListenBrainz) -> None:
    lb.add_user("ann", [])
    lb.hold_after(0)
    try:
        with (
            ListenBrainzClient(lb.api_url, timeout=0.3, attempts=1, sleep=Sleeps()) as client,
            pytest.raises(TryLater, match="no answer in time"),
        ):
            client.listens("ann", count=10)
    finally:
        lb.release()


def test_lastfm_skips_now_playing_and_reads_pages(lfm: FakeLastfm) -> None:
    lfm.add_user("Bob", [Scrobble(T0 + i, f"Band {i}", f"Tune {i}") for i in range(5)])
    lfm.now_playing["bob"] = ("Band 9", "Live now")
    with _lfm(lfm, Sleeps()) as client:
        first = client.recent_tracks("bob", limit=2, page=1)
        third = client.recent_tracks("bob", limit=2, page=3, to_ts=T0 + 5)
        ranged = client.recent_tracks("bob", limit=2, page=1, from_ts=T0 + 2)
    assert first.listens == [Listen(T0 + 4, "Band 4", "Tune 4"), Listen(T0 + 3, "Band 3", "Tune 3")]
    assert first.skipped == {NOW_PLAYING: 1} and first.total_pages == 3
    assert third.listens == [Listen(T0, "Band 0", "Tune 0")] and third.skipped == {}
    assert [x.listened_at - T0 for x in ranged.listens] == [4, 3] and ranged.total_pages == 1
    assert lfm.requests[0].params == {
        "method": "user.getrecenttracks",
        "user": "bob",
        "api_key": LASTFM_KEY,
        "format": "json",
        "limit": "2",
        "page": "1",
    }


def test_lastfm_one_track_as_an_object(lfm: FakeLastfm) -> None:
    lfm.add_user("bob", [Scrobble(T0, "Solo", "Only")])
    lfm.single_as_object = True
    with _lfm(lfm, Sleeps()) as client:
        page = client.recent_tracks("bob", limit=200, page=1)
    assert page.listens == [Listen(T0, "Solo", "Only")]


@pytest.mark.parametrize(
    ("code", "error", "requests"),
    [
        (6, AccountGone, 1),
        (17, AccountPrivate, 1),
        (10, OperatorError, 1),
        (29, RateLimited, 3),  # retried inside the run, then the account is deferred
        (16, TryLater, 3),
        (11, TryLater, 3),
        (8, TryLater, 3),
    ],
)
def test_lastfm_error_codes(lfm: FakeLastfm, code: int, error: type[Exception], requests: int) -> None:
    lfm.add_user("bob", [Scrobble(T0, "A", "B")])
    lfm.error_next(code, times=3)
    with _lfm(lfm, Sleeps()) as client, pytest.raises(error):
        client.recent_tracks("bob", limit=200, page=1)
    assert len(lfm.requests) == requests


def test_lastfm_recovers_from_a_temporary_error(lfm: FakeLastfm) -> None:
    lfm.add_user("bob", [Scrobble(T0, "A", "B")])
    lfm.error_next(16)
    lfm.fail_next(502)
    sleeps = Sleeps()
    with _lfm(lfm, sleeps) as client:
        page = client.recent_tracks("bob", limit=200, page=1)
    assert page.listens == [Listen(T0, "A", "B")]
    assert [r.status for r in lfm.requests] == [503, 502, 200] and sleeps.waits == [1.0, 2.0]


def test_lastfm_real_errors_unknown_user_private_and_bad_key(lfm: FakeLastfm) -> None:
    lfm.add_user("shy", [Scrobble(T0, "A", "B")])
    lfm.private.add("shy")
    with _lfm(lfm, Sleeps()) as client:
        with pytest.raises(AccountGone, match="User not found"):
            client.recent_tracks("ghost", limit=10, page=1)
        with pytest.raises(AccountPrivate, match="error 17"):
            client.recent_tracks("shy", limit=10, page=1)
    with _lfm(lfm, Sleeps(), key="wrong") as client, pytest.raises(OperatorError, match="LASTFM_API_KEY"):
        client.recent_tracks("shy", limit=10, page=1)
    assert [r.status for r in lfm.requests] == [404, 403, 403]
