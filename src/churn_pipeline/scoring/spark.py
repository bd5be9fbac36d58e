"""THE Spark scorer shared by the batch job and the streaming job: one DataFrame in, scored / rejected / failed out.

Rows cross into Python (Arrow, scalar pandas UDF) carrying only the columns the model needs; every other
column stays in the JVM and is re-joined to its row by Spark itself, so pass-through columns (record ids,
kinesis_* metadata, the raw CSV line) survive untouched. Inside the Python worker the shared
`features.encode` validates and encodes the rows, so a reject means the same thing in every job. Then
either the model scores them in-process (mode "embedded", loaded once per Python worker) or the rows go
as `text/csv` payloads to a SageMaker endpoint (mode "endpoint").

The UDF is marked non-deterministic and its result is persisted before the three outcomes are split off,
so Spark never evaluates it twice for a row: the endpoint is called once per row, the model run once.

A job whose own tasks handle every row in one pass (the streaming handler: parse, score, write per Arrow
batch; the batch job: score and write per Arrow batch of its typed lines) calls the same worker function
through `TaskScorer` instead of the UDF.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyspark import Accumulator, AccumulatorParam, StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline import drift
from churn_pipeline.contract import outputs
from churn_pipeline.contract.features import FeatureSpec, resolve_columns
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.scoring.worker import (
    FAILED,
    PRIOR_CODE,
    PRIOR_REASON,
    REJECTED,
    SCORED,
    OnScored,
    arrow_batch_scorer,
    pandas_batch_scorer,
)

log = logging.getLogger(__name__)

ARROW_BATCH_ROWS_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"

PROBABILITY = outputs.PROBABILITY
PREDICTION = outputs.PREDICTION
VERSION = outputs.MODEL_VERSION
SCORED_AT = outputs.SCORED_AT
ERROR_CODE = outputs.ERROR_CODE
ERROR_REASON = outputs.ERROR_REASON
OUTCOME = "outcome"  # of `TaskScorer.outcomes`: SCORED, REJECTED or FAILED

_RESULT = "_churn_scoring"
RESULT_TYPE = T.StructType(
    [
        T.StructField("probability", T.DoubleType()),
        T.StructField("outcome", T.StringType()),
        T.StructField("error_code", T.StringType()),
        T.StructField("error_reason", T.StringType()),
    ]
)


@dataclass
class ScoringResult:
    scored: DataFrame  # input columns + churn_probability, churn_prediction, model_version, scored_at
    rejected: DataFrame  # input columns + error_code + error_reason (the feature contract said no)
    failed: DataFrame  # input columns + error_reason (the endpoint could not score them after retries)
    tagged: DataFrame  # the persisted frame the three are split from; `release()` frees it
    model_version: str
    # The model's training baseline when drift was asked for (None: not asked, or a model without one).
    drift_baseline: drift.Baseline | None = None
    _drift_counts: Accumulator | None = None

    def drift_counts(self, scored_rows: int) -> dict[str, dict[str, int]]:
        """{feature: {bin: count}} of the scored rows against `drift_baseline`, as the scoring workers counted
        them while the persisted frame was computed (by the first write). `scored_rows` is the scored count
        the caller has: a frame not yet computed in full cannot pass for a drift of fewer rows."""
        return _summed_drift_counts(self.drift_baseline, self._drift_counts, scored_rows)

    def counts(self) -> dict[str, int]:
        """Rows per outcome, in one pass over the persisted frame."""
        found: dict[str, int] = {outcome: 0 for outcome in (SCORED, REJECTED, FAILED)}
        for (outcome, _code), count in self.counts_by_code().items():
            found[outcome] += count
        return found

    def counts_by_code(self) -> dict[tuple[str, str | None], int]:
        """Rows per (outcome, error code), in one pass over the persisted frame."""
        grouped = self.tagged.groupBy(
            outcome_column().alias("outcome"), F.col(f"{_RESULT}.error_code").alias("code")
        ).count()
        return {(row["outcome"], row["code"]): int(row["count"]) for row in grouped.collect()}

    def release(self) -> None:
        self.tagged.unpersist()


def _summed_drift_counts(
    baseline: drift.Baseline | None, accumulator: Accumulator | None, scored_rows: int
) -> dict[str, dict[str, int]]:
    """The workers' counts summed over their batches, checked against the scored rows the caller has."""
    if baseline is None or accumulator is None:
        raise ValueError("drift counts were not asked for (count_drift=True) or the model has no baseline")
    counter = drift.BinCounter(baseline)
    batches = list(accumulator.value.values())
    vector = np.sum(batches, axis=0) if batches else np.zeros(counter.size, dtype=np.int64)
    counts = counter.counts_of(vector)
    counted = sum(counts.get(drift.SCORE, {}).values())
    if counted != scored_rows:
        raise RuntimeError(
            f"the scoring workers counted {counted} scored rows for drift, the outcomes {scored_rows}: "
            "read drift counts only after an action computed the whole scored frame"
        )
    return counts


