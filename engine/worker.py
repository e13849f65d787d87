"""Spark in a worker process: the engine's jobs run in a child process started when a job needs it,
so the process that serves chat never imports pyspark nor starts a JVM.

:class:`SparkWorker` is the caller's handle. It starts the worker with multiprocessing's ``spawn``
start method (a fresh interpreter: none of the caller's memory is inherited) and sends it one job at a
time over a pipe; the worker builds its Spark session on first use and answers with the job's result.
By default the worker, and with it the JVM, exits after each job, so between batches only the caller
is resident. With ``keep_warm`` (``TASTEMAKER_SPARK_KEEP_WARM=true``) it stays, and later jobs skip
the cold start (a new interpreter, the JVM, the Spark session).

A worker that dies during a job (killed, out of memory) makes the job raise :class:`WorkerDied`; the
next job starts a new worker. What the job had committed stays consistent: every batch part commits
together with its watermark step, so the rerun continues after the last committed part. A job that
fails inside the worker raises :class:`WorkerJobFailed` (the worker's traceback is attached as its
cause) and the worker is stopped, since its Spark session may be broken.

The worker runs in a process group of its own: Ctrl-C in a terminal reaches the caller, which stops
the worker (:meth:`SparkWorker.close`), instead of killing the JVM under a running job.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection, wait
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from config.settings import Settings
from engine import batch as engine_batch
from engine.batch import EngineContext
from storage.db import open_database
from storage.trends import Fault, no_fault

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from pyspark.sql import SparkSession

# The jobs a worker runs: name → function of an EngineContext (and keyword options).
JOBS: Mapping[str, Callable[..., Any]] = MappingProxyType({"batch": engine_batch.batch})

STOP_SECONDS = 60.0  # how long a worker may take to stop its Spark session before it is killed


class WorkerDied(RuntimeError):
    """The worker process ended during a job (killed, out of memory) or was stopped with the caller."""


class WorkerJobFailed(RuntimeError):
    """A job raised inside the worker: the message is the worker's exception's, ``remote_type`` its
    class name; the worker's traceback is the ``__cause__``."""

    def __init__(self, remote_type: str, message: str) -> None:
        super().__init__(message)
        self.remote_type = remote_type


class RemoteTraceback(Exception):
    """The traceback of a job that failed in the worker (shown in the caller's log file)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def spark_in_worker() -> NoReturn:
    """The ``spark`` factory of a context whose Spark jobs go to a :class:`SparkWorker`: the caller's
    process must not start Spark itself."""
    raise RuntimeError("Spark runs in the Spark worker process, not in the chat process")


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    return (
        f"the Spark worker process {how} during the job (out of memory, or killed): what was committed "
        "stays consistent; the next batch starts a new worker"
    )


class SparkWorker:
    """The caller's handle on the worker process (see the module docstring). Thread-safe: one job at
    a time; :meth:`close` may be called from another thread while a job runs."""

    def __init__(
        self,
        settings: Settings,
        *,
        keep_warm: bool | None = None,
        fault: Fault = no_fault,
        init: Callable[[], None] | None = None,
    ) -> None:
        """``keep_warm``: keep the worker between jobs (default: ``settings.spark_keep_warm``).
        ``fault`` (a picklable crash-injection hook for tests) is the worker's
        ``EngineContext.fault``; ``init`` (picklable) runs first in each new worker, e.g. to set up
        logging."""
        self.settings = settings
        self.keep_warm = settings.spark_keep_warm if keep_warm is None else keep_warm
        self._fault = fault
        self._init = init
        self._mp = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._closing = False
        self.started = 0  # worker processes started so far

    @property
    def pid(self) -> int | None:
        """The running worker's process id; ``None`` while there is none."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def run(self, job: str, **options: Any) -> Any:
        """Run ``job`` (a name in :data:`JOBS`) in the worker, starting one if none is running, and
        return its result; then stop the worker unless it is kept warm."""
        if job not in JOBS:
            raise ValueError(f"unknown worker job {job!r}; known: {', '.join(sorted(JOBS))}")
        with self._lock:
            if self._closing:
                raise WorkerDied("the Spark worker is stopped: the bot is stopping")
            process, conn = self._ensure()
            try:
                conn.send((job, options))
                status, payload = self._receive(process, conn)
            except BaseException:
                self._discard()
                raise
            if status == "error":
                self._discard()
                remote_type, message, text = payload
                raise WorkerJobFailed(remote_type, message) from RemoteTraceback(text)
            if not self.keep_warm:
                self._stop()
            return payload

    def close(self) -> None:
        """Stop the worker: at once when a job is running (it fails with :class:`WorkerDied`; what it
        committed stays consistent), else after it has stopped its Spark session. Later jobs are
        refused."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._stop()
            finally:
                self._lock.release()
            return
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()

    def _ensure(self) -> tuple[BaseProcess, Connection]:
        if self._process is not None and self._conn is not None and self._process.is_alive():
            return self._process, self._conn
        self._discard()
        ours, theirs = self._mp.Pipe()
        process = self._mp.Process(
            target=serve,
            args=(theirs, self.settings, self._fault, self._init),
            name="tastemaker-spark-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        self.started += 1
        return process, ours

    def _receive(self, process: BaseProcess, conn: Connection) -> tuple[str, Any]:
        while True:
            ready = wait([conn, process.sentinel])
            if conn in ready:
                try:
                    answer: tuple[str, Any] = conn.recv()
                    return answer
                except (EOFError, OSError):
                    pass  # the worker is gone: its exit code says how
            process.join()
            if self._closing:
                raise WorkerDied("the Spark worker was stopped with the bot during the job")
            raise WorkerDied(_death(process.exitcode))

    def _stop(self) -> None:
        """Ask the worker to stop its Spark session and exit; kill it when it takes too long."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError):
            conn.send(None)
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()

    def _discard(self) -> None:
        """Forget a worker that failed or died (killed if it still runs)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join()
        if conn is not None:
            conn.close()


def serve(conn: Connection, settings: Settings, fault: Fault, init: Callable[[], None] | None) -> None:
    """The worker process: runs ``(job name, options)`` requests from ``conn`` one at a time and
    answers ``("ok", result)`` or ``("error", (type name, message, traceback))``, until it reads
    ``None`` or the caller is gone; then stops its Spark session. Checkpoints are each ALS fit's own
    folder, removed when the fit ends (:func:`engine.session.checkpoints`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # the JVM it starts joins this group, away from the terminal's Ctrl-C
    if init is not None:
        init()
    db = open_database(settings.database_url, migrate=False)
    sessions: list[SparkSession] = []

    def spark() -> SparkSession:
        if not sessions:
            from engine.session import build_session

            sessions.append(build_session(settings))
        return sessions[0]

    ctx = EngineContext(settings, db, spark=spark, fault=fault)
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break
            if request is None:
                break
            name, options = request
            try:
                answer: tuple[str, Any] = ("ok", JOBS[name](ctx, **options))
            except Exception as exc:
                answer = ("error", (type(exc).__name__, str(exc), traceback.format_exc()))
            try:
                conn.send(answer)
            except (BrokenPipeError, OSError):
                break
    finally:
        for session in sessions:
            with contextlib.suppress(Exception):
                session.stop()
        db.dispose()
