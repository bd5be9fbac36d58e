"""The scores the outcomes are joined to: the batch job's and the streaming job's scored datasets, as written
(contract.outputs.BATCH_PREDICTIONS / STREAM_PREDICTIONS, Parquet with Hive folders).

The streaming job's Iceberg table is read as its current snapshot (tables.read_spark): a micro-batch the job
was writing when it stopped is in no snapshot and never seen. A batch dataset is read as its batch_id=<run> folders (each
folder is replaced whole by a re-run, batch.writer). A location that does not exist yet holds no score.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_pipeline.batch import writer
from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.quality import outcomes as outcome_lines
from churn_pipeline.tables import TableRef, read_spark

SOURCE = "_score_source"  # "batch" or "stream": the tie-break of two scores at the same instant
BATCH, STREAM = "batch", "stream"
SCORE_ID = "_score_id"  # the id as the join compares it (outcomes.normal_id)


def read_scores(
    spark: SparkSession,
    description: DatasetDescription,
    batch_paths: Sequence[str] = (),
    stream_tables: Sequence[TableRef] = (),
) -> DataFrame:
    """Every scored row of the given datasets: the description's output columns (null where an older model's
    rows lack one), probability, model version, scored_at, SOURCE and SCORE_ID."""
    frames = [
        _select(frame, description, BATCH)
        for path in batch_paths
        if (frame := _read_batch(spark, path)) is not None
    ]
    frames += [
        _select(frame, description, STREAM)
        for ref in stream_tables
        if (frame := read_spark(spark, ref.catalog(), ref.identifier)) is not None
    ]
    if not frames:  # no score yet: every outcome is NOT_SCORED
        return spark.createDataFrame([], schema_of(description))
    return reduce(DataFrame.unionByName, frames)


def schema_of(description: DatasetDescription) -> str:
    """The DDL of read_scores' rows."""
    raw = [f"{quote(c.name)} {c.catalog_type}" for c in description.output_columns]
    fixed = [f"{outputs.PROBABILITY} double", f"{outputs.MODEL_VERSION} string",
             f"{outputs.SCORED_AT} timestamp", f"{SOURCE} string", f"{SCORE_ID} string"]  # fmt: skip
    return ", ".join(raw + fixed)


def _read_batch(spark: SparkSession, path: str) -> DataFrame | None:
    if not writer.path_exists(spark, path):
        return None
    return spark.read.parquet(path)  # its batch_id=<run> folders, discovered as a partition column


def _select(frame: DataFrame, description: DatasetDescription, source: str) -> DataFrame:
    """The columns the join and the training set need, in one shape for both datasets."""
    present = set(frame.columns)
    raw = [
        (F.col(quote(c.name)) if c.name in present else F.lit(None)).cast(c.catalog_type).alias(c.name)
        for c in description.output_columns
    ]
    id_column = outcome_lines.outcome_header(description)[0]
    return frame.select(
        *raw,
        F.col(outputs.PROBABILITY).cast("double").alias(outputs.PROBABILITY),
        F.col(outputs.MODEL_VERSION).cast("string").alias(outputs.MODEL_VERSION),
        F.col(outputs.SCORED_AT).cast("timestamp").alias(outputs.SCORED_AT),
        F.lit(source).alias(SOURCE),
        outcome_lines.normal_id(F.col(quote(id_column)), description).alias(SCORE_ID),
    ).where(F.col(outputs.PROBABILITY).isNotNull() & F.col(outputs.SCORED_AT).isNotNull())


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
