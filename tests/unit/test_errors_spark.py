"""What an operator reads when a Spark job fails: one line, never the Java trace."""

from __future__ import annotations

from bot.errors import explain


class Py4JJavaError(Exception):
    """Shaped like py4j's: the call, then the Java exception and its trace."""


TRACE = "\n\tat org.apache.spark.rdd.RDD.doCheckpoint(RDD.scala:2036)\n\tat scala.Foo.apply(Foo.scala:1)"


def test_an_unshared_checkpoint_directory_names_the_setting() -> None:
    exc = Py4JJavaError(
        "An error occurred while calling o5524.fit.\n: org.apache.spark.SparkException: Checkpoint RDD has "
        "a different number of partitions from original RDD. Original\nRDD [ID: 1384, num of partitions: 2];"
        + TRACE
    )
    line = explain(exc)
    assert line.startswith("the Spark executors cannot use the checkpoint directory")
    assert "TASTEMAKER_SPARK_CHECKPOINT_DIR" in line and "\n" not in line


def test_another_java_failure_is_its_java_message_without_the_trace() -> None:
    exc = Py4JJavaError(
        "An error occurred while calling o97.fit.\n: org.apache.spark.SparkException: Job aborted due to "
        "stage failure: Task 0 in stage 3.0 failed 4 times" + TRACE
    )
    assert explain(exc) == (
        "Spark failed: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage "
        "3.0 failed 4 times"
    )
