"""``tastemaker demo``: the whole loop on a fresh SQLite file, no tokens.

Synthetic community → storage → Spark micro-batch + ALS retrain → the exact replies the bot would
give, rendered through the console adapter (the same path as chat).
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.jobs import JobContext, run_job
from bot.platforms.console.commands import handle
from bot.service import Service, Who
from config.settings import Settings, data_dir
from engine.session import build_session
from ingest import synthetic
from ingest.importers import import_rows
from storage import catalog
from storage.clock import utcnow
from storage.db import display_url, open_database, sqlite_path

COMMUNITY = "demo"


def demo_url() -> str:
    """The demo's own database: ``demo.db`` in the per-user data folder, next to the default one."""
    return f"sqlite:///{data_dir() / 'demo.db'}"


def tastemaker_command() -> str:
    """``tastemaker`` as the user can type it: the plain name when the one on ``PATH`` is this
    installation's, else the script beside this Python (``.venv/bin/tastemaker`` after ``make
    install``, relative to the working directory when under it), else ``python -m bot.cli``."""
    script = Path(sys.executable).parent / "tastemaker"
    if not script.is_file():
        return f"{shlex.quote(sys.executable)} -m bot.cli"
    on_path = shutil.which("tastemaker")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "tastemaker"
    if script.is_relative_to(Path.cwd()):
        return shlex.quote(str(script.relative_to(Path.cwd())))
    return shlex.quote(str(script))


def run_demo(settings: Settings, *, seed: int, out: Callable[[str], None]) -> None:
    url = settings.database_url
    path = sqlite_path(url)
    if path is not None:
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

        picked: dict[str, list[tuple[str, int]]] = {}  # each member's last /recommend, for /hide <n>

        def ask(member: str, line: str) -> None:
            who = Who("local", COMMUNITY, member, community_name="Demo Crew", member_name=member)
            out(f"\n[{member}] {line}")
            out(handle(service, who, line, picked=picked.setdefault(member, [])) or "")

        ask(members[0], "/trending 7d")
        ask(members[0], "/recommend artists 5")
        ask(members[0], "/hide 1")  # 👎: never picked for this member again
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
        db.dispose()
    # The URL as printed everywhere, a password masked; a SQLite URL has none, so it works as printed.
    db_option = shlex.quote(display_url(url))
    chat = f"{tastemaker_command()} chat --db {db_option} --community {COMMUNITY} --member {members[0]}"
    out(f"\nDatabase: {path if path is not None else display_url(url)}")
    out(f"Explore it: {chat}")
