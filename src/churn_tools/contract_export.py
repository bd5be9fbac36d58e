"""The contract file Terraform reads: `churn-contract` (make contract) writes terraform/contract.json.

Terraform takes its variable validations, defaults, catalog table columns, partition keys and locations, and
metric names and the Athena named queries from that file (`jsondecode(file(...))`), never from a copy. A test fails when the committed file
differs from what this module generates, so the package stays the one definition.

Only what does not depend on the user's data is here. The scored datasets and the Kinesis source table open
with the data's own columns: Terraform takes those from the description of the model it deploys (the
`data_columns` variable, churn_tools.deploy.package) and puts them before the fixed columns exported here
(`data_columns_first`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from churn_pipeline.contract import codes, dataset, metrics, outputs, settings
from churn_tools import analytics

# Relative to the repository root (the file is committed; the package builds it).
CONTRACT_PATH = Path("terraform") / "contract.json"


def contract() -> dict:
    return {
        "_generated_by": "churn-contract (make contract) from churn_pipeline.contract; do not edit",
        "settings": {
            s.argument: {"tfvars_key": s.tfvars_key, "default": s.default, "allowed": s.allowed}
            for s in settings.SETTINGS
        },
        "scoring_modes": list(settings.SCORING_MODES),
        "endpoint_scoring_mode": settings.ENDPOINT_SCORING_MODE,
        "window_size_pattern": settings.WINDOW_SIZE_PATTERN,
        "starting_positions": list(settings.STARTING_POSITIONS),
        "starting_timestamp_pattern": settings.STARTING_TIMESTAMP_PATTERN,
        "threshold_bounds": list(settings.THRESHOLD_BOUNDS),
        "aws_region_pattern": settings.AWS_REGION_PATTERN,
        "horizon_days_bounds": list(settings.HORIZON_DAYS_BOUNDS),  # inclusive
        "auc_margin_bounds": list(settings.AUC_MARGIN_BOUNDS),  # low inclusive, high exclusive
        "codes": dict(codes.CODES),
        # The catalog types a data column may have (a description's string, integer and decimal).
        "data_column_types": sorted(set(dataset.CATALOG_TYPES.values())),
        # The Kinesis source table: the data's columns, then these (what a producer adds to each record).
        "stream_record_extra_columns": outputs.catalog_fields(outputs.STREAM_RECORD_EXTRA_FIELDS),
        "datasets": {
            d.table: {
                "bucket": d.bucket,
                "prefix": d.prefix,
                "description": d.description,
                # True: the data's columns come first, then `columns` (the fixed ones).
                "data_columns_first": d.data_columns_first,
                "columns": outputs.catalog_fields(d.columns),
            }
            for d in outputs.DATASETS
        },
        # Where files that are not catalog tables live (outcome uploads, the next training set).
        "locations": {name: asdict(location) for name, location in outputs.LOCATIONS.items()},
        # The Iceberg tables (not Terraform's resources: the deploy step creates them) and their warehouse.
        "iceberg_tables": [d.table for d in outputs.ICEBERG_DATASETS],
        # The same tables by the scoring job that commits them (each job's role is granted its own only).
        "iceberg_tables_by_job": {
            "batch": [d.table for d in outputs.BATCH_ICEBERG_DATASETS],
            "stream": [d.table for d in outputs.STREAM_ICEBERG_DATASETS],
        },
        "table_warehouse": asdict(outputs.TABLE_WAREHOUSE),
        "outcome_known_at_column": outputs.KNOWN_AT,
        "outcome_reject_codes": list(codes.OUTCOME_REJECTS),
        "metrics": {
            "namespace": metrics.NAMESPACE,
            "dimension": metrics.DIMENSION,
            "names": list(metrics.METRICS),
            "dead_letter_records": metrics.DEAD_LETTER_RECORDS,
            "max_psi": metrics.MAX_PSI,
            "drift_alarm_threshold": metrics.DRIFT_ALARM_THRESHOLD,
            "model_auc": metrics.MODEL_AUC,
            "model_version_dimension": metrics.MODEL_VERSION_DIMENSION,
        },
        # The Athena named queries (templates for Terraform's templatestring), from churn_tools.analytics.
        "named_query_tables": {f"{role}_table": table for role, table in analytics.TABLES.items()},
        "named_queries": {
            name: {"description": description, "template": template}
            for name, (description, template) in analytics.query_templates().items()
        },
    }


def render() -> str:
    return json.dumps(contract(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="churn-contract",
        description="Write the contract file Terraform reads (the names, schemas and defaults of "
        "churn_pipeline.contract), or check that the committed one is current.",
    )
    parser.add_argument("--out", type=Path, default=CONTRACT_PATH, help=f"default: {CONTRACT_PATH}")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the package")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `make contract` and commit it", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
