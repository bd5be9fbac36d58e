"""AWS Glue 6.0 entry point of the batch scoring job: resolve arguments, start the job, run, commit.

All the work is in `churn_pipeline.batch.run` (shipped to Glue as a wheel via --additional-python-modules
or --extra-py-files); this script is the only place that touches the awsglue library.
Job arguments arrive as `--name value`; `endpoint_name` is `none` in embedded mode.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from churn_pipeline.batch.glue import config_from_glue_args
from churn_pipeline.batch.job import run

REQUIRED_ARGS = [
    "JOB_NAME",
    "input_path",
    "output_path",
    "rejects_path",
    "failed_path",
    "model_uri",
    "mode",
    "endpoint_name",
    "threshold",
    "output_format",
]

args = getResolvedOptions(sys.argv, REQUIRED_ARGS)
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
summary = run(glue_context.spark_session, config_from_glue_args(args))
job.commit()
# The rows that could not be scored are written; failing the run makes the job's state say so.
summary.raise_if_failed()
