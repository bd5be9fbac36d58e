"""The shared Spark scorer: pass-through columns, string or number inputs, payloads, responses, s3 models."""

from __future__ import annotations

import boto3
import numpy as np
import pandas as pd
import pytest
from endpoint_helpers import worker_environment

from churn_pipeline.contract.features import ContractError
from churn_pipeline.model import Scorer
from churn_pipeline.scoring.config import INVOKE_ENDPOINT_LIMIT_BYTES, ScoringConfig
from churn_pipeline.scoring.endpoint_protocol import (
    format_csv,
    parse_csv_body,
    parse_predictions,
    split_payloads,
)
from churn_pipeline.scoring.spark import score, task_scorer
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools.local import services as local_services


@pytest.fixture(scope="module")
def rows(synthetic_csv) -> pd.DataFrame:
    return read_churn_csv(synthetic_csv).head(300)


def test_streaming_shaped_input_keeps_pass_through_columns_and_splits_outcomes(spark, model_dir, rows):
    """Lower-case names (a Glue catalog), text values (a JSON parser), kinesis_* metadata passed through."""
    frame = rows.rename(columns=str.lower).copy()
    frame.loc[3, "day mins"] = "lots"
    frame.loc[4, "intl calls"] = None
    frame["kinesis_sequence"] = [f"seq-{i}" for i in range(len(frame))]
    result = score(
        spark.createDataFrame(frame), ScoringConfig(mode="embedded", model_uri=str(model_dir), threshold=0.3)
    )
    try:
        assert result.counts() == {"scored": len(frame) - 2, "rejected": 2, "failed": 0}
        columns = result.scored.columns
        scored = result.scored.toPandas().set_index("kinesis_sequence")
        rejected = result.rejected.toPandas()
        assert result.failed.count() == 0
    finally:
        result.release()
    assert columns == [*frame.columns, "churn_probability", "churn_prediction", "model_version", "scored_at"]
    assert sorted(
        zip(rejected.kinesis_sequence, rejected.error_code, rejected.error_reason, strict=True)
    ) == [
        ("seq-3", "NOT_A_NUMBER", "'Day Mins' is not a number: 'lots'"),
        ("seq-4", "MISSING_VALUE", "'Intl Calls' is missing"),
    ]
    valid = frame.drop(index=[3, 4])
    expected = Scorer.from_dir(model_dir).score(valid).probabilities
    got = scored.loc[valid["kinesis_sequence"], "churn_probability"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert (scored["churn_prediction"] == (scored["churn_probability"] >= 0.3).astype(int)).all()
    assert str(scored["scored_at"].dtype).startswith("datetime64")


def test_missing_model_column_is_refused_before_any_work(spark, model_dir, rows):
    frame = spark.createDataFrame(rows.drop(columns=["CustServ Calls"]))
    with pytest.raises(ContractError, match="'CustServ Calls'"):
        score(frame, ScoringConfig(mode="embedded", model_uri=str(model_dir)))


def test_payloads_respect_the_byte_budget_and_row_cap_and_keep_every_row(model_dir, rows):
    matrix = Scorer.from_dir(model_dir).score(rows).encoded.matrix
    whole = format_csv(matrix)
    budget = 2000
    payloads = list(split_payloads(matrix, budget, max_rows=7))
    assert b"".join(body for _, body, _ in payloads) == whole
    assert all(len(body) <= budget and 1 <= n <= 7 for _, body, n in payloads)
    assert [start for start, _, _ in payloads] == list(np.cumsum([0] + [n for _, _, n in payloads[:-1]]))
    assert sum(n for _, _, n in payloads) == len(matrix)
    # The text round-trips to the same float32 matrix (what makes endpoint and embedded scores equal).
    parsed = np.array(
        [[float(v) for v in line.split(",")] for line in whole.decode().splitlines()], dtype=np.float32
    )
    np.testing.assert_array_equal(parsed, matrix)
    with pytest.raises(ValueError, match="more than the payload budget"):
        list(split_payloads(matrix, 10, max_rows=7))
    with pytest.raises(ValueError, match="below InvokeEndpoint's limit"):
        ScoringConfig(mode="embedded", model_uri=".", payload_bytes=INVOKE_ENDPOINT_LIMIT_BYTES)


def test_a_missing_value_is_an_empty_field_both_ways_as_the_xgboost_container_reads_it():
    """NaN (an allowed blank) is written as an empty field and an empty field read back as NaN: the built-in
    XGBoost container turns '' into 'nan' (aws/sagemaker-xgboost-container, encoder.py _clean_csv_string)."""
    matrix = np.array([[1.5, np.nan, 3.0], [np.nan, 0.25, np.nan]], dtype=np.float32)
    body = format_csv(matrix)
    assert body == b"1.5,,3\n,0.25,\n"
    np.testing.assert_array_equal(parse_csv_body(body, 3), matrix)  # NaN compared equal to NaN
    np.testing.assert_array_equal(parse_csv_body(b"1,nan,3\n", 3), [[1.0, np.nan, 3.0]])


def test_responses_parse_newline_or_comma_separated_with_a_count_check():
    assert parse_predictions(b"0.25\n0.5\n0.75\n", 3).tolist() == [0.25, 0.5, 0.75]
    assert parse_predictions(b"0.25,0.5,0.75", 3).tolist() == [0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="returned 2 prediction"):
        parse_predictions(b"0.25\n0.5\n", 3)
    with pytest.raises(ValueError, match="non-numeric prediction"):
        parse_predictions(b"0.25\nnope\n", 2)


def test_model_from_s3_is_downloaded_by_the_workers_through_aws_endpoint_url(
    spark, model_dir, rows, moto_server
):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="churn-models")
    for name in ("model.tar.gz", "feature_spec.json"):
        s3.upload_file(str(model_dir / name), "churn-models", f"models/v1/{name}")
    env = {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_server}
    with worker_environment(spark, env):
        result = score(
            spark.createDataFrame(rows),
            ScoringConfig(mode="embedded", model_uri="s3://churn-models/models/v1"),
        )
        try:
            got = result.scored.select("Phone", "churn_probability").toPandas()
        finally:
            result.release()
    expected = Scorer.from_dir(model_dir).score(rows).probabilities
    np.testing.assert_allclose(got["churn_probability"], expected, rtol=0, atol=1e-9)
    assert list(got["Phone"]) == list(rows["Phone"])


