"""Drift: the training baseline in the model directory, and the PSI the batch job reports against it.

The batch job runs for real on local Spark, on data generated like the training data, on a copy with one column
shifted, and with an older model directory that has no baseline.
"""

from __future__ import annotations

import shutil

import boto3
import numpy as np
import pandas as pd
import pytest

from churn_pipeline import drift
from churn_pipeline.batch import BatchConfig, run
from churn_pipeline.contract import metrics, outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools import synthetic
from churn_tools.local import services as local_services

SHIFTED_COLUMN = "Day Mins"


@pytest.fixture(scope="module")
def fresh_csv(tmp_path_factory):
    """New rows from the same generator as the session model's training data (another seed)."""
    return synthetic.write_csv(5_000, tmp_path_factory.mktemp("fresh") / "fresh.csv", seed=11)


@pytest.fixture(scope="module")
def shifted_csv(fresh_csv, tmp_path_factory):
    """The same rows with Day Mins x 1.5, written in the original format."""
    frame = pd.read_csv(fresh_csv, dtype=str, keep_default_na=False)
    frame[SHIFTED_COLUMN] = (frame[SHIFTED_COLUMN].astype(float) * 1.5).round(1).astype(str)
    path = tmp_path_factory.mktemp("shifted") / "shifted.csv"
    frame.to_csv(path, index=False)
    return path


def job_tables(tmp_path) -> JobTables:
    """The run's tables, its drift table with them, in pyiceberg's SQL catalog under tmp_path/warehouse."""
    return JobTables.local(tmp_path / "warehouse", "batch", drift=True)


def batch(tmp_path, input_path, model_dir, **overrides) -> BatchConfig:
    config = BatchConfig(
        input_path=str(input_path),
        tables=job_tables(tmp_path),
        scoring=ScoringConfig(mode="embedded", model_uri=str(model_dir)),
        progress_seconds=0,
        **overrides,
    )
    return config


def read_dataset(tmp_path, dataset: outputs.Dataset) -> pd.DataFrame:
    """What a reader of the table sees: its current snapshot's rows."""
    return job_tables(tmp_path).read(dataset)


# ---------------------------------------------------------------- the baseline


def test_training_writes_a_baseline_of_every_model_input_and_the_score_into_the_version(model_dir):
    model = ModelDir(model_dir)
    baseline = model.baseline()
    spec = model.spec()
    assert set(baseline.features) == {*spec.input_columns, drift.SCORE}
    for name in spec.numeric_columns:
        bins = baseline.features[name]
        assert bins.kind == drift.NUMERIC and list(bins.edges) == sorted(bins.edges)
        assert len(bins.shares) == len(bins.edges) + 1 and sum(bins.shares.values()) == pytest.approx(1)
    for column in spec.categorical_columns:
        shares = baseline.features[column.name].shares
        assert set(shares) <= set(column.vocabulary) and sum(shares.values()) == pytest.approx(1)
    # The baseline is part of the model's version: the recorded one is computed over it too.
    assert model.version() == model.recorded_version()
    without = ModelDir(model_dir)
    assert drift.Baseline.from_json(without.baseline_json()).to_json() == baseline.to_json()


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift():
    expected = {"0": 0.25, "1": 0.25, "2": 0.25, "3": 0.25}
    assert drift.psi(expected, {"0": 100, "1": 100, "2": 100, "3": 100}) == pytest.approx(0)
    small = drift.psi(expected, {"0": 90, "1": 110, "2": 100, "3": 100})
    large = drift.psi(expected, {"0": 10, "1": 40, "2": 150, "3": 200})
    assert 0 < small < 0.1 < 0.2 < large


def test_a_value_the_baseline_never_saw_is_counted_in_its_own_bin():
    baseline = drift.Baseline(
        {
            "State": drift.FeatureBins(drift.CATEGORICAL, {"KS": 0.5, "OH": 0.5}),
            "Area Code": drift.FeatureBins(drift.CATEGORICAL, {"415": 0.5, "510": 0.5}),
            "Day Mins": drift.FeatureBins(drift.NUMERIC, {"0": 0.5, "1": 0.5}, (100.0,)),
        },
        rows=2,
    )
    # As a scoring worker has them: text as categories; an int column with a null in the batch as floats.
    frame = pd.DataFrame(
        {
            "State": pd.Categorical(["KS", "OH", "ZZ", "ZZ", None]),
            "Area Code": [415.0, 510.0, 999.0, np.nan, 415.0],
            "Day Mins": [50.0, 100.0, 150.0, 250.0, np.nan],
        }
    )
    counter = drift.BinCounter(baseline)
    counts = counter.counts_of(counter.count(frame, np.array([])))
    assert counts == {
        "State": {"KS": 1, "OH": 1, drift.UNSEEN: 3},
        "Area Code": {"415": 2, "510": 1, drift.UNSEEN: 2},
        "Day Mins": {"0": 2, "1": 2, drift.UNSEEN: 1},
    }
    # The counter's bins are the ones FeatureBins.label gives the same values.
    assert [baseline.features["Day Mins"].label(v) for v in (50.0, 100.0, 150.0, 250.0)] == [
        "0",
        "0",
        "1",
        "1",
    ]
    assert baseline.features["State"].label("ZZ") == drift.UNSEEN
    report = drift.report(baseline, counts, rows=5)
    assert report.psi["State"] > 0.2 and report.max_feature == "State"


