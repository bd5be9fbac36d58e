"""Data files written by real Spark tasks, committed as the jobs' drivers will: with microsecond timestamps
(spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS) pyiceberg reads each file's hour from its statistics;
with Spark's default INT96 the commit is refused, naming the setting, and nothing is committed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlparse

import pytest

from churn_pipeline.tables import CommitMarker, DataFileError, commit_data_files

from .conftest import batch_rows, hour
from .test_commit import QUERY, hours_since_epoch


@contextlib.contextmanager
def timestamp_type(spark, value: str):
    key = "spark.sql.parquet.outputTimestampType"
    saved = spark.conf.get(key)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.set(key, saved)


def spark_write(spark, sql_table, rows, directory: str) -> list[str]:
    """One task's file (the rows are all of one hour); returns the file URIs."""
    out = Path(urlparse(sql_table.load().location()).path) / "data" / directory
    frame = spark.createDataFrame(rows, "record_id string, score double, kinesis_arrival_time timestamp")
    frame.coalesce(1).write.parquet(str(out))
    return [p.as_uri() for p in sorted(out.glob("*.parquet"))]


def test_spark_files_with_microsecond_timestamps_commit_with_their_hour(spark, sql_table):
    rows = batch_rows("s", 4, hour(13, 10))
    with timestamp_type(spark, "TIMESTAMP_MICROS"):
        files = spark_write(spark, sql_table, rows, "batch-0")
    commit_data_files(sql_table.catalog, sql_table.identifier, files, CommitMarker(QUERY, 0))
    assert sql_table.rows() == rows
    listed = sql_table.load().inspect.files().to_pylist()
    assert [f["partition"]["kinesis_arrival_time_hour"] for f in listed] == [hours_since_epoch(rows)]


def test_spark_files_with_its_default_int96_timestamps_are_refused(spark, sql_table):
    assert spark.conf.get("spark.sql.parquet.outputTimestampType") == "INT96"
    files = spark_write(spark, sql_table, batch_rows("s", 2, hour(13)), "batch-0")
    with pytest.raises(DataFileError, match="outputTimestampType=TIMESTAMP_MICROS"):
        commit_data_files(sql_table.catalog, sql_table.identifier, files, CommitMarker(QUERY, 0))
    assert sql_table.load().snapshots() == []
