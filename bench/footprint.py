"""Resident memory of `tastemaker run` (the whole process tree: the chat process, the Spark worker and
its JVM) and batch latency with a cold worker (the default: a new worker per batch) versus a warm one
(TASTEMAKER_SPARK_KEEP_WARM=true).

`tastemaker run --platform discord` serves a loopback fake Discord (tests/platforms/fake_discord.py)
on a copy of one database holding HetRec 2011 Last.fm-2k (92,834 member × artist totals; a synthetic
history of the same size when ../shared/data/lastfm-2k is absent). Its start-up batch folds that
history and trains the models (a HetRec-size retrain); a minute later the next batch folds 5,000
artist-only plays imported meanwhile (no retrain due). psutil sums the RSS of every process in the tree every
0.2 s: the peak during each batch, and the idle size once the batch is over. Then `tastemaker batch
--retrain` on fresh copies measures the same first batch's peak with smaller Spark driver heaps
(TASTEMAKER_SPARK_DRIVER_MEMORY), the setting for a small VPS."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from common import ROOT, Section, synthetic_rows

from storage import jobs
from storage.db import open_database

DATA = Path(ROOT).parent / "shared" / "data" / "lastfm-2k"
NEW_PLAYS = 5_000
MB = 2**20
IDLE_SECONDS = 10.0


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> tuple[int, int]:
    """``(summed RSS in bytes, processes)`` of ``pid`` and its descendants; the multiprocessing
    resource tracker counts (it is part of the tree)."""
    total = n = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
            n += 1
        except psutil.NoSuchProcess:
            continue
    return total, n


def has_java(pid: int) -> bool:
    for p in tree(pid)[1:]:
        try:
            if "java" in p.name() or any("java" in part for part in p.cmdline()[:1]):
                return True
        except psutil.NoSuchProcess:
            continue
    return False


class Sampler:
    """Polls a process tree's RSS every 0.2 s in a thread; :meth:`take` returns the peak since the
    last call."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            rss, _ = tree_rss(self.pid)
            with self._lock:
                self._peak = max(self._peak, rss)

    def take(self) -> int:
        with self._lock:
            peak, self._peak = self._peak, 0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def idle_rss(pid: int, seconds: float = IDLE_SECONDS) -> tuple[int, int]:
    """The largest tree RSS over ``seconds`` of idling, and the process count then."""
    worst, count = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rss, n = tree_rss(pid)
        if rss > worst:
            worst, count = rss, n
        time.sleep(0.5)
    return worst, count


def finished_batches(db_url: str) -> list[jobs.Run]:
    db = open_database(db_url, migrate=False)
    try:
        with db.read() as conn:
            return [r for r in reversed(jobs.recent(conn, "batch")) if r.finished_at is not None]
    finally:
        db.dispose()


def wait_batches(db_url: str, count: int, alive: Callable[[], bool], timeout: float = 1800) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while True:
        runs = finished_batches(db_url)
        if len(runs) >= count:
            return runs[count - 1]
        if not alive():
            raise RuntimeError("tastemaker run ended before the batch finished")
        if time.monotonic() > deadline:
            raise RuntimeError(f"batch {count} did not finish within {timeout:.0f} s")
        time.sleep(0.2)


def seconds(run: jobs.Run) -> float:
    assert run.finished_at is not None
    return (run.finished_at - run.started_at).total_seconds()


def next_batch_in(db_url: str) -> float:
    """Seconds until the stored next run of the batch job."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        row = conn.execute("SELECT next_run_time FROM apscheduler_jobs WHERE id = 'batch'").fetchone()
    return float(row[0]) - time.time() if row and row[0] is not None else 0.0


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "TASTEMAKER_"))}
    env.update(PYTHONPATH=str(ROOT), TASTEMAKER_LOG_FILE=str(tmp / "tastemaker.log"), **extra)
    return env


def cli(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env_for(tmp, **extra),
        capture_output=True,
        text=True,
        check=True,
    )


def write_csv(path: Path, n: int, seed: int, *, tracks: bool = True) -> None:
    """``n`` synthetic plays; ``tracks=False``: artist only, like HetRec's (no track model is due)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["user", "artist", "track", "played_at"])
        for r in synthetic_rows(n, seed=seed, members=1900, artists=17_000, now=now):
            assert r.played_at is not None
            out.writerow([r.user, r.artist, r.track if tracks else "", r.played_at.isoformat() + "Z"])


def prepare(tmp: Path) -> tuple[Path, str]:
    """The base database (not yet folded) and a description of what it holds."""
    base = tmp / "base.db"
    url = f"sqlite:///{base}"
    if (DATA / "user_artists.dat").is_file():
        cli(tmp, "import", "hetrec", str(DATA), "--db", url, "--create")
        return base, "HetRec 2011 Last.fm-2k (92,834 member × artist totals, 1,892 members)"
    history = tmp / "history.csv"
    write_csv(history, 92_834, 1, tracks=False)
    cli(tmp, "import", "csv", str(history), "--db", url, "--create")
    return base, f"synthetic 92,834 plays ({DATA} is absent)"


def copy_db(base: Path, dest: Path) -> str:
    with sqlite3.connect(base) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    return f"sqlite:///{dest}"


