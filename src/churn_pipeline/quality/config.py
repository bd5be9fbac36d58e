"""QualityConfig: every path, name and setting of a quality run (the Glue entry script and the CLI build it)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from churn_pipeline.batch import writer
from churn_pipeline.contract import settings
from churn_pipeline.tables import TableRef


@dataclass(frozen=True)
class QualityConfig:
    outcomes_path: str  # CSV file(s): a file, a directory or a glob, local or s3://
    model_uri: str  # the deployed model's directory (its description names the id and label; its test AUC)
    quality_path: str  # contract.outputs.MODEL_QUALITY
    calibration_path: str  # contract.outputs.MODEL_CALIBRATION
    rejects_path: str  # contract.outputs.OUTCOME_REJECTS
    training_set_path: str  # contract.outputs.NEXT_TRAINING_SET
    # Scored datasets: the batch job's and the streaming job's Iceberg tables (their current snapshot,
    # tables.read_spark; a table not created yet holds no score). Either may be empty.
    batch_scored_tables: tuple[TableRef, ...] = ()
    stream_scored_tables: tuple[TableRef, ...] = ()
    threshold: float = settings.DEFAULT_THRESHOLD  # the scorers' decision threshold (settings.THRESHOLD)
    horizon_days: int = settings.HORIZON_DAYS.default  # type: ignore[assignment]
    auc_margin: float = settings.AUC_MARGIN.default  # type: ignore[assignment]
    run_id: str | None = None  # the batch_id=<run> folder this run owns (default: from its start time)
    region: str | None = None  # AWS clients' region (S3 model download, CloudWatch); None: boto3's own
    metrics_job_name: str | None = None  # publish ModelAUC under this job name (None: not published)
    # The run's clock (known_at after it is FUTURE_KNOWN_AT); None: the time the run starts. Tests pin it.
    now: datetime.datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        settings.check_threshold(self.threshold)
        settings.check_horizon_days(self.horizon_days)
        settings.check_auc_margin(self.auc_margin)
        if not (self.batch_scored_tables or self.stream_scored_tables):
            raise ValueError("a quality run needs at least one scored dataset (batch or stream)")
        outputs = [self.quality_path, self.calibration_path, self.rejects_path, self.training_set_path]
        if len({p.rstrip("/") for p in outputs}) != len(outputs):
            raise ValueError("quality, calibration, rejects and training set paths must differ")
        if self.run_id is not None:
            writer.check_batch_id(self.run_id)
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")

    def started_at(self) -> datetime.datetime:
        return self.now or datetime.datetime.now(datetime.UTC)

    def resolved_run_id(self, started: datetime.datetime) -> str:
        return self.run_id or started.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
