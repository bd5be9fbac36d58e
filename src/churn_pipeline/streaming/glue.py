"""What the Glue streaming entry script needs from the package: its arguments, source options, column mapping,
the handler, and forEachBatch's options.

Glue's Kinesis connector (not the Python source of this package, which needs Spark 4's Python data source
API) reads the stream on Glue; its records are renamed here to the handler's columns, so the same
`BatchHandler` runs on Glue and everywhere else. Every argument is read as Terraform deploys it
(terraform/modules/glue) and checked with the same rules as Terraform's validations (contract.settings).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from churn_pipeline.contract import settings
from churn_pipeline.scoring import config as scoring_config
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming.cloudwatch import CloudWatchBatchMetrics

# The job's own arguments (besides JOB_NAME, which Glue gives every job), as Terraform deploys them.
JOB_ARGUMENTS = (
    "stream_arn",
    settings.STARTING_POSITION.argument,
    "checkpoint_path",
    "output_path",
    "dead_letter_path",
    *scoring_config.GLUE_ARGUMENTS,
    settings.WINDOW_SIZE.argument,
)

# Glue's Kinesis connector without a classification hands over the raw record; these are its column names
# (those of the Kinesis connector for Spark it derives from). __src_timestamp is added by addRecordTimestamp.
GLUE_COLUMNS = {
    "data": h.DATA,
    "partitionKey": h.PARTITION_KEY,
    "sequenceNumber": h.SEQUENCE_NUMBER,
    "approximateArrivalTimestamp": h.ARRIVAL,
    "shardId": h.SHARD_ID,
}
# The connector's startingPosition values are "trim_horizon", "latest", "earliest" or a timestamp
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-connect-kinesis-home.html
_CONNECTOR_POSITIONS = {"TRIM_HORIZON": "trim_horizon", "LATEST": "latest"}


def stream_region(stream_arn: str) -> str:
    """arn:aws:kinesis:<region>:<account>:stream/<name> -> region."""
    parts = stream_arn.split(":")
    if len(parts) != 6 or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
        raise settings.SettingError(f"--stream_arn must be a Kinesis stream ARN, got {stream_arn!r}")
    return parts[3]


def job_region(args: Mapping[str, str]) -> str:
    """The job's region (--aws_region), which must be its stream's: every client on the workers is made in it."""
    region = settings.check_aws_region(args["aws_region"])
    if stream_region(args["stream_arn"]) != region:
        raise settings.SettingError(
            f"--stream_arn {args['stream_arn']!r} is not in the job's region --aws_region {region!r}"
        )
    return region


def kinesis_connection_options(args: Mapping[str, str]) -> dict[str, str]:
    """connection_options of glue_context.create_data_frame.from_options(connection_type="kinesis")."""
    position = settings.check_starting_position(args[settings.STARTING_POSITION.argument])
    return {
        "streamARN": args["stream_arn"],
        # A timestamp (yyyy-mm-ddTHH:MM:SSZ) is passed as is: Glue 4.0 and later read from there.
        "startingPosition": _CONNECTOR_POSITIONS.get(position, position),
        "inferSchema": "false",
        "addRecordTimestamp": "true",
    }


def to_handler_columns(frame: DataFrame) -> DataFrame:
    """Rename the Glue connector's columns to the handler's; a column Glue does not give becomes null."""
    present = set(frame.columns)
    arrival = "approximateArrivalTimestamp" if "approximateArrivalTimestamp" in present else "__src_timestamp"
    columns = []
    for glue_name, name in GLUE_COLUMNS.items():
        source = arrival if name == h.ARRIVAL else glue_name
        if source in present:
            column = F.col(source)
            if name == h.DATA:
                column = column.cast("binary")
            columns.append(column.alias(name))
        else:
            columns.append(F.lit(None).cast("string").alias(name))
    return frame.select(*columns)


def handler_from_args(args: Mapping[str, str]) -> h.BatchHandler:
    region = job_region(args)
    scoring = scoring_config.from_glue_args(
        args,
        # A micro-batch is bounded by the window and the stream's rate: memory is fast and cannot overflow.
        storage_level="MEMORY_AND_DISK",
    )
    return h.BatchHandler(
        scoring,
        args["output_path"],
        args["dead_letter_path"],
        query_id=h.CheckpointQueryId(args["checkpoint_path"], region),
        on_batch=CloudWatchBatchMetrics(
            args["JOB_NAME"], region=region
        ),  # the dead-letter alarm watches these
    )


def for_each_batch_options(args: Mapping[str, str]) -> dict[str, str]:
    """options of glue_context.forEachBatch: Glue passes windowSize to Spark's processingTime trigger."""
    return {
        "windowSize": f"{settings.window_seconds(args[settings.WINDOW_SIZE.argument])} seconds",
        "checkpointLocation": args["checkpoint_path"],
    }
