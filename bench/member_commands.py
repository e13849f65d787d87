"""The member commands through the service layer (/whoknows, /top, /recent, /profile, /privacy,
/neighbours, /similar, /taste, /help) at 10,000 members and 1,000,000 plays in ONE community, on
SQLite and on PostgreSQL: p50 / p95 / p99 per command on a warm process.

The community is built through the bulk import path (``ingest.importers.import_rows``): members in
taste clusters with very different activity (log-normal: a few with tens of thousands of plays, many
with a handful), Zipf-like artists and tracks, members joining at different times over a year and
playing until now. /neighbours and /similar read what a retrain stores: the generation is written
through ``storage.recs.write_generation`` with the neighbours and similar items that
``engine.neighbours`` computes at a retrain, from synthetic (cluster-shaped) factors instead of a
Spark ALS fit (the fit is not what is measured here; see the ALS section for it).

PostgreSQL: ``--postgres URL`` (or ``TASTEMAKER_BENCH_POSTGRES_URL``) uses that server; without one
the script starts a throwaway server with ``.ci/postgres`` and stops it at the end. Either way it
works in a database of its own (created and dropped). When no server can be had, the PostgreSQL
columns say why.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import ROOT, Section, machine, percentile

from bot.parsing import UserError
from bot.service import Service, Who
from config.settings import Settings
from engine.neighbours import member_neighbours, similar_items
from engine.recommender import normalised
from ingest.importers import Row, import_rows
from storage import catalog, recs, visibility
from storage.db import Database, open_database, scratch_database

NOW = dt.datetime(2026, 11, 20, 12, 0)
PLATFORM, COMMUNITY = "local", "bench"
TARGET_MS = 50.0
RANK = 32
CLUSTERS = 24
TRACKS_PER_ARTIST = 10
PRIVATE_SHARE = 0.03  # members who set /privacy private


@dataclass(frozen=True)
class Shape:
    members: int
    plays: int
    artists: int
    days: int
    calls: int  # timed calls per command

    def describe(self) -> str:
        return (
            f"{self.members:,} members and {self.plays:,} plays in one community, {self.artists:,} "
            f"artists x {TRACKS_PER_ARTIST} tracks, timestamps over {self.days} days"
        )


FULL = Shape(members=10_000, plays=1_000_000, artists=5_000, days=365, calls=240)
QUICK = Shape(members=1_000, plays=100_000, artists=1_000, days=365, calls=60)


# --- the community ---------------------------------------------------------------------------


def _rows(shape: Shape, seed: int) -> Iterator[Row]:
    """Single plays in time order. Each member joins on a day spread over the period and plays
    until ``NOW`` at a log-normal daily rate (every member at least one play), 85% of their plays
    from their taste cluster's artists; artist and track ranks are Zipf-like."""
    rng = np.random.default_rng(seed)
    m_n, a_n = shape.members, shape.artists
    span = shape.days * 86400
    joined = np.maximum(span * rng.random(m_n) ** 0.7, 86400).astype(np.int64)  # seconds before NOW
    rate = rng.lognormal(0.0, 1.6, size=m_n)
    expected = rate * joined
    per_member = rng.multinomial(shape.plays - m_n, expected / expected.sum()) + 1
    member = np.repeat(np.arange(m_n), per_member)
    n = len(member)
    cluster = _clusters(shape, seed)
    # Cluster k owns the artists a with a % CLUSTERS == k, ranked by a // CLUSTERS.
    own_size = a_n // CLUSTERS
    own_p = np.arange(1, own_size + 1, dtype=np.float64) ** -1.05
    own_p /= own_p.sum()
    all_p = np.arange(1, a_n + 1, dtype=np.float64) ** -1.05
    all_p /= all_p.sum()
    own = rng.random(n) < 0.85
    artist = np.where(
        own,
        rng.choice(own_size, size=n, p=own_p) * CLUSTERS + cluster[member],
        rng.choice(a_n, size=n, p=all_p),
    )
    track = np.minimum(rng.zipf(1.6, size=n) - 1, TRACKS_PER_ARTIST - 1)
    ago = (rng.random(n) * joined[member]).astype(np.int64)
    order = np.argsort(-ago, kind="stable")  # oldest first, as plays arrive
    for line, k in enumerate(order, 1):
        yield Row(
            line,
            f"u{member[k]}",
            f"Artist {artist[k]}",
            f"Song {track[k]}",
            NOW - dt.timedelta(seconds=int(ago[k])),
        )


