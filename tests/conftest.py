"""Shared fixtures: a real database per test (a SQLite file in tmp_path, or a fresh Postgres database:
tests/databases.py), one session-scoped local Spark, a settable clock."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bot.service import Service, Who
from config.settings import Settings
from storage.db import Database, open_database
from tests.databases import fresh_database_url
from tests.fakes.lastfm import FakeLastfm
from tests.fakes.listenbrainz import FakeListenBrainz

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HETREC_DIR = SHARED / "data" / "lastfm-2k"


class Clock:
    """A controllable UTC clock (naive datetimes, UTC)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture(autouse=True)
def user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-user folders (platformdirs: the default database, the demo's, the default log file) in a
    fresh temporary folder for each test — subprocesses inherit it — never the real home."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    return home


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 20, 12, 0, 0))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database for this test (tests/databases.py)."""
    with fresh_database_url(tmp_path) as url:
        yield url


@pytest.fixture
def new_database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """More new, empty databases for this test: ``new_database_url("other.db")``."""
    with ExitStack() as stack:
        yield lambda name: stack.enter_context(fresh_database_url(tmp_path, name))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        spark_master="local[2]",
        spark_shuffle_partitions=2,
        als_rank=8,
        als_iterations=5,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, settings: Settings, clock: Clock) -> Service:
    return Service(db, settings, clock=clock)


@pytest.fixture
def who() -> Who:
    return Who("local", "c1", "m1", community_name="Crew", member_name="Ada")


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One Spark session for the whole test run (2 shuffle partitions, UI off): local[2], or the
    cluster in TASTEMAKER_TEST_SPARK_MASTER (with TASTEMAKER_TEST_SPARK_CHECKPOINT_DIR) or the Connect
    server in TASTEMAKER_TEST_SPARK_REMOTE (`make test-cluster` sets them)."""
    from engine.session import build_session

    session = build_session(
        Settings(
            spark_master=os.environ.get("TASTEMAKER_TEST_SPARK_MASTER") or "local[2]",
            spark_checkpoint_dir=os.environ.get("TASTEMAKER_TEST_SPARK_CHECKPOINT_DIR", ""),
            spark_remote=os.environ.get("TASTEMAKER_TEST_SPARK_REMOTE", ""),
            spark_shuffle_partitions=2,
            spark_driver_memory="2g",
        )
    )
    yield session
    session.stop()


def hetrec_available() -> bool:
    return (HETREC_DIR / "user_artists.dat").is_file() and not os.environ.get("TASTEMAKER_SKIP_HETREC")


requires_hetrec = pytest.mark.skipif(not hetrec_available(), reason="../shared/data/lastfm-2k is not present")


# --- linked accounts: the loopback ListenBrainz and Last.fm (tests/sync, the /link commands) ---

LASTFM_KEY = "test-key"


@pytest.fixture
def lb() -> Iterator[FakeListenBrainz]:
    """A loopback ListenBrainz (tests/fakes/listenbrainz.py)."""
    fake = FakeListenBrainz().start()
    yield fake
    fake.stop()


@pytest.fixture
def lfm() -> Iterator[FakeLastfm]:
    """A loopback Last.fm API that accepts the key LASTFM_KEY (tests/fakes/lastfm.py)."""
    fake = FakeLastfm(LASTFM_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def sync_settings(settings: Settings, lb: FakeListenBrainz, lfm: FakeLastfm) -> Settings:
    """Settings pointing the sync at the two loopback fakes."""
    return settings.model_copy(
        update={
            "listenbrainz_api_url": lb.api_url,
            "lastfm_api_url": lfm.api_url,
            "lastfm_api_key": LASTFM_KEY,
            "sync_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def linker(db: Database, sync_settings: Settings, clock: Clock) -> Service:
    """A service whose links sync against the loopback fakes."""
    return Service(db, sync_settings, clock=clock)