def test_a_baseline_column_the_rows_lack_is_named():
    baseline = drift.Baseline({"Day Mins": drift.FeatureBins(drift.NUMERIC, {"0": 1.0}, ())}, rows=1)
    with pytest.raises(KeyError, match="Day Mins"):
        drift.BinCounter(baseline).count(pd.DataFrame({"Eve Mins": [1.0]}), np.array([0.5]))


def expected_counts(baseline: drift.Baseline, scored: pd.DataFrame, columns: dict[str, str]) -> dict:
    """The counts of written scored rows by FeatureBins.label, value by value (the reference for the workers')."""
    counts: dict[str, dict[str, int]] = {}
    for name, bins in baseline.features.items():
        source = outputs.PROBABILITY if name == drift.SCORE else columns[name]
        counts[name] = dict(pd.Series([bins.label(v) for v in scored[source]]).value_counts().astype(int))
    return counts


def test_the_workers_counts_are_those_of_the_rows_written_and_a_recompute_counts_them_once(
    spark, model_dir, fresh_csv
):
    """The scorer's drift counts (taken in the Python workers, summed by an accumulator) equal the labels of the
    scored rows it returns; computing the frame again after its cache is dropped (as a lost block or a retried
    task would) replaces the counts instead of adding to them."""
    from churn_pipeline.batch import reader
    from churn_pipeline.scoring import spark as spark_scoring

    rows = reader.read_churn_lines(spark, str(fresh_csv), ModelDir(model_dir).description()).rows.repartition(
        3
    )
    result = spark_scoring.score(
        rows, ScoringConfig(mode="embedded", model_uri=str(model_dir), arrow_batch_rows=700),
        prior_error=(reader.READ_ERROR_CODE, reader.READ_ERROR_REASON), count_drift=True,
    )  # fmt: skip
    scored = result.scored.toPandas()  # the first action: the persisted frame is computed
    baseline = ModelDir(model_dir).baseline()
    assert result.drift_baseline == baseline
    columns = {name: name for name in baseline.features if name != drift.SCORE}
    assert result.drift_counts(len(scored)) == expected_counts(baseline, scored, columns)
    with pytest.raises(
        RuntimeError, match=f"counted {len(scored)} scored rows for drift, the outcomes {len(scored) - 1}"
    ):
        result.drift_counts(len(scored) - 1)

    result.release()
    again = result.scored.toPandas()  # the UDF runs again over every partition
    assert len(again) == len(scored)
    assert result.drift_counts(len(scored)) == expected_counts(baseline, scored, columns)


# ---------------------------------------------------------------- the batch job


def test_data_like_the_training_data_does_not_drift(spark, model_dir, fresh_csv, tmp_path):
    config = batch(tmp_path, fresh_csv, model_dir)
    summary = run(spark, config, log=lambda _m: None)
    found = summary.drift
    assert found["available"] and found["rows"] == summary.scored
    assert found["max_psi"] < 0.05, found
    # The drift dataset: one row per model input and the score, the summary's figures, the contract's columns.
    written = read_dataset(tmp_path, outputs.BATCH_DRIFT)
    assert list(written.columns) == list(outputs.BATCH_DRIFT.column_names)
    assert set(written[outputs.BATCH_PARTITION]) == {summary.batch_id}
    assert dict(zip(written[outputs.FEATURE], written[outputs.PSI].round(6), strict=True)) == found["psi"]
    assert set(written[outputs.MODEL_VERSION]) == {summary.model_version}
    assert set(written[outputs.DRIFT_ROWS]) == {summary.scored}


