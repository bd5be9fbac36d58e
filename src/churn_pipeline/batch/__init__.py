"""Batch scoring job: `run(spark, BatchConfig) -> BatchSummary`; CLI `python -m churn_pipeline.batch`."""

from churn_pipeline.batch.job import BatchConfig, BatchSummary, run

__all__ = ["BatchConfig", "BatchSummary", "run"]
