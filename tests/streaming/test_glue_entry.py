"""The Glue streaming entry script against a thin fake `awsglue` whose Kinesis source is this package's source.

The fake stands in for Glue's runtime only: argument parsing, GlueContext, the Kinesis connector (records with
the Glue connector's column names, read here from moto by the Python source) and forEachBatch (Structured
Streaming's foreachBatch with the window size as trigger). Everything after that is the real handler.
"""

from __future__ import annotations

import ast
import json
import runpy
import sys

import boto3
import glue_fakes
import pytest

from churn_pipeline.streaming import producer, sink

from .conftest import create_stream

# Argument parsing and Job bookkeeping are faked exactly as for the batch job; only the context differs.
FAKE_AWSGLUE = {
    **glue_fakes.BASE_FILES,
    "context.py": """
        import time

        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        from churn_pipeline.streaming import kinesis_source
        from churn_pipeline.streaming.job import forward_aws_environment

        CALLS = []


        class _DataFrameFactory:
            def __init__(self, spark):
                self.spark = spark

            def from_options(self, connection_type, connection_options, transformation_ctx=None):
                CALLS.append(("from_options", connection_type, dict(connection_options)))
                forward_aws_environment(self.spark)
                kinesis_source.register(self.spark)
                stream = connection_options["streamARN"].split("/")[-1]
                frame = (
                    self.spark.readStream.format(kinesis_source.SOURCE_NAME)
                    .option("streamName", stream)
                    .option("startingPosition", connection_options["startingPosition"])
                    .load()
                )
                # Glue's connector names (no shard id); __src_timestamp from addRecordTimestamp.
                return frame.select(
                    F.col("data"), F.col("stream_name").alias("streamName"), F.col("partition_key").alias("partitionKey"),
                    F.col("sequence_number").alias("sequenceNumber"),
                    F.col("approximate_arrival_timestamp").alias("__src_timestamp"),
                )


        class GlueContext:
            def __init__(self, spark_context):
                self.spark_session = SparkSession.builder.getOrCreate()
                self.create_data_frame = _DataFrameFactory(self.spark_session)

            def forEachBatch(self, frame, batch_function, options):
                CALLS.append(("forEachBatch", dict(options)))
                query = (
                    frame.writeStream.foreachBatch(batch_function)
                    .option("checkpointLocation", options["checkpointLocation"])
                    .trigger(processingTime=options["windowSize"])
                    .start()
                )
                # Glue runs until stopped; the fake stops once a trigger finds nothing new after some rows.
                seen = 0
                while query.isActive:
                    progress = query.recentProgress
                    rows = sum(p["numInputRows"] for p in progress)
                    if rows and rows == seen and progress and progress[-1]["numInputRows"] == 0:
                        break
                    seen = rows
                    time.sleep(2)
                query.stop()
                if query.exception():
                    raise query.exception()
    """,
}


@pytest.fixture
def fake_awsglue(tmp_path, monkeypatch):
    yield from glue_fakes.installed(tmp_path, monkeypatch, FAKE_AWSGLUE)


def test_required_args_is_a_literal_list_of_the_agreed_names(repo_root):
    tree = ast.parse((repo_root / "jobs" / "glue_stream_scoring.py").read_text())
    [value] = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "REQUIRED_ARGS"]
    assert ast.literal_eval(value) == [
        "JOB_NAME", "stream_arn", "starting_position", "checkpoint_path", "output_path", "dead_letter_path",
        "model_uri", "mode", "endpoint_name", "threshold", "window_size",
    ]  # fmt: skip


@pytest.mark.usefixtures("fake_awsglue")
def test_entry_script_reads_kinesis_and_runs_the_handler_for_each_batch(
    spark,
    moto_server,
    model_dir,
    synthetic_csv,
    tmp_path,
    repo_root,
    monkeypatch,
):
    client = boto3.client("kinesis", endpoint_url=moto_server)
    stream = create_stream(client, shards=2)
    records = list(producer.csv_records(synthetic_csv, "glue-"))[:25] + [(b"{not json", "bad")]
    producer.send(client, stream, records)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    out = tmp_path / "out"
    argv = ["glue_stream_scoring.py", "--JOB_NAME", "churn-stream", "--stream_arn", arn,
            "--starting_position", "TRIM_HORIZON", "--checkpoint_path", str(out / "checkpoint"),
            "--output_path", str(out / "scored"), "--dead_letter_path", str(out / "dead-letter"),
            "--model_uri", str(model_dir), "--mode", "embedded", "--endpoint_name", "none", "--threshold", "0.5",
            "--window_size", "1", "--TempDir", "s3://ignored/"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(repo_root / "jobs" / "glue_stream_scoring.py"), run_name="__main__")

    from awsglue.context import CALLS
    from awsglue.job import EVENTS

    assert [e[0] for e in EVENTS] == ["init", "commit"] and EVENTS[0][1] == "churn-stream"
    assert CALLS[0] == (
        "from_options",
        "kinesis",
        {
            "streamARN": arn,
            "startingPosition": "TRIM_HORIZON",
            "inferSchema": "false",
            "addRecordTimestamp": "true",
        },
    )
    assert CALLS[1] == (
        "forEachBatch",
        {"windowSize": "1 seconds", "checkpointLocation": str(out / "checkpoint")},
    )
    scored = sink.read_committed(str(out / "scored"))
    assert sorted(scored["record_id"]) == sorted(json.loads(d)["record_id"] for d, _ in records[:25])
    assert scored["churn_probability"].between(0, 1).all() and scored["kinesis_sequence_number"].notna().all()
    dead = sink.read_committed(str(out / "dead-letter"))
    assert [bytes(p) for p in dead["raw_payload"]] == [b"{not json"] and list(dead["error_code"]) == [
        "NOT_JSON"
    ]
