"""Fixtures of the quality job's tests: real data scored once per session by the batch job (embedded), and a
quality run over outcomes given as a pandas frame."""

from __future__ import annotations

import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn_pipeline.batch import BatchConfig
from churn_pipeline.batch import run as run_batch
from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.quality.config import QualityConfig
from churn_pipeline.quality.job import QualitySummary
from churn_pipeline.quality.job import run as run_quality
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables, TableRef
from churn_pipeline.training.datasets import read_churn_csv

# Outcomes become known an hour after the session scored; the quality runs happen "a day later".
KNOWN_AFTER = datetime.timedelta(hours=1)
RUN_AFTER = datetime.timedelta(days=1)


class Scored:
    """A dataset scored by the batch job, with its source rows and model."""

    def __init__(self, csv: Path, description: DatasetDescription, model_dir: Path, root: Path, spark):
        self.csv, self.description, self.model_dir, self.root = csv, description, model_dir, root
        tables = JobTables.local(root / "warehouse", "batch")
        # The batch job's scored table, as the quality job is given it.
        self.table = TableRef(tables.catalog, tables.identifier(outputs.BATCH_PREDICTIONS))
        summary = run_batch(
            spark,
            BatchConfig(
                input_path=str(csv),
                tables=tables,
                scoring=ScoringConfig(mode="embedded", model_uri=str(model_dir)),
                progress_seconds=0,
            ),
            log=lambda _m: None,
        )
        assert (summary.rejected, summary.failed) == (0, 0)
        self.rows = read_churn_csv(csv, description)
        self.scores = tables.read(outputs.BATCH_PREDICTIONS)
        assert len(self.scores) == len(self.rows)
        self.scored_at = self.scores[outputs.SCORED_AT].max().to_pydatetime().astimezone(datetime.UTC)
        self.known_at = self.scored_at + KNOWN_AFTER

    @property
    def id_column(self) -> str:
        return self.description.id_column or ""

    def outcomes(self, labels: pd.Series | None = None) -> pd.DataFrame:
        """Outcome rows: every customer, its own label (or `labels`), known an hour after it was scored."""
        label = self.description.label_column
        return pd.DataFrame(
            {
                self.id_column: self.rows[self.id_column],
                label: self.rows[label] if labels is None else labels,
                outputs.KNOWN_AT: self.known_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )


def quality_run(
    spark,
    root: Path,
    outcomes: pd.DataFrame | str,
    model_dir: Path,
    batch: tuple[TableRef, ...] = (),
    stream: tuple[TableRef, ...] = (),
    now: datetime.datetime | None = None,
    **settings,
) -> tuple[QualityConfig, QualitySummary]:
    if isinstance(outcomes, pd.DataFrame):
        (root / "outcomes").mkdir(parents=True, exist_ok=True)
        outcomes.to_csv(root / "outcomes" / "outcomes.csv", index=False)
        outcomes = str(root / "outcomes")
    config = QualityConfig(
        outcomes_path=outcomes,
        model_uri=str(model_dir),
        quality_path=str(root / "quality"),
        calibration_path=str(root / "calibration"),
        rejects_path=str(root / "outcome-rejects"),
        training_set_path=str(root / "training-set"),
        batch_scored_tables=batch,
        stream_scored_tables=stream,
        run_id="test",
        now=now or datetime.datetime.now(datetime.UTC) + RUN_AFTER,
        **settings,
    )
    return config, run_quality(spark, config, say=lambda _m: None)


def read(path: str) -> pd.DataFrame:
    return duckdb.sql(f"select * from read_parquet('{path}/**/*.parquet')").df()


@pytest.fixture(scope="session")
def tutorial_scored(spark, real_data_path, real_model_dir, tmp_path_factory) -> Scored:
    from churn_pipeline.contract.dataset import tutorial

    return Scored(
        real_data_path, tutorial(), real_model_dir, tmp_path_factory.mktemp("tutorial-scored"), spark
    )


@pytest.fixture(scope="session")
def telco_scored(spark, telco, tmp_path_factory) -> Scored:
    return Scored(
        telco["csv"], telco["description"], telco["model_dir"], tmp_path_factory.mktemp("telco-scored"), spark
    )
