"""``tastemaker backup`` / ``restore``: a consistent copy of a database in use, a restore equal to
the original, and every refusal as one line."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from bot.cli import app
from bot.service import RESOLVE_AS_TYPED, Service, Who
from config.settings import Settings
from storage import jobs, trends
from storage.backup import known_revisions
from storage.db import Database, make_engine, open_database, sqlite_path
from storage.migrations import upgrade
from storage.models import GLOBAL_SCOPE
from tests.conftest import Clock
from tests.databases import sqlite_only

# On Postgres these commands only name pg_dump / pg_restore: the test that checks it needs no server.
pytestmark = sqlite_only("backup and restore copy SQLite files")

ALPHA = Who("local", "alpha", "", community_name="alpha")
BETA = Who("local", "beta", "", community_name="beta")
PLAN = [  # community, member, "artist - title", days ago
    ("alpha", "a0", "Radiohead - Creep", 1),
    ("alpha", "a1", "Radiohead - Creep", 1),
    ("alpha", "a2", "Radiohead - Creep", 2),
    ("alpha", "a0", "Portishead - Roads", 2),
    ("alpha", "a1", "Portishead - Roads", 3),
    ("alpha", "a2", "Low - Words", 1),
    ("beta", "b0", "Fairuz - Li Beirut", 1),
    ("beta", "b1", "Fairuz - Li Beirut", 2),
    ("beta", "b0", "Sade - Smooth Operator", 3),
]
FOLDED = 6  # the batch folded plays 1..6 (alpha's); beta's are the tail


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def fold(db: Database, high: int, now: dt.datetime) -> None:
    """What one micro-batch stores for plays 1..``high`` (community and global scope), and its run."""
    with db.read() as conn:
        plays = conn.execute(
            text(
                "SELECT community_id, member_id, artist_id, track_id, played_at, count FROM plays "
                "WHERE id <= :high"
            ),
            {"high": high},
        ).all()
    counts: dict[tuple, int] = defaultdict(int)
    presence: set[tuple] = set()
    for community, member, artist, track, played_at, count in plays:
        day = dt.datetime.fromisoformat(str(played_at)).date()
        for scope in (community, GLOBAL_SCOPE):
            for kind, item in (("artist", artist), ("track", track)):
                counts[(scope, kind, day, item)] += count
                presence.add((scope, kind, day, item, member))
    count_rows = [(*key, n) for key, n in sorted(counts.items())]
    with db.write() as conn:
        trends.merge_batch(conn, trends.TRENDS_WATERMARK, 0, high, count_rows, sorted(presence))
        run = jobs.start(conn, "batch", now)
        jobs.finish(conn, run, "ok", f"folded plays 1..{high}", now)


def fill(service: Service, db: Database, clock: Clock) -> None:
    for n, (community, member, line, days) in enumerate(PLAN):
        played_at = clock.now - dt.timedelta(days=days)
        who = Who("local", community, member)
        service.played(who, line, played_at=played_at, event_id=f"e{n}", resolve=RESOLVE_AS_TYPED)
    fold(db, FOLDED, clock.now)


def state(db: Database, settings: Settings, clock: Clock) -> dict[str, Any]:
    """Row counts of every table and every /trending answer of both communities."""
    with db.read() as conn:
        tables = sorted(inspect(conn).get_table_names())
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    service = Service(db, settings, clock=clock)
    answers = {
        (who.community_id, window, kind): service.trending(who, window, kind)
        for who in (ALPHA, BETA)
        for window in ("24h", "7d", "all")
        for kind in ("artist", "track")
    }
    return {"rows": counts, "trending": answers}


def chart(answer: Any) -> list[tuple[str, int]]:
    return [(e.name, e.plays) for e in answer.entries]


def test_backup_of_a_database_in_use_restores_equal_to_the_original(
    service: Service, db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    fill(service, db, clock)
    path = sqlite_path(settings.database_url)
    assert path is not None
    # Another connection holds a read transaction open on an older snapshot ...
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM plays").fetchone()[0] == len(PLAN)
    # ... so a later commit stays in the WAL (no checkpoint can pass the reader).
    late = Who("local", "beta", "b2")
    service.played(late, "Can - Vitamin C", played_at=clock.now, event_id="late", resolve=RESOLVE_AS_TYPED)
    assert Path(f"{path}-wal").stat().st_size > 0
    copy = tmp_path / "backup.db"
    result = cli("backup", str(copy), "--db", settings.database_url)
    reader.execute("COMMIT")
    reader.close()
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"backed up {settings.database_url} to {copy}: 10 plays, schema revision {known_revisions()[-1]}, "
    )
    # A self-contained file: rollback journal, no -wal beside it.
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not Path(f"{copy}-wal").exists()

    original = state(db, settings, clock)
    assert original["rows"]["plays"] == 10 and original["rows"]["communities"] == 2
    assert original["rows"]["job_runs"] == 1 and original["rows"]["watermarks"] == 1
    # alpha folded: 5 artist-days and 5 track-days, in its own scope and the global one
    assert original["rows"]["daily_counts"] == 20
    alpha_all = original["trending"][("alpha", "all", "artist")]
    assert chart(alpha_all) == [("Radiohead", 3), ("Portishead", 2), ("Low", 1)]
    beta_all = original["trending"][("beta", "all", "track")]
    assert chart(beta_all) == [
        ("Fairuz – Li Beirut", 2),
        ("Sade – Smooth Operator", 1),
        ("Can – Vitamin C", 1),
    ]
    assert beta_all.pending_plays == 4 and alpha_all.pending_plays == 0

    target = tmp_path / "new" / "tastemaker.db"  # a folder that does not exist yet
    url = f"sqlite:///{target}"
    result = cli("restore", str(copy), "--db", url, "--create")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"restored {copy} to {target}: 10 plays, schema revision ")
    restored = open_database(url)
    try:
        assert state(restored, settings, clock) == original
    finally:
        restored.dispose()


def test_backup_refuses_to_overwrite_without_force(db: Database, settings: Settings, tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"
    copy.write_text("an older backup")
    result = cli("backup", str(copy), "--db", settings.database_url)
    assert result.exit_code == 2
    assert result.output == f"error: {copy} exists: pass --force to replace it\n"
    assert copy.read_text() == "an older backup"
    result = cli("backup", str(copy), "--force", "--db", settings.database_url)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == known_revisions()[-1]


def test_backup_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = cli("backup", str(tmp_path / "b.db"), "--db", f"sqlite:///{missing}")
    assert result.exit_code == 2
    assert result.output == f"error: no database at {missing}\n"
    assert not missing.exists() and not (tmp_path / "b.db").exists()


def test_backup_and_restore_on_postgres_name_pg_dump_and_never_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://tm:SECRET@db.example:5432/tastemaker"
    result = cli("backup", "tm.dump", "--db", url)
    assert result.exit_code == 2
    assert result.output == (
        "error: tastemaker backup copies SQLite only; for Postgres run "
        "pg_dump --format=custom --file=tm.dump 'postgresql://tm@db.example:5432/tastemaker'\n"
    )
    result = cli("restore", "tm.dump", "--db", url)
    assert result.exit_code == 2
    assert result.output == (
        "error: tastemaker restore replaces SQLite only; for Postgres run pg_restore --clean "
        "--if-exists --no-owner --dbname='postgresql://tm@db.example:5432/tastemaker' tm.dump\n"
    )


def test_restore_refuses_a_database_in_use_and_an_existing_one_without_force(
    service: Service, db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    fill(service, db, clock)
    copy = tmp_path / "backup.db"
    assert cli("backup", str(copy), "--db", settings.database_url).exit_code == 0
    target = tmp_path / "live.db"
    url = f"sqlite:///{target}"
    live = open_database(url)  # the "bot": an open pool on the target
    try:
        with live.write() as conn:
            conn.execute(
                text("INSERT INTO communities (platform, external_id, name) VALUES ('local', 'x', 'x')")
            )
        result = cli("restore", str(copy), "--db", url)
        assert result.exit_code == 2
        assert result.output == f"error: {target} exists: pass --force to replace it (back it up first)\n"
        result = cli("restore", str(copy), "--force", "--db", url)
        assert result.exit_code == 2
        assert result.output == (
            f"error: {target} is in use by another process (is tastemaker run still running? stop it first)\n"
        )
        with live.read() as conn:  # untouched
            assert conn.execute(text("SELECT count(*) FROM communities")).scalar_one() == 1
    finally:
        live.dispose()
    result = cli("restore", str(copy), "--force", "--db", url)
    assert result.exit_code == 0, result.output
    restored = open_database(url)
    try:
        assert state(restored, settings, clock) == state(db, settings, clock)
    finally:
        restored.dispose()


def test_restore_migrates_an_older_backup(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO communities (platform, external_id, name) VALUES ('local', 'c', 'c')"))
    engine.dispose()
    copy = tmp_path / "old-backup.db"
    assert cli("backup", str(copy), "--db", f"sqlite:///{old}").exit_code == 0
    target = tmp_path / "restored.db"
    result = cli("restore", str(copy), "--db", f"sqlite:///{target}")
    assert result.exit_code == 0, result.output
    head = known_revisions()[-1]
    assert head != "0009"
    assert result.output.endswith(f"; migrated to schema revision {head}\n")
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
        assert conn.execute("SELECT count(*) FROM member_neighbours").fetchone()[0] == 0  # 0010's table
        assert conn.execute("SELECT external_id FROM communities").fetchall() == [("c",)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("newer", "{f} was written by a newer tastemaker (schema revision 9999): upgrade tastemaker first"),
        ("foreign", "{f} is not a tastemaker database (it has no alembic_version)"),
        ("text", "{f} is not a SQLite database (file is not a database)"),
        ("missing", "no backup at {f}"),
    ],
)
def test_restore_refuses_what_is_not_a_tastemaker_backup(
    make: str, message: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    f = tmp_path / "candidate.db"
    if make == "newer":
        assert cli("backup", str(f), "--db", settings.database_url).exit_code == 0
        with sqlite3.connect(f) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
    elif make == "foreign":
        with sqlite3.connect(f) as conn:
            conn.execute("CREATE TABLE t (x)")
    elif make == "text":
        f.write_text("user,artist\n" * 200)
    target = tmp_path / "target.db"
    result = cli("restore", str(f), "--db", f"sqlite:///{target}")
    assert result.exit_code == 2
    assert result.output == f"error: {message.format(f=f)}\n"
    assert not target.exists()