class _CountsByBatch(AccumulatorParam):
    """{(partition, batch in the task): count vector}, merged by replacing a key, never adding to it: a task
    that runs again (a retry, a speculative copy, a lost cached block recomputed) sends the same keys with the
    same counts, so its rows are counted once. (Spark counts accumulator updates in transformations once per
    successful task *attempt*: https://spark.apache.org/docs/latest/rdd-programming-guide.html#accumulators)"""

    def zero(self, value):
        return {}

    def addInPlace(self, value1, value2):
        value1.update(value2)
        return value1


# In a Python worker the tasks run one at a time: the batch number within the running task attempt.
_task_batches = {"attempt": -1, "next": 0}


def _drift_counter(baseline: drift.Baseline, accumulator: Accumulator):
    """The worker's `on_scored`: count a batch's scored rows and add them under (partition, batch number)."""
    counter = drift.BinCounter(baseline)

    def on_scored(features, probabilities) -> None:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is None:  # only a Spark task scores through the UDF
            raise RuntimeError("drift counts are taken in a Spark task: no TaskContext here")
        if context.taskAttemptId() != _task_batches["attempt"]:
            _task_batches.update(attempt=context.taskAttemptId(), next=0)
        key = (context.partitionId(), _task_batches["next"])
        _task_batches["next"] += 1
        accumulator.add({key: counter.count(features, probabilities)})

    return on_scored


def score(
    df: DataFrame,
    config: ScoringConfig,
    prior_error: tuple[str, str] | None = None,
    keep_for_unscored: Sequence[str] = (),
    count_drift: bool = False,
) -> ScoringResult:
    """Score every row of `df`; each row ends in exactly one of scored / rejected / failed.

    `prior_error` names a (code, reason) pair of columns set by an earlier check (a CSV or JSON parser):
    rows with a code are rejected with it, unscored, in the same single pass. Columns in `keep_for_unscored`
    (e.g. a raw input line) are kept for rejected and failed rows only, so they do not weigh on the cache.
    With `count_drift` (and a model with a training baseline) the workers also count the scored rows per
    feature and bin as they score them: `ScoringResult.drift_counts` after the first write.
    Raises ContractError (before any work) when a column the model needs is absent.
    """
    spec, version, needed, baseline, counts, on_scored = _prepare(
        df.columns, df.sparkSession, config, count_drift
    )

    inputs = [F.col(_quote(needed[name])).alias(name) for name in spec.input_columns]
    if prior_error:
        inputs += [
            F.col(_quote(prior_error[0])).alias(PRIOR_CODE),
            F.col(_quote(prior_error[1])).alias(PRIOR_REASON),
        ]
    udf = _scoring_udf(config, spec, with_prior_error=bool(prior_error), on_scored=on_scored)
    outcome = outcome_column()
    # One argument per column, not one struct: the JVM then builds no nested row per input row.
    tagged = df.withColumn(_RESULT, udf(*inputs))
    for name in keep_for_unscored:
        tagged = tagged.withColumn(name, F.when(outcome != SCORED, F.col(_quote(name))))
    tagged = tagged.persist(getattr(StorageLevel, config.storage_level))

    internal = set(prior_error or ())
    input_columns = [F.col(_quote(c)) for c in df.columns if c not in internal]
    passed_through = [
        F.col(_quote(c)) for c in df.columns if c not in internal and c not in set(keep_for_unscored)
    ]
    probability = F.col(f"{_RESULT}.probability")
    scored = tagged.where(outcome == SCORED).select(
        *passed_through,
        probability.alias(PROBABILITY),
        (probability >= F.lit(config.threshold)).cast("int").alias(PREDICTION),
        F.lit(version).alias(VERSION),
        F.current_timestamp().alias(SCORED_AT),
    )
    rejected = tagged.where(outcome == REJECTED).select(
        *input_columns,
        F.col(f"{_RESULT}.error_code").alias(ERROR_CODE),
        F.col(f"{_RESULT}.error_reason").alias(ERROR_REASON),
    )
    failed = tagged.where(outcome == FAILED).select(
        *input_columns, F.col(f"{_RESULT}.error_reason").alias(ERROR_REASON)
    )
    return ScoringResult(
        scored=scored, rejected=rejected, failed=failed, tagged=tagged, model_version=version,
        drift_baseline=baseline, _drift_counts=counts,
    )  # fmt: skip


