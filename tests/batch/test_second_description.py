"""The batch job on a second description's data (tests/data/telco-shape.dataset.json): the columns read,
typed, checked and written are the scoring model's, none of the tutorial's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import telco_shape
from endpoint_helpers import running_endpoint, runtime_env, worker_environment

from churn_pipeline.batch import BatchConfig, run
from churn_pipeline.batch.__main__ import config_from_args, main, parse_args
from churn_pipeline.contract import outputs
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import Scorer
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables

SCORE_COLUMNS = ["churn_probability", "churn_prediction", "model_version", "scored_at"]


@pytest.fixture(scope="module")
def telco_model(second_description, tmp_path_factory):
    return telco_shape.train_model(second_description, tmp_path_factory.mktemp("telco"))


@pytest.fixture(scope="module")
def telco_rows() -> pd.DataFrame:
    """30 rows of the shape, some with a blank TotalCharges (allowed), one with a blank MonthlyCharges (not)."""
    rows = telco_shape.generate(30, seed=21)
    rows.loc[[2, 9], "TotalCharges"] = ""
    rows.loc[[2, 9], "tenure"] = "0"
    rows.loc[4, "PaymentMethod"] = "Bank transfer (automatic)"
    rows.loc[5, "InternetService"] = "Fiber optic"
    rows.loc[6, "Region note"] = "West (inland, rural)"  # a quoted field with a comma
    rows.loc[11, "MonthlyCharges"] = ""
    return rows


def batch_config(tmp_path, source, model_dir, mode="embedded", **overrides) -> BatchConfig:
    scoring = ScoringConfig(mode=mode, model_uri=str(model_dir), endpoint_name="telco")
    values = dict(
        input_path=str(source), tables=JobTables.local(tmp_path, "batch"), scoring=scoring, progress_seconds=0,
        batch_id="telco",
    )  # fmt: skip
    values.update(overrides)
    return BatchConfig(**values)


def read(warehouse, dataset: outputs.Dataset) -> pd.DataFrame:
    return JobTables.local(warehouse, "batch").read(dataset)


def expected_scored(rows: pd.DataFrame, description, model_dir, label: bool = True) -> pd.DataFrame:
    """The scored dataset as it must be: the description's output columns, typed by it, then the scores."""
    valid = rows[rows["MonthlyCharges"] != ""].reset_index(drop=True)
    scorer = Scorer.from_dir(model_dir)
    batch = scorer.score(valid)
    assert batch.encoded.valid.all()
    typed = pd.DataFrame(index=valid.index)
    for column in description.output_columns:
        if column.name not in valid.columns:
            typed[column.name] = None
        elif column.type == "integer":
            typed[column.name] = valid[column.name].astype(int)
        elif column.type == "decimal":
            typed[column.name] = pd.to_numeric(valid[column.name].replace("", np.nan))
        else:
            typed[column.name] = valid[column.name]
    typed["churn_probability"] = batch.probabilities
    typed["churn_prediction"] = (batch.probabilities >= 0.5).astype(int)
    typed["model_version"] = scorer.version
    return typed


def test_a_second_description_s_data_is_read_typed_checked_and_written_by_its_model(
    spark, second_description, telco_model, telco_rows, tmp_path
):
    source = tmp_path / "in" / "telco.csv"
    source.parent.mkdir()
    telco_rows.to_csv(source, index=False)
    summary = run(spark, batch_config(tmp_path / "out", source, telco_model))
    assert (summary.rows_read, summary.scored, summary.rejected, summary.failed) == (30, 29, 1, 0)
    assert summary.reject_codes == {"MISSING_VALUE": 1}

    scored = read(tmp_path / "out", outputs.BATCH_PREDICTIONS)
    # The description's output columns (the ignored "Internal flag" dropped), in its order, then the scores
    # and the run's batch_id.
    assert list(scored.columns) == list(outputs.BATCH_PREDICTIONS.for_data(second_description).column_names)
    assert scored.columns[-1] == "batch_id"
    assert list(scored.columns[:-5]) == [c.name for c in second_description.output_columns]
    assert scored["scored_at"].notna().all() and set(scored["batch_id"]) == {"telco"}
    got = scored.drop(columns=["scored_at", "batch_id"]).sort_values("customerID").reset_index(drop=True)
    expected = expected_scored(telco_rows, second_description, telco_model)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False, rtol=0, atol=1e-9)
    blanks = (telco_rows.drop(index=[11])["TotalCharges"] == "").sum()
    assert got["TotalCharges"].isna().sum() == blanks >= 2  # the allowed blanks: scored, null in the output
    assert got.loc[6, "Region note"] == "West (inland, rural)"

    rejects = read(tmp_path / "out", outputs.BATCH_REJECTS)
    line = source.read_text().splitlines()[12]  # data row 11 (the header is line 0)
    assert list(zip(rejects.raw_line, rejects.error_code, rejects.error_reason, strict=True)) == [
        (line, "MISSING_VALUE", "'MonthlyCharges' is missing")
    ]


