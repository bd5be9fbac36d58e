"""The quality job: outcomes in, joined to the latest score before them, model quality out.

`run(spark, config)` is the whole job and takes every path, name and setting from `config` (QualityConfig); the
Glue entry script and `python -m churn_pipeline.quality` only build the config and the session. The id and
label columns, the label values and the training set's columns come from the dataset description of the
deployed model (config.model_uri); its test AUC (metrics.json) minus auc_margin is the alarm threshold.

One pass over the outcomes: every line is tagged (usable, or a reject with its reason) and persisted; the
usable ones are joined to the scores, and the joined rows (persisted) give the metrics, the calibration and
the next training set. Each run recomputes all of it from every outcome to date and owns one batch_id=<run>
folder of each output.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from churn_pipeline.batch import reader, writer
from churn_pipeline.contract import codes, metrics, outputs, settings
from churn_pipeline.contract.dataset import IGNORED, LABEL, DatasetDescription
from churn_pipeline.model import ModelDir
from churn_pipeline.quality import evaluate, scores
from churn_pipeline.quality import outcomes as outcome_lines
from churn_pipeline.quality.config import QualityConfig
from churn_pipeline.spark_session import session_conf

log = logging.getLogger(__name__)
TIME_ZONE = "spark.sql.session.timeZone"
RUN_CONF = {
    TIME_ZONE: "UTC",  # known_at without an offset, ISO weeks and days are UTC
    # A persisted frame's plan is built without adaptive execution unless this is set (apache/spark
    # sql/core/.../execution/CacheManager.scala), so every shuffle under the persisted outcomes and joined rows
    # kept spark.sql.shuffle.partitions tasks (200 by default, Glue's too): 39 s instead of 10 s on 3,000
    # outcomes in local[2]. With it AQE sizes those shuffles by their data, at any scale.
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
}


@dataclass
class QualitySummary:
    run_id: str
    outcome_lines: int  # lines that are outcomes (header and blank lines not counted)
    joined: int
    rejected: int
    reject_codes: dict[str, int]
    header_lines: int
    blank_lines: int
    # per model version: its latest week of scoring with an AUC, that AUC, and the rows of that week
    latest_auc: dict[str, dict]
    deployed_model_version: str
    test_auc: float | None  # the deployed model's own (metrics.json), None when its directory has none
    auc_margin: float
    alarm_threshold: float | None  # test_auc - auc_margin: the alarm fires below it
    alarm: bool  # the deployed version's latest AUC is below the alarm threshold
    published: list[str]  # model versions whose ModelAUC was published
    wall_seconds: float
    quality_path: str
    calibration_path: str
    rejects_path: str
    training_set_path: str  # the folder of this run's training set (CSV files, churn-train --data reads it)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        text = (
            f"quality {self.run_id}: {self.outcome_lines:,} outcome(s) read, {self.joined:,} joined to a score, "
            f"{self.rejected:,} rejected in {self.wall_seconds:.1f}s"
        )
        if self.reject_codes:
            text += " (" + ", ".join(f"{k}={v:,}" for k, v in sorted(self.reject_codes.items())) + ")"
        for version, latest in sorted(self.latest_auc.items()):
            text += (
                f"; {version}: AUC {latest['auc']:.4f} in {latest['score_week']} ({latest['rows']:,} rows)"
            )
        if self.alarm_threshold is not None:
            state = "BELOW" if self.alarm else "not below"
            text += f"; deployed {self.deployed_model_version} {state} the alarm threshold {self.alarm_threshold:.4f}"
        return text


def run(
    spark: SparkSession, config: QualityConfig, say: Callable[[str], None] | None = None
) -> QualitySummary:
    """Read, join, evaluate and write one quality run; returns the summary (also said through `say`)."""
    say = say or (lambda message: print(f"[quality] {message}", file=sys.stderr, flush=True))
    started = time.monotonic()
    now = config.started_at()
    run_id = config.resolved_run_id(now)
    with session_conf(spark, RUN_CONF):
        return _run(spark, config, say, started, now, run_id)


def _run(
    spark: SparkSession,
    config: QualityConfig,
    say: Callable[[str], None],
    started: float,
    now: datetime.datetime,
    run_id: str,
) -> QualitySummary:
    model = ModelDir.fetch(config.model_uri, config.region)
    description = model.description()
    deployed_version = model.version()
    test_auc = model_test_auc(config.model_uri, config.region)
    say(f"run {run_id}: outcomes {config.outcomes_path}, deployed model {deployed_version}")
    lines = outcome_lines.read_outcomes(spark, config.outcomes_path, description, now).lines
    lines = lines.persist(StorageLevel.MEMORY_AND_DISK)
    computed_at = F.lit(now.astimezone(datetime.UTC).replace(tzinfo=None)).cast("timestamp")
    try:
        scored = scores.read_scores(spark, description, config.batch_scored_tables,
                                    config.stream_scored_tables)  # fmt: skip
        joined, not_scored = _join(lines, scored, config.horizon_days)
        joined = joined.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            quality_rows = evaluate.quality(joined, config.threshold, computed_at)
            say(f"writing model quality to {config.quality_path}")
            writer.replace_partition(spark, quality_rows, config.quality_path, run_id, "parquet")
            calibration_rows = evaluate.calibration(joined, computed_at, outcome_lines.LINE)
            writer.replace_partition(spark, calibration_rows, config.calibration_path, run_id, "parquet")
            rejects = lines.where(F.col(outcome_lines.CODE).isNotNull()).unionByName(not_scored)
            reject_rows = rejects.where(~F.col(outcome_lines.CODE).isin(*codes.SKIPPED_LINES)).select(
                F.col(reader.SOURCE_FILE).alias(outputs.SOURCE_FILE),
                F.col(reader.RAW_LINE).alias(outputs.RAW_LINE),
                F.col(outcome_lines.CODE).alias(outputs.ERROR_CODE),
                F.col(outcome_lines.REASON).alias(outputs.ERROR_REASON),
                computed_at.alias(outputs.COMPUTED_AT),
            )  # contract.outputs.OUTCOME_REJECTS
            say(f"writing outcome rejects to {config.rejects_path}")
            writer.replace_partition(spark, reject_rows, config.rejects_path, run_id, "parquet")
            training_set = write_training_set(spark, joined, description, config.training_set_path, run_id)
            say(f"wrote the next training set to {training_set}")
            counts = {row[0]: int(row[1]) for row in rejects.groupBy(outcome_lines.CODE).count().collect()}
            joined_count = joined.count()
            latest = _latest_auc(spark.read.parquet(writer.partition_path(config.quality_path, run_id)))
        finally:
            joined.unpersist()
    finally:
        lines.unpersist()

    header_lines = counts.pop(codes.HEADER_LINE, 0)
    blank_lines = counts.pop(codes.BLANK_LINE, 0)
    counts.pop(None, None)
    threshold = None if test_auc is None else settings.auc_alarm_threshold(test_auc, config.auc_margin)
    deployed_latest = latest.get(deployed_version)
    alarm = threshold is not None and deployed_latest is not None and deployed_latest["auc"] < threshold
    notes = []
    if test_auc is None:
        notes.append(
            f"the model at {config.model_uri} has no test AUC in {ModelDir.METRICS}: no alarm threshold"
        )
    if deployed_latest is None:
        notes.append(f"no week of the deployed model {deployed_version} has outcomes of both kinds yet")
    published = (
        publish_latest_auc(latest, config.metrics_job_name, config.region) if config.metrics_job_name else []
    )
    summary = QualitySummary(
        run_id=run_id,
        outcome_lines=joined_count + sum(counts.values()),
        joined=joined_count,
        rejected=sum(counts.values()),
        reject_codes=counts,
        header_lines=header_lines,
        blank_lines=blank_lines,
        latest_auc=latest,
        deployed_model_version=deployed_version,
        test_auc=test_auc,
        auc_margin=config.auc_margin,
        alarm_threshold=threshold,
        alarm=alarm,
        published=published,
        wall_seconds=round(time.monotonic() - started, 3),
        quality_path=config.quality_path,
        calibration_path=config.calibration_path,
        rejects_path=config.rejects_path,
        training_set_path=training_set,
        notes=notes,
    )
    say(summary.describe())
    return summary


def model_test_auc(model_uri: str, region: str | None) -> float | None:
    """The deployed model's own test AUC from its metrics.json (local directory or s3:// prefix); None when the
    model directory holds none. Read here rather than by ModelDir.fetch, which the scoring jobs share: only
    this job's role reads metrics.json."""
    if model_uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = model_uri[len("s3://") :].partition("/")
        key = f"{prefix.strip('/')}/{ModelDir.METRICS}" if prefix.strip("/") else ModelDir.METRICS
        client = boto3.client("s3", region_name=region)
        try:
            text = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        figures = json.loads(text)
    else:
        model = ModelDir(model_uri)
        if not model.metrics_path.is_file():
            return None
        figures = model.metrics()
    value = figures.get("test", {}).get("auc")
    return None if value is None else float(value)


