"""AWS Glue entry point of the streaming scoring job: Glue's Kinesis source -> forEachBatch -> the package's handler.

All the work is in `churn_pipeline.streaming` (shipped to Glue as a wheel); this script is the only place that
touches the awsglue library. Job arguments arrive as `--name value`, as terraform/modules/glue deploys them;
`churn_pipeline.streaming.glue` names and reads them.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from churn_pipeline.streaming.glue import (
    JOB_ARGUMENTS,
    BatchFunction,
    configure_logging,
    for_each_batch_options,
    handler_from_args,
    kinesis_connection_options,
)

configure_logging()
args = getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])
# Every argument is checked before the query starts: a bad one fails here, naming it.
handler = handler_from_args(args)
# The connector parses the records with the schema of the model's dataset description (read from its
# directory here, once; the handler scores with the same).
source_options = kinesis_connection_options(args, handler.description)
batch_options = for_each_batch_options(args)
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
records = glue_context.create_data_frame.from_options(
    connection_type="kinesis",
    connection_options=source_options,
    transformation_ctx="kinesis_source",
)
glue_context.forEachBatch(
    frame=records,
    batch_function=BatchFunction(handler),
    options=batch_options,
)
job.commit()
