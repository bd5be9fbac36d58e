"""What the Glue streaming entry script needs from the package: its arguments, source options, column mapping,
the handler, and forEachBatch's options.

Glue's Kinesis connector (not the Python source of this package, which needs Spark 4's Python data source
API) reads the stream on Glue; its records are renamed here to the handler's columns, so the same
`BatchHandler` runs on Glue and everywhere else. Every argument is read as Terraform deploys it
(terraform/modules/glue) and checked with the same rules as Terraform's validations (contract.settings).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import operator
import platform
import sys
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline import tables
from churn_pipeline.contract import codes, settings
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.scoring import config as scoring_config
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming import records
from churn_pipeline.streaming.cloudwatch import CloudWatchBatchMetrics

log = logging.getLogger("churn_pipeline.streaming")

# The job's own arguments (besides JOB_NAME, which Glue gives every job), as Terraform deploys them.
JOB_ARGUMENTS = (
    "stream_arn",
    settings.STARTING_POSITION.argument,
    "checkpoint_path",
    # The Iceberg tables (scored, dead letter, drift: contract.outputs STREAM_* names) in this Glue database,
    # their files under this s3:// warehouse (<warehouse>/<database>/<table>, tables.CatalogSettings).
    "table_warehouse",
    "table_database",
    *scoring_config.GLUE_ARGUMENTS,
    settings.WINDOW_SIZE.argument,
)

# Glue's Kinesis connector, raw form (no classification): the record itself. AWS documents no column list for
# it; these are the names of the open-source Kinesis connector for Spark it derives from, which has no shard
# id (so ids never rely on one: records.derived_record_id). __src_timestamp is added by addRecordTimestamp.
GLUE_COLUMNS = {
    "data": h.DATA,
    "partitionKey": h.PARTITION_KEY,
    "sequenceNumber": h.SEQUENCE_NUMBER,
    "approximateArrivalTimestamp": h.ARRIVAL,
    "shardId": h.SHARD_ID,
}
RECORD_TIMESTAMP = "__src_timestamp"
# Parsed form (classification=json, inferSchema=false, schema=<DDL>): the payload's fields as typed columns,
# the DDL from the dataset description of the model the job scores with (records.payload_ddl). A record
# Spark's JSON parser cannot fit to the schema keeps its text in _corrupt_record (PERMISSIVE mode). Spark is
# more lenient than records.RecordParser in one way: a STRING field takes any JSON value as its text (apache/
# spark JacksonParser.scala, StringType: "always tries to convert the data as string"), so a number given for
# a text field is scored as that text here, where the raw form dead-letters it (MISTYPED_FIELD).
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


def kinesis_connection_options(args: Mapping[str, str], description: DatasetDescription) -> dict[str, str]:
    """connection_options of glue_context.create_data_frame.from_options(connection_type="kinesis"), for the
    records of `description` (the scoring model's: `BatchHandler.description`)."""
    position = settings.check_starting_position(args[settings.STARTING_POSITION.argument])
    # The options of the Kinesis connection reference (streamARN, startingPosition, classification,
    # inferSchema, schema in DDL format when inferSchema is false, addRecordTimestamp on Glue 4.0+):
    # https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-connect-kinesis-home.html
    return {
        "streamARN": args["stream_arn"],
        # A timestamp (yyyy-mm-ddTHH:MM:SSZ) is passed as is: Glue 4.0 and later read from there.
        "startingPosition": _CONNECTOR_POSITIONS.get(position, position),
        "classification": "json",
        "inferSchema": "false",
        "schema": records.payload_ddl(description),
        "addRecordTimestamp": "true",
    }


def arrival_column(frame: DataFrame) -> tuple[str, T.DataType | None, str]:
    """(column, Spark type, how it is read) of the connector's arrival time. AWS documents addRecordTimestamp's
    __src_timestamp column without its type, so each plausible one is read as what it would mean: a timestamp
    as is, a long as epoch milliseconds (Kinesis' ApproximateArrivalTimestamp), a string as ISO-8601."""
    name = (
        "approximateArrivalTimestamp" if "approximateArrivalTimestamp" in frame.columns else RECORD_TIMESTAMP
    )
    if name not in frame.columns:
        return name, None, "absent"
    kind = frame.schema[name].dataType
    for types, how in _ARRIVAL_READINGS:
        if isinstance(kind, types):
            return name, kind, how
    raise ValueError(
        f"the Kinesis source frame's arrival column {name} is of type {kind.simpleString()}: expected a "
        "timestamp, epoch milliseconds (long) or ISO-8601 text"
    )


_ARRIVAL_READINGS = (
    ((T.TimestampType, T.TimestampNTZType), "timestamp"),
    ((T.LongType, T.IntegerType), "epoch milliseconds"),
    ((T.StringType,), "ISO-8601 text"),
)


def _arrival(name: str, how: str):
    column = F.col(name)
    if how == "epoch milliseconds":
        return F.expr(f"timestamp_millis(`{name}`)")
    if how == "ISO-8601 text":
        return F.to_timestamp(column)
    return column


def to_handler_columns(frame: DataFrame, parser: records.RecordParser) -> DataFrame:
    """Map either form of the Glue connector's records to the handler's columns (null where Glue gives none);
    `parser` is the handler's (the parsed form's fields are its fields)."""
    present = set(frame.columns)
    arrival, _, how = arrival_column(frame)
    columns = []
    for glue_name, name in GLUE_COLUMNS.items():
        source = arrival if name == h.ARRIVAL else glue_name
        if name == h.DATA and source not in present:
            columns += _parsed_payload(frame, parser)
        elif name == h.ARRIVAL and source in present:
            columns.append(_arrival(source, how).alias(name))
        elif source in present:
            column = F.col(source)
            columns.append((column.cast("binary") if name == h.DATA else column).alias(name))
        else:
            columns.append(F.lit(None).cast("string").alias(name))
    return frame.select(*columns)


def _parsed_payload(frame: DataFrame, parser: records.RecordParser) -> list:
    """The parsed form's payload, for the handler: the record as JSON again, so that the one parser
    (`parser`, the handler's) judges it exactly as a raw record. A record Spark could not parse is given as
    its text (judged and dead-lettered with its reason); one with no field and no text is UNPARSED_RECORD."""
    fields = [name for name in parser.parsed_fields if name in frame.columns]
    if not fields:
        raise ValueError(
            "the Kinesis source frame has neither a `data` column (raw form) nor any field of the record "
            f"contract (parsed form); its columns: {frame.columns}"
        )
    corrupt = F.col(records.CORRUPT_RECORD) if records.CORRUPT_RECORD in frame.columns else F.lit(None)
    any_field = functools.reduce(operator.or_, [F.col(f"`{f}`").isNotNull() for f in fields])
    nothing = corrupt.isNull() & ~any_field
    as_json = F.to_json(F.struct(*[F.col(f"`{f}`") for f in fields]))
    return [
        F.coalesce(corrupt.cast("string"), as_json).cast("binary").alias(h.DATA),
        F.when(nothing, F.lit(codes.UNPARSED_RECORD)).alias(h.SOURCE_ERROR_CODE),
        F.when(
            nothing,
            F.lit("Glue's Kinesis connector (classification=json) gave no field of the contract and no text"),
        ).alias(h.SOURCE_ERROR_REASON),
    ]


def handler_from_args(args: Mapping[str, str]) -> h.BatchHandler:
    region = job_region(args)
    scoring = scoring_config.from_glue_args(
        args,
        # A micro-batch is bounded by the window and the stream's rate: memory is fast and cannot overflow.
        storage_level="MEMORY_AND_DISK",
    )
    # The Glue Data Catalog in the job's region; the drift table is always written (its alarm watches it).
    catalog = tables.CatalogSettings("glue", args["table_warehouse"], region)
    return h.BatchHandler(
        scoring,
        h.StreamTables(catalog, args["table_database"], drift=True),
        query_id=h.CheckpointQueryId(args["checkpoint_path"], region),
        on_batch=CloudWatchBatchMetrics(
            args["JOB_NAME"], region=region
        ),  # the dead-letter and drift alarms watch these
    )


def for_each_batch_options(args: Mapping[str, str]) -> dict[str, str]:
    """options of glue_context.forEachBatch: Glue passes windowSize to Spark's processingTime trigger."""
    return {
        "windowSize": f"{settings.window_seconds(args[settings.WINDOW_SIZE.argument])} seconds",
        "checkpointLocation": args["checkpoint_path"],
    }


# What the first deployment checklist (terraform/README.md) asks of a Glue worker: the libraries that decide
# whether the shipped wheels and Glue's own Spark agree.
RUNTIME_DISTRIBUTIONS = ("pyspark", "numpy", "pandas", "pyarrow", "xgboost-cpu", "xgboost", "churn-pipeline")


def runtime_facts(spark) -> dict[str, str]:
    """Spark (the JVM's), Python and the versions of the distributions this job imports, as installed."""
    facts = {"spark": spark.version, "python": platform.python_version()}
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            facts[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            facts[name] = "not installed"  # xgboost or xgboost-cpu: one of the two is, by platform
    return facts


class BatchFunction:
    """forEachBatch's batch_function: the connector's records mapped to the handler's columns, handled.

    On the first micro-batch it logs the source frame's schema and the runtime's versions: the facts the
    first deployment checklist needs, in the job's own log.
    """

    def __init__(self, handler: h.BatchHandler):
        self.handler = handler
        self.facts_logged = False

    def __call__(self, batch: DataFrame, batch_id: int) -> h.BatchStats:
        if not self.facts_logged:
            log.info("source frame schema: %s", batch.schema.json())
            name, kind, how = arrival_column(batch)
            log.info(
                "arrival column: %s of type %s, read as %s",
                name, kind.simpleString() if kind is not None else "-", how,
            )  # fmt: skip
            log.info("runtime: %s", json.dumps(runtime_facts(batch.sparkSession), sort_keys=True))
            self.facts_logged = True
        return self.handler(to_handler_columns(batch, self.handler.contract.parser), batch_id)


def configure_logging() -> None:
    """The package's INFO lines (one per micro-batch, the first batch's facts) on stdout, which Glue keeps in
    the job's output log; py4j's chatter stays out."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