def test_arrow_dictionary_columns_encode_exactly_as_text_columns(model_dir, rows):
    """The UDF hands text as pandas categories (decoded once per distinct value): same matrix as plain text."""
    from churn_pipeline.contract.features import encode

    spec = Scorer.from_dir(model_dir).spec
    frame = rows[spec.input_columns].copy()
    frame.loc[frame.index[:4], "State"] = [None, " zz ", "ks", "KS "]
    frame.loc[frame.index[4], "Int'l Plan"] = "YES"
    frame.loc[frame.index[5], "Area Code"] = "415.0"
    plain = encode(frame, spec)
    as_categories = frame.astype({c.name: "category" for c in spec.categorical_columns})
    from_categories = encode(as_categories, spec)
    np.testing.assert_array_equal(from_categories.matrix, plain.matrix)
    np.testing.assert_array_equal(from_categories.valid, plain.valid)
    assert from_categories.unknown_categories == plain.unknown_categories == {"State": 2, "Area Code": 1}
    # "ks" and "KS " are Kansas, and "415.0" is area code 415: normalised, not unseen.
    kansas = spec.feature_names.index("State_KS")
    assert plain.matrix[2, kansas] == plain.matrix[3, kansas] == 1.0


def test_pandas_udf_path_for_spark_without_arrow_udfs_gives_the_same_scores(
    spark, model_dir, rows, monkeypatch
):
    """Glue versions before 6.0 (Spark 3.5) have no arrow_udf: the scorer falls back to a pandas UDF."""
    from pyspark.sql import functions

    monkeypatch.delattr(functions, "arrow_udf")
    frame = rows.copy()
    frame.loc[frame.index[2], "Day Mins"] = "-4"
    result = score(spark.createDataFrame(frame), ScoringConfig(mode="embedded", model_uri=str(model_dir)))
    try:
        scored = result.scored.select("Phone", "churn_probability").toPandas()
        rejected = result.rejected.select("Phone", "error_code").toPandas()
    finally:
        result.release()
    valid = frame.drop(index=frame.index[2])
    np.testing.assert_allclose(
        scored["churn_probability"], Scorer.from_dir(model_dir).score(valid).probabilities, atol=1e-9
    )
    assert list(scored["Phone"]) == list(valid["Phone"])
    assert list(zip(rejected.Phone, rejected.error_code, strict=True)) == [
        (frame["Phone"].iloc[2], "OUT_OF_RANGE")
    ]


def test_a_task_scorer_gives_each_row_the_outcome_the_udf_gives_it(spark, model_dir, rows):
    """The streaming handler's tasks score with `TaskScorer` (no UDF); on the same rows, prior errors included,
    every row gets the UDF path's outcome, probability, prediction, code and reason."""
    frame = rows.rename(columns=str.lower).astype(object).copy()
    frame.loc[3, "day mins"] = "lots"
    frame.loc[4, "intl calls"] = None
    frame["key"] = [f"k-{i}" for i in range(len(frame))]
    frame["parse_code"] = None
    frame["parse_reason"] = None
    frame.loc[5, ["parse_code", "parse_reason"]] = ["BAD_JSON", "not JSON"]
    frame = frame.astype(str).where(frame.notna(), None)  # text values, as a JSON parser may give them
    config = ScoringConfig(mode="embedded", model_uri=str(model_dir), threshold=0.3)
    spark_frame = spark.createDataFrame(frame)
    prior = ("parse_code", "parse_reason")
    by_udf = score(spark_frame, config, prior_error=prior)
    try:
        scored = by_udf.scored.toPandas()
        rejected = by_udf.rejected.toPandas()
    finally:
        by_udf.release()
    scorer = task_scorer(spark_frame.schema, spark, config, prior_error=prior)
    got = scorer.outcomes(frame, scored_at_micros=1_700_000_000_000_000).set_index("key")
    assert "parse_code" not in got.columns and scorer.model_version == scored["model_version"].iloc[0]
    assert sorted(got.index[got["outcome"] == "rejected"]) == sorted(rejected["key"])
    assert sorted(
        zip(got.loc[rejected["key"], "error_code"], got.loc[rejected["key"], "error_reason"], strict=True)
    ) == sorted(zip(rejected["error_code"], rejected["error_reason"], strict=True))
    assert len(rejected) == 3  # the two the contract refuses, and the one the parser did
    mine = got.loc[scored["key"]]
    assert (mine["outcome"] == "scored").all() and mine["error_code"].isna().all()
    np.testing.assert_allclose(mine["churn_probability"], scored["churn_probability"], rtol=0, atol=0)
    assert list(mine["churn_prediction"]) == list(scored["churn_prediction"])
    assert list(mine["model_version"]) == list(scored["model_version"])
    assert (mine["scored_at"] == 1_700_000_000_000_000).all()
    unscored = got.loc[rejected["key"]]
    assert unscored["churn_probability"].isna().all() and unscored["churn_prediction"].isna().all()
    assert unscored["model_version"].isna().all() and unscored["scored_at"].isna().all()
