"""The dataset description: what it accepts, the one clear error for what it refuses, what derives from it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from churn_pipeline import drift
from churn_pipeline.contract.codes import MISSING_VALUE, OUT_OF_RANGE
from churn_pipeline.contract.dataset import DatasetDescription, DescriptionError, tutorial
from churn_pipeline.contract.features import ContractError, FeatureSpec, build_spec, encode, labels
from churn_pipeline.model import ModelDir


def test_the_tutorial_description_names_its_roles():
    tutorial_description = tutorial()
    assert tutorial_description.id_column == "Phone"
    assert tutorial_description.label_column == "Churn?"
    assert len(tutorial_description.columns) == 21
    assert (
        tutorial_description.label_value("True.") == 1 and tutorial_description.label_value(" False. ") == 0
    )
    assert tutorial_description.label_value("maybe") is None


def test_a_description_round_trips_through_its_file(second_description, tmp_path):
    path = second_description.save(tmp_path / "d.json")
    assert DatasetDescription.load(path) == second_description
    assert DatasetDescription.load(tmp_path / "d.json").to_json() == second_description.to_json()


def _broken(description: DatasetDescription, change) -> dict:
    data = copy.deepcopy(description.to_dict())
    change(data)
    return data


def _column(data: dict, name: str) -> dict:
    return next(c for c in data["columns"] if c["name"] == name)


BAD_DESCRIPTIONS = {
    "two labels": (
        lambda d: _column(d, "gender").update(role="label"),
        "2 columns have role 'label'",
    ),
    "a label that is also a feature": (
        lambda d: d["label"].update(column="tenure"),
        "'tenure' is not the column whose role is 'label'",
    ),
    "an unknown type": (lambda d: _column(d, "tenure").update(type="float"), "column 'tenure': type 'float'"),
    "an unknown role": (
        lambda d: _column(d, "tenure").update(role="feature"),
        "role 'feature' is not one of",
    ),
    "a numeric feature typed string": (
        lambda d: _column(d, "tenure").update(type="string"),
        "column 'tenure': a numeric feature needs type integer or decimal",
    ),
    "bounds on a category": (lambda d: _column(d, "gender").update(min=0), "min/max apply to numeric"),
    "min above max": (lambda d: _column(d, "tenure").update(min=5, max=1), "min 5 is above max 1"),
    "a name given twice": (
        lambda d: _column(d, "gender").update(name="TENURE"),
        "column 'tenure': the name is given twice",
    ),
    "a value both positive and negative": (lambda d: d["label"].update(negative=["Yes"]), "both a positive"),
    "no feature": (
        lambda d: (
            [c.update(role="passthrough") for c in d["columns"] if c["role"] in ("numeric", "categorical")]
            and [c.pop(k, None) for c in d["columns"] for k in ("min", "max", "vocabulary")]
        ),
        "no column is a feature",
    ),
    "an unknown key": (lambda d: _column(d, "tenure").update(nullable=True), "unknown key(s) ['nullable']"),
    "a blank id": (
        lambda d: _column(d, "customerID").update(blank_allowed=True),
        "the id column cannot allow",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DESCRIPTIONS))
def test_a_contradictory_description_gets_one_clear_error_naming_file_and_column(case, second_description):
    change, message = BAD_DESCRIPTIONS[case]
    with pytest.raises(DescriptionError) as error:
        DatasetDescription.from_dict(_broken(second_description, change), "my-data.json")
    assert str(error.value).startswith("my-data.json: ") and message in str(error.value)


def test_a_file_that_does_not_parse_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"description_version": 1, ')
    with pytest.raises(DescriptionError, match=r"broken\.json: not valid JSON"):
        DatasetDescription.load(path)


def _telco_rows(n: int = 60) -> pd.DataFrame:
    """Rows of the second shape, as text (what the CSV reader hands over)."""
    rng = np.random.default_rng(7)
    tenure = rng.integers(0, 72, n)
    monthly = rng.uniform(20, 110, n).round(2)
    total = (tenure * monthly).round(2).astype(str).astype(object)
    total[tenure == 0] = None  # new customers: no total charges yet
    return pd.DataFrame(
        {
            "customerID": [f"{i:04d}-ABCD" for i in range(n)],
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": rng.choice(["0", "1"], n),
            "tenure": tenure.astype(str),
            "InternetService": rng.choice(["DSL", "Fiber optic", "No"], n),
            "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
            "PaymentMethod": rng.choice(["Bank transfer (automatic)", "Electronic check", "Mailed check"], n),
            "MonthlyCharges": monthly.astype(str),
            "TotalCharges": total,
            "Region note": "north",
            "Internal flag": "x",
            "Churn": rng.choice(["Yes", "No"], n),
        }
    )


def test_the_spec_derives_from_the_description_and_an_allowed_blank_is_nan(second_description):
    rows = _telco_rows()
    spec = build_spec(rows, second_description)
    assert spec.numeric_columns == ("tenure", "MonthlyCharges", "TotalCharges")
    vocab = {c.name: c.vocabulary for c in spec.categorical_columns}
    assert vocab["InternetService"] == ("DSL", "Fiber optic", "No")  # fixed by the description, its order
    assert vocab["Contract"] == ("Month-to-month", "One year", "Two year")  # learned, sorted
    assert set(spec.dropped_columns) == {"customerID", "Region note", "Internal flag", "Churn"}
    assert FeatureSpec.from_json(spec.to_json()) == spec

    result = encode(rows, spec)
    new_customers = (rows["tenure"] == "0").to_numpy()
    assert new_customers.any() and result.valid.all()
    total = result.matrix[:, spec.numeric_columns.index("TotalCharges")]
    assert np.isnan(total[new_customers]).all() and np.isfinite(total[~new_customers]).all()
    fiber = spec.feature_names.index("InternetService_Fiber optic")
    np.testing.assert_array_equal(
        result.matrix[:, fiber], (rows["InternetService"] == "Fiber optic").to_numpy()
    )


def test_a_blank_where_the_description_forbids_it_is_a_reject(second_description):
    rows = _telco_rows(4)
    rows.loc[0, "MonthlyCharges"] = " "
    rows.loc[1, "gender"] = None
    rows.loc[2, "tenure"] = "-3"
    result = encode(rows, build_spec(_telco_rows(), second_description))
    assert result.reject_code.to_dict() == {0: MISSING_VALUE, 1: MISSING_VALUE, 2: OUT_OF_RANGE}
    assert result.reject_reason[1] == "'gender' is missing"


def test_labels_follow_the_description_and_name_the_rows_that_fit_neither(second_description):
    rows = _telco_rows(5)
    rows["Churn"] = ["Yes", "No", " Yes", "No", "No"]
    assert labels(rows, second_description).tolist() == [1, 0, 1, 0, 0]
    rows.loc[3, "Churn"] = "Maybe"
    with pytest.raises(ContractError, match=r"train\.csv: label column 'Churn' .*\(data row 4: 'Maybe'\)"):
        labels(rows, second_description, "train.csv")


def test_a_feature_spec_of_version_1_still_loads_with_its_rules():
    spec = FeatureSpec.from_dict(
        {
            "spec_version": 1,
            "label_column": "y",
            "positive_label": "1",
            "dropped_columns": ["y"],
            "numeric_columns": ["a"],
            "numeric_lower_bound": 0.0,
            "categorical_columns": [{"name": "c", "vocabulary": ["p", "q"]}],
            "n_features": 3,
        }
    )
    rows = pd.DataFrame({"a": ["1", "-1", None], "c": ["p", "q", None]})
    result = encode(rows, spec)
    assert result.reject_code.to_dict() == {1: OUT_OF_RANGE, 2: MISSING_VALUE}
    assert encode(rows.iloc[[0]].assign(c=None), spec).valid.all()  # a blank category: unseen, not a reject


def test_an_older_model_without_a_description_scores_with_the_tutorial_s_and_says_so(tmp_path, caplog):
    ModelDir(tmp_path).write_metrics({})
    with caplog.at_level("WARNING", logger="churn_pipeline.model"):
        assert ModelDir(tmp_path).description() == tutorial()
        ModelDir(tmp_path).description()
    assert caplog.text.count("trained before dataset descriptions") == 1


def test_the_baseline_counts_an_allowed_blank_where_scoring_does():
    values = np.array([1.0, 2.0, np.nan, 4.0, np.nan] * 20)
    bins = drift.FeatureBins.numeric(values)
    assert bins.shares[drift.UNSEEN] == pytest.approx(0.4)
    assert sum(bins.shares.values()) == pytest.approx(1.0)
    categories = drift.FeatureBins.categorical(pd.Series(["a", None, "b", "a"]))
    assert categories.shares == {"a": 0.5, "b": 0.25, drift.UNSEEN: 0.25}
    counter = drift.BinCounter(drift.Baseline({"x": bins}, len(values)))
    counts = counter.counts_of(counter.count(pd.DataFrame({"x": values}), np.empty(len(values))))
    assert drift.psi(bins.shares, counts["x"]) == pytest.approx(0.0, abs=1e-9)
    assert json.loads(json.dumps(bins.to_dict()))["shares"][drift.UNSEEN] == pytest.approx(0.4)