def _clusters(shape: Shape, seed: int) -> np.ndarray:
    """Each member's taste cluster (``u<index>``'s is element ``index``)."""
    return np.random.default_rng(seed + 1).integers(CLUSTERS, size=shape.members)


def _factors(rng: np.random.Generator, groups: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return (centres[groups] + rng.normal(0.0, 0.6, size=(len(groups), RANK))).astype(np.float32)


def _histories(db: Database, kind: str) -> dict[int, dict[int, int]]:
    from sqlalchemy import func, select

    from storage.models import Play

    col = Play.artist_id if kind == "artist" else Play.track_id
    out: dict[int, dict[int, int]] = {}
    with db.read() as conn:
        for m, i, p in conn.execute(
            select(Play.member_id, col, func.sum(Play.count))
            .where(Play.removed.is_(False), col.is_not(None))
            .group_by(Play.member_id, col)
        ):
            out.setdefault(int(m), {})[int(i)] = int(p)
    return out


def _retrain_rows(db: Database, shape: Shape, seed: int) -> None:
    """Write one artist and one track generation as a retrain does: member vectors, taste
    neighbours (artist) and this community's similar items (both kinds), computed by
    ``engine.neighbours`` from cluster-shaped synthetic factors."""
    from sqlalchemy import func, select

    from storage.models import Artist, Member, Play, Track

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(CLUSTERS, RANK))
    with db.read() as conn:
        members = conn.execute(select(Member.id, Member.external_id)).all()
        artists = conn.execute(select(Artist.id, Artist.name)).all()
        tracks = conn.execute(select(Track.id, Track.artist_id)).all()
        upto = int(conn.execute(select(func.max(Play.id))).scalar_one())
        community_of = catalog.member_communities(conn)
        seen = {k: visibility.visible_items_by_community(conn, k) for k in ("artist", "track")}
    member_cluster = _clusters(shape, seed)
    user_ids = np.array([m for m, _ in members], dtype=np.int64)
    user_groups = np.array([member_cluster[int(e[1:])] for _, e in members], dtype=np.int64)
    artist_cluster = {a: int(name.split()[-1]) % CLUSTERS for a, name in artists}
    items = {
        "artist": (np.array(sorted(artist_cluster), dtype=np.int64), artist_cluster),
        "track": (
            np.array(sorted(t for t, _ in tracks), dtype=np.int64),
            {t: artist_cluster[a] for t, a in tracks},
        ),
    }
    for kind, (ids, group_of) in items.items():
        y = _factors(rng, np.array([group_of[int(i)] for i in ids], dtype=np.int64), centres)
        x = _factors(rng, user_groups, centres)
        model = recs.GenerationData(
            rank=RANK,
            reg_param=0.1,
            alpha=1.0,
            conf_scale=1.0,
            item_ids=ids,
            factors=y,
            popularity=np.ones(len(ids)),
            user_ids=user_ids,
            user_factors=x,
        )
        recs.write_generation(
            db,
            kind=kind,
            last_play_id=upto,
            model=model,
            picks=(),
            neighbours=member_neighbours(user_ids, x, community_of) if kind == "artist" else (),
            similar=similar_items(ids, normalised(y), _histories(db, kind), community_of, seen[kind]),
            now=NOW,
        )