def _join(lines: DataFrame, scored: DataFrame, horizon_days: int) -> tuple[DataFrame, DataFrame]:
    """(joined rows: the outcome, LABEL, and its latest score at or before known_at at most horizon_days
    older; the outcomes without one, tagged NOT_SCORED with the reason)."""
    usable = lines.where(F.col(outcome_lines.CODE).isNull()).drop(outcome_lines.CODE, outcome_lines.REASON)
    known_at = F.col(outcome_lines.KNOWN_AT)
    condition = (
        (F.col(scores.SCORE_ID) == F.col(outcome_lines.OUTCOME_ID))
        & (F.col(outputs.SCORED_AT) <= known_at)
        & (F.col(outputs.SCORED_AT) >= known_at - F.expr(f"INTERVAL {int(horizon_days)} DAYS"))
    )
    candidates = usable.join(scored, condition, "left")
    # The latest score; two at the same instant: the stream's, then the higher version and score (stable).
    latest = Window.partitionBy(outcome_lines.LINE).orderBy(
        F.col(outputs.SCORED_AT).desc_nulls_last(),
        F.col(scores.SOURCE).desc_nulls_last(),
        F.col(outputs.MODEL_VERSION).desc_nulls_last(),
        F.col(outputs.PROBABILITY).desc_nulls_last(),
    )
    chosen = (
        candidates.withColumn("_rank", F.row_number().over(latest)).where(F.col("_rank") == 1).drop("_rank")
    )
    joined = chosen.where(F.col(outputs.SCORED_AT).isNotNull()).select(
        *[c for c in chosen.columns if c != outcome_lines.OUTCOME_LABEL],
        F.col(outcome_lines.OUTCOME_LABEL).alias(evaluate.LABEL),
        evaluate.iso_week(F.col(outputs.SCORED_AT)).alias(outputs.SCORE_WEEK),
    )
    missing = chosen.where(F.col(outputs.SCORED_AT).isNull())
    ever = scored.select(F.col(scores.SCORE_ID).alias("_ever")).distinct()
    missing = missing.join(ever, F.col("_ever") == F.col(outcome_lines.OUTCOME_ID), "left")
    when_text = F.date_format(known_at, "yyyy-MM-dd'T'HH:mm:ss'Z'")
    reason = F.when(
        F.col("_ever").isNull(),
        F.format_string("id '%s' was never scored", F.col(outcome_lines.OUTCOME_ID)),
    ).otherwise(
        F.format_string(
            f"id '%s' has no score at or before known_at %s within {horizon_days} day(s) "
            "(only later ones, or older ones)",
            F.col(outcome_lines.OUTCOME_ID),
            when_text,
        )
    )
    not_scored = missing.select(
        outcome_lines.OUTCOME_ID,
        outcome_lines.OUTCOME_LABEL,
        outcome_lines.KNOWN_AT,
        outcome_lines.LINE,
        reader.SOURCE_FILE,
        reader.RAW_LINE,
        F.lit(codes.NOT_SCORED).alias(outcome_lines.CODE),
        reason.alias(outcome_lines.REASON),
    )
    return joined, not_scored


