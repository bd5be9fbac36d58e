"""AWS Glue entry point of the quality job: resolve arguments, start the job, run, commit.

All the work is in `churn_pipeline.quality.run` (shipped to Glue as a wheel via --additional-python-modules);
this script is the only place that touches the awsglue library. Job arguments arrive as `--name value`, as
terraform/modules/glue deploys them; `churn_pipeline.quality.glue` names and reads them.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from churn_pipeline.quality.glue import JOB_ARGUMENTS, config_from_glue_args
from churn_pipeline.quality.job import run

args = getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])
config = config_from_glue_args(args)  # a bad argument fails here, naming it, before any Spark work
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
summary = run(glue_context.spark_session, config)
job.commit()
