"""Shared fixtures: real SQLite files in tmp_path, one session-scoped local Spark, a settable clock."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.service import Service, Who
from config.settings import Settings
from storage.db import Database, open_database

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
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'tastemaker.db'}",
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
    """One local Spark session for the whole test run (local[2], 2 shuffle partitions, UI off)."""
    from engine.session import build_session

    session = build_session(
        Settings(spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g")
    )
    yield session
    session.stop()


def hetrec_available() -> bool:
    return (HETREC_DIR / "user_artists.dat").is_file() and not os.environ.get("TASTEMAKER_SKIP_HETREC")


requires_hetrec = pytest.mark.skipif(not hetrec_available(), reason="../shared/data/lastfm-2k is not present")