def drift_accumulator(spark) -> Accumulator:
    """An accumulator for the workers' drift counts, to reuse across scorings (`task_scorer`'s
    `drift_accumulator`): pyspark's driver keeps every accumulator it made in `accumulators._accumulatorRegistry`
    and never drops one, so a new one per streaming micro-batch would grow the driver for as long as it runs."""
    return spark.sparkContext.accumulator({}, _CountsByBatch())


def _prepare(
    columns: Sequence[str], spark, config: ScoringConfig, count_drift: bool, counts: Accumulator | None = None
):
    """What both scorers fix on the driver before any work: the model's spec and version, the input column of
    each model column (ContractError when one is absent), and the drift counting (baseline, accumulator and
    the workers' `on_scored`) when asked for and the model has a baseline: `counts` emptied for this scoring
    when given, else a new accumulator. Sets the session's Arrow batch size: the UDF's batches, or a
    mapInPandas task's, are that long."""
    if config.arrow_batch_rows is not None:
        spark.conf.set(ARROW_BATCH_ROWS_CONF, str(config.arrow_batch_rows))
    model_dir = ModelDir.fetch(config.model_uri, config.region)
    spec = model_dir.spec()
    needed = resolve_columns(columns, spec.input_columns)  # model column -> input column
    baseline = model_dir.baseline() if count_drift else None
    if baseline is None:
        counts = None
    elif counts is None:
        counts = drift_accumulator(spark)
    else:
        counts.value = {}  # reused: this scoring's counts only (the driver may set an accumulator's value)
    on_scored = _drift_counter(baseline, counts) if baseline is not None and counts is not None else None
    return spec, model_dir.version(), needed, baseline, counts, on_scored


