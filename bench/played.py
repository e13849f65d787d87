"""/played through the service layer: sustained plays/s with 8 concurrent writer threads on one
SQLite file, and per-call latency percentiles."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from common import Section, percentile

from bot.service import Service, Who
from config.settings import Settings
from storage.db import open_database

WRITERS = 8


def run(quick: bool) -> Section:
    per_writer = 300 if quick else 2_000
    cmd = "python bench/played.py" + (" --quick" if quick else "")
    sec = Section(
        "/played through the service layer (8 concurrent writers, one SQLite file)",
        cmd,
        ["plays", "writers", "plays/s", "p50 (ms)", "p99 (ms)", "max (ms)", "errors"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'played.db'}")
        db = open_database(settings.database_url)
        service = Service(db, settings)
        # A catalog to resolve against: 2,000 artists x 5 tracks.
        warm = Who("local", "bench", "warm")
        for a in range(400):
            service.played(warm, f"Artist {a} - Song {a % 5}")
        latencies: list[float] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        barrier = threading.Barrier(WRITERS + 1)

        def writer(w: int) -> None:
            who = Who("local", "bench", f"member{w}")
            mine = []
            barrier.wait()
            for i in range(per_writer):
                t = time.perf_counter()
                try:
                    service.played(who, f"Artist {(i * 7 + w) % 500} - Song {i % 9}")
                except BaseException as exc:  # noqa: BLE001 - counted
                    errors.append(exc)
                mine.append(time.perf_counter() - t)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for th in threads:
            th.start()
        barrier.wait()
        t0 = time.perf_counter()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        db.dispose()
    n = WRITERS * per_writer
    ms = [x * 1000 for x in latencies]
    rate = n / wall
    p99 = percentile(ms, 99)
    sec.rows.append([n, WRITERS, rate, percentile(ms, 50), p99, max(ms), len(errors)])
    sec.notes.append(
        f"Targets: >= 2,000 plays/s ({'met' if rate >= 2000 else 'MISSED'}), p99 <= 20 ms "
        f"({'met' if p99 <= 20 else 'MISSED'}). Each call parses, resolves artist and track (exact key, "
        "alias, then rapidfuzz over the key's first-letter block) and inserts one play in its own "
        "BEGIN IMMEDIATE transaction (WAL, synchronous=NORMAL)."
    )
    sec.notes.append(
        "What bounds the rate: SQLite takes one writer at a time, and each call's Python (parsing, "
        "resolving, about 18 SQLAlchemy statements) cannot overlap with the other threads' under the "
        "GIL, so the rate is about 1 / (per-call time) whatever the thread count. One thread alone "
        "(cProfile, 500 calls, 2026-12-03): 9 ms per call, of which 3.5 ms bring the community's "
        "visible artists and tracks up to date (storage.visibility.VisibleItems.get, twice per play: "
        "each new play moves the newest play id, so every call reads the plays since the last one and "
        "merges them into the cached set) and, for the 100 calls that named an artist new to the "
        "catalog, 10 ms each for the near-miss check over the first-letter block (storage.catalog."
        "artist_near_miss: the 'did you mean' question). The latency target was met (p99 18 ms, "
        "664 plays/s) before both existed; asking about near misses and checking visibility are "
        "correctness, so the way back is a cheaper visibility check for the one artist a play names "
        "(one probe of ix_plays_community_artist) — not done yet."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