def test_input_without_the_label_column_is_scored_with_a_null_label(
    spark, second_description, telco_model, telco_rows, tmp_path
):
    rows = telco_rows.drop(columns=["Churn"]).drop(index=[11])
    source = tmp_path / "in" / "new-customers.csv"
    source.parent.mkdir()
    rows.to_csv(source, index=False)
    summary = run(spark, batch_config(tmp_path / "out", source, telco_model))
    assert (summary.scored, summary.rejected) == (29, 0)
    got = read(tmp_path / "out", outputs.BATCH_PREDICTIONS).drop(columns=["scored_at", "batch_id"])
    got = got.sort_values("customerID").reset_index(drop=True)
    expected = expected_scored(rows.reset_index(drop=True), second_description, telco_model)
    assert list(got.columns) == list(expected.columns)
    assert got["Churn"].isna().all()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False, rtol=0, atol=1e-9)


def test_embedded_and_endpoint_scores_agree_on_rows_with_blanks(spark, telco_model, telco_rows, tmp_path):
    """An allowed blank reaches XGBoost as NaN both in-process and through the endpoint's CSV (an empty field)."""
    source = tmp_path / "in" / "telco.csv"
    source.parent.mkdir()
    telco_rows.to_csv(source, index=False)
    embedded = run(spark, batch_config(tmp_path / "embedded", source, telco_model))
    with running_endpoint(telco_model, tmp_path / "endpoint") as url:
        with worker_environment(spark, runtime_env(url)):
            endpoint = run(
                spark, batch_config(tmp_path / "by-endpoint", source, telco_model, mode="endpoint")
            )
    assert (embedded.scored, endpoint.scored, endpoint.failed) == (29, 29, 0)
    a = read(tmp_path / "embedded", outputs.BATCH_PREDICTIONS).set_index("customerID").sort_index()
    b = read(tmp_path / "by-endpoint", outputs.BATCH_PREDICTIONS).set_index("customerID").sort_index()
    assert list(a.index) == list(b.index)
    blanks = a["TotalCharges"].isna()
    assert blanks.sum() >= 2
    difference = (a["churn_probability"] - b["churn_probability"]).abs()
    assert difference[blanks].max() <= 1e-6 and difference.max() <= 1e-6


def test_a_header_lacking_a_described_column_is_refused_naming_file_and_column(
    spark, telco_model, telco_rows, tmp_path
):
    source = tmp_path / "in" / "no-total.csv"
    source.parent.mkdir()
    telco_rows.drop(columns=["TotalCharges"]).to_csv(source, index=False)
    with pytest.raises(ContractError, match=r"no-total\.csv: .*missing column\(s\) \['TotalCharges'\]"):
        run(spark, batch_config(tmp_path / "out", source, telco_model))
    assert not (tmp_path / "out").exists()


def test_the_cli_reads_a_run_without_scoring_by_dataset_and_a_scoring_run_by_its_model(
    second_description, telco_model, tmp_path, capsys
):
    described = tmp_path / "telco.dataset.json"
    second_description.save(described)
    args = ["--input", "in.csv", "--warehouse", str(tmp_path / "out")]
    floor = config_from_args(parse_args([*args, "--mode", "none", "--dataset", str(described)]))
    assert floor.scoring is None and floor.description() == second_description
    scoring = config_from_args(parse_args([*args, "--model-uri", str(telco_model)]))
    assert scoring.description() == second_description  # the model's dataset.json, no --dataset needed
    assert main([*args, "--model-uri", str(telco_model), "--dataset", str(described)]) == 2
    assert "--dataset is for --mode none" in capsys.readouterr().err
    assert main([*args, "--mode", "embedded"]) == 2
    assert "--mode embedded needs --model-uri" in capsys.readouterr().err
