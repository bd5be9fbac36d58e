"""Synthetic data: the original file's exact format, deterministic, streamed, with realistic marginals."""

from __future__ import annotations

import csv
import re
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from churn_pipeline.contract.dataset import tutorial
from churn_tools import synthetic

TUTORIAL = tutorial()
STATES = TUTORIAL.column("State").vocabulary
AREA_CODES = tuple(int(code) for code in TUTORIAL.column("Area Code").vocabulary)

SIX_DECIMALS = re.compile(r"^\d+\.\d{6}$")
INTEGER = re.compile(r"^\d+$")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("syn") / "sample.csv"
    synthetic.write_csv(120_000, path, seed=11)
    return path


def test_header_and_value_formats_match_the_original(sample):
    with open(sample, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _, row in zip(range(5000), reader, strict=False)]
    assert ",".join(header) == (
        "State,Account Length,Area Code,Phone,Int'l Plan,VMail Plan,VMail Message,Day Mins,Day Calls,Day Charge,"
        "Eve Mins,Eve Calls,Eve Charge,Night Mins,Night Calls,Night Charge,Intl Mins,Intl Calls,Intl Charge,"
        "CustServ Calls,Churn?"
    )
    for row in rows:
        assert len(row) == 21
        record = dict(zip(header, row, strict=True))
        assert record["State"] in STATES
        assert re.fullmatch(r"\d{3}-\d{4}", record["Phone"])
        assert record["Int'l Plan"] in ("yes", "no") and record["VMail Plan"] in ("yes", "no")
        assert record["Churn?"] in ("True.", "False.")
        assert int(record["Area Code"]) in AREA_CODES
        for column in TUTORIAL.columns:
            if column.type == "decimal":
                assert SIX_DECIMALS.match(record[column.name]), (column.name, record[column.name])
            elif column.type == "integer":
                assert INTEGER.match(record[column.name]), (column.name, record[column.name])
        # Charges are minutes times the tariff, to the cent, as in the original.
        for period, rate in synthetic.TARIFFS.items():
            exact = (Decimal(record[f"{period} Mins"]) * Decimal(str(rate))).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
            assert Decimal(record[f"{period} Charge"]) == exact, (period, record)


def test_marginals_are_realistic(sample):
    frame = pd.read_csv(sample)
    churn_rate = (frame["Churn?"] == "True.").mean()
    assert 0.12 <= churn_rate <= 0.16
    assert set(frame["State"]) == set(STATES)
    assert 0.08 <= (frame["Int'l Plan"] == "yes").mean() <= 0.12
    assert 0.24 <= (frame["VMail Plan"] == "yes").mean() <= 0.31
    assert (frame.loc[frame["VMail Plan"] == "no", "VMail Message"] == 0).all()
    assert frame["Day Mins"].mean() == pytest.approx(179.8, abs=3)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    synthetic.write_csv(3000, a, seed=5)
    synthetic.write_csv(3000, b, seed=5)
    synthetic.write_csv(3000, c, seed=6)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_rows_do_not_depend_on_the_total_row_count(tmp_path, sample):
    """Chunked generation: a shorter file is a prefix of a longer one (so 10M rows stream in bounded memory)."""
    short = tmp_path / "short.csv"
    synthetic.write_csv(synthetic.CHUNK_ROWS + 7, short, seed=11)
    assert sample.read_bytes().startswith(short.read_bytes())


def test_zero_rows_is_just_the_header(tmp_path):
    path = synthetic.write_csv(0, tmp_path / "empty.csv")
    assert path.read_text() == ",".join(TUTORIAL.column_names) + "\n"


def test_make_data_writes_the_requested_rows(repo_root, tmp_path):
    out = tmp_path / "made.csv"
    subprocess.run(
        ["make", "data", "ROWS=1234", f"OUT={out}", "SEED=3"], cwd=repo_root, check=True, capture_output=True
    )
    assert sum(1 for _ in open(out)) == 1235


def test_negative_rows_is_a_clear_error(repo_root, tmp_path):
    result = subprocess.run(
        [str(repo_root / ".venv/bin/churn-data"), "--rows", "-1", "--out", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "ROWS must be >= 0" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def second_sample(tmp_path_factory, second_description):
    return synthetic.write_csv(8000, tmp_path_factory.mktemp("syn2") / "telco.csv", 11, second_description)


def test_another_description_gets_data_of_its_shape(second_sample, second_description):
    frame = pd.read_csv(second_sample, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(second_description.column_names)
    for column in second_description.columns:
        values = frame[column.name]
        blank = values.str.strip() == ""
        # Blanks only where allowed, at about synthetic.BLANK_RATE, written as a space as real exports do.
        if column.blank_allowed:
            assert 0.015 <= blank.mean() <= 0.045, column.name
            assert set(values[blank]) == {synthetic.BLANK}
        else:
            assert not blank.any(), column.name
        present = values[~blank]
        if column.vocabulary is not None:
            assert set(present) == set(column.vocabulary), column.name
        if column.type == "integer":
            assert present.str.fullmatch(r"-?\d+").all(), column.name
        if column.type == "decimal":
            assert pd.to_numeric(present).notna().all(), column.name
        if column.minimum is not None:
            assert (pd.to_numeric(present) >= column.minimum).all(), column.name
    assert frame[second_description.id_column].is_unique
    label = frame[second_description.label_column]
    assert set(label) == {*second_description.positive_labels, *second_description.negative_labels}
    assert 0.1 <= label.isin(second_description.positive_labels).mean() <= 0.5


def test_another_descriptions_data_carries_a_signal_the_model_learns(second_sample, second_description):
    from churn_pipeline.training.datasets import read_churn_csv
    from churn_pipeline.training.train import train

    result = train(read_churn_csv(second_sample, second_description), description=second_description)
    assert result.metrics["test"]["auc"] >= 0.8


def test_another_descriptions_data_is_deterministic_and_a_prefix(tmp_path, second_description):
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    synthetic.write_csv(synthetic.CHUNK_ROWS + 3, a, 5, second_description)
    synthetic.write_csv(synthetic.CHUNK_ROWS + 3, b, 5, second_description)
    synthetic.write_csv(100, c, 5, second_description)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().startswith(c.read_bytes())


def test_churn_data_takes_a_description(repo_root, tmp_path, second_description):
    out = tmp_path / "made.csv"
    subprocess.run(
        ["make", "data", "ROWS=50", f"OUT={out}", f"DATASET={second_description.source}"],
        cwd=repo_root, check=True, capture_output=True,
    )  # fmt: skip
    assert out.read_text().splitlines()[0] == ",".join(second_description.column_names)
    broken = tmp_path / "broken.json"
    broken.write_text('{"description_version": 1, "name": "x", "columns": []}')
    result = subprocess.run(
        [str(repo_root / ".venv/bin/churn-data"), "--rows", "5", "--out", str(out), "--dataset", str(broken)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and str(broken) in result.stderr and "Traceback" not in result.stderr
