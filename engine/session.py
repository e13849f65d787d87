"""The Spark session: one per worker process, built from settings and kept alive by the caller.

A cold start costs ~12 s, so a caller builds one session and passes it to every job it runs: the
bot's Spark worker process (engine.worker) for as long as it lives, a CLI command for its run.
Three ways to run: a local master (``local[*]``), a cluster master (``spark://…``, ``yarn``, …) that
needs a checkpoint directory the driver and the executors share, or a Spark Connect server
(``spark_remote``: ``sc://host:port``), where the server owns the cluster, its memory and its
checkpoints, and nothing here touches a ``SparkContext``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# JDBC drivers shipped by Debian (libxerial-sqlite-jdbc-java, libpostgresql-jdbc-java); used when
# present so the engine can read a Postgres database over JDBC on a cluster.
LOG4J = Path(__file__).resolve().parents[1] / "config" / "log4j2.properties"
JDBC_JARS = ("/usr/share/java/sqlite-jdbc.jar", "/usr/share/java/postgresql.jar")
# Where build_session records the checkpoint base for checkpoints() (a session setting, so the
# session carries it to every job; empty: the local temp folder).
CHECKPOINT_BASE = "spark.tastemaker.checkpointBase"
CHECKPOINT_PREFIX = "tastemaker-ckpt-"


class JavaMissing(RuntimeError):
    """No usable Java runtime: Spark cannot start."""


class SparkSetupError(RuntimeError):
    """The Spark settings cannot work as given; the message is the one line that says what to set."""


def java_executable() -> str:
    """The ``java`` Spark will launch (``$JAVA_HOME/bin/java``, else the one on ``PATH``), checked
    before Spark's launcher scripts get to print their own errors."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise JavaMissing(f"Java gateway process exited: JAVA_HOME={home} has no bin/java")
        return str(java)
    found = shutil.which("java")
    if found is None:
        raise JavaMissing("Java gateway process exited: no java on PATH and JAVA_HOME is not set")
    return found


def check_settings(settings: Settings) -> None:
    """Raise :class:`SparkSetupError` when the Spark settings cannot work: a cluster master without a
    checkpoint directory (a driver-local temp folder is invisible to executors on other hosts, and
    ALS fails in ``fit`` with "Checkpoint RDD has a different number of partitions")."""
    if settings.spark_remote or settings.spark_master.startswith("local"):
        return
    if not settings.spark_checkpoint_dir.strip():
        raise SparkSetupError(
            f"Spark master {settings.spark_master} is a cluster: set TASTEMAKER_SPARK_CHECKPOINT_DIR to "
            "a path or URI that the driver and every executor share (an NFS mount, hdfs://…, s3a://…)"
        )


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect session (no ``SparkContext`` on this side)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def build_session(settings: Settings) -> SparkSession:
    check_settings(settings)
    if settings.spark_remote:
        return _connect_session(settings)
    java_executable()
    if os.environ.get("SPARK_HOME"):
        import findspark

        findspark.init()
    from pyspark.sql import SparkSession

    if settings.spark_master.startswith("local"):
        # Local mode talks to itself: bind to loopback (and skip the hostname lookup warning).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(settings.spark_master).appName("tastemaker")
    for key, value in _sql_conf(settings).items():
        builder = builder.config(key, value)
    builder = (
        builder.config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.default.parallelism", str(max(2, settings.spark_shuffle_partitions)))
        .config("spark.ui.enabled", "true" if settings.spark_ui else "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile={LOG4J} {settings.spark_java_options}".strip(),
        )
    )
    if settings.spark_checkpoint_dir.strip():
        # Only when set: getOrCreate applies these to a session that already runs, whose own stays.
        builder = builder.config(CHECKPOINT_BASE, settings.spark_checkpoint_dir.strip())
    jars = [j for j in JDBC_JARS if Path(j).is_file()]
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    return builder.getOrCreate()


def _sql_conf(settings: Settings) -> dict[str, str]:
    """The session settings every job relies on (runtime SQL settings: Connect accepts them too)."""
    return {
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
    }


def _connect_session(settings: Settings) -> SparkSession:
    """A Spark Connect session to ``settings.spark_remote``: only SQL settings travel; the server's
    own configuration decides memory, parallelism and the checkpoint directory."""
    import importlib.util

    if importlib.util.find_spec("grpc") is None:  # grpcio & co. are the "connect" extra
        raise SparkSetupError("Spark Connect needs its client libraries: pip install 'tastemaker[connect]'")
    from pyspark.sql import SparkSession

    # Through the classic builder: it also switches pyspark.sql.functions to Connect.
    builder = SparkSession.builder.remote(settings.spark_remote)
    for key, value in _sql_conf(settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@contextmanager
def checkpoints(spark: SparkSession) -> Iterator[None]:
    """A checkpoint folder of its own for what runs inside (an ALS fit), removed afterwards (also on
    failure): ``tastemaker-ckpt-<random>`` under the session's checkpoint directory (the local temp
    folder when none is set). Over Spark Connect, the server's ``spark.checkpoint.dir`` applies and
    this does nothing."""
    if is_connect(spark):
        yield
        return
    base = spark.conf.get(CHECKPOINT_BASE, "") or tempfile.gettempdir()
    folder = f"{base.rstrip('/')}/{CHECKPOINT_PREFIX}{uuid.uuid4().hex}"
    sc = spark.sparkContext
    sc.setCheckpointDir(folder)
    try:
        yield
    finally:
        # Through Hadoop's FileSystem, like Spark itself: the same code removes file:, hdfs: or s3a: data.
        jvm = sc._jvm
        assert jvm is not None
        path = jvm.org.apache.hadoop.fs.Path(folder)
        path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)
