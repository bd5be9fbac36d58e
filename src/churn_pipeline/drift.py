"""Drift: a baseline of the training inputs and scores, written by training into the model directory, and the
population stability index (PSI) of what a job scores against it.

The baseline (`baseline.json` of a model directory, part of the model version) holds, for each column the
model reads, the shares of the training rows in fixed bins: for a numeric column the bins between its
training deciles (`edges`; bin i holds the values v with edges[i-1] < v <= edges[i], the first and last bins
are open), for a categorical column one bin per value seen in training; and the same for the model's scores
on the training rows (decile edges of [0, 1]). A value the baseline has never seen (a new state, say) is
counted in its own bin, `UNSEEN`, whose baseline share is 0, or the share of training rows where the value
was blank (a blank the dataset description allows is scored, and counted there too).

PSI = sum over bins of (actual - expected) * ln(actual / expected), each share floored at `SHARE_FLOOR` so that
an empty bin counts (as is usual for PSI). Below 0.1 is read as stable, 0.1-0.2 as a shift to watch, above
0.2 as a significant shift: the jobs publish the largest PSI and the monitoring alarm fires at
`contract.metrics.DRIFT_ALARM_THRESHOLD`.

No Spark here: `BinCounter` counts one batch of scored rows in numpy, in the scoring worker (the shared
scorer of churn_pipeline.scoring.spark sums the batches' counts with an accumulator); only those counts reach
the driver.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BASELINE_FILENAME = "baseline.json"
BASELINE_VERSION = 1
UNSEEN = "__unseen__"
log = logging.getLogger(__name__)

SCORE = "score"  # the baseline's name for the model's scores
SHARE_FLOOR = 1e-4
QUANTILES = tuple(q / 10 for q in range(1, 10))
# The fewest scored rows whose largest PSI is published as the drift metric. With no drift at all, the PSI of
# n rows over k bins is about (k - 1) / n (it is chi-square / n); State has 52 bins, so 1,000 rows keep that
# noise near 0.05, well under the alarm's 0.2. Smaller runs and micro-batches still write their drift rows.
MIN_ROWS = 1_000
NUMERIC, CATEGORICAL = "numeric", "categorical"


@dataclass(frozen=True)
class FeatureBins:
    """One column's bins: numeric (edges -> len(edges) + 1 bins, by index) or categorical (by value)."""

    kind: str
    shares: dict[str, float]  # bin label -> share of the training rows
    edges: tuple[float, ...] = ()

    def label(self, value: Any) -> str:
        """The bin of one value, as `BinCounter` counts it: for a number, how many edges lie below it."""
        if self.kind == NUMERIC:
            return str(sum(1 for edge in self.edges if float(value) > edge))
        text = str(value)
        return text if text in self.shares else UNSEEN

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "shares": self.shares}
        if self.kind == NUMERIC:
            out["edges"] = list(self.edges)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBins:
        return cls(
            data["kind"], {str(k): float(v) for k, v in data["shares"].items()}, tuple(data.get("edges", ()))
        )

    @classmethod
    def numeric(cls, values: np.ndarray) -> FeatureBins:
        values = np.asarray(values, dtype=np.float64)
        # A blank the dataset allows is NaN here: its share is the UNSEEN bin's, where scoring counts a
        # missing number, so a change in how often a value is missing is drift too.
        present = values[~np.isnan(values)]
        edges = tuple(float(e) for e in np.unique(np.quantile(present, QUANTILES))) if len(present) else ()
        counts = np.bincount(
            np.searchsorted(np.asarray(edges), present, side="left"), minlength=len(edges) + 1
        )
        shares = {str(i): float(c) / len(values) for i, c in enumerate(counts)}
        if len(present) < len(values):
            shares[UNSEEN] = float(len(values) - len(present)) / len(values)
        return cls(NUMERIC, shares, edges)

    @classmethod
    def categorical(cls, values: pd.Series) -> FeatureBins:
        present = values.dropna()
        shares = {
            str(k): float(v) / len(values) for k, v in present.astype(str).value_counts().sort_index().items()
        }
        if len(present) < len(values):  # allowed blanks: scoring counts a null as UNSEEN
            shares[UNSEEN] = float(len(values) - len(present)) / len(values)
        return cls(CATEGORICAL, shares)


