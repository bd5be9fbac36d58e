"""The feature contract: fixed width and order, case-insensitive columns, rejects with reasons."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.contract.features import (
    MISSING_VALUE,
    NOT_A_NUMBER,
    OUT_OF_RANGE,
    ContractError,
    FeatureSpec,
    build_spec,
    encode,
)
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools import synthetic


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Synthetic rows as text, exactly as a CSV reader hands them over."""
    return synthetic.generate_chunk(seed=3, chunk_index=0, n=400).astype(str)


@pytest.fixture(scope="module")
def spec(rows) -> FeatureSpec:
    return build_spec(rows)


def test_spec_from_the_tutorial_data_has_the_notebook_layout(real_data_path):
    data = read_churn_csv(real_data_path)
    spec = build_spec(data)
    # 11 numeric + 51 states + 3 area codes + 2 + 2 plan values = the notebook's 69 dummies.
    assert spec.n_features == 69
    assert spec.numeric_columns == (
        "Account Length", "VMail Message", "Day Mins", "Day Calls", "Eve Mins", "Eve Calls",
        "Night Mins", "Night Calls", "Intl Mins", "Intl Calls", "CustServ Calls",
    )  # fmt: skip
    vocab = {c.name: c.vocabulary for c in spec.categorical_columns}
    # The description's fixed vocabulary is the data's own: its 51 states (DC included), sorted.
    assert vocab["State"] == tuple(sorted(data["State"].unique())) and len(vocab["State"]) == 51
    assert vocab["Area Code"] == ("408", "415", "510")
    assert vocab["Int'l Plan"] == ("no", "yes") and vocab["VMail Plan"] == ("no", "yes")
    assert set(spec.dropped_columns) == {
        "Phone",
        "Day Charge",
        "Eve Charge",
        "Night Charge",
        "Intl Charge",
        "Churn?",
    }


def test_spec_round_trips_through_json(spec, tmp_path):
    spec.save(tmp_path)
    assert FeatureSpec.load(tmp_path) == spec
    assert FeatureSpec.from_json(spec.to_json()).feature_names == spec.feature_names


def test_spec_with_wrong_version_or_inconsistent_width_is_refused(spec):
    data = spec.to_dict()
    with pytest.raises(ContractError, match="version 99"):
        FeatureSpec.from_dict({**data, "spec_version": 99})
    with pytest.raises(ContractError, match="inconsistent"):
        FeatureSpec.from_dict({**data, "n_features": 3})


def _one_hot_block(matrix: np.ndarray, spec: FeatureSpec, column: str) -> np.ndarray:
    start = len(spec.numeric_columns)
    for cat in spec.categorical_columns:
        if cat.name == column:
            return matrix[:, start : start + len(cat.vocabulary)]
        start += len(cat.vocabulary)
    raise KeyError(column)


def test_every_batch_size_gets_the_full_width_in_the_same_order(rows, spec):
    full = encode(rows, spec).matrix
    assert full.shape == (len(rows), spec.n_features)
    # One row at a time and a batch from only two states give exactly the rows of the full encoding.
    for i in (0, 17, 399):
        np.testing.assert_array_equal(encode(rows.iloc[[i]], spec).matrix, full[[i]])
    few_states = rows[rows["State"].isin(["TX", "VT"])]
    np.testing.assert_array_equal(
        encode(few_states, spec).matrix, full[rows["State"].isin(["TX", "VT"]).to_numpy()]
    )
    state_block = _one_hot_block(full, spec, "State")
    vocab = next(c.vocabulary for c in spec.categorical_columns if c.name == "State")
    assert (state_block.sum(axis=1) == 1).all()
    assert [vocab[j] for j in state_block.argmax(axis=1)] == rows["State"].tolist()


def test_lower_case_reordered_and_extra_columns_give_the_same_matrix(rows, spec):
    expected = encode(rows, spec).matrix
    shuffled = rows[list(reversed(rows.columns))].rename(columns=str.lower)
    shuffled["customer_note"] = "ignored"
    np.testing.assert_array_equal(encode(shuffled, spec).matrix, expected)


def test_a_missing_required_column_is_an_error_naming_it(rows, spec):
    with pytest.raises(ContractError, match=r"missing required column\(s\): 'Day Mins'"):
        encode(rows.drop(columns=["Day Mins"]), spec)


