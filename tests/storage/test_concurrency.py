"""Eight writer threads logging plays at once: no lost rows, no "database is locked"."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from bot.service import Service, Who
from storage.db import Database
from storage.models import Play

THREADS = 8
PER_THREAD = 60


def test_concurrent_writers_lose_nothing(service: Service, db: Database) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(t: int) -> None:
        who = Who("local", "crew", f"m{t}")
        start.wait()
        for i in range(PER_THREAD):
            try:
                # New artists and tracks too, so writers contend on the catalog as well.
                service.played(who, f"Artist {i % 7} - Song {t}-{i}", event_id=f"{t}-{i}")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with db.read() as conn:
        assert conn.execute(select(func.count(Play.id))).scalar_one() == THREADS * PER_THREAD
        assert conn.execute(select(func.count(func.distinct(Play.artist_id)))).scalar_one() == 7
