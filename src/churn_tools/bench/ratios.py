"""The ratios `make bench` reports, each of two figures measured side by side in the same run, with its target.

A shared machine is noisy: absolute figures move between runs, a quotient of two paths measured in the same
rounds much less. Each ratio names its two figures by their dotted path in the results, so a reader can check it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from churn_tools.bench import parts


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator, each a dotted path into the results (so a reader can check the quotient).

    `paired`: both figures were measured in the same rounds, side by side (batch_throughput interleaves the
    modes in each round); the value is then the median of the per-round quotients, so that a slow spell of a
    shared machine, which slows both sides of a round, cancels out. The quotient of the medians is kept too.
    """

    name: str
    numerator: str
    denominator: str
    target: str | None  # ">= 100", "<= 1.25", ...; None: a figure to read, with no target
    description: str
    paired: bool = False


RATIOS = (
    Ratio(
        "endpoint_vs_tutorial_rows_per_second_ratio",
        "paths.endpoint.rows_per_second.median",
        "paths.tutorial.rows_per_second.median",
        ">= 100",
        "batch endpoint mode / tutorial method (rows/s)",
        paired=True,
    ),
    Ratio(
        "embedded_vs_floor_b_wall_time_ratio",
        "paths.embedded.wall_seconds.median",
        "paths.floor_b.wall_seconds.median",
        "<= 1.10",
        "batch embedded / floor B (wall time)",
        paired=True,
    ),
    Ratio(
        "embedded_vs_floor_c_wall_time_ratio",
        "paths.embedded.wall_seconds.median",
        "paths.floor_c.wall_seconds.median",
        "<= 2.0",
        "batch embedded / floor C, Spark's own CSV -> Parquet copy of the same file (wall time)",
        paired=True,
    ),
    Ratio(
        "embedded_drift_vs_embedded_wall_time_ratio",
        "paths.embedded_drift.wall_seconds.median",
        "paths.embedded.wall_seconds.median",
        "<= 1.05",
        "batch embedded with drift (PSI against the training baseline, written) / without (wall time)",
        paired=True,
    ),
    Ratio(
        "embedded_scoring_step_vs_floor_a_per_core_ratio",
        "paths.embedded_scoring_step.rows_per_second_per_core.median",
        "paths.floor_a.rows_per_second_per_core.median",
        ">= 0.25",
        "embedded scoring step, no I/O / floor A (rows/s per core)",
        paired=True,
    ),
    Ratio(
        "embedded_udf_in_spark_vs_floor_a_per_core_ratio",
        "paths.embedded_udf_in_spark.rows_per_second_per_core.median",
        "paths.floor_a.rows_per_second_per_core.median",
        None,
        "scoring UDF in Spark, with the rows' transfer / floor A (rows/s per core)",
    ),
    Ratio(
        "stream_sustained_rate_vs_transport_floor_ratio",
        "streaming.max_sustained_rate",
        "streaming.transport_floor.max_sustained_rate",
        ">= 0.5",
        "streaming job's highest sustained rate / the transport floor's (producer -> local Kinesis -> read only)",
    ),
    Ratio(
        "scaling_peak_memory_max_vs_min_ratio",
        "scaling.peak_total_rss_mb.max",
        "scaling.peak_total_rss_mb.min",
        "<= 1.2",
        "batch embedded 1x..16x ROWS: peak memory max / min",
    ),
    Ratio(
        "stream_handler_driver_python_rss_max_vs_min_ratio",
        "stream_handler.driver_python_rss.max",
        "stream_handler.driver_python_rss.min",
        "<= 1.25",
        "streaming handler alone, micro-batches of 10k..1M records: driver Python peak RSS max / min",
    ),
    Ratio(
        "stream_handler_jvm_heap_max_vs_min_ratio",
        "stream_handler.jvm_live_heap.max",
        "stream_handler.jvm_live_heap.min",
        "<= 1.25",
        "streaming handler alone, 10k..1M records: driver JVM live heap (after a full GC) max / min (executors in JVMs of their own)",
    ),
    Ratio(
        "stream_handler_vs_batch_per_core_ratio",
        "stream_handler.largest.records_per_second_per_core",
        "stream_handler.batch_same_rows.records_per_second_per_core",
        ">= 0.5",
        "streaming handler on the largest micro-batch / the batch job on the same rows (records/s per core)",
    ),
    Ratio(
        "quality_vs_floor_b_rows_per_second_ratio",
        "quality.quality.rows_per_second.median",
        "quality.floor_b.rows_per_second.median",
        None,
        "quality job (outcomes joined to as many scored rows, metrics and training set written) / floor B, "
        "same ROWS (rows/s)",
        paired=True,
    ),
    Ratio(
        "scaling_per_row_time_largest_vs_smallest_ratio",
        "scaling.seconds_per_million_rows.largest",
        "scaling.seconds_per_million_rows.smallest",
        "<= 1.25",
        "batch embedded: time per row at the largest / smallest size",
    ),
)


# Issue 27: scoring costs about the same share of the batch job whatever the data's shape.
SHAPE_TARGET = "<= 1.10"


def shape_ratio(name: str, shape: dict) -> Ratio:
    """Batch embedded / floor B on one shape of data (`results["shapes"][name]`, churn_tools.bench.shapes)."""
    return Ratio(
        f"embedded_vs_floor_b_wall_time_ratio_{name}_shape",
        f"shapes.{name}.embedded.wall_seconds.median",
        f"shapes.{name}.floor_b.wall_seconds.median",
        SHAPE_TARGET,
        f"batch embedded / floor B (wall time), {name} shape: {shape['columns']} columns, "
        f"{shape['numeric_features']} numeric and {shape['categorical_features']} categorical features "
        f"({shape['encoded_features']} model inputs), a model of {shape['model']['trees']} trees and "
        f"{shape['model']['leaves']:,} leaves; {shape['made_from']}",
        paired=True,
    )


def stats(values: Sequence[float]) -> dict:
    runs = [float(v) for v in values]
    return {"min": min(runs), "median": float(np.median(runs)), "max": max(runs), "runs": runs}


def lookup(results: dict, dotted: str):
    value = results
    for key in dotted.split("."):
        value = value[key]
    return value


def meets(value: float, target: str) -> bool:
    operator, bound = target.split()
    return value >= float(bound) if operator == ">=" else value <= float(bound)


def runs_of(results: dict, dotted_median: str) -> list[float]:
    """The per-round runs behind a `<figure>.median` path."""
    return lookup(results, dotted_median.removesuffix(".median"))["runs"]


def ratios(results: dict) -> dict:
    found = {}
    shapes = results.get("shapes")
    by_shape = tuple(shape_ratio(n, s) for n, s in shapes.items()) if parts.measured(shapes) else ()
    for ratio in RATIOS + by_shape:
        entry = {"numerator": ratio.numerator, "denominator": ratio.denominator}
        try:
            entry["of_medians"] = lookup(results, ratio.numerator) / lookup(results, ratio.denominator)
            if ratio.paired:
                pairs = zip(
                    runs_of(results, ratio.numerator), runs_of(results, ratio.denominator), strict=True
                )
                entry["per_round"] = [n / d for n, d in pairs]
                value = float(np.median(entry["per_round"]))
            else:
                value = entry["of_medians"]
        except KeyError:  # from a part that was left out: not measured
            value = None
        found[ratio.name] = {
            "value": value,
            "method": "median of per-round quotients" if ratio.paired else "quotient",
            "target": ratio.target,
            "meets_target": None if value is None or ratio.target is None else meets(value, ratio.target),
            **entry,
            "description": ratio.description,
        }
    return found