def test_columns_that_differ_only_in_case_are_ambiguous(rows, spec):
    both = rows.assign(**{"day mins": rows["Day Mins"]})
    with pytest.raises(ContractError, match="differ only in case"):
        encode(both, spec)


def test_the_dropped_columns_are_not_required(rows, spec):
    slim = rows.drop(columns=["Phone", "Day Charge", "Churn?"])
    np.testing.assert_array_equal(encode(slim, spec).matrix, encode(rows, spec).matrix)


def test_bad_numeric_values_reject_the_row_with_a_reason(rows, spec):
    bad = rows.head(6).copy()
    bad.loc[1, "Day Mins"] = "lots"
    bad.loc[2, "Eve Calls"] = None
    bad.loc[3, "Intl Mins"] = "-2.5"
    bad.loc[4, "Night Mins"] = "inf"
    bad.loc[4, "Day Calls"] = " "
    result = encode(bad, spec)
    assert result.valid.tolist() == [True, False, False, False, False, True]
    assert result.reject_code.to_dict() == {
        1: NOT_A_NUMBER,
        2: MISSING_VALUE,
        3: OUT_OF_RANGE,
        4: MISSING_VALUE,
    }
    assert result.reject_reason[1] == "'Day Mins' is not a number: 'lots'"
    assert result.reject_reason[2] == "'Eve Calls' is missing"
    assert result.reject_reason[3] == "'Intl Mins' is -2.5, below the minimum 0"
    # Every problem of a row is named, the first one sets the code.
    assert result.reject_reason[4] == "'Day Calls' is missing; 'Night Mins' is not a number: 'inf'"
    # The valid rows are encoded exactly as they would be alone.
    np.testing.assert_array_equal(result.matrix, encode(rows.iloc[[0, 5]], spec).matrix)


def test_booleans_are_not_numbers(rows, spec):
    typed = rows.head(2).astype(object)
    typed.loc[0, "Day Mins"] = True
    assert encode(typed, spec).reject_code.to_dict() == {0: NOT_A_NUMBER}


def test_unknown_category_is_all_zero_and_counted(rows, spec, caplog):
    odd = rows.head(3).copy()
    odd.loc[0, "State"] = "ZZ"
    odd.loc[1, "Area Code"] = "999"
    with caplog.at_level(logging.WARNING, logger="churn_pipeline.contract.features"):
        result = encode(odd, spec)
    assert result.valid.all()
    assert result.unknown_categories == {"State": 1, "Area Code": 1}
    assert _one_hot_block(result.matrix, spec, "State")[0].sum() == 0
    assert _one_hot_block(result.matrix, spec, "Area Code")[1].sum() == 0
    np.testing.assert_array_equal(result.matrix[2], encode(rows.iloc[[2]], spec).matrix[0])
    assert "State=1 row(s)" in caplog.text and "Area Code=1 row(s)" in caplog.text


def test_category_spelling_is_normalised(rows, spec):
    typed = rows.head(1).astype(object)
    expected = encode(typed, spec).matrix
    typed.loc[0, "Area Code"] = float(typed.loc[0, "Area Code"])  # JSON may carry 415.0
    typed.loc[0, "Int'l Plan"] = typed.loc[0, "Int'l Plan"].upper()
    typed.loc[0, "State"] = f" {typed.loc[0, 'State'].lower()} "
    np.testing.assert_array_equal(encode(typed, spec).matrix, expected)


def test_numbers_and_text_encode_identically(rows, spec):
    numeric = synthetic.generate_chunk(seed=3, chunk_index=0, n=400)
    np.testing.assert_array_equal(encode(numeric, spec).matrix, encode(rows, spec).matrix)


def test_category_columns_encode_like_text_bad_values_included(rows, spec):
    """The Spark scorer hands text over as pandas categories (each distinct value parsed once)."""
    text = rows.head(8).copy()
    text.loc[1, "Day Mins"] = "lots"
    text.loc[2, "Eve Calls"] = None
    text.loc[3, "Intl Mins"] = "-2.5"
    text.loc[4, "Day Calls"] = " "
    text.loc[5, "State"] = "ZZ"
    as_text, as_categories = encode(text, spec), encode(text.astype("category"), spec)
    np.testing.assert_array_equal(as_categories.matrix, as_text.matrix)
    assert (
        as_categories.valid.tolist()
        == as_text.valid.tolist()
        == [True, False, False, False, False, True, True, True]
    )
    assert as_categories.reject_code.to_dict() == as_text.reject_code.to_dict()
    assert as_categories.reject_reason.to_dict() == as_text.reject_reason.to_dict()
    assert as_categories.unknown_categories == as_text.unknown_categories == {"State": 1}


