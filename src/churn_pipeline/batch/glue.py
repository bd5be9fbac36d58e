"""Glue job arguments (all strings, as Terraform deploys them) -> BatchConfig; the entry script stays short.

The scoring arguments are read by the same function as the streaming job's (scoring.config.from_glue_args),
with the same rules as Terraform's validations (contract.settings). The data's columns need no argument: the
job reads and writes them as the dataset description in the model directory of --model_uri
(BatchConfig.description).
"""

from __future__ import annotations

from collections.abc import Mapping

from churn_pipeline import tables
from churn_pipeline.batch.job import BatchConfig
from churn_pipeline.scoring import config as scoring_config

# The job's own arguments (besides JOB_NAME, which Glue gives every job), as Terraform deploys them.
JOB_ARGUMENTS = (
    "input_path",
    # The Iceberg tables (scored, rejects, failed, drift: contract.outputs BATCH_* names) in this Glue database,
    # their files under this s3:// warehouse (<warehouse>/<database>/<table>, tables.CatalogSettings).
    "table_warehouse",
    "table_database",
    *scoring_config.GLUE_ARGUMENTS,
)


def config_from_glue_args(args: Mapping[str, str]) -> BatchConfig:
    """Build the job's config from resolved Glue arguments; raises ValueError naming a bad argument."""
    scoring = scoring_config.from_glue_args(args)
    return BatchConfig(
        input_path=args["input_path"],
        tables=tables.JobTables(
            tables.CatalogSettings("glue", args["table_warehouse"], scoring.region),
            args["table_database"],
            drift=True,
        ),
        scoring=scoring,
        batch_id=args.get("batch_id") or None,
        progress_seconds=30.0,
        metrics_job_name=args.get("JOB_NAME") or None,  # the drift metric's dimension: the Glue job's name
    )
