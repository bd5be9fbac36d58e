"""AWS Glue 6.0 entry point of the batch scoring job: resolve arguments, start the job, run, commit.

All the work is in `churn_pipeline.batch.run` (shipped to Glue as a wheel via --additional-python-modules);
this script is the only place that touches the awsglue library. Job arguments arrive as `--name value`, as
terraform/modules/glue deploys them; `churn_pipeline.batch.glue` names and reads them.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from churn_pipeline.batch.glue import JOB_ARGUMENTS, config_from_glue_args
from churn_pipeline.batch.job import run

args = getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])
config = config_from_glue_args(args)  # a bad argument fails here, naming it, before any Spark work
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
summary = run(glue_context.spark_session, config)
job.commit()
# The rows that could not be scored are written; failing the run makes the job's state say so.
summary.raise_if_failed()
