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
        "What bounds the rate: SQLite takes one writer at a time and each call holds the write "
        "transaction while it resolves names, so the calls run one after another. It is the work per "
        "call, not the threads: on this workload (most plays name a track new to the catalog) one "
        "thread does 234 plays/s and 8 threads 246/s, with 97% of the wall time inside the write "
        "lock, about 4 ms held per call (2026-12-03, 2,400 plays each way). cProfile puts that time "
        "in SQLAlchemy building and compiling about 13 statements per play (the sqlite3 calls "
        "themselves are 7%); the visibility cache's incremental reads are almost half of it, creating "
        "the track and its near-miss check a fifth. Plays of known names cost 2.6 ms (3.15 ms "
        "before the visibility cache read what invalidates it once per play instead of once per "
        "kind). Queued 8 deep, that is the p50 of ~40 ms. The latency target was met (p99 18 ms, 664 "
        "plays/s) before the isolation rule and the 'did you mean' check were added to every play. "
        "Not fixed: fewer or precompiled statements would give tens of percent; 2,000 plays/s needs "
        "concurrent plays written in groups."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