def test_a_shifted_column_drifts_past_the_alarm_threshold(spark, model_dir, shifted_csv, tmp_path):
    config = batch(tmp_path, shifted_csv, model_dir)
    summary = run(spark, config, log=lambda _m: None)
    found = summary.drift
    assert found["psi"][SHIFTED_COLUMN] >= metrics.DRIFT_ALARM_THRESHOLD
    assert found["max_feature"] == SHIFTED_COLUMN
    others = {k: v for k, v in found["psi"].items() if k not in (SHIFTED_COLUMN, drift.SCORE)}
    assert max(others.values()) < 0.05  # only the shifted input moved (the score may follow it)


def test_the_published_metric_reaches_the_alarm_threshold(
    moto_server, spark, model_dir, shifted_csv, tmp_path
):
    """The largest PSI goes to CloudWatch under the job's name, in the namespace the job role may write."""
    config = batch(tmp_path, shifted_csv, model_dir, metrics_job_name="churn-test-batch-scoring")
    env = {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_server}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        summary = run(spark, config, log=lambda _m: None)
        cloudwatch = boto3.client("cloudwatch")
        # The session's moto is shared: the stream tests publish the same metric under their own job name.
        listed = cloudwatch.list_metrics(Namespace=metrics.NAMESPACE, MetricName=metrics.MAX_PSI)["Metrics"]
        assert any(
            {"Name": metrics.DIMENSION, "Value": "churn-test-batch-scoring"} in m["Dimensions"]
            for m in listed
        ), listed
        points = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "psi",
                    "MetricStat": {
                        "Metric": {"Namespace": metrics.NAMESPACE, "MetricName": metrics.MAX_PSI,
                                   "Dimensions": [{"Name": metrics.DIMENSION, "Value": "churn-test-batch-scoring"}]},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=10),
            EndTime=pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1),
        )["MetricDataResults"][0]["Values"]  # fmt: skip
    assert max(points) == pytest.approx(summary.drift["max_psi"])
    assert max(points) >= metrics.DRIFT_ALARM_THRESHOLD


def test_a_model_without_a_baseline_scores_as_before_and_reports_drift_unavailable(
    spark, model_dir, fresh_csv, tmp_path
):
    older = tmp_path / "older-model"
    shutil.copytree(model_dir, older)
    (older / ModelDir.BASELINE).unlink()
    with_baseline = batch(tmp_path / "new", fresh_csv, model_dir)
    without = batch(tmp_path / "old", fresh_csv, older)
    new_summary = run(spark, with_baseline, log=lambda _m: None)
    old_summary = run(spark, without, log=lambda _m: None)
    assert old_summary.drift == {"available": False, "reason": old_summary.drift["reason"]}
    assert "no baseline.json" in old_summary.drift["reason"]
    # Nothing written: unavailable, never a 0.
    assert read_dataset(tmp_path / "old", outputs.BATCH_DRIFT).empty
    assert drift.publish_max_psi(drift.report(None, {}, 0), "job", None) is False
    # Scores exactly as before: the same rows, the same probabilities (the versions differ: one has a baseline).
    columns = ["Phone", outputs.PROBABILITY, outputs.PREDICTION]
    new, old = (
        read_dataset(tmp_path / run, outputs.BATCH_PREDICTIONS)[columns]
        .sort_values("Phone")
        .reset_index(drop=True)
        for run in ("new", "old")
    )
    pd.testing.assert_frame_equal(new, old)
    assert (new_summary.scored, new_summary.rejected) == (old_summary.scored, old_summary.rejected)


def test_the_real_dataset_against_its_own_model(spark, real_model_dir, real_data_path, tmp_path):
    config = batch(tmp_path, real_data_path, real_model_dir)
    found = run(spark, config, log=lambda _m: None).drift
    print(f"\nreal dataset vs its model's baseline: max PSI {found['max_psi']:.4f} ({found['max_feature']})")
    assert found["available"] and found["max_psi"] < 0.05


def test_the_training_baseline_matches_the_training_rows(model_dir, synthetic_csv):
    """The shares are those of the rows training kept for itself (the 70% split), recomputed independently."""
    from churn_pipeline.training.train import split_indices

    frame = read_churn_csv(synthetic_csv)
    train_rows = frame.iloc[split_indices(len(frame))[0]]
    bins = ModelDir(model_dir).baseline().features["Day Mins"]
    labels = [bins.label(v) for v in train_rows["Day Mins"]]
    recomputed = pd.Series(labels).value_counts(normalize=True)
    assert {k: round(v, 9) for k, v in recomputed.items()} == {
        k: round(v, 9) for k, v in bins.shares.items() if v > 0
    }
    assert np.isclose(sum(bins.shares.values()), 1)
