"""`make bench`'s quality part (issue 29), run alone and small: the quality job beside floor B on the same rows.

No assertion depends on how fast anything ran: the figures must be there and consistent, and the row counts
right: ROWS rows scored once, ROWS outcomes (one per customer, unique ids), each quality run joining all of them.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from churn_pipeline.batch import writer
from churn_pipeline.contract import outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.tables import JobTables
from churn_tools.bench import report as bench_report
from churn_tools.bench import settings as bench_settings
from churn_tools.bench import suite

pytestmark = pytest.mark.slow(seconds=30)

ROWS = 1000
REPEAT = 2  # two rounds: floor B then the quality job, then the other way round


@pytest.fixture(scope="module")
def results(spark, model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-quality")
    settings = bench_settings.Settings(
        rows=ROWS, repeat=REPEAT, model_dir=str(model_dir), data_dir=work / "data", work_dir=work / "work",
        out_dir=work / "out", warmup_rows=0, scale_factors=(), stream_rates=(), handler_sizes=(), paths=False,
        shapes=(), quality=True,
    )  # fmt: skip
    found = suite.Suite(settings).run(spark=spark)
    return found, bench_report.write_results(found, settings.out_dir)


def test_the_quality_runs_join_every_outcome_to_its_score_on_as_many_rows_as_floor_b(results, model_dir):
    found, _ = results
    quality = found["quality"]
    assert quality["rows"] == ROWS
    description = ModelDir(model_dir).description()
    # The data: ROWS rows of the model's shape, each with an id of its own.
    data = pd.read_csv(quality["data"], dtype=str, keep_default_na=False)
    assert list(data.columns) == list(description.column_names)
    assert len(data) == ROWS and data[description.id_column].is_unique
    # Scored once: ROWS rows committed to the scored table, one per customer; ROWS outcome lines, one per
    # customer, with its own label.
    scored = JobTables.local(quality["scored_warehouse"], "batch").read(outputs.BATCH_PREDICTIONS)
    assert len(scored) == quality["scoring_once"]["rows"] == ROWS
    assert sorted(scored[description.id_column].astype(str)) == sorted(data[description.id_column])
    outcomes = pd.read_csv(quality["outcomes"], dtype=str, keep_default_na=False)
    assert len(outcomes) == ROWS
    assert (
        outcomes.set_index(description.id_column)[description.label_column].to_dict()
        == data.set_index(description.id_column)[description.label_column].to_dict()
    )
    # The last quality run's table: its rows add up to every outcome, its positives to the churned customers.
    table = f"read_parquet('{writer.partition_path(quality['quality_out'] + '/quality', 'bench')}/*.parquet')"
    rows, positives = duckdb.sql(
        f'SELECT sum("{outputs.ROWS}"), sum("{outputs.POSITIVES}") FROM {table}'
    ).fetchone()
    churned = int(data[description.label_column].map(description.label_value).sum())
    assert (int(rows), int(positives)) == (ROWS, churned)
    for mode in ("floor_b", "quality"):
        figures = quality[mode]
        assert figures["rows"] == ROWS, mode
        for figure in ("wall_seconds", "rows_per_second"):
            runs = figures[figure]["runs"]
            assert len(runs) == REPEAT and min(runs) > 0, (mode, figure)
            assert figures[figure]["median"] == pytest.approx(float(np.median(runs))), mode
        assert figures["rows_per_second"]["runs"] == pytest.approx(
            [ROWS / w for w in figures["wall_seconds"]["runs"]]
        )
        assert figures["peak_driver_jvm_rss_mb"]["min"] > 0, mode


def test_the_ratio_to_floor_b_is_the_median_of_the_rounds_and_the_table_shows_both(results):
    found, written = results
    quality = found["quality"]
    ratio = found["ratios"]["quality_vs_floor_b_rows_per_second_ratio"]
    pairs = zip(quality["quality"]["rows_per_second"]["runs"], quality["floor_b"]["rows_per_second"]["runs"],
                strict=True)  # fmt: skip
    assert ratio["per_round"] == pytest.approx([q / b for q, b in pairs])
    assert ratio["value"] == pytest.approx(float(np.median(ratio["per_round"])))
    assert ratio["target"] is None and ratio["meets_target"] is None
    table = written["md"].read_text()
    assert ratio["description"] in table
    assert "| quality job: outcomes joined to as many scored rows |" in table
    assert "| floor B, beside the quality job |" in table
    stored = json.loads(written["json"].read_text())
    assert stored["quality"] == found["quality"]
    # The other parts were left out and say so.
    assert found["paths"] == {"not_run": "--skip-paths"} and found["shapes"] == {"not_run": "no shapes given"}
