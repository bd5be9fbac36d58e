"""Acceptance: endpoint mode survives throttling and 5xx, and loses nothing when the endpoint dies mid-run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from endpoint_helpers import running_endpoint, runtime_env, worker_environment

from churn_pipeline.batch import BatchConfig, run
from churn_pipeline.batch.__main__ import main as batch_main
from churn_pipeline.contract import outputs
from churn_pipeline.model import Scorer
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables
from churn_tools import synthetic

N_ROWS = 2000
ROWS_PER_REQUEST = 50


@pytest.fixture(scope="module")
def input_with_ids(tmp_path_factory) -> tuple[str, pd.DataFrame]:
    """2,000 synthetic rows with a record_id column (passed through), two of them invalid."""
    path = tmp_path_factory.mktemp("faults") / "input.csv"
    frame = synthetic.generate_chunk(11, 0, N_ROWS).astype(str)
    frame.insert(0, "record_id", [f"r{i:05d}" for i in range(N_ROWS)])
    frame.loc[7, "Day Mins"] = "-1.0"
    frame.loc[1500, "Eve Calls"] = "many"
    frame.to_csv(path, index=False)
    return str(path), frame


def job_tables(warehouse) -> JobTables:
    """The tables in pyiceberg's SQL catalog in `warehouse`, database "batch" (the CLI's default)."""
    return JobTables.local(warehouse, "batch")


def read(warehouse, dataset: outputs.Dataset) -> pd.DataFrame:
    """What a reader of the table sees: its current snapshot's rows."""
    return job_tables(warehouse).read(dataset)


def test_throttles_and_server_errors_are_retried_until_every_row_is_scored(
    model_dir, tmp_path, spark, input_with_ids
):
    path, frame = input_with_ids
    scoring = ScoringConfig(
        mode="endpoint",
        model_uri=str(model_dir),
        endpoint_name="churn-test",
        max_rows_per_request=ROWS_PER_REQUEST,
        backoff_base_seconds=0.05,
        max_attempts=8,
    )
    config = BatchConfig(
        input_path=path,
        tables=job_tables(tmp_path / "warehouse"),
        scoring=scoring,
        progress_seconds=0,
    )
    faults = {"throttle_ratio": 0.2, "error_ratio": 0.05, "seed": 3}
    with running_endpoint(model_dir, tmp_path / "endpoint", **faults) as url:
        with worker_environment(spark, runtime_env(url)):
            summary = run(spark, config)
        log = (tmp_path / "endpoint" / "endpoint.log").read_text()
    assert log.count("injected ThrottlingException") >= 1 and log.count("injected InternalFailure") >= 1

    assert (summary.scored, summary.rejected, summary.failed, summary.exit_code) == (N_ROWS - 2, 2, 0, 0)
    scored = read(tmp_path / "warehouse", outputs.BATCH_PREDICTIONS).set_index("record_id").sort_index()
    valid = frame.drop(index=[7, 1500])
    expected = Scorer.from_dir(model_dir).score(valid).probabilities
    assert list(scored.index) == list(valid["record_id"])
    np.testing.assert_allclose(scored["churn_probability"], expected, rtol=0, atol=1e-6)


def test_endpoint_killed_mid_run_puts_unscored_rows_in_failed_and_exits_non_zero(
    model_dir, tmp_path, spark, input_with_ids, capsys
):
    path, frame = input_with_ids
    out = tmp_path / "out"
    args = ["--input", path, "--warehouse", str(out / "warehouse"), "--mode", "endpoint", "--model-uri", str(model_dir),
            "--endpoint-name", "churn-test", "--max-rows-per-request", str(ROWS_PER_REQUEST), "--concurrency", "2",
            "--max-attempts", "2", "--botocore-attempts", "1", "--backoff-seconds", "0.01", "--progress-seconds", "0"]  # fmt: skip
    # The endpoint crashes (exits) right after answering its 8th invocation, the job keeps going.
    with running_endpoint(model_dir, tmp_path / "endpoint", exit_after_requests=8) as url:
        with worker_environment(spark, runtime_env(url)):
            exit_code = batch_main(args)
    assert exit_code == 1

    scored, rejects, failed = (read(out / "warehouse", dataset) for dataset in
                               (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS, outputs.BATCH_FAILED))  # fmt: skip
    assert len(scored) >= 8 * ROWS_PER_REQUEST - ROWS_PER_REQUEST  # what was answered before the crash
    assert len(failed) > 0 and len(rejects) == 2
    # No row lost, none duplicated: every input line is in exactly one of the three datasets.
    rejected_ids = [line.split(",", 1)[0] for line in rejects["raw_line"]]
    everything = [*scored["record_id"], *failed["record_id"], *rejected_ids]
    assert sorted(everything) == sorted(frame["record_id"])
    assert set(
        failed["error_reason"].str.extract(r"^(endpoint 'churn-test' failed after 2 attempt\(s\))")[0]
    ) == {"endpoint 'churn-test' failed after 2 attempt(s)"}
    assert failed["raw_line"].notna().all()  # failed rows keep their raw line: they can be re-submitted
    report = capsys.readouterr().out
    assert f'"failed": {len(failed)}' in report and '"exit_code": 1' in report
