"""CLI of the quality job on a local (or spark-submit) SparkSession; used by `make quality`."""

from __future__ import annotations

import argparse
import sys

from churn_pipeline.contract import settings
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.quality.config import QualityConfig
from churn_pipeline.tables import CatalogSettings, TableRef


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m churn_pipeline.quality",
        description="Join outcomes to the latest score before them; model quality per model version and week, "
        "outcome rejects and the next training set.",
    )
    parser.add_argument(
        "--outcomes", required=True, help="outcome CSV file, directory or glob (local or s3://)"
    )
    parser.add_argument(
        "--batch-table",
        nargs=3,
        action="append",
        default=[],
        metavar=("CATALOG", "WAREHOUSE", "DATABASE.TABLE"),
        help="the batch job's scored Iceberg table (repeatable): catalog glue|sql, its warehouse, its name",
    )
    parser.add_argument(
        "--stream-table",
        nargs=3,
        action="append",
        default=[],
        metavar=("CATALOG", "WAREHOUSE", "DATABASE.TABLE"),
        help="the streaming job's scored Iceberg table (repeatable): catalog glue|sql, its warehouse, its name",
    )
    parser.add_argument("--region", default=None, help="AWS region of a glue catalog (default: boto3's)")
    parser.add_argument("--model-uri", required=True, help="the deployed model's directory (or s3:// prefix)")
    parser.add_argument("--out", required=True, help="folder of the outputs (quality, calibration, ...)")
    parser.add_argument("--threshold", type=float, default=settings.DEFAULT_THRESHOLD,
                        help="the scorers' decision threshold (precision and recall use it)")  # fmt: skip
    parser.add_argument("--horizon-days", type=int, default=settings.HORIZON_DAYS.default)
    parser.add_argument("--auc-margin", type=float, default=settings.AUC_MARGIN.default)
    parser.add_argument("--run-id", help="the batch_id=<run> folder this run owns (default: its start time)")
    parser.add_argument("--metrics-job-name", help="publish ModelAUC under this job name (default: not)")
    parser.add_argument("--master", default="local[*]", help="Spark master when no session exists")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--summary-json", help="also write the summary as JSON to this file")
    return parser.parse_args(argv)


def table_refs(given: list[list[str]], region: str | None) -> tuple[TableRef, ...]:
    """--batch-table / --stream-table values (CATALOG WAREHOUSE DATABASE.TABLE) as table references."""
    return tuple(TableRef(CatalogSettings(kind, warehouse, region), name) for kind, warehouse, name in given)


def config_from_args(args: argparse.Namespace) -> QualityConfig:
    batch = table_refs(args.batch_table, args.region)
    stream = table_refs(args.stream_table, args.region)
    if not (batch or stream):
        raise ValueError("--batch-table / --stream-table: give at least one scored table (batch or stream)")
    out = args.out.rstrip("/")
    return QualityConfig(
        outcomes_path=args.outcomes,
        model_uri=args.model_uri,
        batch_scored_tables=batch,
        stream_scored_tables=stream,
        quality_path=f"{out}/quality",
        calibration_path=f"{out}/calibration",
        rejects_path=f"{out}/outcome-rejects",
        training_set_path=f"{out}/training-set",
        threshold=settings.check_threshold(args.threshold),
        horizon_days=settings.check_horizon_days(args.horizon_days),
        auc_margin=settings.check_auc_margin(args.auc_margin),
        run_id=args.run_id,
        metrics_job_name=args.metrics_job_name,
        region=args.region,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, ContractError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from churn_pipeline.quality.job import run, summary_json
    from churn_pipeline.spark_session import run_cli_job

    summary = run_cli_job(
        "churn-quality", lambda spark: run(spark, config), summary_json, args.summary_json,
        master=args.master, driver_memory=args.driver_memory,
    )  # fmt: skip
    return 2 if summary is None else 0


if __name__ == "__main__":
    sys.exit(main())
