"""AWS Glue entry point of the streaming scoring job: Glue's Kinesis source -> forEachBatch -> the package's handler.

All the work is in `churn_pipeline.streaming` (shipped to Glue as a wheel); this script is the only place that
touches the awsglue library. Job arguments arrive as `--name value`; `endpoint_name` is `none` in embedded mode,
`starting_position` is TRIM_HORIZON, LATEST or an ISO-8601 timestamp, `window_size` is in seconds.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from churn_pipeline.streaming.glue import (
    for_each_batch_options,
    handler_from_args,
    kinesis_connection_options,
    to_handler_columns,
)

REQUIRED_ARGS = [
    "JOB_NAME",
    "stream_arn",
    "starting_position",
    "checkpoint_path",
    "output_path",
    "dead_letter_path",
    "model_uri",
    "mode",
    "endpoint_name",
    "threshold",
    "window_size",
]

args = getResolvedOptions(sys.argv, REQUIRED_ARGS)
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
records = glue_context.create_data_frame.from_options(
    connection_type="kinesis",
    connection_options=kinesis_connection_options(args),
    transformation_ctx="kinesis_source",
)
handler = handler_from_args(args)
glue_context.forEachBatch(
    frame=records,
    batch_function=lambda batch, batch_id: handler(to_handler_columns(batch), batch_id),
    options=for_each_batch_options(args),
)
job.commit()
