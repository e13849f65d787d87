"""Backing up and restoring a SQLite database, the bot running or not.

A backup uses SQLite's online backup API in one step: the pages are copied inside one read
transaction, so in WAL mode the copy is a consistent snapshot (every commit before it started, none
after) and the bot's writers go on meanwhile. Copying the file with ``cp`` is not safe: committed
transactions may still be only in the ``-wal`` file. The copy is written next to the destination,
switched to a self-contained rollback journal, checked (``PRAGMA quick_check``) and only then renamed
into place.

A restore checks that the file is a tastemaker database this version can read (an Alembic revision
it knows: the newest or an older one), refuses to replace a database that another connection has
open, and copies with the same API; the caller then opens the database, which migrates it.

Postgres has its own tools (``pg_dump`` / ``pg_restore``): :func:`pg_dump_command` spells them out.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from storage.db import BUSY_TIMEOUT_MS, display_url, is_sqlite, sqlite_path


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line for the operator."""


@dataclass(frozen=True)
class Copied:
    """What a backup or restore copied: the file written, its size, schema revision and plays."""

    path: Path
    size: int
    revision: str
    plays: int
    seconds: float

    def line(self, verb: str, source: str) -> str:
        return (
            f"{verb} {source} to {self.path}: {self.plays:,} plays, schema revision {self.revision}, "
            f"{self.size / 1e6:.1f} MB in {self.seconds:.1f}s"
        )


def pg_dump_command(url: str, dest: Path) -> str:
    """The ``pg_dump`` command line that backs up the Postgres database at ``url`` into ``dest``
    (custom format, for ``pg_restore``); the password is left out (``PGPASSWORD`` or ``~/.pgpass``)."""
    return f"pg_dump --format=custom --file={dest} '{_libpq_url(url)}'"


def pg_restore_command(url: str, src: Path) -> str:
    """The ``pg_restore`` command line that replaces the Postgres database at ``url`` by ``src``."""
    return f"pg_restore --clean --if-exists --no-owner --dbname='{_libpq_url(url)}' {src}"


def _libpq_url(url: str) -> str:
    """``url`` as libpq takes it: no SQLAlchemy driver suffix, no password."""
    u = make_url(url)
    plain = URL.create("postgresql", u.username, None, u.host, u.port, u.database, u.query)
    return plain.render_as_string(hide_password=False)


def _database_file(url: str) -> Path:
    if not is_sqlite(url):
        raise BackupError(f"{display_url(url)} is not a SQLite database")
    path = sqlite_path(url)
    if path is None:
        raise BackupError(f"{display_url(url)} is not a SQLite database file")
    return path


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection that never creates ``path``."""
    mode = "ro" if readonly else "rw"
    conn = sqlite3.connect(
        f"{path.absolute().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.isolation_level = None  # autocommit: no transaction is held between statements
    return conn


def revision_of(conn: sqlite3.Connection, path: Path) -> str:
    """The Alembic revision stored in a tastemaker database; :class:`BackupError` for a file that is
    not SQLite or not tastemaker's."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            raise BackupError(f"{path} is not a tastemaker database (it has no alembic_version)") from exc
        raise BackupError(f"{path} is not a SQLite database ({exc})") from exc
    if row is None:
        raise BackupError(f"{path} is not a tastemaker database (its alembic_version is empty)")
    return str(row[0])


def known_revisions() -> list[str]:
    """Every schema revision this tastemaker can migrate from, oldest first."""
    from alembic.script import ScriptDirectory

    from storage.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _plays(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM plays").fetchone()[0])


def _check(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} is damaged: {result}")


def backup(url: str, dest: Path, *, force: bool = False) -> Copied:
    """Copy the SQLite database at ``url`` into the new file ``dest`` (``force``: replace it)."""
    source = _database_file(url)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists: pass --force to replace it")
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: name the backup file")
    if not dest.parent.is_dir():
        raise BackupError(f"the folder {dest.parent.absolute()} does not exist")
    if source.absolute() == dest.absolute():
        raise BackupError("the backup file is the database itself")
    start = time.perf_counter()
    part = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        with contextlib.closing(_connect(source)) as src:
            revision = revision_of(src, source)
            with contextlib.closing(sqlite3.connect(part)) as out:
                src.backup(out)  # pages=-1: everything in one step, one consistent snapshot
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
                _check(out, dest)
                plays = _plays(out)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return Copied(dest, dest.stat().st_size, revision, plays, time.perf_counter() - start)


def restore(src: Path, url: str, *, force: bool = False) -> Copied:
    """Copy the backup ``src`` over the SQLite database at ``url`` (``force``: replace an existing
    one, only while no other connection has it open). The caller opens it afterwards, which runs the
    migrations from the backup's revision to this version's."""
    target = _database_file(url)
    if not src.is_file():
        raise BackupError(f"no backup at {src}")
    if src.absolute() == target.absolute():
        raise BackupError("the backup file is the database itself")
    start = time.perf_counter()
    with contextlib.closing(_connect(src, readonly=True)) as backup_conn:
        revision = revision_of(backup_conn, src)
        if revision not in known_revisions():
            raise BackupError(
                f"{src} was written by a newer tastemaker (schema revision {revision}): "
                "upgrade tastemaker first"
            )
        _check(backup_conn, src)
        exists = target.exists()
        if exists and not force:
            raise BackupError(f"{target} exists: pass --force to replace it (back it up first)")
        if not target.parent.is_dir():
            raise BackupError(f"the folder {target.parent.absolute()} does not exist")
        with contextlib.closing(sqlite3.connect(target, timeout=0)) as out:
            out.isolation_level = None
            if exists:
                # Leaving WAL mode needs the only connection to the file: a running bot holds some.
                try:
                    out.execute("PRAGMA journal_mode=DELETE")
                except sqlite3.OperationalError as exc:
                    raise BackupError(
                        f"{target} is in use by another process (is tastemaker run still running? "
                        "stop it first)"
                    ) from exc
            backup_conn.backup(out)
            plays = _plays(out)
    # The copy keeps the backup's journal mode; opening the database switches it to WAL again.
    return Copied(target, target.stat().st_size, revision, plays, time.perf_counter() - start)
