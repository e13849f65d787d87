"""Import throughput: rows/s and peak memory of ``import csv`` and ``import hetrec`` into SQLite.

Generates synthetic files in a temporary folder (nothing is written to the repository), imports
each into a fresh SQLite database in a child process (so peak RSS is per run), and prints a
Markdown table.

    .venv/bin/python bench/import_throughput.py                 # 1M rows, csv and hetrec
    .venv/bin/python bench/import_throughput.py --rows 1000000,5000000
    .venv/bin/python bench/import_throughput.py --formats csv --rows 200000 --json

Synthetic data: 5,000 members, 20,000 artists, 10 tracks per artist, Zipf-like popularity, one
timestamped play per CSV row (``user,artist,track,played_at,count``); the HetRec-shaped files hold
the same number of ``user_artists.dat`` rows (tab separated, CRLF, no header) over 20,000
``artists.dat`` names. Peak RSS is that of the importing process plus its writer process (see
``ingest.bulk``), sampled every 20 ms during the import (after generation); CPU time is theirs
too (both processes), so a busy machine lowers rows/s but not rows per CPU second.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import Section  # noqa: E402

USERS = 5_000
ARTISTS = 20_000
TRACKS_PER_ARTIST = 10
TARGET_ROWS_PER_S = 50_000


def _zipf_index(rng: random.Random, n: int) -> int:
    # Inverse-CDF of a continuous 1/x law over [1, n]: a cheap long-tailed popularity.
    return min(n - 1, int(n ** rng.random()) - 1)


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("user,artist,track,played_at,count\n")
        buf = []
        for i in range(rows):
            a = _zipf_index(rng, ARTISTS)
            t = rng.randrange(TRACKS_PER_ARTIST)
            when = start + dt.timedelta(seconds=i * 7)
            buf.append(f"u{rng.randrange(USERS)},Artist {a},Track {a}-{t},{when:%Y-%m-%dT%H:%M:%S}Z,1\n")
            if len(buf) >= 10_000:
                fh.writelines(buf)
                buf.clear()
        fh.writelines(buf)


def write_hetrec(folder: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "artists.dat").open("w", encoding="utf-8", newline="") as fh:
        fh.write("id\tname\turl\tpictureURL\r\n")
        for a in range(1, ARTISTS + 1):
            fh.write(f"{a}\tArtist {a}\thttp://example.invalid/{a}\t\r\n")
    # Distinct (user, artist) pairs, as in the real data: walk users and give each a run of artists.
    per_user = max(1, rows // USERS + 1)
    with (folder / "user_artists.dat").open("w", encoding="utf-8", newline="") as fh:
        n = 0
        buf = []
        u = 0
        while n < rows:
            u += 1
            first = rng.randrange(ARTISTS)
            for k in range(min(per_user, ARTISTS, rows - n)):
                buf.append(f"{u}\t{(first + k) % ARTISTS + 1}\t{1 + _zipf_index(rng, 5000)}\r\n")
                n += 1
            if len(buf) >= 10_000:
                fh.writelines(buf)
                buf.clear()
        fh.writelines(buf)


def run_one(fmt: str, rows: int, workdir: Path) -> dict[str, float | int | str]:
    """Generate, then import in this process; returns the measurement."""
    import psutil

    from ingest.formats import import_path
    from storage import catalog
    from storage.db import open_database

    src = workdir / ("plays.csv" if fmt == "csv" else "hetrec")
    if fmt == "csv":
        write_csv(src, rows)
    else:
        write_hetrec(src, rows)
    db = open_database(f"sqlite:///{workdir / 'bench.db'}")
    with db.write() as conn:
        cid = catalog.community_id(conn, "local", "bench", "bench")
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    done = threading.Event()

    def tree_rss() -> int:
        rss = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                rss += child.memory_info().rss
        return rss

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, tree_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = import_path(db, cid, fmt, src, now=dt.datetime(2030, 1, 1))
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (children.ru_utime - children0.ru_utime) + (children.ru_stime - children0.ru_stime)
    done.set()
    sampler.join()
    db.dispose()
    if summary.imported != rows or summary.rejected:
        raise SystemExit(f"{fmt}: imported {summary.imported} of {rows} rows ({summary.line()})")
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(secs, 2),
        "rows_per_s": int(rows / secs),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_s": int(rows / cpu),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "rss_before_mb": round(base / 2**20, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
    }


def measure(fmt: str, rows: int) -> dict[str, float | int | str]:
    """One import in a child process, so peak RSS belongs to that import alone."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", fmt, str(rows)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000", help="comma-separated row counts (default 1000000)")
    ap.add_argument("--formats", default="csv,hetrec", help="comma-separated: csv, hetrec")
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    ap.add_argument("--one", nargs=2, metavar=("FORMAT", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="tastemaker-bench-") as tmp:
            print(json.dumps(run_one(args.one[0], int(args.one[1]), Path(tmp))))
        return
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        for fmt in args.formats.split(","):
            res = measure(fmt, rows)
            results.append(res)
            if args.json:
                print(json.dumps(res), flush=True)
    if args.json:
        return
    print(
        f"| format | rows | seconds | rows/s (target ≥ {TARGET_ROWS_PER_S:,}) | CPU s | rows per CPU s "
        "| RSS before | peak RSS | load avg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['format']} | {r['rows']:,} | {r['seconds']} | {r['rows_per_s']:,} | {r['cpu_seconds']} | "
            f"{r['rows_per_cpu_s']:,} | {r['rss_before_mb']} MB | {r['peak_rss_mb']} MB | "
            f"{r['load_avg_1m']} |"
        )
    print(f"\n{os.cpu_count()} CPUs; rows per CPU second is the figure to compare on a busy machine.")


def run(quick: bool) -> Section:
    """The `make bench` section: csv and hetrec at 1M and 5M rows (quick: 200k)."""
    sizes = [200_000] if quick else [1_000_000, 5_000_000]
    sec = Section(
        "Import throughput into SQLite",
        f"python bench/import_throughput.py --rows {','.join(str(n) for n in sizes)}",
        ["format", "rows", "seconds", "rows/s", "rows per CPU s", "peak RSS (MB)", "load avg"],
    )
    for rows in sizes:
        for fmt in ("csv", "hetrec"):
            r = measure(fmt, rows)
            sec.rows.append(
                [
                    fmt,
                    r["rows"],
                    r["seconds"],
                    r["rows_per_s"],
                    r["rows_per_cpu_s"],
                    r["peak_rss_mb"],
                    r["load_avg_1m"],
                ]
            )
            met = "met" if r["rows_per_s"] >= TARGET_ROWS_PER_S else "MISSED"
            sec.notes.append(
                f"{fmt}, {rows:,} rows: {r['rows_per_s']:,} rows/s (target >= {TARGET_ROWS_PER_S:,}: {met})."
            )
    sec.notes.append(
        "Synthetic files (5,000 members, 20,000 artists, Zipf popularity) imported in a child process into "
        "a fresh SQLite file; peak RSS of the importing and writer processes sampled every 20 ms, CPU "
        "seconds of both. Reading, checking and keying rows (Python) runs beside the SQLite writes in a "
        "writer process (ingest/bulk.py). Memory stays flat: it grows with distinct names (reached "
        "within the first 1-2M rows here), not with rows."
    )
    return sec


if __name__ == "__main__":
    main()
