"""/played latency from separate processes while a bulk import and a batch + retrain run in others.

Four writer processes each log a play every 20 ms (a busy chat) through the service layer into one
SQLite file; meanwhile `tastemaker import csv` (a second process pair: reader + writer) brings in a
large CSV and `tastemaker batch --retrain` folds and retrains. SQLite has one writer at a time across
processes, so every long write transaction of the import or the batch is time a `/played` waits."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Section, percentile, synthetic_rows

WRITERS = 4
INTERVAL = 0.02


def writer(db_url: str, w: int, stop_file: Path, out: Path) -> None:
    """One writer process: /played every INTERVAL until ``stop_file`` exists; latencies to ``out``."""
    from bot.service import Service, Who
    from config.settings import Settings
    from storage.db import open_database

    settings = Settings(database_url=db_url)
    service = Service(open_database(db_url, migrate=False), settings)
    who = Who("local", "chat", f"member{w}")
    lat: list[float] = []
    errors = 0
    i = 0
    while not stop_file.exists():
        t = time.perf_counter()
        try:
            service.played(who, f"Artist {(i * 7 + w) % 500} - Track {(i * 7 + w) % 500}-{i % 9}")
        except Exception:  # counted
            errors += 1
        lat.append(time.perf_counter() - t)
        i += 1
        time.sleep(INTERVAL)
    out.write_text(json.dumps({"lat": lat, "errors": errors}))


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(quick: bool) -> Section:
    rows = 50_000 if quick else 200_000
    history = 50_000 if quick else 200_000
    cmd = "python bench/cross_process.py" + (" --quick" if quick else "")
    sec = Section(
        f"/played from {WRITERS} other processes while a {rows:,}-row import and a batch + retrain run",
        cmd,
        [
            "plays",
            "writer processes",
            "p50 (ms)",
            "p99 (ms)",
            "max (ms)",
            "errors",
            "import (s)",
            "batch (s)",
        ],
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        db_url = f"sqlite:///{tmpdir / 'x.db'}"
        env = {**os.environ, "TASTEMAKER_LOG_FILE": str(tmpdir / "log"), "PYTHONPATH": str(ROOT)}

        def write_csv(path: Path, n: int, seed: int) -> None:
            with path.open("w", newline="", encoding="utf-8") as fh:
                out = csv.writer(fh)
                out.writerow(["user", "artist", "track", "played_at"])
                for r in synthetic_rows(n, seed=seed, members=2000, artists=5000, now=now):
                    assert r.played_at is not None
                    out.writerow([r.user, r.artist, r.track, r.played_at.isoformat() + "Z"])

        # A history the batch has to fold and retrain on, imported and folded first.
        write_csv(tmpdir / "history.csv", history, 1)
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "import", "csv", str(tmpdir / "history.csv"), "--db", db_url],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        write_csv(tmpdir / "new.csv", rows, 2)
        stop = tmpdir / "stop"
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--writer",
                    str(w),
                    "--db",
                    db_url,
                    "--stop",
                    str(stop),
                    "--out",
                    str(tmpdir / f"w{w}.json"),
                ],
                cwd=ROOT,
                env=env,
            )  # fmt: skip
            for w in range(WRITERS)
        ]
        time.sleep(3)  # writers warm up (imports, first look-ups)
        t0 = time.perf_counter()
        imp = _cli("import", "csv", str(tmpdir / "new.csv"), "--db", db_url, env=env)
        bat = _cli("batch", "--retrain", "--db", db_url, env=env)
        done: dict[str, float] = {}
        while len(done) < 2:
            for name, proc in (("import", imp), ("batch", bat)):
                if name not in done and proc.poll() is not None:
                    done[name] = time.perf_counter() - t0
            time.sleep(0.05)
        t_import, t_batch = done["import"], done["batch"]
        time.sleep(1)
        stop.touch()
        for p in procs:
            p.wait(timeout=60)
        lat: list[float] = []
        errors = 0
        for w in range(WRITERS):
            data = json.loads((tmpdir / f"w{w}.json").read_text())
            lat += data["lat"]
            errors += data["errors"]
    ms = [x * 1000 for x in lat]
    sec.rows.append(
        [len(ms), WRITERS, percentile(ms, 50), percentile(ms, 99), max(ms), errors, t_import, t_batch]
    )
    sec.notes.append(
        f"History {history:,} plays already folded; the batch folds the plays logged meanwhile plus what "
        "the import has committed when it starts, then retrains artists and tracks. Target: p99 < 1 s."
    )
    return sec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--writer", type=int)
    ap.add_argument("--db")
    ap.add_argument("--stop", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.writer is not None:
        writer(args.db, args.writer, args.stop, args.out)
        return
    print(run(args.quick).markdown())


if __name__ == "__main__":
    main()
