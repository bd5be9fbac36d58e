"""The batch job's data files: written by its Spark tasks, published into the run's partition by one call, and
such that an Iceberg commit takes them as they are (the next step of issue 30 commits them instead)."""

from __future__ import annotations

import uuid

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_pipeline.batch import files, job, run
from churn_pipeline.contract import outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.tables import (
    CatalogSettings,
    CommitMarker,
    catalog_from_settings,
    commit_data_files,
    ensure_table,
)

from .helpers import HEADER, write_lines
from .test_batch_job import CORPUS, config


def parquet_files(dataset) -> list:
    return sorted(dataset.rglob("*.parquet"))


def test_a_run_s_files_carry_micros_and_statistics_and_commit_to_an_iceberg_table(spark, model_dir, tmp_path):
    source = write_lines(tmp_path / "in" / "corpus.csv", CORPUS)
    summary = run(spark, config(tmp_path, source, model_dir, batch_id="corpus"))
    out = tmp_path / "out"
    assert not list(out.rglob(files.STAGING))  # nothing left beside the datasets
    scored = parquet_files(out / "scored")
    assert scored and {f.parent.name for f in scored} == {"batch_id=corpus"}  # one partition per file
    dataset = outputs.BATCH_PREDICTIONS.for_data(ModelDir(model_dir).description())
    for path in scored:
        metadata = pq.read_metadata(path)
        assert metadata.schema.to_arrow_schema() == outputs.arrow_schema(dataset)
        assert pq.read_schema(path).field(outputs.SCORED_AT).type == pa.timestamp("us", tz="UTC")
        for group in range(metadata.num_row_groups):
            chunks = [metadata.row_group(group).column(c) for c in range(metadata.num_columns)]
            assert all(chunk.is_stats_set for chunk in chunks), path

    # The files as they are, committed to an Iceberg table (pyiceberg add_files) by the run's id: the table
    # holds the rows a plain read of the partition does.
    catalog = catalog_from_settings(CatalogSettings("sql", str(tmp_path / "warehouse")))
    ensure_table(catalog, "batch.scored", outputs.arrow_schema(dataset))
    uris = [f"file://{p}" for p in scored]  # (as_uri() escapes the "=", which pyiceberg then looks for)
    commit_data_files(catalog, "batch.scored", uris, CommitMarker("corpus", 0))
    committed = catalog.load_table("batch.scored").scan().to_arrow().sort_by("Phone")
    plain = duckdb.sql(
        f"select * from read_parquet('{out}/scored/*/*.parquet', hive_partitioning=false) order by Phone"
    ).fetch_arrow_table()
    assert committed.num_rows == summary.scored == plain.num_rows
    assert committed.to_pylist() == plain.to_pylist()


def test_a_run_that_fails_before_publishing_leaves_the_earlier_partition_and_no_staging(
    spark, model_dir, tmp_path, monkeypatch
):
    source = write_lines(tmp_path / "in" / "day.csv", CORPUS)
    run(spark, config(tmp_path, source, model_dir, batch_id="day"))
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "out").rglob("*.parquet")}
    assert len({p.parts[1] for p in before}) == 2  # scored and rejects

    def refuse(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(job.files, "publish", refuse)
    write_lines(source, [HEADER, CORPUS[1]])
    with pytest.raises(OSError, match="no space left"):
        run(spark, config(tmp_path, source, model_dir, batch_id="day"))
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "out").rglob("*.parquet")}
    assert after == before
    assert not list((tmp_path / "out").rglob(files.STAGING))


def test_publish_and_discard_on_s3(moto_server, tmp_path):
    bucket = f"churn-batch-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    dataset = f"s3://{bucket}/batch/predictions"
    table = pa.table({"n": pa.array([1, 2, 3], pa.int32())})
    s3.put_object(Bucket=bucket, Key="batch/predictions/batch_id=day/part-old.parquet", Body=b"old")
    s3.put_object(Bucket=bucket, Key="batch/predictions/batch_id=other/part-kept.parquet", Body=b"kept")
    staging = files.staging_location(dataset, "day", "t1")
    written = [files.write_file(staging, f"part-{i:05d}-t1", table, "parquet") for i in range(2)]
    files.write_file(staging, "part-00009-t1", table, "parquet")  # a file no task reported: not published

    published = files.publish({dataset: written}, "day")

    assert published == {dataset: [f"{dataset}/batch_id=day/part-{i:05d}-t1.parquet" for i in range(2)]}
    files.discard(staging)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        "batch/predictions/batch_id=day/part-00000-t1.parquet",
        "batch/predictions/batch_id=day/part-00001-t1.parquet",
        "batch/predictions/batch_id=other/part-kept.parquet",
    ]
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert pq.read_table(pa.BufferReader(body)) == table
    # A run with nothing for the dataset: its partition goes, the others stay.
    assert files.publish({dataset: []}, "day") == {dataset: []}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["batch/predictions/batch_id=other/part-kept.parquet"]
