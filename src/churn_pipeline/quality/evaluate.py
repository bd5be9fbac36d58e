"""Model quality of joined rows, per model version and ISO week of scoring, computed in Spark (no row is
collected on the driver): rows, positives, AUC, log loss, precision and recall at the deployed threshold,
and calibration per score decile.

AUC is exact: the Mann-Whitney statistic with tied scores counted half, from the per-score counts of
positives and negatives (a window over the distinct scores of each group, integers summed as bigint), so it
equals sklearn's roc_auc_score (the trapezoids of the ROC curve, which count ties the same way) to rounding.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from churn_pipeline.contract import outputs

LABEL = "_label"  # 1 churned, 0 stayed
GROUP = (outputs.MODEL_VERSION, outputs.SCORE_WEEK)
# Probabilities are clipped to [EPSILON, 1 - EPSILON] in the log loss, so a confident miss costs a large
# finite amount (sklearn's log_loss clips to its dtype's epsilon, 2.2e-16 for float64).
EPSILON = 1e-15
DECILES = 10


def iso_week(timestamp: Column) -> Column:
    """ISO-8601 week of a timestamp's UTC day, e.g. 2026-W05 (the session's time zone must be UTC): the
    week-numbering year is the year of the week's Thursday."""
    day = F.to_date(timestamp)
    iso_weekday = (F.dayofweek(day) + 5) % 7 + 1  # Monday 1 .. Sunday 7
    thursday = F.date_add(day, (F.lit(4) - iso_weekday).cast("int"))
    return F.format_string("%04d-W%02d", F.year(thursday), F.weekofyear(day))


def quality(joined: DataFrame, threshold: float, computed_at: Column) -> DataFrame:
    """contract.outputs.MODEL_QUALITY's columns, one row per model version and week."""
    p = F.col(outputs.PROBABILITY)
    y = F.col(LABEL)
    clipped = F.least(F.greatest(p, F.lit(EPSILON)), F.lit(1 - EPSILON))
    predicted = (p >= F.lit(threshold)).cast("int")
    sums = joined.groupBy(*GROUP).agg(
        F.count(F.lit(1)).alias(outputs.ROWS),
        F.sum(y).cast("bigint").alias(outputs.POSITIVES),
        (-F.avg(y * F.log(clipped) + (1 - y) * F.log(1 - clipped))).alias(outputs.LOG_LOSS),
        F.sum(predicted * y).alias("_true_positives"),
        F.sum(predicted).alias("_predicted_positives"),
    )
    rows = sums.join(auc_by_group(joined), list(GROUP), "left")
    true_positives = F.col("_true_positives")
    return rows.select(
        *GROUP,
        F.col(outputs.ROWS).cast("bigint").alias(outputs.ROWS),
        outputs.POSITIVES,
        F.col(outputs.AUC),
        F.col(outputs.LOG_LOSS),
        F.when(F.col("_predicted_positives") > 0, true_positives / F.col("_predicted_positives")).alias(
            outputs.PRECISION
        ),
        F.when(F.col(outputs.POSITIVES) > 0, true_positives / F.col(outputs.POSITIVES)).alias(outputs.RECALL),
        F.lit(float(threshold)).alias(outputs.THRESHOLD),
        computed_at.alias(outputs.COMPUTED_AT),
    )


def auc_by_group(joined: DataFrame) -> DataFrame:
    """Model version, week, AUC (null when the group's outcomes are all of one kind).

    For each distinct score s: pos(s) positives and neg(s) negatives; a positive beats every negative with a
    lower score and ties half of those with its score: AUC = sum_s pos(s) * (neg_below(s) + neg(s) / 2) / (P N).
    The numerator is kept doubled, as an exact bigint."""
    y = F.col(LABEL).cast("bigint")
    per_score = joined.groupBy(*GROUP, outputs.PROBABILITY).agg(
        F.sum(y).alias("_pos"), F.sum(1 - y).alias("_neg")
    )
    below = Window.partitionBy(*GROUP).orderBy(outputs.PROBABILITY).rowsBetween(Window.unboundedPreceding, -1)
    ranked = per_score.select(
        *GROUP, "_pos", "_neg", F.coalesce(F.sum("_neg").over(below), F.lit(0)).alias("_neg_below")
    )
    totals = ranked.groupBy(*GROUP).agg(
        F.sum(F.col("_pos") * (2 * F.col("_neg_below") + F.col("_neg"))).alias("_twice_wins"),
        F.sum("_pos").alias("_p"),
        F.sum("_neg").alias("_n"),
    )
    pairs = F.col("_p") * F.col("_n")
    return totals.select(
        *GROUP,
        F.when(pairs > 0, F.col("_twice_wins").cast("double") / (2 * pairs).cast("double")).alias(
            outputs.AUC
        ),
    )


def calibration(joined: DataFrame, computed_at: Column, tie_break: str) -> DataFrame:
    """contract.outputs.MODEL_CALIBRATION's columns: per model version, week and score decile (ntile over the
    group's scores, lowest first; ties ordered by `tie_break` so a re-run gives the same deciles)."""
    order = Window.partitionBy(*GROUP).orderBy(outputs.PROBABILITY, tie_break)
    deciles = joined.select(
        *GROUP, outputs.PROBABILITY, LABEL, F.ntile(DECILES).over(order).alias(outputs.SCORE_DECILE)
    )
    return (
        deciles.groupBy(*GROUP, outputs.SCORE_DECILE)
        .agg(
            F.count(F.lit(1)).cast("bigint").alias(outputs.ROWS),
            F.avg(outputs.PROBABILITY).alias(outputs.PREDICTED_MEAN),
            F.avg(F.col(LABEL).cast("double")).alias(outputs.OBSERVED_RATE),
        )
        .select(
            *GROUP,
            F.col(outputs.SCORE_DECILE).cast("int").alias(outputs.SCORE_DECILE),
            outputs.ROWS,
            outputs.PREDICTED_MEAN,
            outputs.OBSERVED_RATE,
            computed_at.alias(outputs.COMPUTED_AT),
        )
    )
