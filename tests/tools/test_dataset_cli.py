"""churn-dataset: infer proposes a description from data, check reports every row that does not fit one."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_tools import dataset_cli, synthetic


@pytest.fixture(scope="module")
def tutorial_csv(tmp_path_factory):
    return synthetic.write_csv(3000, tmp_path_factory.mktemp("tut") / "tutorial.csv", seed=21)


@pytest.fixture(scope="module")
def tutorial_file(tmp_path_factory):
    return tutorial().save(tmp_path_factory.mktemp("desc") / "tutorial.dataset.json")


@pytest.fixture(scope="module")
def telco_csv(tmp_path_factory, second_description):
    return synthetic.write_csv(3000, tmp_path_factory.mktemp("telco") / "telco.csv", 21, second_description)


def rewrite(source, target, edits):
    """A copy of `source` with {(data row, column name): value} replaced."""
    with open(source, newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    for (row, name), value in edits.items():
        rows[row + 1][header.index(name)] = value
    with open(target, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return target


def infer(capsys, *args):
    code = dataset_cli.main(["infer", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(capsys, description, data, *flags):
    code = dataset_cli.main(["check", str(description), str(data), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_infer_proposes_the_tutorials_types_and_roles(capsys, tutorial_csv, tmp_path):
    expected = tutorial()
    out = tmp_path / "inferred.json"
    label = expected.label_column
    code, _, err = infer(
        capsys, tutorial_csv, "--label", label, "--positive", expected.positive_labels[0],
        "--id", expected.id_column, "--out", out,
    )  # fmt: skip
    assert code == 0, err
    inferred = DatasetDescription.load(out)
    assert inferred.column_names == expected.column_names
    assert inferred.negative_labels == expected.negative_labels
    for column in expected.columns:
        got = inferred.column(column.name)
        assert got.type == column.type, column.name
        # The charges are passthrough in the tutorial: a judgement (collinear with the minutes) infer leaves to you.
        if column.role != "passthrough":
            assert got.role == column.role, column.name
    # One line per column, each with its decision and reason.
    for column in inferred.columns:
        assert any(line.startswith(column.name) and f" {column.role} " in line for line in err.splitlines())
    # The area code: a low-cardinality integer category.
    assert "whole numbers with 3 distinct value(s)" in err


def test_infer_marks_columns_with_blanks_even_spaces_as_blank_allowed(capsys, telco_csv, second_description):
    code, out, err = infer(capsys, telco_csv, "--label", "Churn", "--positive", "Yes", "--id", "customerID")
    assert code == 0, err
    inferred = DatasetDescription.from_json(out)
    # The generator writes blanks as a space, as real exports do; only TotalCharges allows them.
    assert [c.name for c in inferred.columns if c.blank_allowed] == ["TotalCharges"]
    assert inferred.column("customerID").role == "id"
    assert inferred.column("PaymentMethod").role == "categorical"
    assert inferred.column("SeniorCitizen").type == "integer"
    assert inferred.negative_labels == ("No",)
    assert "blanks allowed" in next(line for line in err.splitlines() if line.startswith("TotalCharges"))


def test_infer_refuses_a_label_without_both_outcomes(capsys, tutorial_csv, tmp_path):
    label = tutorial().label_column
    code, _, err = infer(capsys, tutorial_csv, "--label", label, "--positive", "churned")
    assert code == 2 and "'churned' is not a value of" in err
    only_positive = tmp_path / "one.csv"
    rewrite(tutorial_csv, only_positive, {})
    with open(only_positive) as handle:
        lines = handle.read().splitlines()
    positive = tutorial().positive_labels[0]
    kept = [lines[0]] + [line for line in lines[1:] if line.endswith("," + positive)]
    only_positive.write_text("\n".join(kept) + "\n")
    code, _, err = infer(capsys, only_positive, "--label", label, "--positive", positive)
    assert code == 2 and "holds only the positive value" in err
    code, _, err = infer(capsys, tutorial_csv, "--label", "nope", "--positive", positive)
    assert code == 2 and "--label 'nope' is not a column" in err


def test_check_passes_the_generated_data_of_both_descriptions(
    capsys, tutorial_csv, tutorial_file, telco_csv, second_description
):
    code, out, _ = check(capsys, tutorial_file, tutorial_csv)
    assert code == 0, out
    assert "fits" in out.splitlines()[-1]
    code, out, _ = check(capsys, second_description.source, telco_csv)
    assert code == 0, out


def test_check_reports_each_problem_by_column_reason_and_line(capsys, tutorial_csv, tutorial_file, tmp_path):
    description = tutorial()
    minutes = description.numeric_features[3].name  # a decimal feature with min 0
    count = description.numeric_features[0].name  # an integer feature
    category = description.categorical_features[0].name  # a fixed vocabulary, blanks allowed
    bad = rewrite(
        tutorial_csv,
        tmp_path / "bad.csv",
        {
            (2, minutes): "abc",
            (4, minutes): "-3",
            (9, minutes): "  ",
            (5, category): "ZZ",
            (6, description.label_column): "maybe",
            (7, description.id_column): " ",
            (8, count): "2.5",
        },
    )
    code, out, _ = check(capsys, tutorial_file, bad)
    assert code == 1
    lines = {line.strip().split("' (")[0].strip("'\""): line for line in out.splitlines() if "' (" in line}
    # Data row i is file line i + 2 (after the header).
    assert "1 NOT_A_NUMBER (line 4)" in lines[minutes]
    assert "1 OUT_OF_RANGE (line 6)" in lines[minutes]
    assert "1 MISSING_VALUE (line 11)" in lines[minutes]
    assert "warning: 1 UNKNOWN_CATEGORY (line 7)" in lines[category]
    assert "1 UNKNOWN_LABEL (line 8)" in lines[description.label_column]
    assert "1 MISSING_VALUE (line 9)" in lines[description.id_column]
    assert "1 NOT_AN_INTEGER (line 10)" in lines[count]
    assert "does NOT fit" in out.splitlines()[-1]


def test_an_unknown_category_alone_is_a_warning_not_a_failure(capsys, tutorial_csv, tutorial_file, tmp_path):
    description = tutorial()
    category = description.categorical_features[0].name
    unseen = rewrite(tutorial_csv, tmp_path / "unseen.csv", {(i, category): "ZZ" for i in range(7)})
    code, out, _ = check(capsys, tutorial_file, unseen)
    assert code == 0
    assert "7 UNKNOWN_CATEGORY (lines 2, 3, 4, 5, 6, ...)" in out
    assert "7 warning(s)" in out.splitlines()[-1]


def test_check_names_a_missing_column_and_accepts_scoring_data_without_label(
    capsys, tutorial_csv, tutorial_file, tmp_path
):
    description = tutorial()
    with open(tutorial_csv, newline="") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index(description.label_column)
    unlabelled = tmp_path / "unlabelled.csv"
    with open(unlabelled, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in rows])
    code, out, err = check(capsys, tutorial_file, unlabelled)
    assert code == 1 and "missing column(s)" in err and description.label_column in err
    code, out, err = check(capsys, tutorial_file, unlabelled, "--no-label")
    assert code == 0, out + err


def test_a_description_that_contradicts_itself_is_exit_2_naming_file_and_column(
    capsys, tutorial_csv, tmp_path
):
    data = json.loads(tutorial().to_json())
    data["columns"][1]["type"] = "string"  # a numeric feature typed string
    path = tmp_path / "contradiction.json"
    path.write_text(json.dumps(data))
    code, out, err = check(capsys, path, tutorial_csv)
    name = tutorial().columns[1].name
    assert code == 2
    assert str(path) in err and repr(name) in err and "needs type integer or decimal" in err
    path.write_text("{not json")
    code, _, err = check(capsys, path, tutorial_csv)
    assert code == 2 and "not valid JSON" in err and "Traceback" not in err


def test_the_console_script_and_make_targets(repo_root, tutorial_csv, tmp_path):
    description = tutorial()
    out = tmp_path / "made.json"
    result = subprocess.run(
        ["make", "dataset-infer", f"DATA={tutorial_csv}", f"LABEL={description.label_column}",
         f"POSITIVE={description.positive_labels[0]}", f"ID={description.id_column}", f"DATASET={out}"],
        cwd=repo_root, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        ["make", "dataset-check", f"DATASET={out}", f"DATA={tutorial_csv}"],
        cwd=repo_root, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fits" in result.stdout


def test_make_train_passes_the_dataset_to_churn_train(repo_root):
    result = subprocess.run(
        ["make", "-n", "train", "DATA=in.csv", "DATASET=my description.json", "MODEL_DIR=m"],
        cwd=repo_root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    command = next(line for line in result.stdout.splitlines() if "churn-train " in line)
    assert '--dataset "my description.json"' in command and '--data "in.csv"' in command
