"""Writers of the batch datasets: Hive-style partitions by batch id, replaced (never duplicated) on re-run.

Each run owns one partition `batch_id=<id>` of each dataset (output, rejects, failed). Before writing, the
run deletes its own partition, then appends: a re-run over the same input replaces what the earlier run
wrote — even when it has nothing to write this time — and other batches in the same table are untouched.
DuckDB reads the result with `read_parquet('<path>/**/*.parquet', hive_partitioning=true)`, Athena as a
table partitioned by `batch_id`.
"""

from __future__ import annotations

import hashlib
import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_pipeline.contract import outputs

PARTITION_COLUMN = outputs.BATCH_PARTITION
FORMATS = ("parquet", "csv")  # the quality job writes its datasets as Parquet, its training set as CSV
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_batch_id(input_path: str) -> str:
    """Readable and stable for an input: its base name plus a short hash of the full path."""
    base = input_path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or "input"
    return f"{_SAFE.sub('_', base)[:40]}-{hashlib.sha1(input_path.encode()).hexdigest()[:8]}"


def check_batch_id(batch_id: str) -> str:
    if not batch_id or _SAFE.search(batch_id) or batch_id in {".", ".."}:
        raise ValueError(
            f"batch id {batch_id!r} must be non-empty and use only letters, digits, '_', '.', '-'"
        )
    return batch_id


def partition_path(path: str, batch_id: str) -> str:
    return f"{path.rstrip('/')}/{PARTITION_COLUMN}={batch_id}"


def replace_partition(spark: SparkSession, frame: DataFrame, path: str, batch_id: str, fmt: str) -> None:
    """Write `frame` as partition batch_id=<id> of the dataset at `path`, replacing that partition."""
    if fmt not in FORMATS:
        raise ValueError(f"output format must be one of {FORMATS}, got {fmt!r}")
    delete_path(spark, partition_path(path, check_batch_id(batch_id)))
    writer = (
        frame.withColumn(PARTITION_COLUMN, F.lit(batch_id)).write.mode("append").partitionBy(PARTITION_COLUMN)
    )
    if fmt == "csv":
        writer.option("header", "true").csv(path)
    else:
        writer.parquet(path)


def delete_path(spark: SparkSession, path: str) -> bool:
    """Delete a directory through Hadoop's FileSystem, so file://, s3:// (EMRFS on Glue) and hdfs:// all work."""
    fs, hadoop_path = _filesystem(spark, path)
    return bool(fs.exists(hadoop_path) and fs.delete(hadoop_path, True))


def path_exists(spark: SparkSession, path: str) -> bool:
    fs, hadoop_path = _filesystem(spark, path)
    return bool(fs.exists(hadoop_path))


def _filesystem(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "a driver-side call: the SparkContext has a JVM gateway"
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path