@dataclass
class TaskScorer:
    """The shared scorer for a job whose own Spark tasks score (mapInPandas): the function the UDF applies
    (`worker.arrow_batch_scorer`), called on each pandas batch the task holds. Spark's UDF operator keeps
    every input row it has sent to Python in a queue until the row's result comes back, and when the UDF is
    slower than the operator feeding it that queue holds the task's whole partition (measured: a 500,000-row
    partition behind the scoring UDF held 957 MB of heap, 256 MB without the UDF). A mapInPandas that
    scores its batches itself has no such queue: a task holds the batch it is on.

    Built on the driver by `task_scorer` (model spec, version, drift accumulator); pickled into the tasks."""

    config: ScoringConfig
    spec: FeatureSpec
    model_version: str
    arrow_types: dict[str, object]  # model column -> the Arrow type of its input column
    inputs: dict[str, str]  # model column -> input column
    prior_error: tuple[str, str] | None
    drift_baseline: drift.Baseline | None
    on_scored: OnScored | None
    _drift_counts: Accumulator | None

    def outcomes(self, frame, scored_at_micros: int):
        """`frame` (pandas) without the prior-error columns, plus every result column (null where the row's
        outcome has none) and `OUTCOME`: the task's rows, each once, as `score` splits them."""
        import pandas as pd
        import pyarrow as pa

        arrays = [
            pa.array(frame[self.inputs[name]], type=self.arrow_types[name], from_pandas=True)
            for name in self.spec.input_columns
        ]
        if self.prior_error:
            arrays += [
                pa.array(frame[column], type=pa.string(), from_pandas=True) for column in self.prior_error
            ]
        result = self._score(*arrays).flatten()
        outcome = result[1].to_numpy(zero_copy_only=False)
        is_scored = outcome == SCORED
        probability = result[0].to_numpy(zero_copy_only=False)
        out = frame.drop(columns=list(self.prior_error or ())).reset_index(drop=True)
        out[PROBABILITY] = pd.Series(probability).where(is_scored)
        prediction = pd.Series((probability >= self.config.threshold).astype("int64")).astype("Int64")
        out[PREDICTION] = prediction.where(is_scored)
        out[VERSION] = pd.Series(self.model_version, index=out.index, dtype=object).where(is_scored)
        out[SCORED_AT] = pd.Series(scored_at_micros, index=out.index, dtype="Int64").where(is_scored)
        out[ERROR_CODE] = result[2].to_pandas()
        out[ERROR_REASON] = result[3].to_pandas()
        out[OUTCOME] = outcome
        return out

    def score_arrow(self, batch):
        """The worker's result (a StructArray of `RESULT_TYPE`'s fields) for an Arrow record batch of the
        scorer's schema: for a task that keeps its rows in Arrow (the batch job), never in pandas."""
        import pyarrow as pa

        arrays = [
            batch.column(self.inputs[name]).cast(self.arrow_types[name]) for name in self.spec.input_columns
        ]
        arrays += [batch.column(column).cast(pa.string()) for column in self.prior_error or ()]
        return self._score(*arrays)

    @cached_property
    def _score(self):
        """The worker function, built once per task process (the instance is pickled before its first use)."""
        return arrow_batch_scorer(
            self.config, self.spec, with_prior_error=bool(self.prior_error), on_scored=self.on_scored
        )

    def drift_counts(self, scored_rows: int) -> dict[str, dict[str, int]]:
        """As `ScoringResult.drift_counts`: after the tasks ran."""
        return _summed_drift_counts(self.drift_baseline, self._drift_counts, scored_rows)


def task_scorer(
    schema: T.StructType,
    spark,
    config: ScoringConfig,
    prior_error: tuple[str, str] | None = None,
    count_drift: bool = False,
    drift_counts: Accumulator | None = None,
) -> TaskScorer:
    """A `TaskScorer` for frames of `schema` (what the tasks' pandas batches hold). With `count_drift`, the
    workers count into `drift_counts` (from `drift_accumulator`, emptied first) when given: a caller that scores
    again and again, as a streaming query does, reuses one. Raises ContractError (before any work) when a
    column the model needs is absent."""
    from pyspark.sql.pandas.types import to_arrow_type

    spec, version, needed, baseline, counts, on_scored = _prepare(
        schema.fieldNames(), spark, config, count_drift, drift_counts
    )
    return TaskScorer(
        config=config, spec=spec, model_version=version,
        arrow_types={name: to_arrow_type(schema[needed[name]].dataType) for name in spec.input_columns},
        inputs=needed, prior_error=prior_error, drift_baseline=baseline, on_scored=on_scored,
        _drift_counts=counts,
    )  # fmt: skip


def _quote(name: str) -> str:
    """Column reference for any header name (spaces, apostrophes, dots, question marks)."""
    return "`" + name.replace("`", "``") + "`"


def _scoring_udf(config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool, on_scored=None):
    # Arrow UDFs arrived in Spark 4.1 (Glue 6.0); a job on an older Glue (Spark 3.5) uses the pandas UDF.
    if hasattr(F, "arrow_udf"):
        # pyspark's stubs model no variadic Arrow scalar UDF with a struct result: the call is as documented.
        return F.arrow_udf(  # type: ignore[call-overload]
            arrow_batch_scorer(config, spec, with_prior_error, on_scored), RESULT_TYPE
        ).asNondeterministic()
    return F.pandas_udf(  # type: ignore[call-overload]
        pandas_batch_scorer(config, spec, with_prior_error, on_scored), RESULT_TYPE
    ).asNondeterministic()


def outcome_column() -> Column:
    """The per-row outcome of a tagged frame (for callers that split or count it themselves)."""
    return F.col(f"{_RESULT}.outcome")
