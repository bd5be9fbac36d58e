"""The quality job: outcomes joined to the scores, model quality per model version and week, the next
training set. `run(spark, QualityConfig) -> QualitySummary`; CLI `python -m churn_pipeline.quality`."""

from churn_pipeline.quality.config import QualityConfig

__all__ = ["QualityConfig"]