def write_training_set(
    spark: SparkSession, joined: DataFrame, description: DatasetDescription, path: str, run_id: str
) -> str:
    """The joined rows as the description's CSV (every column in its order, a header, the outcome in the
    label column as the description's first positive / negative value, ignored columns blank): what
    `churn-train --data <folder> --dataset <description>` reads. Returns the run's folder."""
    positive, negative = description.positive_labels[0], description.negative_labels[0]
    label = F.when(F.col(evaluate.LABEL) == 1, F.lit(positive)).otherwise(F.lit(negative))
    columns = []
    for column in description.columns:
        if column.role == LABEL:
            columns.append(label.alias(column.name))
        elif column.role == IGNORED:
            columns.append(F.lit(None).cast("string").alias(column.name))
        else:
            columns.append(F.col(scores.quote(column.name)).alias(column.name))
    target = writer.partition_path(path, writer.check_batch_id(run_id))
    writer.delete_path(spark, target)
    # RFC 4180 quoting (a quote doubled, not backslash-escaped): what pandas and the batch reader read.
    joined.select(*columns).write.option("header", "true").option("escape", '"').csv(target)
    return target


def _latest_auc(quality_rows: DataFrame) -> dict[str, dict]:
    """Per model version, its latest week with an AUC (the written rows: one per version and week)."""
    latest: dict[str, dict] = {}
    rows = quality_rows.where(F.col(outputs.AUC).isNotNull()).select(
        outputs.MODEL_VERSION, outputs.SCORE_WEEK, outputs.AUC, outputs.ROWS, outputs.POSITIVES
    )
    for row in sorted(rows.collect(), key=lambda r: (r[outputs.MODEL_VERSION], r[outputs.SCORE_WEEK])):
        latest[row[outputs.MODEL_VERSION]] = {
            outputs.SCORE_WEEK: row[outputs.SCORE_WEEK],
            outputs.AUC: float(row[outputs.AUC]),
            outputs.ROWS: int(row[outputs.ROWS]),
            outputs.POSITIVES: int(row[outputs.POSITIVES]),
        }
    return latest


