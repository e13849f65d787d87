"""Operational failures, said in one line: what happened and what to do.

The command line, the chat session and the job runner show :func:`explain`'s line; the full
traceback goes to the log (``bot.logs``), never to a member or an operator's terminal unless they
ask for it with ``--debug``.
"""

from __future__ import annotations

import errno

_DISK_FULL = "the disk is full: free some space; nothing was half-written"
_NO_JAVA = "Java could not start: install a Java 17+ runtime (make install does) or fix JAVA_HOME"
_SPARK_DIED = (
    "the Spark JVM died (out of memory, or killed): what was committed stays consistent; run it again, "
    "maybe with a larger TASTEMAKER_SPARK_DRIVER_MEMORY"
)
_CHECKPOINT_UNSHARED = (
    "the Spark executors cannot use the checkpoint directory (they do not see the driver's folder, or "
    "may not write to it): set TASTEMAKER_SPARK_CHECKPOINT_DIR to storage that the driver and every "
    "executor share and can write (an NFS mount, hdfs://…, s3a://…); the last good recommendations "
    "keep serving"
)

# Substrings of driver/JVM messages → what happened and what to do.
_BY_MESSAGE: tuple[tuple[str, str], ...] = (
    (
        "readonly database",
        "the database is read-only: check the file's and its folder's permissions (SQLite also "
        "writes a -wal and -shm file beside it), or the mount",
    ),
    ("database or disk is full", _DISK_FULL),
    ("no space left on device", _DISK_FULL),
    (
        "can't locate revision",
        "the database was created by a newer tastemaker (unknown schema revision): upgrade "
        "tastemaker, or point --db at another database",
    ),
    ("java_gateway_exited", _NO_JAVA),
    ("java gateway process exited", _NO_JAVA),
    ("unable to locate a java runtime", _NO_JAVA),
    (
        "checkpoint rdd has a different number of partitions",
        _CHECKPOINT_UNSHARED,
    ),
    ("mkdirs failed to create file:", _CHECKPOINT_UNSHARED),
    ("answer from java side is empty", _SPARK_DIED),
    ("error while sending or receiving", _SPARK_DIED),
)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _raised_in(exc: BaseException, package: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if f"/{package}/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def explain(exc: BaseException) -> str:
    """One line for an operator: a known failure's plain explanation, else the error's first line."""
    for e in _chain(exc):
        text = str(e).lower()
        for needle, line in _BY_MESSAGE:
            if needle in text:
                return line
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return _DISK_FULL
        if isinstance(e, PermissionError):
            return f"permission denied: {e.filename or e}"
        # A job that failed in the Spark worker process (engine.worker) carries its exception's name.
        name = getattr(e, "remote_type", None) or type(e).__name__
        if name == "WorkerDied":  # its message is already the operator's line
            return str(e)
        if name in ("Py4JNetworkError", "Py4JError") or (
            isinstance(e, ConnectionError) and _raised_in(e, "py4j")
        ):
            return _SPARK_DIED
        if name == "Py4JJavaError":  # "An error occurred while calling o97.fit.\n: <the Java error>"
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            java = next((line[1:].strip() for line in lines if line.startswith(":")), "")
            if java:
                return f"Spark failed: {java[:300]}"
        if name == "SparkSetupError":  # engine.session: its message says what to set
            return str(e)
        if name == "WriterFailed":
            return (
                "the import's writer process died: nothing of the failed batch was written; run the "
                "import again (it skips what is already in)"
            )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = getattr(exc, "remote_type", None) or type(exc).__name__
    return f"{name}: {first}" if first else name