def build(db: Database, shape: Shape, seed: int = 15) -> dict[str, float]:
    """Fill ``db`` with the community; returns the seconds each step took."""
    took: dict[str, float] = {}
    t = time.perf_counter()
    with db.write() as conn:
        cid = catalog.community_id(conn, PLATFORM, COMMUNITY, COMMUNITY)
    import_rows(db, cid, _rows(shape, seed), source="bench")
    took["import"] = time.perf_counter() - t
    t = time.perf_counter()
    _retrain_rows(db, shape, seed)
    took["retrain rows"] = time.perf_counter() - t
    if not db.sqlite:
        # What autovacuum does soon after a bulk load on a running server: planner statistics, and
        # the visibility map that lets index-only scans skip the heap. Here it happens before timing.
        t = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        took["vacuum analyze"] = time.perf_counter() - t
    return took


# --- the calls -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    heavy: list[str]  # external ids of the most active public members
    light: list[str]  # random public members (most have few plays)
    artists: list[str]  # half the most played artists, half random played ones
    tracks: list[str]  # "Artist - Title", likewise


def _targets(db: Database, shape: Shape, seed: int) -> Targets:
    from sqlalchemy import func, select

    from storage.models import Artist, Member, Play, Track

    rng = np.random.default_rng(seed)
    half = shape.calls // 2
    with db.read() as conn:
        by_member = conn.execute(
            select(Member.external_id, func.count())
            .join(Play, Play.member_id == Member.id)
            .where(Member.private.is_(False))
            .group_by(Member.external_id)
            .order_by(func.count().desc(), Member.external_id)
        ).all()
        by_artist = conn.execute(
            select(Artist.name, func.count())
            .join(Play, Play.artist_id == Artist.id)
            .group_by(Artist.name)
            .order_by(func.count().desc(), Artist.name)
        ).all()
        by_track = conn.execute(
            select(Artist.name, Track.title, func.count())
            .select_from(Play)
            .join(Track, Track.id == Play.track_id)
            .join(Artist, Artist.id == Track.artist_id)
            .group_by(Artist.name, Track.title)
            .order_by(func.count().desc(), Artist.name, Track.title)
        ).all()
    public = [e for e, _ in by_member]
    heavy = public[: max(1, shape.calls // 10)]
    light = [str(x) for x in rng.choice(public, size=half, replace=False)]
    artists = [a for a, _ in by_artist]
    tracks = [f"{a} - {t}" for a, t, _ in by_track]

    def mix(names: list[str]) -> list[str]:
        top = names[: max(1, half // 4)]
        return [top[i % len(top)] for i in range(half)] + [str(x) for x in rng.choice(names, size=half)]

    return Targets(heavy, light, mix(artists), mix(tracks))


def _members(t: Targets, calls: int) -> list[str]:
    """Half the calls for the heaviest members (cycled), half for random ones."""
    half = calls // 2
    return [t.heavy[i % len(t.heavy)] for i in range(half)] + t.light[: calls - half]


def _who(member: str) -> Who:
    return Who(PLATFORM, COMMUNITY, member)


def commands(service: Service, t: Targets, calls: int) -> list[tuple[str, list[Callable[[], object]]]]:
    """``(label, calls)`` per command, each call a closure over one member or item."""
    members = _members(t, calls)
    others = members[1:] + members[:1]
    out: list[tuple[str, list[Callable[[], object]]]] = [
        ("/whoknows artist", [lambda a=a: service.whoknows(_who(members[0]), a) for a in t.artists]),
        ("/whoknows track", [lambda x=x: service.whoknows(_who(members[-1]), x) for x in t.tracks]),
    ]
    for kind in ("artist", "track"):
        for period in ("7d", "30d", "year", "all"):
            out.append(
                (
                    f"/top {kind}s {period}",
                    [lambda m=m, k=kind, p=period: service.top(_who(m), k, p) for m in members],
                )
            )
    out += [
        ("/recent", [lambda m=m: service.recent(_who(m)) for m in members]),
        ("/profile", [lambda m=m: service.profile(_who(m)) for m in members]),
        # Each member goes private and back, so the community ends as it began.
        (
            "/privacy",
            [
                lambda m=m, s=s: service.privacy(_who(m), s)
                for m in members[: calls // 2]
                for s in ("private", "public")
            ],
        ),
        ("/neighbours", [lambda m=m: service.neighbours(_who(m)) for m in members]),
        ("/similar artist", [lambda a=a: service.similar(_who(members[0]), a) for a in t.artists]),
        ("/similar track", [lambda x=x: service.similar(_who(members[0]), x) for x in t.tracks]),
        (
            "/taste",
            [
                lambda m=m, o=o: service.taste(_who(m), o)
                for m, o in zip(members, others, strict=True)
                if m != o
            ],
        ),
        ("/help", [service.help for _ in members]),
    ]
    return out


@dataclass(frozen=True)
class Timing:
    p50: float
    p95: float
    p99: float
    worst: float
    calls: int
    refused: int  # friendly UserError answers (a private member, say)


def measure(service: Service, t: Targets, calls: int, only: set[str] | None = None) -> dict[str, Timing]:
    """Each command's calls in turn, after one untimed warm-up call (the process's first look fills
    the visibility cache, as on a running bot)."""
    out: dict[str, Timing] = {}
    for label, fns in commands(service, t, calls):
        if only and label not in only:
            continue
        for fn in fns[:1]:
            _call(fn)
        ms, refused = [], 0
        for fn in fns:
            start = time.perf_counter()
            refused += _call(fn)
            ms.append((time.perf_counter() - start) * 1000)
        out[label] = Timing(
            percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), max(ms), len(ms), refused
        )
    return out


def _call(fn: Callable[[], object]) -> int:
    try:
        fn()
    except UserError:
        return 1
    return 0


def _mark_private(service: Service, t: Targets, shape: Shape, seed: int) -> None:
    """A few members (never one of the timed ones) are private, as in a real community."""
    rng = np.random.default_rng(seed + 7)
    timed = set(t.heavy) | set(t.light)
    chosen = [m for m in rng.choice(shape.members, size=int(shape.members * PRIVATE_SHARE), replace=False)]
    for m in chosen:
        if f"u{m}" not in timed:
            service.privacy(_who(f"u{m}"), "private")


def run_one(url: str, shape: Shape, seed: int = 15) -> tuple[dict[str, Timing], dict[str, float]]:
    db = open_database(url)
    try:
        took = build(db, shape, seed)
        service = Service(db, Settings(database_url=url), clock=lambda: NOW)
        targets = _targets(db, shape, seed)
        _mark_private(service, targets, shape, seed)
        t = time.perf_counter()
        load = os.getloadavg()[0]
        timings = measure(service, targets, shape.calls)
        took["timed calls"] = time.perf_counter() - t
        took["load before"], took["load after"] = load, os.getloadavg()[0]
        return timings, took
    finally:
        db.dispose()


# --- PostgreSQL ------------------------------------------------------------------------------


class Postgres:
    """A database of our own on ``url``'s server, or on a throwaway server from ``.ci/postgres``."""

    def __init__(self, url: str | None) -> None:
        self.server_url = url
        self.dir: str | None = None
        self.database: AbstractContextManager[str] | None = None

    def __enter__(self) -> str:
        if self.server_url is None:
            self.dir = tempfile.mkdtemp(prefix="pg-bench-")
            started = subprocess.run(
                [str(Path(ROOT) / ".ci" / "postgres"), "start", self.dir],
                capture_output=True,
                text=True,
                timeout=900,
            )
            if started.returncode != 0:
                self._stop()
                last = (started.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f".ci/postgres could not start a server: {last}")
            self.server_url = started.stdout.strip().splitlines()[-1]
        database = scratch_database(self.server_url, "tastemaker_bench")
        try:
            url = database.__enter__()
        except BaseException:
            self._stop()
            raise
        self.database = database
        return url

    def __exit__(self, *exc: object) -> None:
        try:
            if self.database is not None:
                self.database.__exit__(None, None, None)
                self.database = None
        finally:
            self._stop()

    def _stop(self) -> None:
        if self.dir is not None:
            subprocess.run([str(Path(ROOT) / ".ci" / "postgres"), "stop", self.dir], capture_output=True)
            self.dir = None


# --- the section -----------------------------------------------------------------------------


def run(quick: bool, postgres_url: str | None = None) -> Section:
    shape = QUICK if quick else FULL
    postgres_url = postgres_url or os.environ.get("TASTEMAKER_BENCH_POSTGRES_URL") or None
    cmd = "python bench/run.py --only member_commands" + (" --quick" if quick else "")
    headers = ["command", "calls"]
    for db_name in ("SQLite", "PostgreSQL"):
        headers += [f"{db_name} p50 (ms)", f"{db_name} p95 (ms)", f"{db_name} p99 (ms)"]
    sec = Section(
        f"Member commands through the service layer ({shape.members:,} members, {shape.plays:,} plays, "
        "one community)",
        cmd,
        headers,
    )
    results: dict[str, dict[str, Timing]] = {}
    took: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"], took["SQLite"] = run_one(f"sqlite:///{Path(tmp) / 'members.db'}", shape)
    pg_note = ""
    try:
        with Postgres(postgres_url) as url:
            results["PostgreSQL"], took["PostgreSQL"] = run_one(url, shape)
    except Exception as exc:  # no server to be had: the table says so instead of failing the run
        pg_note = f"PostgreSQL not measured: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    labels = list(results["SQLite"])
    missed: list[str] = []
    for label in labels:
        row: list[object] = [label, results["SQLite"][label].calls]
        for db_name in ("SQLite", "PostgreSQL"):
            timing = results.get(db_name, {}).get(label)
            if timing is None:
                row += ["–", "–", "–"]
                continue
            row += [timing.p50, timing.p95, timing.p99]
            if timing.p99 > TARGET_MS:
                missed.append(f"{label} on {db_name} ({timing.p99:.1f} ms)")
        sec.rows.append(row)
    sec.notes.append(
        f"Data: {shape.describe()}; log-normal member activity (the busiest member has tens of "
        "thousands of plays, the median a few dozen), 85% of a member's plays from their taste "
        f"cluster ({CLUSTERS} clusters), Zipf-like artists and tracks, {PRIVATE_SHARE:.0%} of members "
        "private. Built through the bulk import; /neighbours and /similar read an artist and a track "
        "generation written by storage.recs.write_generation with engine.neighbours' rows from "
        f"synthetic rank-{RANK} factors. "
        + "; ".join(
            f"{db_name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items() if not k.startswith("load"))
            for db_name, steps in took.items()
        )
        + "."
    )
    sec.notes.append(
        f"Machine: {machine()}. It is shared: other jobs ran meanwhile, so absolute times include their "
        "load. 1-minute load average before / after the timed calls: "
        + "; ".join(
            f"{db_name} {steps['load before']:.1f} / {steps['load after']:.1f}"
            for db_name, steps in took.items()
        )
        + "."
    )
    sec.notes.append(
        "Per command, one untimed warm-up call, then the timed calls on the same warm Service: half "
        "for the most active members (cycled) or the most played artists/tracks, half for random "
        "ones. /privacy: each member goes private and back (two timed writes). /taste compares each "
        "member with the next one in the list. Percentiles are nearest-rank."
    )
    sec.notes.append(
        f"Target p99 <= {TARGET_MS:.0f} ms per command: "
        + ("met by every command measured." if not missed else "MISSED by " + ", ".join(missed) + ".")
    )
    if pg_note:
        sec.notes.append(pg_note)
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--postgres", help="a server to use (default: start one with .ci/postgres)")
    args = ap.parse_args()
    print(run(args.quick, args.postgres).markdown())
