"""The batch scoring job: CSV in, scored / rejected / failed datasets out, a summary at the end.

`run(spark, config)` is the whole job and takes every path, name and threshold from `config`; the Glue
entry script and `python -m churn_pipeline.batch` only build the config and the session. The columns read
and written follow the dataset description of the model the run scores with (`BatchConfig.description`).

One pass: the reader tags bad lines, the scorer rejects them unscored beside the rows the feature contract
rejects, and the tagged frame is persisted once; the three datasets and the counts are read from it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_pipeline import drift
from churn_pipeline.batch import reader, writer
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring import spark as spark_scoring
from churn_pipeline.scoring.config import BATCH_STORAGE_LEVEL, ScoringConfig


@dataclass(frozen=True)
class BatchConfig:
    input_path: str
    output_path: str
    rejects_path: str
    failed_path: str
    scoring: ScoringConfig | None  # None: the same job with scoring removed (the benchmark's baseline)
    output_format: str = "parquet"  # "parquet" | "csv"
    batch_id: str | None = None  # the partition this run owns; default derived from input_path
    progress_seconds: float = 10.0  # 0 turns progress lines off
    drift_path: str | None = (
        None  # where the run's drift against the training baseline goes (None: not written)
    )
    metrics_job_name: str | None = (
        None  # publish the largest PSI to CloudWatch under this job name (None: not)
    )
    # The data's description for a run without scoring (default: the tutorial's). A scoring run takes the
    # one of the model it scores with, never another: see `description`.
    dataset: DatasetDescription | None = None

    def __post_init__(self) -> None:
        if self.scoring is not None and self.dataset is not None:
            raise ValueError(
                "a scoring run reads its data as the model's dataset description (dataset.json in the model "
                "directory); an explicit dataset description is for a run without scoring"
            )
        if self.output_format not in writer.FORMATS:
            raise ValueError(f"output_format must be one of {writer.FORMATS}, got {self.output_format!r}")
        paths = [
            self.output_path,
            self.rejects_path,
            self.failed_path,
            *([self.drift_path] if self.drift_path else []),
        ]
        if len(set(paths)) != len(paths):
            raise ValueError("output, rejects, failed and drift paths must differ")
        if self.batch_id is not None:
            writer.check_batch_id(self.batch_id)

    def description(self) -> DatasetDescription:
        """The description the run reads and writes by: its model's (fetched once per process), or else the
        explicit one, or the tutorial's."""
        if self.scoring is not None:
            return ModelDir.fetch(self.scoring.model_uri, self.scoring.region).description()
        return self.dataset or tutorial()

    @property
    def resolved_batch_id(self) -> str:
        return self.batch_id or writer.default_batch_id(self.input_path)