def run_bot(tmp: Path, base: Path, keep_warm: bool) -> dict[str, Any]:
    """`tastemaker run --platform discord` on a copy of ``base``: the first (cold) batch, the idle
    tree after it, the second batch (5,000 new plays) and the idle tree after that."""
    from tests.platforms.discord.harness import GUILD_A, LoopThread
    from tests.platforms.fake_discord import FakeDiscord

    mode = "keep-warm" if keep_warm else "default"
    url = copy_db(base, tmp / f"{mode}.db")
    extra = tmp / f"{mode}-new.csv"
    write_csv(extra, NEW_PLAYS, 2, tracks=False)
    loop = LoopThread()
    discord = FakeDiscord([(GUILD_A, "Guild A")])
    loop.run(discord.start())
    env = env_for(
        tmp,
        DISCORD_TOKEN="fake-token",
        TASTEMAKER_DISCORD_API_URL=discord.api_url,
        TASTEMAKER_DISCORD_GATEWAY_URL=discord.gateway_url,
        TASTEMAKER_BATCH_INTERVAL_MINUTES="1",
        TASTEMAKER_SPARK_KEEP_WARM="true" if keep_warm else "false",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--platform", "discord", "--db", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = Sampler(proc.pid)
    out: dict[str, Any] = {"mode": mode}
    try:
        loop.run(asyncio.wait_for(discord.identified.wait(), 120), timeout=125)
        alive = lambda: proc.poll() is None  # noqa: E731
        first = wait_batches(url, 1, alive)
        out["first"] = (seconds(first), sampler.take(), first.status, first.detail)
        if not keep_warm:  # the worker and its JVM exit after the batch
            deadline = time.monotonic() + 120
            while has_java(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        out["idle_first"] = idle_rss(proc.pid)
        out["chat_only"] = psutil.Process(proc.pid).memory_info().rss
        # Import the new plays well before the next batch starts, so it folds all of them.
        while next_batch_in(url) < 20:
            done = len(finished_batches(url))
            wait_batches(url, done + 1, alive)
        cli(tmp, "import", "csv", str(extra), "--db", url)
        done = len(finished_batches(url))
        sampler.take()
        second = wait_batches(url, done + 1, alive)
        out["second"] = (seconds(second), sampler.take(), second.status, second.detail)
        if not keep_warm:
            deadline = time.monotonic() + 120
            while has_java(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        out["idle_second"] = idle_rss(proc.pid)
    finally:
        sampler.stop()
        proc.terminate()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        loop.run(discord.stop())
        loop.stop()
    return out


def batch_peak(tmp: Path, base: Path, memory: str) -> tuple[float, int, str]:
    """`tastemaker batch --retrain` on a fresh copy with the driver heap ``memory``: seconds, the
    peak tree RSS and the outcome."""
    url = copy_db(base, tmp / f"batch-{memory}.db")
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "batch", "--retrain", "--db", url],
        cwd=ROOT,
        env=env_for(tmp, TASTEMAKER_SPARK_DRIVER_MEMORY=memory),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = Sampler(proc.pid)
    out, err = proc.communicate()
    sampler.stop()
    took = time.perf_counter() - t
    outcome = "ok" if proc.returncode == 0 else f"failed: {(err.strip().splitlines() or ['?'])[-1]}"
    return took, sampler.take(), outcome


def mb(n: int) -> float:
    return n / MB


def run(quick: bool) -> Section:
    cmd = "python bench/footprint.py" + (" --quick" if quick else "")
    sec = Section(
        "Footprint: resident memory of `tastemaker run` and batch latency, cold vs warm worker",
        cmd,
        [
            "setting",
            "batch",
            "batch time (s)",
            "peak RSS during the batch, process tree (MB)",
            "idle RSS after it, process tree (MB)",
            "processes when idle",
        ],
    )
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        base, what = prepare(tmp)
        results = [run_bot(tmp, base, keep_warm) for keep_warm in (False, True)]
        memories = ["1g"] if quick else ["512m", "1g"]
        heaps = [(m, *batch_peak(tmp, base, m)) for m in memories]
    for r in results:
        is_warm = r["mode"] != "default"
        setting = "TASTEMAKER_SPARK_KEEP_WARM=true" if is_warm else "default (worker per batch)"
        for key, idle, label in (
            ("first", "idle_first", "first: fold the history + train the models"),
            ("second", "idle_second", f"next: fold {NEW_PLAYS:,} new plays"),
        ):
            took, peak, status, detail = r[key]
            rss, n = r[idle]
            row_label = label if status == "ok" else f"{label} — {status}: {detail[:80]}"
            sec.rows.append([setting, row_label, took, mb(peak), mb(rss), n])
    default, warm = results
    idle_default = max(default["idle_first"][0], default["idle_second"][0])
    verdict = "met" if idle_default <= 400 * MB else "MISSED"
    sec.notes.append(
        f"Data: {what}. Idle process tree by default: {mb(idle_default):.0f} MB (target <= 400 MB: "
        f"{verdict}); the chat process alone {mb(default['chat_only']):.0f} MB. Kept warm: "
        f"{mb(max(warm['idle_first'][0], warm['idle_second'][0])):.0f} MB (the worker and its JVM stay)."
    )
    cold, hot = default["second"][0], warm["second"][0]
    sec.notes.append(
        f"Batch of {NEW_PLAYS:,} new plays: {cold:.1f} s with a new worker (interpreter, JVM and Spark "
        f"session started, then stopped) vs {hot:.1f} s in a warm worker ({cold / hot:.1f}x). The "
        "latency is from job_runs (start to finish of the scheduled run)."
    )
    for memory, took, peak, outcome in heaps:
        sec.notes.append(
            f"`tastemaker batch --retrain` (the same first batch) with TASTEMAKER_SPARK_DRIVER_MEMORY="
            f"{memory}: {outcome}, {took:.0f} s, peak {mb(peak):.0f} MB (default 2g: the first row's peak)."
        )
    sec.notes.append(
        "RSS is summed over every process of the tree (psutil, every 0.2 s), so pages shared between "
        "processes count once per process; the multiprocessing resource tracker (~15 MB) is included. "
        "The machine is shared: times are context only."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown())
