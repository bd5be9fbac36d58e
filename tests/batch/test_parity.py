"""Acceptance: on the tutorial's dataset, embedded and endpoint modes equal the training-time predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from endpoint_helpers import running_endpoint, runtime_env, worker_environment

from churn_pipeline.batch import BatchConfig, run
from churn_pipeline.contract import outputs
from churn_pipeline.model import Scorer
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables
from churn_pipeline.training.datasets import read_churn_csv


@pytest.fixture(scope="module")
def real_endpoint_url(real_model_dir, tmp_path_factory):
    with running_endpoint(real_model_dir, tmp_path_factory.mktemp("real-endpoint")) as url:
        yield url


def scored_by_phone(spark, mode, real_data_path, real_model_dir, out) -> pd.DataFrame:
    scoring = ScoringConfig(mode=mode, model_uri=str(real_model_dir), endpoint_name="churn-real")
    config = BatchConfig(
        input_path=str(real_data_path),
        tables=JobTables.local(out, "batch"),
        scoring=scoring,
        progress_seconds=0,
    )
    summary = run(spark, config)
    assert (summary.rejected, summary.failed, summary.exit_code) == (0, 0, 0)
    frame = config.tables.read(outputs.BATCH_PREDICTIONS)
    assert summary.scored == len(frame)
    return frame.set_index("Phone").sort_index()


def test_embedded_and_endpoint_equal_training_time_predictions_on_every_row(
    spark, real_data_path, real_model_dir, real_endpoint_url, tmp_path
):
    source = read_churn_csv(real_data_path)
    assert source["Phone"].is_unique  # the row's identity below
    scorer = Scorer.from_dir(real_model_dir)
    expected = pd.Series(scorer.score(source).probabilities, index=source["Phone"]).sort_index()

    embedded = scored_by_phone(spark, "embedded", real_data_path, real_model_dir, tmp_path / "embedded")
    with worker_environment(spark, runtime_env(real_endpoint_url)):
        endpoint = scored_by_phone(spark, "endpoint", real_data_path, real_model_dir, tmp_path / "endpoint")

    assert len(embedded) == len(endpoint) == len(source)
    assert list(embedded.index) == list(endpoint.index) == list(expected.index)
    np.testing.assert_allclose(embedded["churn_probability"], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(endpoint["churn_probability"], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        endpoint["churn_probability"], embedded["churn_probability"], rtol=0, atol=1e-6
    )
    # Exactly: the endpoint's CSV carries the float32 matrix unchanged.
    assert (endpoint["churn_probability"] - embedded["churn_probability"]).abs().max() == 0.0
    # Every input column comes back unchanged (as typed values) beside the scores.
    typed = source.set_index("Phone").sort_index()
    for column in ["State", "Int'l Plan", "Churn?"]:
        assert list(embedded[column]) == list(typed[column]) == list(endpoint[column])
    np.testing.assert_array_equal(embedded["Day Mins"], typed["Day Mins"].astype(float))
    assert set(embedded.model_version) == set(endpoint.model_version) == {scorer.version}
