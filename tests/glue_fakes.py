"""A thin fake of the `awsglue` library, which exists only inside AWS Glue: the few calls the entry scripts make.

Each piece behaves as AWS's own awsglue library does (awslabs/aws-glue-libs, branch glue-5.1):
- `getResolvedOptions` (awsglue/utils.py): argparse over sys.argv[1:], every asked name a required
  `--name value`, unknown arguments (Glue's own, such as --TempDir or --job-language) ignored;
- `GlueContext.forEachBatch` (awsglue/context.py): requires windowSize and checkpointLocation, hands
  windowSize to Spark's processingTime trigger, persists each micro-batch and calls the batch function only
  for a non-empty one;
- `create_data_frame.from_options(connection_type="kinesis")`: Glue's Kinesis connector, played by this
  package's Python Kinesis source over moto, with the connector's column names (STREAM_FILES), or, for the Glue
  runtime matrix on any Spark, by a boto3 read of the stream into a file stream, in the raw or the parsed
  form the options ask for (RUNTIME_STREAM_FILES).
What Glue gives for free and local Spark cannot do is the S3 file system of the checkpoint (EMRFS): the fake
keeps Spark's checkpoint in a local directory and mirrors it, file for file, to the deployed s3:// location
before every micro-batch and at the end, so the job reads its checkpoint's `metadata` where Glue would put it.
Installed into a temporary directory on sys.path for one test, removed afterwards, or written for a process
of its own (`write_fake`).
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

BASE_FILES = {
    "__init__.py": "",
    "utils.py": """
        import argparse


        class GlueArgumentError(Exception):
            pass


        class _Parser(argparse.ArgumentParser):
            def error(self, message):
                raise GlueArgumentError(message)


        def getResolvedOptions(argv, names):
            parser = _Parser()
            for name in names:
                parser.add_argument("--" + name, required=True)
            parsed, _glue_own = parser.parse_known_args(argv[1:])
            return vars(parsed)
    """,
    "context.py": """
        from pyspark.sql import SparkSession

        class GlueContext:
            def __init__(self, spark_context):
                self.spark_session = SparkSession.builder.getOrCreate()
    """,
    "job.py": """
        EVENTS = []

        class Job:
            def __init__(self, glue_context):
                self.glue_context = glue_context

            def init(self, name, args):
                EVENTS.append(("init", name, dict(args)))

            def commit(self):
                EVENTS.append(("commit",))
    """,
}

# The streaming job's GlueContext: Kinesis source and forEachBatch. FAKE_GLUE_CHECKPOINTS names the local
# directory that stands in for S3 under each checkpoint location.
_STREAM_IMPORTS = """
    import hashlib
    import os
    import time
    from pathlib import Path

    import boto3
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    CALLS = []
    # Glue's connector positions -> Kinesis shard iterator types
    POSITIONS = {"trim_horizon": "TRIM_HORIZON", "latest": "LATEST", "earliest": "TRIM_HORIZON"}
"""

# The connector played by this package's Python Kinesis source (Spark 4's Python data source API) over moto.
_PYTHON_SOURCE_CONNECTOR = """
    from churn_pipeline.streaming import kinesis_source
    from churn_pipeline.streaming.job import forward_aws_environment


    class _DataFrameFactory:
        def __init__(self, spark):
            self.spark = spark

        def from_options(self, connection_type, connection_options, transformation_ctx=None):
            CALLS.append(("from_options", connection_type, dict(connection_options)))
            forward_aws_environment(self.spark)
            kinesis_source.register(self.spark)
            _arn, _aws, _service, region, _account, resource = connection_options["streamARN"].split(":")
            frame = (
                self.spark.readStream.format(kinesis_source.SOURCE_NAME)
                .option("streamName", resource.split("/", 1)[1])
                .option("region", region)
                .option("startingPosition", POSITIONS[connection_options["startingPosition"]])
                .load()
            )
            # Glue's connector names (no shard id); __src_timestamp from addRecordTimestamp.
            return frame.select(
                F.col("data"), F.col("stream_name").alias("streamName"),
                F.col("partition_key").alias("partitionKey"),
                F.col("sequence_number").alias("sequenceNumber"),
                F.col("approximate_arrival_timestamp").alias("__src_timestamp"),
            )
