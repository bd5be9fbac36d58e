"""The streaming scoring job on any Spark 4: Kinesis (Python source) -> foreachBatch handler -> Iceberg tables.

    python -m churn_pipeline.streaming.job --stream churn --catalog sql --warehouse DIR --database DB \
        --checkpoint CKPT [--drift] \
        [--mode embedded|endpoint] [--model-dir DIR] [--endpoint-name NAME] [--trigger-seconds 2] \
        [--starting-position TRIM_HORIZON|LATEST|AT_TIMESTAMP] [--starting-timestamp T] [--stop-when-idle S]

A restart with the same checkpoint resumes where the last run stopped; SIGTERM (or SIGINT) lets the batch in
progress finish and commit, then stops. Exit code 2 when the stream or the endpoint is not there at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyspark.errors import StreamingQueryException

from churn_pipeline.contract import settings
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring import endpoint_client
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.spark_session import local_session
from churn_pipeline.streaming import kinesis_source as ks
from churn_pipeline.streaming import records
from churn_pipeline.streaming.cloudwatch import CloudWatchBatchMetrics
from churn_pipeline.streaming.handler import (
    BatchHandler,
    BatchStats,
    CheckpointQueryId,
    StreamContract,
    StreamTables,
)
from churn_pipeline.tables import CatalogSettings

log = logging.getLogger("churn_pipeline.streaming")


class StartupError(RuntimeError):
    """A dependency of the job is missing at start (stream, endpoint, model): exit 2 with this message."""


@dataclass(frozen=True)
class StreamJobConfig:
    stream_name: str
    tables: StreamTables  # the catalog, database, and whether the drift table is written
    checkpoint_path: str
    model_uri: str
    mode: str = "embedded"
    endpoint_name: str | None = None
    threshold: float = settings.DEFAULT_THRESHOLD
    trigger_seconds: float = 2.0  # the tutorial's Glue window was 100 s; any value works
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: str | None = None
    max_records_per_shard: int = 10_000
    max_payload_bytes: int = records.DEFAULT_MAX_PAYLOAD_BYTES
    stop_when_idle: float | None = None  # stop after this many seconds without a record (tests, backfills)
    region: str | None = None
    metrics_job_name: str | None = None  # publish per-batch CloudWatch metrics under this JobName

    def scoring(self) -> ScoringConfig:
        return ScoringConfig(
            mode=self.mode,
            model_uri=self.model_uri,
            endpoint_name=self.endpoint_name,
            threshold=self.threshold,
            region=self.region,
            # A micro-batch is bounded by maxRecordsPerShard x shards: memory is fast and cannot overflow.
            storage_level="MEMORY_AND_DISK",
        )

    def source_options(self) -> dict[str, str]:
        options = {
            "streamName": self.stream_name,
            "startingPosition": self.starting_position,
            "maxRecordsPerShard": str(self.max_records_per_shard),
        }
        if self.starting_timestamp is not None:
            options["startingTimestamp"] = self.starting_timestamp
        if self.region:
            options["region"] = self.region
        return options


def check_dependencies(config: StreamJobConfig) -> None:
    """Fail fast with a clear message: stream absent, model absent, endpoint unreachable."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = ks.kinesis_client(config.region)
    try:
        summary = client.describe_stream_summary(StreamName=config.stream_name)["StreamDescriptionSummary"]
    except client.exceptions.ResourceNotFoundException as exc:
        raise StartupError(f"Kinesis stream {config.stream_name!r} does not exist") from exc
    except (BotoCoreError, ClientError) as exc:
        where = os.environ.get("AWS_ENDPOINT_URL", "the AWS default endpoint")
        raise StartupError(
            f"cannot reach Kinesis at {where} to check stream {config.stream_name!r}: {exc}"
        ) from exc
    log.info(
        "stream %s: %s, %d open shard(s)",
        config.stream_name,
        summary["StreamStatus"],
        summary["OpenShardCount"],
    )
    try:
        model_dir = ModelDir.fetch(config.model_uri, config.region)
        n_features = model_dir.spec().n_features
        # The records' fields come from the model's dataset description: a broken one stops the job here.
        StreamContract.for_description(model_dir.description())
    except (OSError, ContractError, BotoCoreError, ClientError) as exc:
        raise StartupError(f"model {config.model_uri!r} cannot be loaded: {exc}") from exc
    if config.mode == settings.ENDPOINT_SCORING_MODE:
        assert config.endpoint_name, "the config refuses endpoint mode without an endpoint name"
        try:
            endpoint_client.probe(config.endpoint_name, config.region, n_features)
        except (BotoCoreError, ClientError) as exc:
            where = os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "the SageMaker runtime")
            raise StartupError(
                f"endpoint {config.endpoint_name!r} at {where} does not answer: {exc}"
            ) from exc