@dataclass(frozen=True)
class Baseline:
    features: dict[str, FeatureBins]  # model input column -> bins (the scores under SCORE)
    rows: int
    version: int = BASELINE_VERSION

    def file_text(self) -> str:
        """baseline.json as written (and hashed into the model version)."""
        return self.to_json() + "\n"

    def to_json(self) -> str:
        return json.dumps(
            {
                "baseline_version": self.version,
                "rows": self.rows,
                "features": {name: bins.to_dict() for name, bins in self.features.items()},
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Baseline:
        data = json.loads(text)
        if data.get("baseline_version") != BASELINE_VERSION:
            raise ValueError(
                f"baseline version {data.get('baseline_version')!r} is not {BASELINE_VERSION}: retrain the model"
            )
        return cls({k: FeatureBins.from_dict(v) for k, v in data["features"].items()}, int(data["rows"]))

    @classmethod
    def load(cls, path: Path) -> Baseline:
        return cls.from_json(Path(path).read_text())

    @classmethod
    def build(
        cls, frame: pd.DataFrame, numeric: list[str], categorical: list[str], scores: np.ndarray
    ) -> Baseline:
        """The baseline of training rows `frame` (raw columns by the model's names) and their scores."""
        features = {name: FeatureBins.numeric(frame[name].to_numpy(dtype=np.float64)) for name in numeric}
        features.update({name: FeatureBins.categorical(frame[name]) for name in categorical})
        features[SCORE] = FeatureBins.numeric(np.asarray(scores, dtype=np.float64))
        return cls(features, len(frame))


def psi(expected: Mapping[str, float], actual_counts: Mapping[str, int]) -> float:
    """PSI of observed counts per bin against the baseline's shares; bins either side lacks count as empty."""
    total = sum(actual_counts.values())
    if total == 0:
        return float("nan")
    value = 0.0
    for label in set(expected) | set(actual_counts):
        e = max(expected.get(label, 0.0), SHARE_FLOOR)
        a = max(actual_counts.get(label, 0) / total, SHARE_FLOOR)
        value += (a - e) * math.log(a / e)
    return value


@dataclass
class DriftReport:
    """PSI per feature (and the score) of one scored dataset, or why there is none."""

    psi: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    unavailable: str | None = None  # the reason when the model has no baseline (never reported as 0)

    @property
    def max_psi(self) -> float | None:
        values = [v for v in self.psi.values() if not math.isnan(v)]
        return max(values) if values and self.unavailable is None else None

    @property
    def max_feature(self) -> str | None:
        if self.max_psi is None:
            return None
        return max((v, k) for k, v in self.psi.items() if not math.isnan(v))[1]

    def summary(self) -> dict[str, Any]:
        if self.unavailable is not None:
            return {"available": False, "reason": self.unavailable}
        return {
            "available": True,
            "rows": self.rows,
            "max_psi": self.max_psi,
            "max_feature": self.max_feature,
            "psi": {k: round(v, 6) for k, v in sorted(self.psi.items())},
        }

    def rows_of(self) -> list[dict[str, Any]]:
        """One row per feature, for the drift dataset."""
        return [
            {"feature": name, "kind": self.kinds[name], "psi": value, "rows": self.rows}
            for name, value in sorted(self.psi.items())
        ]


def report(baseline: Baseline | None, counts: Mapping[str, Mapping[str, int]], rows: int) -> DriftReport:
    """The drift report from counts per feature and bin (as `BinCounter.counts_of` gives them)."""
    if baseline is None:
        return DriftReport(
            unavailable=f"the model directory has no {BASELINE_FILENAME} (a model trained before it)"
        )
    result = DriftReport(rows=rows)
    for name, bins in baseline.features.items():
        result.psi[name] = psi(bins.shares, counts.get(name, {}))
        result.kinds[name] = SCORE if name == SCORE else bins.kind
    return result


# --- the counts, computed where the rows are scored -------------------------------------------------


class BinCounter:
    """Counts rows per feature and bin with numpy, on one batch of model inputs and their scores: what a
    scoring worker runs on each Arrow batch, so the counts cost no pass over the data of their own.

    The counts of a batch are one flat int64 vector (every feature's bins, `UNSEEN` last, in baseline order);
    `counts_of` turns a sum of such vectors into {feature: {bin label: count}}. The bins are those of
    `FeatureBins.label` (tests/test_drift.py compares them value by value).

    (Before this, one Spark aggregation over the scored rows summed a 0/1 per feature and bin: 220 aggregate
    expressions, too large a generated method for the JIT, cost the batch job 1.5-2.4x its wall time in
    `make bench`; the same counts here add one searchsorted per column to a batch already in numpy.)
    """

    def __init__(self, baseline: Baseline):
        self.baseline = baseline
        self._labels: dict[str, list[str]] = {}  # feature -> label of bin index 0, 1, ... (UNSEEN last)
        for name, bins in baseline.features.items():
            labels = (
                [str(i) for i in range(len(bins.edges) + 1)]
                if bins.kind == NUMERIC
                else [label for label in bins.shares if label != UNSEEN]
            )
            self._labels[name] = [*labels, UNSEEN]
        sizes = [len(labels) for labels in self._labels.values()]
        self._offsets = dict(zip(self._labels, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True))
        self.size = int(sum(sizes))

    def count(self, features: pd.DataFrame, scores: np.ndarray) -> np.ndarray:
        """Counts of these rows (model input columns by the model's names) and their scores."""
        total = np.zeros(self.size, dtype=np.int64)
        for name, bins in self.baseline.features.items():
            if name == SCORE:
                values = np.asarray(scores, dtype=np.float64)
            elif name in features:
                values = features[name]
            else:
                raise KeyError(f"the baseline's column {name!r} is not among the scored columns")
            index = (
                self._numeric_index(bins, values)
                if bins.kind == NUMERIC
                else self._category_index(name, values)
            )
            offset = self._offsets[name]
            total[offset : offset + len(self._labels[name])] += np.bincount(
                index, minlength=len(self._labels[name])
            )
        return total

    def counts_of(self, vector: np.ndarray) -> dict[str, dict[str, int]]:
        """{feature: {bin label: count}} of a count vector, empty bins and features left out (as `report` reads)."""
        counts: dict[str, dict[str, int]] = {}
        for name, labels in self._labels.items():
            offset = self._offsets[name]
            found = {
                label: int(n)
                for label, n in zip(labels, vector[offset : offset + len(labels)], strict=True)
                if n
            }
            if found:
                counts[name] = found
        return counts

    @staticmethod
    def _numeric_index(bins: FeatureBins, values) -> np.ndarray:
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        # The number of edges below the value (numpy's searchsorted side="left"); no number: UNSEEN.
        index = np.searchsorted(np.asarray(bins.edges, dtype=np.float64), numbers, side="left")
        index[np.isnan(numbers)] = len(bins.edges) + 1
        return index

    def _category_index(self, name: str, values) -> np.ndarray:
        labels = self._labels[name]
        lookup = {label: i for i, label in enumerate(labels[:-1])}
        series = pd.Series(values)
        if not isinstance(series.dtype, pd.CategoricalDtype):  # the worker's text columns already are
            series = series.astype("category")
        # Each distinct value is labelled once (a null category has no label); code -1 (a null) picks the
        # last entry: UNSEEN.
        unseen = len(labels) - 1
        texts = [_text(c) for c in series.cat.categories]
        by_code = np.array(
            [*(unseen if t is None else lookup.get(t, unseen) for t in texts), unseen], dtype=np.int64
        )
        return by_code[series.cat.codes.to_numpy()]


def _text(value: Any) -> str | None:
    """A categorical value as training's `astype(str)` wrote it: a whole number without ".0" (a pandas int
    column with a null in the batch arrives as floats), a null as no label."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def publish_max_psi(report: DriftReport, job_name: str, region: str | None, client=None) -> bool:
    """The largest PSI as the CloudWatch metric the drift alarm reads; nothing when drift is unavailable
    (never a 0 that would read as "no drift"). A failed put is logged as an error, never stops the job."""
    from botocore.exceptions import BotoCoreError, ClientError

    from churn_pipeline.contract import metrics

    if report.max_psi is None:
        log.info("drift unavailable (%s): no %s published", report.unavailable, metrics.MAX_PSI)
        return False
    if report.rows < MIN_ROWS:
        log.info("drift of %d rows (fewer than %d): no %s published", report.rows, MIN_ROWS, metrics.MAX_PSI)
        return False
    import boto3

    client = client or boto3.client("cloudwatch", region_name=region)
    try:
        client.put_metric_data(
            Namespace=metrics.NAMESPACE,
            MetricData=[
                {
                    "MetricName": metrics.MAX_PSI,
                    "Dimensions": [{"Name": metrics.DIMENSION, "Value": job_name}],
                    "Value": float(report.max_psi),
                    "Unit": "None",
                }
            ],
        )
    except (BotoCoreError, ClientError) as exc:
        log.error("could not publish %s for %s: %s", metrics.MAX_PSI, job_name, exc)
        return False
    return True
