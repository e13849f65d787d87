"""Engine factory and transaction helpers.

SQLite is tuned for many small concurrent writers: WAL, ``synchronous=NORMAL``, foreign keys on, a
busy timeout, and writers open their transaction with ``BEGIN IMMEDIATE`` (the SQLAlchemy pysqlite
recipe) so that two writers never deadlock on a read-lock upgrade ("database is locked"). Readers use
a plain deferred ``BEGIN`` and, thanks to WAL, never wait for writers.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "tastemaker_immediate"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file SQLite opens for ``url`` (relative to the working directory if relative; SQLite
    expands no ``~``); ``None`` for another database, an in-memory one or a ``file:`` URI."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def display_url(url: str) -> str:
    """``url`` fit to print or log: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<unparseable database URL>"


def redact(text: str, url: str) -> str:
    """``text`` (an error message, say) with ``url``'s password, if any, replaced by ``***``."""
    try:
        password = make_url(url).password
    except Exception:
        return text
    return text.replace(str(password), "***") if password else text


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; for SQLite, create the parent folder and install the pragmas."""
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=10,
        max_overflow=20,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # 32 MiB page cache (the default is 2 MiB) and reads through a 256 MiB memory map: the batch
        # merge upserts into indexes that grow with the history.
        cur.execute("PRAGMA cache_size=-32768")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


class Database:
    """An engine plus the two ways to use it: ``read()`` and ``write()`` (one transaction each)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._writer = self.engine.execution_options(**{_IMMEDIATE: True})
        # Writers of this process queue on a lock. SQLite has one writer at a time anyway, and the lock
        # (no sleeping) beats polling SQLite's busy handler, whose back-off sleeps grow to 100 ms. On
        # Postgres it makes play ids commit in id order, so the batch's high-water mark (max id) never
        # passes a play that is still being written by this process.
        self._write_lock: AbstractContextManager[object] = threading.Lock()
        # A Database dropped without dispose() (a one-shot command's) still closes its connections:
        # a Postgres connection left to the garbage collector is never closed cleanly.
        weakref.finalize(self, self.engine.dispose)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, *, bulk: bool = False) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success, rolls back on error.

        ``bulk``: SQLite checks no foreign keys in this transaction (they are back on for the next
        one). Only for writers that resolved every id they insert in the same transaction, such
        as :func:`ingest.bulk.write_batch`: the checks are a quarter of a bulk insert's time."""
        with self._write_lock, self._writer.connect() as conn:
            raw = conn.connection.driver_connection if (bulk and self.sqlite) else None
            if raw is not None:  # outside a transaction: the pragma is a no-op inside one
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    yield conn
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")

    def upgrade(self) -> None:
        """Migrate to the newest schema, and build any member-command index that an interrupted
        import left dropped (:mod:`storage.play_indexes`)."""
        from storage import play_indexes
        from storage.migrations import upgrade

        upgrade(self.engine)
        with self.read() as conn:
            complete = play_indexes.present(conn) == set(play_indexes.NAMES)
        if not complete:
            with self.write() as conn:
                play_indexes.ensure(conn)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    db = Database(url)
    if migrate:
        db.upgrade()
    return db


@contextmanager
def scratch_database(server: str, prefix: str = "tastemaker_scratch") -> Iterator[str]:
    """The URL of a new, empty database ``<prefix>_<random>`` on the PostgreSQL ``server`` (a role
    that may create databases), dropped on exit even with connections still open: for tests and
    benchmarks that must not touch a real one."""
    import uuid

    from sqlalchemy.pool import NullPool

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