def local_spark():
    return local_session("churn-stream-scoring", shuffle_partitions=4)


# What the Python processes Spark starts (source, UDF workers) need to reach the same AWS endpoints as this one.
FORWARDED_ENV_PREFIXES = ("AWS_",)


def forward_aws_environment(spark) -> dict[str, str]:
    """Copy this process's AWS_* settings into the environment Spark gives its Python workers.

    Spark starts those workers with the environment the JVM was launched with, plus `sc.environment`; a
    variable set after the session was created (an endpoint URL, a region) would not reach them otherwise.
    """
    forwarded = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    spark.sparkContext.environment.update(forwarded)
    return forwarded


class GracefulStop:
    """Batches run under a lock; a stop request waits for the batch in progress, then stops the query."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requested = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self.requested.is_set():
            self.reason = reason
            log.info("stop requested (%s): finishing the batch in progress", reason)
            self.requested.set()


class StopRequested(RuntimeError):
    """Raised in a batch that starts after a stop request: it is not committed and re-runs on restart."""


def run(config: StreamJobConfig, spark=None, install_signal_handlers: bool = True) -> list[BatchStats]:
    """Run the streaming query until stopped (SIGTERM/SIGINT, stop_when_idle, or failure); returns batch stats."""
    check_dependencies(config)
    spark = spark or local_spark()
    forward_aws_environment(spark)
    ks.register(spark)
    stop = GracefulStop()
    history: list[BatchStats] = []
    # Idle time counts from the query's first trigger and from the end of each batch, never during one.
    idle_since: list[float | None] = [None]

    publish = (
        CloudWatchBatchMetrics(config.metrics_job_name, region=config.region)
        if config.metrics_job_name
        else None
    )

    def remember(stats: BatchStats) -> None:
        history.append(stats)
        if publish is not None:
            publish(stats)

    handler = BatchHandler(
        config.scoring(),
        config.tables,
        query_id=CheckpointQueryId(config.checkpoint_path, config.region),
        max_payload_bytes=config.max_payload_bytes,
        on_batch=remember,
    )

    def guarded(batch_df, batch_id: int) -> None:
        with stop.lock:
            if stop.requested.is_set():
                raise StopRequested(f"batch {batch_id} not started: {stop.reason}")
            try:
                handler(batch_df, batch_id)
            finally:
                idle_since[0] = time.monotonic()

    if install_signal_handlers and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda s, _f: stop.request(signal.Signals(s).name))

    stream = spark.readStream.format(ks.SOURCE_NAME).options(**config.source_options()).load()
    query = (
        stream.writeStream.foreachBatch(guarded)
        .option("checkpointLocation", config.checkpoint_path)
        .trigger(processingTime=f"{config.trigger_seconds} seconds")
        .queryName(f"churn-stream-{config.stream_name}")
        .start()
    )
    log.info(
        "streaming query %s started: stream=%s checkpoint=%s",
        query.id,
        config.stream_name,
        config.checkpoint_path,
    )
    try:
        while query.isActive and not stop.requested.is_set():
            if idle_since[0] is None and query.lastProgress is not None:
                idle_since[0] = time.monotonic()
            idle = (
                config.stop_when_idle is not None
                and idle_since[0] is not None
                and not stop.lock.locked()
                and time.monotonic() - idle_since[0] > config.stop_when_idle
            )
            if idle:
                stop.request(f"no record for {config.stop_when_idle:g}s")
                break
            try:
                query.awaitTermination(0.2)
            except StreamingQueryException:
                # A SIGTERM between batches makes the next batch raise StopRequested, which ends the query
                # and re-raises here; whether that is a clean stop is judged below from query.exception().
                break
    finally:
        with stop.lock:  # the batch in progress, if any, completes and commits first
            stop.request(stop.reason or "job ending")
        # Outside the lock: a batch that starts now sees the request and raises before writing anything.
        query.stop()
    error = query.exception()
    if error is not None and not isinstance(error, StopRequested) and "StopRequested" not in str(error):
        raise RuntimeError(f"streaming query failed: {error}")
    log.info("stopped after %d batch(es): %s", len(history), stop.reason)
    return history


def parse_args(argv: list[str] | None) -> StreamJobConfig:
    parser = argparse.ArgumentParser(description="Score a Kinesis stream of churn records with Spark.")
    parser.add_argument("--stream", required=True, help="Kinesis stream name")
    parser.add_argument(
        "--catalog",
        choices=("glue", "sql"),
        default="sql",
        help="Iceberg catalog: the Glue Data Catalog, or pyiceberg's SQL catalog in the warehouse",
    )
    parser.add_argument(
        "--warehouse",
        required=True,
        help="where the tables' files go: s3://bucket/prefix (glue) or a local directory (sql)",
    )
    parser.add_argument("--database", required=True, help="the catalog database of the scored, dead-letter, "
                        "drift tables (contract.outputs STREAM_* names)")  # fmt: skip
    parser.add_argument("--checkpoint", required=True, help="Spark checkpoint location (local dir or s3://)")
    parser.add_argument("--mode", choices=settings.SCORING_MODES, default="embedded")
    parser.add_argument("--model-dir", "--model-uri", dest="model_uri", default=".work/model")
    parser.add_argument("--endpoint-name", default=None)
    parser.add_argument("--threshold", type=float, default=settings.DEFAULT_THRESHOLD)
    parser.add_argument("--trigger-seconds", type=float, default=2.0)
    parser.add_argument("--starting-position", choices=ks.STARTING_POSITIONS, default="TRIM_HORIZON")
    parser.add_argument(
        "--starting-timestamp", default=None, help="epoch seconds or ISO-8601, for AT_TIMESTAMP"
    )
    parser.add_argument("--max-records-per-shard", type=int, default=10_000)
    parser.add_argument(
        "--stop-when-idle", type=float, default=None, help="stop after S seconds without records"
    )
    parser.add_argument(
        "--metrics-job-name", default=None, help="publish per-batch CloudWatch metrics with this JobName"
    )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="write the drift table: PSI per batch against the training baseline",
    )
    parser.add_argument("--region", default=None, help="AWS region (the glue catalog's; default: boto3's)")
    args = parser.parse_args(argv)
    if args.mode == settings.ENDPOINT_SCORING_MODE and not args.endpoint_name:
        parser.error("--mode endpoint needs --endpoint-name")
    return StreamJobConfig(
        stream_name=args.stream,
        tables=StreamTables(
            CatalogSettings(args.catalog, args.warehouse, args.region), args.database, args.drift
        ),
        checkpoint_path=args.checkpoint,
        model_uri=args.model_uri,
        mode=args.mode,
        endpoint_name=args.endpoint_name,
        threshold=args.threshold,
        trigger_seconds=args.trigger_seconds,
        starting_position=args.starting_position,
        starting_timestamp=args.starting_timestamp,
        max_records_per_shard=args.max_records_per_shard,
        stop_when_idle=args.stop_when_idle,
        metrics_job_name=args.metrics_job_name,
        region=args.region,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    config = parse_args(argv)
    if not config.checkpoint_path.startswith(("s3://", "s3a://")):
        Path(config.checkpoint_path).mkdir(parents=True, exist_ok=True)
    try:
        run(config)
    except (StartupError, ks.KinesisSourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
