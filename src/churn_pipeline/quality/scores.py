"""The scores the outcomes are joined to: the batch job's and the streaming job's scored Iceberg tables
(contract.outputs.BATCH_PREDICTIONS / STREAM_PREDICTIONS).

Each table is read as its current snapshot (tables.read_spark): a run or micro-batch a job was writing when it
stopped is in no snapshot and never seen, and a batch re-run replaces its batch_id partition in one commit.
A table that does not exist yet, or has no snapshot, holds no score.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyiceberg.exceptions import NoSuchTableError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

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
    batch_tables: Sequence[TableRef] = (),
    stream_tables: Sequence[TableRef] = (),
) -> DataFrame:
    """Every scored row of the given tables: the description's output columns (null where an older model's
    rows lack one), probability, model version, scored_at, SOURCE and SCORE_ID."""
    sources = [(ref, BATCH) for ref in batch_tables] + [(ref, STREAM) for ref in stream_tables]
    frames = [
        _select(frame, description, source)
        for ref, source in sources
        if (frame := _read_table(spark, ref)) is not None
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


def _read_table(spark: SparkSession, ref: TableRef) -> DataFrame | None:
    """The table's committed rows; None when it has no snapshot (read_spark) or does not exist yet."""
    try:
        return read_spark(spark, ref.catalog(), ref.identifier)
    except NoSuchTableError:
        # Terraform makes no table: make deploy and the scoring jobs create them (tables.ensure_tables). A quality
        # run before either did (locally: before the first batch run or micro-batch) has nothing to join.
        # Both the SQL catalog and Glue (an unknown table or database: GetTable's EntityNotFoundException) raise
        # NoSuchTableError from load_table (pyiceberg 0.12.0, catalog/sql.py and catalog/glue.py); any other
        # error (access denied, an unreadable snapshot) still fails the run.
        return None


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