def test_empty_frame_encodes_to_zero_rows_of_full_width(rows, spec):
    result = encode(rows.head(0), spec)
    assert result.matrix.shape == (0, spec.n_features)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("State,Account Length\nKS,1\n", "missing column"),
    ],
)
def test_reading_an_unusable_csv_names_the_problem(tmp_path, content, message):
    path = tmp_path / "input.csv"
    path.write_text(content)
    with pytest.raises(ContractError, match=message):
        read_churn_csv(path)


def test_reading_accepts_lower_case_headers(tmp_path):
    frame = synthetic.generate_chunk(seed=1, chunk_index=0, n=5)
    path = tmp_path / "lower.csv"
    frame.rename(columns=str.lower).to_csv(path, index=False)
    assert list(read_churn_csv(path).columns) == list(tutorial().column_names)


def _one_hot_row_by_row(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The one-hot part of the contract, one value at a time in plain Python (the reference the vectorised
    encoder must match): trimmed, case-insensitive vocabulary match; None, NaN, blank or unseen: all zero."""
    blocks = []
    for cat in spec.categorical_columns:
        lookup = {str(v).strip().lower(): i for i, v in enumerate(cat.vocabulary)}
        block = np.zeros((len(frame), len(cat.vocabulary)), dtype=np.float32)
        for row, value in enumerate(frame[cat.name]):
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                position = lookup.get(str(value).strip().lower())
                if position is not None:
                    block[row, position] = 1.0
        blocks.append(block)
    return np.hstack(blocks)


def test_second_shape_categories_encode_as_the_row_by_row_contract_in_every_frame_form(second_description):
    """Categories with spaces and parentheses, padding and case, unseen values, blanks and None (rejected
    where the description forbids them), an allowed numeric blank: text, pandas categories and the Arrow
    batch the Spark scorer builds all give the same whole result, and its one-hot part is the row-by-row one."""
    import pyarrow as pa
    import telco_shape

    from churn_pipeline.scoring.worker import _features_frame

    text = telco_shape.generate(12, seed=8).astype(object)
    spec = build_spec(telco_shape.generate(300, seed=5), second_description)
    text.loc[0, "InternetService"] = "  FIBER OPTIC "
    text.loc[1, "PaymentMethod"] = "Bank transfer (automatic)"
    text.loc[2, "PaymentMethod"] = "Paper cheque (manual)"
    text.loc[3, "Contract"] = ""
    text.loc[4, "gender"] = None
    text.loc[5, "gender"] = "   "
    text.loc[5, "tenure"] = "x"
    text.loc[6, "TotalCharges"] = ""
    arrow_frame = _features_frame(
        [pa.array(text[c].tolist(), type=pa.string()) for c in spec.input_columns], spec.input_columns
    )
    results = [encode(form, spec) for form in (text, text.astype("category"), arrow_frame)]
    for result in results:
        assert result.valid.tolist() == [True, True, True, False, False, False] + [True] * 6
        assert result.reject_code.to_dict() == {3: MISSING_VALUE, 4: MISSING_VALUE, 5: NOT_A_NUMBER}
        assert result.reject_reason.to_dict() == {
            3: "'Contract' is missing",
            4: "'gender' is missing",
            5: "'tenure' is not a number: 'x'; 'gender' is missing",
        }
        assert result.unknown_categories == {"gender": 2, "Contract": 1, "PaymentMethod": 1}
        np.testing.assert_array_equal(
            result.matrix[:, len(spec.numeric_columns) :], _one_hot_row_by_row(text, spec)[result.valid]
        )
        np.testing.assert_array_equal(result.matrix, results[0].matrix)  # the numbers too, NaN included
    total_charges = spec.numeric_columns.index("TotalCharges")
    assert np.isnan(results[0].matrix[3, total_charges])  # input row 6: a new customer's allowed blank
