"""What the Glue streaming entry script needs from the package: source options, column mapping, the handler.

Glue's Kinesis connector (not the Python source of this package, which needs Spark 4's Python data source
API) reads the stream on Glue; its records are renamed here to the handler's columns, so the same
`BatchHandler` runs on Glue and everywhere else.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from churn_pipeline.spark_scoring import ScoringConfig
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming.metrics import CloudWatchBatchMetrics

# Glue's Kinesis connector without a classification hands over the raw record; these are its column names
# (those of the Kinesis connector for Spark it derives from). __src_timestamp is added by addRecordTimestamp.
GLUE_COLUMNS = {
    "data": h.DATA,
    "partitionKey": h.PARTITION_KEY,
    "sequenceNumber": h.SEQUENCE_NUMBER,
    "approximateArrivalTimestamp": h.ARRIVAL,
    "shardId": h.SHARD_ID,
}
STARTING_POSITIONS = {"TRIM_HORIZON": "TRIM_HORIZON", "LATEST": "LATEST", "EARLIEST": "TRIM_HORIZON"}


def kinesis_connection_options(args: dict) -> dict[str, str]:
    """connection_options of glue_context.create_data_frame.from_options(connection_type="kinesis")."""
    position = args["starting_position"].strip()
    return {
        "streamARN": args["stream_arn"],
        # TRIM_HORIZON / LATEST, or an ISO-8601 timestamp (AT_TIMESTAMP; Glue 4.0 and later).
        "startingPosition": STARTING_POSITIONS.get(position.upper(), position),
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


def handler_from_args(args: dict) -> h.BatchHandler:
    endpoint = args["endpoint_name"]
    scoring = ScoringConfig(
        mode=args["mode"],
        model_uri=args["model_uri"],
        endpoint_name=None if endpoint.lower() in ("", "none") else endpoint,
        threshold=float(args["threshold"]),
    )
    checkpoint = args["checkpoint_path"]
    return h.BatchHandler(
        scoring,
        args["output_path"],
        args["dead_letter_path"],
        query_id=lambda: h.read_query_id(checkpoint),
        on_batch=CloudWatchBatchMetrics(args["JOB_NAME"]),  # the dead-letter alarm watches these
    )


def for_each_batch_options(args: dict) -> dict[str, str]:
    return {
        "windowSize": f"{int(float(args['window_size']))} seconds",
        "checkpointLocation": args["checkpoint_path"],
    }
