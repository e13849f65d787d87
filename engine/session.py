"""The Spark session: one per worker process, built from settings and kept alive by the caller.

A cold start costs ~12 s, so the scheduler and the CLI build one session and pass it to every job.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# JDBC drivers shipped by Debian (libxerial-sqlite-jdbc-java, libpostgresql-jdbc-java); used when
# present so the engine can read a Postgres database over JDBC on a cluster.
LOG4J = Path(__file__).resolve().parents[1] / "config" / "log4j2.properties"
JDBC_JARS = ("/usr/share/java/sqlite-jdbc.jar", "/usr/share/java/postgresql.jar")


class JavaMissing(RuntimeError):
    """No usable Java runtime: Spark cannot start."""


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


def build_session(settings: Settings) -> SparkSession:
    java_executable()
    if os.environ.get("SPARK_HOME"):
        import findspark

        findspark.init()
    from pyspark.sql import SparkSession

    if settings.spark_master.startswith("local"):
        # Local mode talks to itself: bind to loopback (and skip the hostname lookup warning).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName("tastemaker")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.default.parallelism", str(max(2, settings.spark_shuffle_partitions)))
        .config("spark.ui.enabled", "true" if settings.spark_ui else "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile={LOG4J} {settings.spark_java_options}".strip(),
        )
    )
    jars = [j for j in JDBC_JARS if Path(j).is_file()]
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # ALS checkpoints its factor lineage every 10 iterations; without a checkpoint directory more
    # iterations end in a StackOverflowError. On a cluster, point this at shared storage.
    session.sparkContext.setCheckpointDir(
        settings.spark_checkpoint_dir or tempfile.mkdtemp(prefix="tastemaker-ckpt-")
    )
    return session
