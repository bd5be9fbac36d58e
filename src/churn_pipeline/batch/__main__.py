"""CLI of the batch job on a local (or spark-submit) SparkSession; used by `make batch`."""

from __future__ import annotations

import argparse
import sys

from churn_pipeline.batch.job import BatchConfig, run, summary_json
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.contract.settings import DEFAULT_THRESHOLD, SCORING_MODES
from churn_pipeline.scoring.config import DEFAULT_PAYLOAD_BYTES, ScoringConfig
from churn_pipeline.spark_session import run_cli_job
from churn_pipeline.tables import CatalogSettings, JobTables
from churn_pipeline.tables.catalog import CATALOG_KINDS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m churn_pipeline.batch",
        description="Score churn CSV with Spark: in-process model (embedded) or a SageMaker endpoint (endpoint).",
    )
    parser.add_argument("--input", required=True, help="CSV file, directory or glob (local path or s3://)")
    parser.add_argument(
        "--catalog",
        choices=CATALOG_KINDS,
        default="sql",
        help="Iceberg catalog of the tables: the Glue Data Catalog, or pyiceberg's SQL catalog in the warehouse",
    )
    parser.add_argument(
        "--warehouse",
        required=True,
        help="where the tables' files go: a local directory (sql) or s3://bucket/prefix (glue)",
    )
    parser.add_argument("--database", default="batch", help="the catalog database of the scored, rejects, "
                        "failed and drift tables (contract.outputs BATCH_* names)")  # fmt: skip
    parser.add_argument("--region", default=None, help="AWS region (the glue catalog's)")
    parser.add_argument(
        "--drift",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the run's drift against the model's training baseline to the drift table",
    )
    parser.add_argument(
        "--metrics-job-name",
        help="publish the run's largest PSI to CloudWatch under this job name (default: not published)",
    )
    parser.add_argument("--mode", choices=[*SCORING_MODES, "none"], default="embedded",
                        help="'none' runs the same job without scoring (benchmark baseline)")  # fmt: skip
    parser.add_argument(
        "--model-uri",
        help="directory or s3:// prefix with model.tar.gz + feature_spec.json (+ baseline.json, dataset.json); "
        "the data is read as its dataset description. Required unless --mode none",
    )
    parser.add_argument(
        "--dataset",
        help="with --mode none only: the data's dataset description (a JSON file or a directory holding "
        "dataset.json; default: the tutorial's). A scoring run uses its model's",
    )
    parser.add_argument("--endpoint-name", help="SageMaker endpoint (mode endpoint)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="churn_prediction = probability >= threshold",
    )
    parser.add_argument("--batch-id", help="partition this run owns (default: from the input path)")
    parser.add_argument("--payload-bytes", type=int, default=DEFAULT_PAYLOAD_BYTES)
    parser.add_argument("--max-rows-per-request", type=int, default=2000)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="endpoint requests in flight per partition"
    )
    parser.add_argument(
        "--max-attempts", type=int, default=6, help="own attempts per payload (botocore retries inside)"
    )
    parser.add_argument(
        "--botocore-attempts", type=int, default=3, help="botocore standard-mode attempts per call"
    )
    parser.add_argument("--backoff-seconds", type=float, default=0.2, help="base of the exponential backoff")
    parser.add_argument("--progress-seconds", type=float, default=10.0)
    parser.add_argument("--master", default="local[*]", help="Spark master when no session exists")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument(
        "--driver-java-options", default="", help="more JVM options of the driver, e.g. GC logging"
    )
    parser.add_argument("--summary-json", help="also write the summary as JSON to this file")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BatchConfig:
    """The run's config; ValueError naming a bad or missing argument (before any Spark work)."""
    scoring = None
    description = None
    if args.mode == "none":
        if args.dataset:
            description = DatasetDescription.load(args.dataset)
    else:
        if not args.model_uri:
            raise ValueError(f"--mode {args.mode} needs --model-uri (the model to score with)")
        if args.dataset:
            raise ValueError(
                "--dataset is for --mode none: a scoring run reads the data as its model's description "
                "(dataset.json in --model-uri)"
            )
        scoring = ScoringConfig(
            mode=args.mode,
            model_uri=args.model_uri,
            endpoint_name=args.endpoint_name or None,
            threshold=args.threshold,
            payload_bytes=args.payload_bytes,
            max_rows_per_request=args.max_rows_per_request,
            concurrency=args.concurrency,
            max_attempts=args.max_attempts,
            backoff_base_seconds=args.backoff_seconds,
            botocore_attempts=args.botocore_attempts,
        )
    return BatchConfig(
        input_path=args.input,
        tables=JobTables(
            CatalogSettings(args.catalog, args.warehouse, args.region), args.database, args.drift
        ),
        metrics_job_name=args.metrics_job_name,
        scoring=scoring,
        batch_id=args.batch_id,
        progress_seconds=args.progress_seconds,
        dataset=description,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, ContractError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = run_cli_job(
        "churn-batch-scoring", lambda spark: run(spark, config), summary_json, args.summary_json,
        master=args.master, driver_memory=args.driver_memory, driver_java_options=args.driver_java_options,
    )  # fmt: skip
    return 2 if summary is None else summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