@dataclass
class BatchSummary:
    mode: str
    batch_id: str
    model_version: str | None
    rows_read: int
    scored: int
    rejected: int
    failed: int
    header_lines: int
    blank_lines: int
    reject_codes: dict[str, int]
    wall_seconds: float
    output_path: str
    rejects_path: str
    failed_path: str
    failure_reasons: list[str] = field(default_factory=list)
    # PSI per model input and of the score against the training baseline, or why it is unavailable
    drift: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """Non-zero when rows could not be scored: the run finished but is not complete."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "rows_per_second": round(self.rows_per_second, 1),
            "exit_code": self.exit_code,
        }

    def describe(self) -> str:
        text = (
            f"batch {self.batch_id} ({self.mode}): {self.rows_read:,} rows read, {self.scored:,} scored, "
            f"{self.rejected:,} rejected, {self.failed:,} failed in {self.wall_seconds:.1f}s "
            f"({self.rows_per_second:,.0f} rows/s); skipped {self.header_lines} header and {self.blank_lines} blank line(s)"
        )
        if self.reject_codes:
            text += "; rejects by code: " + ", ".join(
                f"{k}={v:,}" for k, v in sorted(self.reject_codes.items())
            )
        if self.failed:
            text += f"; {self.failed:,} row(s) in {self.failed_path} (e.g. {self.failure_reasons[0]})"
        if self.drift.get("available"):
            text += f"; drift: max PSI {self.drift['max_psi']:.3f} ({self.drift['max_feature']})"
        elif self.drift:
            text += f"; drift unavailable: {self.drift['reason']}"
        return text

    def raise_if_failed(self) -> None:
        if self.failed:
            raise RuntimeError(self.describe())


def run(spark: SparkSession, config: BatchConfig, log: Callable[[str], None] | None = None) -> BatchSummary:
    """Read, score and write one batch; returns the summary (also printed through `log`)."""
    say: Callable[[str], None] = log or (
        lambda message: print(f"[batch] {message}", file=sys.stderr, flush=True)
    )
    started = time.monotonic()
    batch_id = config.resolved_batch_id
    mode = config.scoring.mode if config.scoring else "no-scoring"
    say(f"batch {batch_id}: reading {config.input_path} (mode {mode})")
    description = config.description()
    csv_input = reader.read_churn_lines(spark, config.input_path, description)
    progress = ProgressReporter(spark, config.progress_seconds, say) if config.progress_seconds > 0 else None
    if progress:
        progress.start()
    try:
        result = _tag(csv_input.rows, config)
        try:
            say(f"writing scored rows to {config.output_path}")
            scored = _in_dataset_order(
                result.scored, outputs.BATCH_PREDICTIONS, description, csv_input.extra_columns
            )
            writer.replace_partition(spark, scored, config.output_path, batch_id, config.output_format)
            counts = result.counts_by_code()
            drift_report = _drift(
                spark, result, config, batch_id, counts_of(counts, spark_scoring.SCORED), say
            )
            say(f"writing rejects to {config.rejects_path} and failed rows to {config.failed_path}")
            rejects = result.rejected.where(
                ~F.col(spark_scoring.ERROR_CODE).isin(*codes.SKIPPED_LINES)
            ).select(  # contract.outputs.BATCH_REJECTS
                F.col(reader.SOURCE_FILE).alias(outputs.SOURCE_FILE),
                F.col(reader.RAW_LINE).alias(outputs.RAW_LINE),
                spark_scoring.ERROR_CODE,
                spark_scoring.ERROR_REASON,
            )
            writer.replace_partition(spark, rejects, config.rejects_path, batch_id, config.output_format)
            failed_rows = _in_dataset_order(
                result.failed.withColumnsRenamed(
                    {reader.SOURCE_FILE: outputs.SOURCE_FILE, reader.RAW_LINE: outputs.RAW_LINE}
                ),
                outputs.BATCH_FAILED,
                description,
                csv_input.extra_columns,
            )
            writer.replace_partition(spark, failed_rows, config.failed_path, batch_id, config.output_format)
            failure_reasons = (
                [r[0] for r in result.failed.select(spark_scoring.ERROR_REASON).distinct().limit(5).collect()]
                if counts_of(counts, spark_scoring.FAILED)
                else []
            )
        finally:
            result.release()
    finally:
        if progress:
            progress.stop()

    header_lines = counts.get((spark_scoring.REJECTED, codes.HEADER_LINE), 0)
    blank_lines = counts.get((spark_scoring.REJECTED, codes.BLANK_LINE), 0)
    reject_codes: dict[str, int] = {}
    for (outcome, code), n in counts.items():
        if outcome == spark_scoring.REJECTED and code not in codes.SKIPPED_LINES:
            if code is None:  # every reject carries the reader's or the feature contract's code
                raise RuntimeError(f"{n} rejected row(s) without an error code: a bug in the scorer")
            reject_codes[code] = n
    summary = BatchSummary(
        mode=mode,
        batch_id=batch_id,
        model_version=result.model_version,
        rows_read=sum(counts.values()) - header_lines - blank_lines,
        scored=counts_of(counts, spark_scoring.SCORED),
        rejected=sum(reject_codes.values()),
        failed=counts_of(counts, spark_scoring.FAILED),
        header_lines=header_lines,
        blank_lines=blank_lines,
        reject_codes=reject_codes,
        wall_seconds=round(time.monotonic() - started, 3),
        output_path=config.output_path,
        rejects_path=config.rejects_path,
        failed_path=config.failed_path,
        failure_reasons=failure_reasons,
        drift=drift_report.summary() if drift_report else {},
    )
    say(summary.describe())
    if drift_report is not None and config.metrics_job_name:
        drift.publish_max_psi(
            drift_report, config.metrics_job_name, config.scoring.region if config.scoring else None
        )
    return summary


def _drift(
    spark: SparkSession,
    result: _Tagged,
    config: BatchConfig,
    batch_id: str,
    rows: int,
    say: Callable[[str], None],
) -> drift.DriftReport | None:
    """PSI of the scored rows' inputs and scores against the model's baseline (counted by the scoring workers
    as they scored, see scoring.spark), written to drift_path. None when the run asks for no drift (no
    drift_path) or scores nothing (the benchmark's floor): the benchmark measures the drift's cost as a run
    with drift_path against one without."""
    if config.scoring is None or config.drift_path is None:
        return None
    if rows == 0:  # nothing to compare (every row rejected or failed): unavailable, never a PSI of 0
        report = drift.DriftReport(unavailable="no row was scored in this run")
        say(f"drift unavailable: {report.unavailable}")
        return report
    if result.drift_baseline is None or result.drift_counts is None:
        report = drift.report(None, {}, rows)
        say(f"drift unavailable: {report.unavailable}")
        return report
    report = drift.report(result.drift_baseline, result.drift_counts(rows), rows)
    say(f"writing drift (max PSI {report.max_psi:.3f}, {report.max_feature}) to {config.drift_path}")
    if result.model_version is None:
        raise RuntimeError("a scoring run without a model version: a bug in the batch job")
    writer.replace_partition(spark, _drift_frame(spark, report, result.model_version), config.drift_path,
                             batch_id, config.output_format)  # fmt: skip
    return report


def _drift_frame(spark: SparkSession, report: drift.DriftReport, model_version: str) -> DataFrame:
    """The run's drift rows in the columns and types of contract.outputs.BATCH_DRIFT."""
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    rows = [
        (r["feature"], r["kind"], float(r["psi"]), int(r["rows"]), model_version, now)
        for r in report.rows_of()
    ]
    schema = ", ".join(f"`{f.name}` {f.type}" for f in outputs.BATCH_DRIFT.columns)
    return spark.createDataFrame(rows, schema)


def _in_dataset_order(
    frame: DataFrame,
    dataset: outputs.Dataset,
    description: DatasetDescription,
    extra_columns: tuple[str, ...],
) -> DataFrame:
    """`frame` in the columns of `dataset` resolved for the run's description (contract.outputs): the
    description's output columns, then the input's undescribed header columns (kept as read, as text), then
    the dataset's fixed columns. A contract column the frame lacks is a bug here, named by Spark."""
    names = dataset.for_data(description).column_names
    described = len(description.output_columns)
    ordered = (*names[:described], *extra_columns, *names[described:])
    return frame.select(*[spark_scoring._quote(c) for c in ordered])


def counts_of(counts: dict[tuple[str, str | None], int], outcome: str) -> int:
    return sum(n for (o, _code), n in counts.items() if o == outcome)


@dataclass
class _Tagged:
    """What the writers need from a run: the same shape with or without scoring."""

    scored: DataFrame
    rejected: DataFrame
    failed: DataFrame
    model_version: str | None
    counts_by_code: Callable[[], dict[tuple[str, str | None], int]]
    release: Callable[[], object]
    drift_baseline: drift.Baseline | None = None  # the model's, when the run asked for drift
    drift_counts: Callable[[int], dict[str, dict[str, int]]] | None = None  # by the scored row count


def _tag(rows: DataFrame, config: BatchConfig) -> _Tagged:
    if config.scoring is not None:
        result = spark_scoring.score(
            rows,
            config.scoring,
            prior_error=(reader.READ_ERROR_CODE, reader.READ_ERROR_REASON),
            keep_for_unscored=(reader.RAW_LINE,),
            count_drift=config.drift_path is not None,
        )
        scored = result.scored.drop(reader.SOURCE_FILE)
        return _Tagged(
            scored,
            result.rejected,
            result.failed,
            result.model_version,
            result.counts_by_code,
            result.release,
            result.drift_baseline,
            result.drift_counts if result.drift_baseline is not None else None,
        )
    return _tag_without_scoring(rows, config)


def _tag_without_scoring(rows: DataFrame, config: BatchConfig) -> _Tagged:
    """The same read, validation, persist and writes, with the model replaced by nothing."""
    code = F.col(reader.READ_ERROR_CODE)
    tagged = rows.withColumn(reader.RAW_LINE, F.when(code.isNotNull(), F.col(reader.RAW_LINE))).persist(
        getattr(StorageLevel, BATCH_STORAGE_LEVEL)  # as the scored job's
    )
    data_columns = [F.col(spark_scoring._quote(c)) for c in rows.columns if c not in reader.INTERNAL_COLUMNS]
    scored = tagged.where(code.isNull()).select(
        *data_columns,
        F.lit(None).cast("double").alias(spark_scoring.PROBABILITY),
        F.lit(None).cast("int").alias(spark_scoring.PREDICTION),
        F.lit(None).cast("string").alias(spark_scoring.VERSION),
        F.current_timestamp().alias(spark_scoring.SCORED_AT),
    )
    rejected = tagged.where(code.isNotNull()).select(
        *data_columns,
        reader.RAW_LINE,
        reader.SOURCE_FILE,
        code.alias(spark_scoring.ERROR_CODE),
        F.col(reader.READ_ERROR_REASON).alias(spark_scoring.ERROR_REASON),
    )
    failed = tagged.where(F.lit(False)).select(
        *data_columns,
        reader.RAW_LINE,
        reader.SOURCE_FILE,
        F.lit(None).cast("string").alias(spark_scoring.ERROR_REASON),
    )

    def counts_by_code() -> dict[tuple[str, str | None], int]:
        grouped = tagged.groupBy(code.alias("code")).count().collect()
        return {
            (spark_scoring.SCORED if row["code"] is None else spark_scoring.REJECTED, row["code"]): int(
                row["count"]
            )
            for row in grouped
        }

    return _Tagged(scored, rejected, failed, None, counts_by_code, tagged.unpersist)


class ProgressReporter:
    """Prints the progress of running Spark stages every few seconds while the job runs."""

    def __init__(self, spark: SparkSession, interval: float, say):
        self._tracker = spark.sparkContext.statusTracker()
        self._interval = interval
        self._say = say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="batch-progress", daemon=True)
        self._started = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 1)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            stages = [self._tracker.getStageInfo(s) for s in self._tracker.getActiveStageIds()]
            parts = [
                f"stage {s.stageId}: {s.numCompletedTasks}/{s.numTasks} tasks done, {s.numActiveTasks} running"
                for s in stages
                if s is not None
            ]
            if parts:
                self._say(f"{time.monotonic() - self._started:.0f}s: " + "; ".join(parts))


def summary_json(summary: BatchSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True)
