"""Glue job arguments (all strings, as Terraform deploys them) -> QualityConfig; the entry script stays short.

The settings are checked with the same rules as Terraform's validations (contract.settings). The id and
label columns need no argument: the job reads them from the dataset description in the model directory of
--model_uri (the deployed model), as the scoring jobs do.
"""

from __future__ import annotations

from collections.abc import Mapping

from churn_pipeline.contract import outputs, settings
from churn_pipeline.quality.config import QualityConfig
from churn_pipeline.tables import CatalogSettings, TableRef

# The job's own arguments (besides JOB_NAME, which Glue gives every job), as Terraform deploys them.
JOB_ARGUMENTS = (
    "outcomes_path",
    # The scored Iceberg tables of the batch and streaming jobs (contract.outputs BATCH_PREDICTIONS,
    # STREAM_PREDICTIONS), both in this Glue database and warehouse: the scoring jobs' own arguments.
    "table_warehouse",
    "table_database",
    "model_uri",
    settings.THRESHOLD.argument,
    settings.HORIZON_DAYS.argument,
    settings.AUC_MARGIN.argument,
    "quality_path",
    "calibration_path",
    "outcome_rejects_path",
    "training_set_path",
    "aws_region",
)


def config_from_glue_args(args: Mapping[str, str]) -> QualityConfig:
    """Build the job's config from resolved Glue arguments; raises ValueError naming a bad argument."""
    catalog = CatalogSettings("glue", args["table_warehouse"], args["aws_region"])
    database = args["table_database"]
    return QualityConfig(
        outcomes_path=args["outcomes_path"],
        batch_scored_tables=(TableRef(catalog, f"{database}.{outputs.BATCH_PREDICTIONS.table}"),),
        stream_scored_tables=(TableRef(catalog, f"{database}.{outputs.STREAM_PREDICTIONS.table}"),),
        model_uri=args["model_uri"],
        threshold=settings.check_threshold(args[settings.THRESHOLD.argument]),
        horizon_days=settings.check_horizon_days(args[settings.HORIZON_DAYS.argument]),
        auc_margin=settings.check_auc_margin(args[settings.AUC_MARGIN.argument]),
        quality_path=args["quality_path"],
        calibration_path=args["calibration_path"],
        rejects_path=args["outcome_rejects_path"],
        training_set_path=args["training_set_path"],
        region=settings.check_aws_region(args["aws_region"]),
        run_id=args.get("run_id") or None,
        metrics_job_name=args.get("JOB_NAME") or None,  # ModelAUC's JobName dimension: the Glue job's name
    )