def publish_latest_auc(latest: dict[str, dict], job_name: str, region: str | None, client=None) -> list[str]:
    """ModelAUC per model version (dimensions JobName, ModelVersion), what the model-quality alarm reads. A
    failed put is logged as an error and never stops the job (as the drift metric's)."""
    if not latest:
        return []
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or boto3.client("cloudwatch", region_name=region)
    data = [
        {
            "MetricName": metrics.MODEL_AUC,
            "Dimensions": [
                {"Name": metrics.DIMENSION, "Value": job_name},
                {"Name": metrics.MODEL_VERSION_DIMENSION, "Value": version},
            ],
            "Value": figures[outputs.AUC],
            "Unit": "None",
        }
        for version, figures in sorted(latest.items())
    ]
    published = []
    for start in range(0, len(data), 1000):  # PutMetricData takes up to 1,000 metrics per call
        chunk = data[start : start + 1000]
        try:
            client.put_metric_data(Namespace=metrics.NAMESPACE, MetricData=chunk)
        except (BotoCoreError, ClientError) as exc:
            log.error("could not publish %s for %s: %s", metrics.MODEL_AUC, job_name, exc)
            continue
        published += [d["Dimensions"][1]["Value"] for d in chunk]
    return published


def summary_json(summary: QualitySummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True)
