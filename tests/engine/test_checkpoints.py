"""Cluster-safe checkpoints: each ALS fit checkpoints into a folder of its own, removed afterwards;
a cluster master needs a checkpoint directory the driver and the executors share."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from bot.errors import explain
from config.settings import Settings
from engine.session import (
    CHECKPOINT_PREFIX,
    SparkSetupError,
    build_session,
    check_settings,
    checkpoints,
    is_connect,
)

pytestmark = pytest.mark.spark


def _local(uri: str | None) -> Path:
    """The folder of a ``file:`` checkpoint URI (local mode, or the cluster tests' shared folder)."""
    assert uri is not None and uri.startswith("file:")
    return Path(urlparse(uri).path)


def test_a_fit_checkpoints_into_its_own_folder_and_removes_it(spark) -> None:  # type: ignore[no-untyped-def]
    if is_connect(spark):
        pytest.skip("over Spark Connect the server's spark.checkpoint.dir applies")
    sc = spark.sparkContext
    with checkpoints(spark):
        folder = _local(sc.getCheckpointDir())
        assert folder.parent.name.startswith(CHECKPOINT_PREFIX)
        rdd = sc.parallelize(range(100), 2)
        rdd.checkpoint()
        assert rdd.sum() == 4950 and rdd.isCheckpointed()
        assert list(folder.glob("rdd-*/part-*"))  # really written
    assert not folder.parent.exists()


def test_checkpoints_are_removed_when_the_work_fails(spark) -> None:  # type: ignore[no-untyped-def]
    if is_connect(spark):
        pytest.skip("over Spark Connect the server's spark.checkpoint.dir applies")
    with pytest.raises(ZeroDivisionError), checkpoints(spark):
        folder = _local(spark.sparkContext.getCheckpointDir())
        1 / 0  # noqa: B018
    assert not folder.parent.exists()


@pytest.mark.parametrize("master", ["spark://10.0.0.5:7077", "yarn", "k8s://https://kube:6443"])
def test_a_cluster_master_without_a_checkpoint_directory_is_refused(master: str) -> None:
    with pytest.raises(SparkSetupError) as err:
        build_session(Settings(spark_master=master))  # refused before any JVM starts
    line = explain(err.value)
    assert line.startswith(f"Spark master {master} is a cluster: set TASTEMAKER_SPARK_CHECKPOINT_DIR")
    assert "\n" not in line and "NFS" in line and "hdfs://" in line and "s3a://" in line


def test_local_masters_connect_and_shared_directories_pass() -> None:
    check_settings(Settings(spark_master="local[*]"))
    check_settings(Settings(spark_master="spark://h:7077", spark_checkpoint_dir="hdfs://nn/ckpt"))
    check_settings(Settings(spark_master="spark://h:7077", spark_remote="sc://h:15002"))


def test_spark_remote_comes_from_tastemaker_or_sparks_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASTEMAKER_SPARK_REMOTE", raising=False)
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark:15002")
    assert Settings().spark_remote == "sc://spark:15002"
    monkeypatch.setenv("TASTEMAKER_SPARK_REMOTE", "sc://ours:15002")
    assert Settings().spark_remote == "sc://ours:15002"
