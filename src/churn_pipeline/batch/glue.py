"""Glue job arguments (all strings) -> BatchConfig; kept here so the entry script stays a few lines."""

from __future__ import annotations

from collections.abc import Mapping

from churn_pipeline.batch.job import BatchConfig
from churn_pipeline.spark_scoring import ScoringConfig

NO_VALUE = {"", "none", "-"}


def config_from_glue_args(args: Mapping[str, str]) -> BatchConfig:
    """Build the job's config from resolved Glue arguments; raises ValueError naming a bad argument."""
    try:
        threshold = float(args["threshold"])
    except ValueError as exc:
        raise ValueError(f"--threshold must be a number, got {args['threshold']!r}") from exc
    endpoint_name = args["endpoint_name"].strip()
    scoring = ScoringConfig(
        mode=args["mode"].strip().lower(),
        model_uri=args["model_uri"],
        endpoint_name=None if endpoint_name.lower() in NO_VALUE else endpoint_name,
        threshold=threshold,
    )
    return BatchConfig(
        input_path=args["input_path"],
        output_path=args["output_path"],
        rejects_path=args["rejects_path"],
        failed_path=args["failed_path"],
        scoring=scoring,
        output_format=args["output_format"].strip().lower(),
        batch_id=args.get("batch_id") or None,
        progress_seconds=30.0,
    )
