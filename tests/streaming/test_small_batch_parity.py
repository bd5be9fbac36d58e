"""A micro-batch of one record scores exactly as the batch job scores the same row (the tutorial's bug was here)."""

from __future__ import annotations

import pandas as pd
import pytest

from churn_pipeline.batch import job as batch_job
from churn_pipeline.contract import outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import synthetic
from churn_tools.local import producer

from .conftest import create_stream, run_job

RARE_STATE = "WY"


@pytest.fixture(scope="module")
def rare_state_model(tmp_path_factory):
    """A model whose training data holds exactly one customer from RARE_STATE; returns (model dir, that row)."""
    root = tmp_path_factory.mktemp("rare-state")
    frame = pd.read_csv(synthetic.write_csv(3000, root / "all.csv", seed=11), dtype=str)
    rare = frame[frame["State"] == RARE_STATE]
    assert len(rare) > 1
    training = pd.concat([frame[frame["State"] != RARE_STATE], rare.iloc[:1]])
    training.to_csv(root / "train.csv", index=False)
    model_dir = root / "model"
    model_dir.mkdir()
    write_artifacts(train(read_churn_csv(root / "train.csv")), model_dir)
    row_csv = root / "one-row.csv"
    rare.iloc[1:2].to_csv(row_csv, index=False)  # another customer of that state, not in training
    return model_dir, row_csv


def test_one_record_micro_batch_scores_like_the_batch_job(spark, kinesis, tmp_path, rare_state_model):
    model_dir, row_csv = rare_state_model
    batch_tables = JobTables.local(tmp_path / "batch-warehouse", "batch")
    batch = batch_job.run(
        spark,
        batch_job.BatchConfig(
            input_path=str(row_csv),
            tables=batch_tables,
            scoring=ScoringConfig(mode="embedded", model_uri=str(model_dir)),
            progress_seconds=0,
        ),
    )
    assert batch.scored == 1
    batch_row = batch_tables.read(outputs.BATCH_PREDICTIONS).iloc[0]

    stream = create_stream(kinesis, shards=1)
    producer.send(kinesis, stream, producer.csv_records(row_csv, "parity-"))
    stats, scored, dead = run_job(spark, stream, tmp_path / "stream", model_dir, stop_when_idle=2.0)
    assert [s.records_in for s in stats if s.records_in] == [1], "one micro-batch of one record"
    assert len(dead) == 0 and len(scored) == 1
    stream_row = scored.iloc[0]

    assert stream_row["State"] == RARE_STATE
    assert abs(stream_row["churn_probability"] - batch_row["churn_probability"]) <= 1e-6
    assert stream_row["churn_prediction"] == batch_row["churn_prediction"]
    assert stream_row["model_version"] == batch_row["model_version"]
    # The record's own fields come out with the batch job's values and types.
    for name in [c.name for c in ModelDir(model_dir).description().output_columns]:
        assert stream_row[name] == batch_row[name], name
