"""Acceptance (issue 29) on real data: the tutorial's dataset and IBM's Telco data, each scored by the batch
job (embedded) and fed its own labels as outcomes. The job's AUC equals sklearn's roc_auc_score over the same
joined rows, its other figures equal sklearn's, the calibration counts every joined row once, and the next
training set is the scored data itself; a degraded world (30% of the labels flipped) falls below the alarm
threshold, and the metric the job publishes says so."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, precision_score, recall_score, roc_auc_score

from churn_pipeline.contract import metrics, outputs, settings
from churn_pipeline.model import ModelDir
from churn_pipeline.quality.job import model_test_auc
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools import outcomes_cli
from churn_tools.local import services as local_services

from .conftest import Scored, quality_run, read

pytestmark = pytest.mark.slow(seconds=40)


def joined_by_hand(scored: Scored, labels: pd.Series) -> pd.DataFrame:
    """The same joined rows, made without the job: every customer was scored once, before its outcome."""
    frame = scored.scores[[scored.id_column, outputs.PROBABILITY, outputs.MODEL_VERSION]].merge(
        pd.DataFrame({scored.id_column: scored.rows[scored.id_column], "y": labels.to_numpy()}),
        on=scored.id_column,
        validate="one_to_one",
    )
    assert len(frame) == len(scored.rows)
    return frame


def expected_quality(joined: pd.DataFrame, week: str) -> dict:
    y, p = joined["y"].to_numpy(), joined[outputs.PROBABILITY].to_numpy()
    predicted = (p >= settings.DEFAULT_THRESHOLD).astype(int)
    return {
        outputs.MODEL_VERSION: joined[outputs.MODEL_VERSION].iloc[0],
        outputs.SCORE_WEEK: week,
        outputs.ROWS: len(joined),
        outputs.POSITIVES: int(y.sum()),
        outputs.AUC: roc_auc_score(y, p),
        outputs.LOG_LOSS: log_loss(y, p),
        outputs.PRECISION: precision_score(y, predicted),
        outputs.RECALL: recall_score(y, predicted),
        outputs.THRESHOLD: settings.DEFAULT_THRESHOLD,
    }


def iso_week(scored: Scored) -> str:
    year, week, _ = scored.scored_at.isocalendar()
    return f"{year:04d}-W{week:02d}"


def own_labels_run(spark, scored: Scored, root):
    return quality_run(spark, root, scored.outcomes(), scored.model_dir, batch=(scored.table,))


@pytest.fixture(scope="module")
def tutorial_run(spark, tutorial_scored, tmp_path_factory):
    """The tutorial's customers, their own labels as outcomes (its training set is the retrain test's too)."""
    return own_labels_run(spark, tutorial_scored, tmp_path_factory.mktemp("tutorial-quality"))


def check_world(scored: Scored, run, name: str) -> None:
    """Own labels as outcomes: the whole quality row equals sklearn's figures, the calibration covers every
    row once, the training set is the data as scored."""
    description = scored.description
    config, summary = run
    assert (summary.joined, summary.rejected, summary.reject_codes) == (len(scored.rows), 0, {})
    labels = scored.rows[description.label_column].map(description.label_value)
    joined = joined_by_hand(scored, labels)
    quality = read(config.quality_path)
    assert len(quality) == 1  # one model version, one week
    found = quality.iloc[0]
    expected = expected_quality(joined, iso_week(scored))
    difference = abs(found[outputs.AUC] - expected[outputs.AUC])
    print(f"{name}: job AUC {found[outputs.AUC]!r}, sklearn {expected[outputs.AUC]!r}, |difference| "
          f"{difference:.3g} over {len(joined):,} joined rows")  # fmt: skip
    assert difference <= 1e-9
    for column, value in expected.items():
        if isinstance(value, float):
            assert found[column] == pytest.approx(value, rel=0, abs=1e-9), column
        else:
            assert found[column] == value, column
    assert summary.latest_auc == {
        expected[outputs.MODEL_VERSION]: {
            outputs.SCORE_WEEK: expected[outputs.SCORE_WEEK],
            outputs.AUC: found[outputs.AUC],
            outputs.ROWS: len(joined),
            outputs.POSITIVES: expected[outputs.POSITIVES],
        }
    }
    test_auc = model_test_auc(str(scored.model_dir), None)
    assert summary.alarm_threshold == pytest.approx(test_auc - settings.AUC_MARGIN.default)
    assert summary.alarm == bool(found[outputs.AUC] < summary.alarm_threshold)

    calibration = read(config.calibration_path).sort_values(outputs.SCORE_DECILE)
    assert calibration[outputs.SCORE_DECILE].tolist() == list(range(1, 11))
    assert calibration[outputs.ROWS].sum() == len(joined)
    # Deciles of the scores, lowest first: each decile's customers, by hand.
    ranked = joined.sort_values([outputs.PROBABILITY]).reset_index(drop=True)
    sizes = calibration[outputs.ROWS].to_numpy()
    assert sizes.max() - sizes.min() <= 1  # ntile: equal tenths
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    means = [ranked[outputs.PROBABILITY].iloc[a:b].mean() for a, b in zip(bounds, bounds[1:], strict=False)]
    np.testing.assert_allclose(calibration[outputs.PREDICTED_MEAN], means, rtol=0, atol=1e-12)
    assert (calibration[outputs.OBSERVED_RATE] * calibration[outputs.ROWS]).sum() == pytest.approx(
        labels.sum()
    )

    # The next training set is the scored data as the description reads it, the outcome as its label.
    training_set = read_churn_csv(summary.training_set_path, description)
    assert list(training_set.columns) == list(description.column_names)
    key = scored.id_column
    written = training_set.sort_values(key).reset_index(drop=True)
    source = scored.rows[list(description.column_names)].sort_values(key).reset_index(drop=True)
    for column in description.columns:
        if column.role == "ignored":
            assert written[column.name].isna().all()
        elif column.is_numeric_type:
            pd.testing.assert_series_equal(
                pd.to_numeric(written[column.name]), pd.to_numeric(source[column.name])
            )
        else:
            pd.testing.assert_series_equal(written[column.name], source[column.name])


def test_the_tutorial_data_own_labels(tutorial_scored, tutorial_run):
    check_world(tutorial_scored, tutorial_run, "tutorial")


def test_the_telco_data_own_labels(spark, telco_scored, tmp_path):
    check_world(telco_scored, own_labels_run(spark, telco_scored, tmp_path), "Telco")


def test_a_degraded_world_falls_below_the_alarm_threshold_and_the_metric_says_so(
    spark, tutorial_scored, moto_server, tmp_path
):
    scored = tutorial_scored
    description = scored.description
    churned = scored.rows[description.label_column].map(description.label_value)
    flip = np.random.default_rng(29).random(len(churned)) < 0.30  # 30% of the customers, seeded
    degraded = np.where(flip, 1 - churned, churned)
    labels = pd.Series(
        np.where(degraded == 1, description.positive_labels[0], description.negative_labels[0])
    )
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_server}.items():
            patch.setenv(key, value)
        config, summary = quality_run(spark, tmp_path, scored.outcomes(labels), scored.model_dir,
                                      batch=(scored.table,), metrics_job_name="churn-test-quality")  # fmt: skip
        version = ModelDir(scored.model_dir).version()
        dimensions = [
            {"Name": metrics.DIMENSION, "Value": "churn-test-quality"},
            {"Name": metrics.MODEL_VERSION_DIMENSION, "Value": version},
        ]
        points = boto3.client("cloudwatch").get_metric_data(
            MetricDataQueries=[{"Id": "auc", "MetricStat": {
                "Metric": {"Namespace": metrics.NAMESPACE, "MetricName": metrics.MODEL_AUC, "Dimensions": dimensions},
                "Period": 60, "Stat": "Minimum"}}],
            StartTime=pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=10),
            EndTime=pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1),
        )["MetricDataResults"][0]["Values"]  # fmt: skip
    joined = joined_by_hand(scored, pd.Series(degraded))
    auc = summary.latest_auc[version][outputs.AUC]
    assert abs(auc - roc_auc_score(joined["y"], joined[outputs.PROBABILITY])) <= 1e-9
    threshold = summary.alarm_threshold
    print(f"degraded world: AUC {auc:.4f}, alarm threshold {threshold:.4f} (test AUC - margin)")
    assert auc < threshold and summary.alarm
    assert summary.published == [version] and points == [pytest.approx(auc)]


def test_retrain_exits_non_zero_unless_the_candidate_beats_the_deployed_model(
    tutorial_scored, tutorial_run, tmp_path
):
    """The deployed model was trained on every held-out customer: a candidate that has not seen them does
    not beat it (exit 1). A deployed stump is beaten (exit 0). Both on the same held-out outcomes."""
    from churn_pipeline.training.train import train, write_artifacts

    scored = tutorial_scored
    config, summary = tutorial_run
    training_set = Path(config.training_set_path)
    assert outcomes_cli.main(["retrain", "--training-set", str(training_set), "--model-dir",
                              str(scored.model_dir), "--candidate", str(tmp_path / "c1")]) == 1  # fmt: skip
    stump = tmp_path / "stump"
    rows = read_churn_csv(scored.csv, scored.description)
    write_artifacts(train(rows, {"num_round": 1, "max_depth": 1}, description=scored.description), stump)
    assert outcomes_cli.main(["retrain", "--training-set", str(training_set), "--model-dir", str(stump),
                              "--candidate", str(tmp_path / "c2")]) == 0  # fmt: skip
    import json

    report = json.loads((tmp_path / "c2" / "comparison.json").read_text())
    first = json.loads((tmp_path / "c1" / "comparison.json").read_text())
    assert report["held_out"] == first["held_out"]  # the same held-out outcomes
    assert report["candidate"]["auc"] > report["deployed"]["auc"]
    assert first["candidate"]["auc"] <= first["deployed"]["auc"]
    assert summary.training_set_path == str(training_set / "batch_id=test")  # the run retrain took