"""

# The connector for any Spark (the Glue runtime matrix runs Spark 3.5, which has no Python data sources): the
# records the stream holds now, read with boto3 on the driver, written as Parquet in the connector's raw
# columns to a directory that a file stream then reads as its first micro-batch. With classification=json it
# gives the parsed form as the job asks for it: the payload parsed by Spark's JSON reader against the job's DDL
# schema, permissive, text that does not fit in _corrupt_record (what AWS documents of the options:
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-connect-kinesis-home.html).
_BOTO3_CONNECTOR = """
    RAW_DDL = ("data BINARY, streamName STRING, partitionKey STRING, sequenceNumber STRING, "
               "approximateArrivalTimestamp TIMESTAMP")


    def _stream_records(arn, position):
        region, name = arn.split(":")[3], arn.split("/", 1)[1]
        kinesis = boto3.client("kinesis", region_name=region)
        rows = []
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType=POSITIONS[position]
            )["ShardIterator"]
            while iterator:
                got = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                rows += [(r["Data"], name, r["PartitionKey"], r["SequenceNumber"], r["ApproximateArrivalTimestamp"])
                         for r in got["Records"]]
                if not got["Records"]:
                    break
                iterator = got.get("NextShardIterator")
        return rows


    class _DataFrameFactory:
        def __init__(self, spark):
            self.spark = spark

        def from_options(self, connection_type, connection_options, transformation_ctx=None):
            CALLS.append(("from_options", connection_type, dict(connection_options)))
            if connection_type != "kinesis":
                raise ValueError(f"the fake knows the kinesis connection type only, not {connection_type!r}")
            rows = _stream_records(connection_options["streamARN"], connection_options["startingPosition"])
            landing = Path(os.environ["FAKE_GLUE_CHECKPOINTS"]).parent / "kinesis-records"
            self.spark.createDataFrame(rows, RAW_DDL).write.mode("overwrite").parquet(str(landing))
            frame = self.spark.readStream.schema(RAW_DDL).parquet(str(landing))
            timestamp = []
            if connection_options.get("addRecordTimestamp") == "true":
                timestamp = [F.col("approximateArrivalTimestamp").alias("__src_timestamp")]
            if connection_options.get("classification") != "json":
                return frame.select("*", *timestamp)
            parsed = F.from_json(
                F.col("data").cast("string"), connection_options["schema"],
                {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"},
            )
            metadata = ["__src_timestamp"] if timestamp else []
            return frame.select(parsed.alias("record"), *timestamp).select("record.*", *metadata)
"""

_GLUE_CONTEXT = """
    class _Checkpoint:
        # Spark's checkpoint in a local directory, mirrored file for file to its s3:// location (EMRFS's part).
        def __init__(self, location):
            self.location = location
            root = Path(os.environ["FAKE_GLUE_CHECKPOINTS"])
            self.local = root / hashlib.sha1(location.encode()).hexdigest()[:16]
            self.bucket, _, prefix = location.split("://", 1)[1].partition("/")
            self.prefix = prefix.strip("/")
            self.s3 = boto3.client("s3")

        def mirror(self):
            for path in sorted(p for p in self.local.rglob("*") if p.is_file() and not p.name.endswith(".crc")):
                key = f"{self.prefix}/{path.relative_to(self.local).as_posix()}"
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes())


    class GlueContext:
        def __init__(self, spark_context):
            self.spark_session = SparkSession.builder.getOrCreate()
            self.create_data_frame = _DataFrameFactory(self.spark_session)

        def forEachBatch(self, frame, batch_function, options):
            if "windowSize" not in options:
                raise Exception("Missing windowSize argument")
            if "checkpointLocation" not in options:
                raise Exception("Missing checkpointLocation argument")
            CALLS.append(("forEachBatch", dict(options)))
            checkpoint = _Checkpoint(options["checkpointLocation"])

            def persisted(data_frame, batch_id):
                checkpoint.mirror()
                data_frame.persist(StorageLevel.MEMORY_AND_DISK)
                if data_frame.count() > 0:
                    CALLS.append(("batch", batch_id))
                    batch_function(data_frame, batch_id)
                data_frame.unpersist()

            query = (
                frame.writeStream.foreachBatch(persisted)
                .trigger(processingTime=options["windowSize"])
                .option("checkpointLocation", str(checkpoint.local))
                .start()
            )
            # Glue runs until stopped; the fake stops once a micro-batch with records is done and the query
            # waits for its next trigger (with the deployed 100-second window, waiting for an empty trigger
            # would cost the test a window per run).
            while query.isActive:
                rows = sum(p["numInputRows"] for p in query.recentProgress)
                if rows and not query.status["isTriggerActive"]:
                    break
                time.sleep(1)
            query.stop()
            checkpoint.mirror()
            if query.exception():
                raise query.exception()
"""

STREAM_FILES = {**BASE_FILES, "context.py": _STREAM_IMPORTS + _PYTHON_SOURCE_CONNECTOR + _GLUE_CONTEXT}
# The same GlueContext with the boto3 connector: what the Glue runtime matrix runs (tests/glue_runtimes.py).
RUNTIME_STREAM_FILES = {**BASE_FILES, "context.py": _STREAM_IMPORTS + _BOTO3_CONNECTOR + _GLUE_CONTEXT}


def write_fake(directory: Path, files: Mapping[str, str]) -> Path:
    """The fake package under directory/awsglue, for a process of its own (PYTHONPATH=directory)."""
    package = directory / "awsglue"
    package.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (package / name).write_text(textwrap.dedent(source))
    return directory


def installed(directory: Path, monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]) -> Iterator[None]:
    """Write the fake package under `directory`, put it on sys.path, and forget its modules afterwards."""
    monkeypatch.syspath_prepend(str(write_fake(directory / "fake", files)))
    monkeypatch.setenv("FAKE_GLUE_CHECKPOINTS", str(directory / "checkpoints"))
    yield
    for module in [m for m in sys.modules if m == "awsglue" or m.startswith("awsglue.")]:
        del sys.modules[module]


@contextlib.contextmanager
def fake_awsglue(
    directory: Path, monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]
) -> Iterator[None]:
    """`installed` for a with-block: each block imports a fresh fake (its CALLS and EVENTS start empty)."""
    yield from installed(directory, monkeypatch, files)


def glue_argv(script: str, job_name: str, default_arguments: Mapping[str, str]) -> list[str]:
    """sys.argv of a Glue job run: the script, then every DefaultArguments entry as `--name value` (Glue's own
    ones too, which getResolvedOptions ignores), then --JOB_NAME, which Glue adds for every run."""
    argv = [script]
    for name, value in default_arguments.items():
        argv += [name, value]
    return [*argv, "--JOB_NAME", job_name]
