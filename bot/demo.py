"""``tastemaker demo``: the whole loop on a fresh SQLite file, no tokens.

Synthetic community → storage → Spark micro-batch + ALS retrain → the exact replies the bot would
give, rendered through the console adapter (the same path as chat).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.jobs import JobContext, run_job
from bot.platforms.console.commands import handle
from bot.service import Service, Who
from config.settings import Settings
from engine.session import build_session
from ingest import synthetic
from ingest.importers import import_rows
from storage import catalog
from storage.clock import utcnow
from storage.db import display_url, is_sqlite, open_database

COMMUNITY = "demo"


def run_demo(settings: Settings, *, seed: int, out: Callable[[str], None]) -> None:
    url = settings.database_url
    if is_sqlite(url):
        path = Path(make_url(url).database or "var/demo.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_database(url)
    now = utcnow()
    t0 = time.perf_counter()
    community = synthetic.build(seed)
    with db.write() as conn:
        cid = catalog.community_id(conn, "local", COMMUNITY, "Demo Crew")
    summary = import_rows(db, cid, synthetic.plays(community, seed, now=now), source="demo")
    out(
        f"== generated a synthetic community (seed {seed}): {len(community.members)} members, "
        f"{len(community.artists)} artists, {len(community.tracks)} tracks, {summary.imported} plays "
        f"over 30 days ({time.perf_counter() - t0:.1f}s)"
    )
    t1 = time.perf_counter()
    session = build_session(settings)
    try:
        ctx = JobContext(settings, db, spark=lambda: session)
        outcome = run_job("retrain", ctx)
        took = time.perf_counter() - t1
        out(f"== Spark micro-batch + ALS retrain ({took:.1f}s incl. Spark start): {outcome.detail}")
        if not outcome.ok:
            raise SystemExit(1)
        service = Service(db, settings)
        members = [community.members[3], community.members[42]]

        def ask(member: str, line: str) -> None:
            who = Who("local", COMMUNITY, member, community_name="Demo Crew", member_name=member)
            out(f"\n[{member}] {line}")
            out(handle(service, who, line) or "")

        ask(members[0], "/trending 7d")
        ask(members[0], "/recommend artists 5")
        ask(members[1], "/recommend tracks 5")
        newbie = "newcomer"
        first_artist = community.artists[community.artist_cluster.index(2)]
        ask(newbie, f"/played {first_artist}")
        ask(newbie, "/recommend artists 5")
        out("\n== daily digest")
        out(handle(service, Who("local", COMMUNITY, "digest", community_name="Demo Crew"), "/digest") or "")
    finally:
        session.stop()
    out(
        f"\nDatabase: {make_url(url).database if is_sqlite(url) else display_url(url)} (explore it: "
        f"tastemaker chat --db {display_url(url)} --community {COMMUNITY} --member {members[0]})"
    )
