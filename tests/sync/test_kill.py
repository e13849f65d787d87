"""kill -9 in the middle of a backfill: ``tastemaker sync`` runs in a child process against the
loopback ListenBrainz fake and is killed (SIGKILL: nothing runs on the way out). What it committed is
always a whole page with the cursor after it, and a rerun ends with the stored plays equal to the
fake's listens — no gap, no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.service import Service
from config.settings import Settings
from ingest.sync import runner
from storage import links
from storage.db import Database
from tests.conftest import Clock
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, run_sync, stored, who

ROOT = Path(__file__).resolve().parents[2]
LISTENS = [FakeListen(T0 + 30 * k, f"Artist {k % 50}", f"Song {k}") for k in range(6000)]
EXPECTED = sorted(("crew", "ann", x.listened_at, x.artist, x.track) for x in LISTENS)


def _start_sync(settings: Settings, lb: FakeListenBrainz, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TASTEMAKER_LISTENBRAINZ_API_URL": lb.api_url,
        "TASTEMAKER_SYNC_PAGES_PER_ACCOUNT": "100",
    }
    env.pop("TASTEMAKER_LOG_FILE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sync", "--db", settings.database_url],
        cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _consistent(db: Database) -> int:
    """The plays stored are exactly the listens at or after the cursor's page boundary: the
    committed cursor and the committed plays always agree. Returns how many."""
    with db.read() as conn:
        (link,) = links.for_member(conn, 1)
    assert not link.cursor.backfilled and link.cursor.pass_before is not None
    boundary = link.cursor.pass_before - 1  # a full page's oldest second is read again
    assert stored(db) == [r for r in EXPECTED if r[2] >= boundary]
    assert link.synced == len(stored(db))
    return link.synced


def _link(db: Database, settings: Settings, clock: Clock, lb: FakeListenBrainz) -> None:
    lb.add_user("ann_lb", LISTENS)
    Service(db, settings, clock=clock).link(who("crew", "ann"), "listenbrainz", "ann_lb")


def test_kill_9_while_waiting_for_a_page_then_a_rerun_is_exact(
    tmp_path: Path, db: Database, sync_settings: Settings, lb: FakeListenBrainz, clock: Clock
) -> None:
    _link(db, sync_settings, clock, lb)
    lb.hold_after(4)  # pages 1-4 answered; the 5th request hangs
    proc = _start_sync(sync_settings, lb, tmp_path)
    try:
        lb.wait_held(timeout=120)
        _kill(proc)
    finally:
        lb.release()
        if proc.poll() is None:
            proc.kill()
    assert _consistent(db) == 1000 + 3 * 999  # four pages were committed
    report = run_sync(db, sync_settings, clock)
    assert report.accounts[0].state == runner.UP_TO_DATE
    assert report.added == 6000 - 3997
    assert stored(db) == EXPECTED
    assert run_sync(db, sync_settings, clock).added == 0


def test_kill_9_while_a_page_is_being_written_then_a_rerun_is_exact(
    tmp_path: Path, db: Database, sync_settings: Settings, lb: FakeListenBrainz, clock: Clock
) -> None:
    _link(db, sync_settings, clock, lb)
    proc = _start_sync(sync_settings, lb, tmp_path)
    try:
        lb.wait_served(3, timeout=120)  # the third page is on its way: kill while it is handled
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _consistent(db) in (1000 + 999, 1000 + 2 * 999, 1000 + 3 * 999)
    run_sync(db, sync_settings, clock)
    assert stored(db) == EXPECTED
    assert run_sync(db, sync_settings, clock).added == 0
