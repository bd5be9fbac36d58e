"""The batch job's data files and its commit: files its Spark tasks write under each table's partition folder,
in a form an Iceberg commit takes as it is, committed one table at a time, scored last; a run that fails before
a commit changes nothing a reader sees, and its re-run leaves each table as one run would."""

from __future__ import annotations

import uuid

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_pipeline import tables
from churn_pipeline.batch import files, run, table_layout
from churn_pipeline.contract import outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.tables import commit as table_commit

from .helpers import HEADER, write_lines
from .test_batch_job import CORPUS, config, job_tables


def committed_files(tmp_path, dataset) -> list[str]:
    settings = job_tables(tmp_path)
    return tables.data_file_paths(
        tables.catalog_from_settings(settings.catalog), settings.identifier(dataset)
    )


def test_a_run_commits_its_files_with_micros_statistics_and_its_marker(spark, model_dir, tmp_path):
    source = write_lines(tmp_path / "in" / "corpus.csv", CORPUS)
    summary = run(spark, config(tmp_path, source, model_dir, batch_id="corpus"))
    dataset = outputs.BATCH_PREDICTIONS.for_data(ModelDir(model_dir).description())
    scored = committed_files(tmp_path, dataset)
    location = tables.catalog_from_settings(job_tables(tmp_path).catalog).load_table(
        "batch.batch_predictions"
    )
    # Under the table's data path, in the run's partition folder, as Iceberg's own writers lay them out.
    assert scored and all(
        f.startswith(f"{location.location_provider().data_path}/batch_id=corpus/") for f in scored
    )
    for uri in scored:
        metadata = pq.read_metadata(uri.removeprefix("file://"))
        assert metadata.schema.to_arrow_schema() == outputs.arrow_schema(dataset)
        assert metadata.schema.to_arrow_schema().field(outputs.SCORED_AT).type == pa.timestamp("us", tz="UTC")
        for group in range(metadata.num_row_groups):
            chunks = [metadata.row_group(group).column(c) for c in range(metadata.num_columns)]
            assert all(chunk.is_stats_set for chunk in chunks), uri
    # One snapshot adds them, its marker the run's; the table holds exactly the rows the run scored.
    snapshot = location.current_snapshot()
    marker = snapshot.summary.additional_properties
    assert marker[table_commit.WRITER_PROPERTY].startswith("corpus/")
    assert int(snapshot.summary.additional_properties["added-records"]) == summary.scored
    assert summary.tables == {
        "rejects": "batch.batch_rejects",
        "failed": "batch.batch_failed",
        "scored": "batch.batch_predictions",
    }


def test_a_run_that_fails_before_committing_changes_nothing_and_its_rerun_is_whole(
    spark, model_dir, tmp_path, monkeypatch
):
    source = write_lines(tmp_path / "in" / "day.csv", CORPUS)
    run(spark, config(tmp_path, source, model_dir, batch_id="day"))
    reader = job_tables(tmp_path)
    before = {d.table: reader.read(d) for d in (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS)}

    real_commit = tables.commit_data_files

    def fail_on_scored(catalog, identifier, *args, **kwargs):
        if identifier.endswith(outputs.BATCH_PREDICTIONS.table):
            raise OSError("connection reset by peer")
        return real_commit(catalog, identifier, *args, **kwargs)

    monkeypatch.setattr(table_layout, "commit_data_files", fail_on_scored)
    write_lines(source, [HEADER, CORPUS[1]])  # corrected: one good row, no reject
    with pytest.raises(OSError, match="connection reset"):
        run(spark, config(tmp_path, source, model_dir, batch_id="day"))
    # The scored table is as before: the run's scored files are in no snapshot. (Its rejects commit, which comes
    # first, landed: a table is atomic, a run across tables is not; the re-run settles it.)
    assert reader.read(outputs.BATCH_PREDICTIONS).equals(before["batch_predictions"])
    assert reader.read(outputs.BATCH_REJECTS).empty

    monkeypatch.setattr(table_layout, "commit_data_files", real_commit)
    again = run(spark, config(tmp_path, source, model_dir, batch_id="day"))
    assert (again.scored, again.rejected) == (1, 0)
    assert list(reader.read(outputs.BATCH_PREDICTIONS).Phone) == ["100-0001"]
    assert reader.read(outputs.BATCH_REJECTS).empty


def test_a_file_is_written_whole_to_s3(moto_server):
    bucket = f"churn-batch-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    table = pa.table({"n": pa.array([1, 2, 3], pa.int32())})
    folder = f"s3://{bucket}/tables/batch/t/data/batch_id=day"
    written = files.write_file(folder, "part-00000-t1", table, "us-east-1")
    assert written == f"{folder}/part-00000-t1.parquet"
    body = s3.get_object(Bucket=bucket, Key="tables/batch/t/data/batch_id=day/part-00000-t1.parquet")["Body"]
    assert pq.read_table(pa.BufferReader(body.read())) == table
