"""The contract is the one definition of what Terraform and the jobs both name, and Terraform reads it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from churn_pipeline.contract import codes, dataset, metrics, outputs
from churn_tools import contract_export as export

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src" / "churn_pipeline"


def test_the_committed_contract_file_is_what_the_package_generates():
    committed = (REPO_ROOT / export.CONTRACT_PATH).read_text()
    assert committed == export.render(), "terraform/contract.json is stale: run `make contract` and commit it"
    result = subprocess.run(
        [sys.executable, "-m", "churn_tools.contract_export", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_check_refuses_a_stale_file(tmp_path):
    stale = tmp_path / "contract.json"
    stale.write_text(export.render().replace('"NOT_A_NUMBER"', '"NOT_NUMERIC"'))
    assert export.main(["--check", "--out", str(stale)]) == 1


def test_terraform_s_reading_of_the_exported_datasets_is_each_writer_s_schema(second_description):
    """Terraform (modules/glue) puts the deployed model's data columns before the exported fixed ones where a
    dataset is flagged data_columns_first; that is each writer's schema for the model, for either shape."""
    exported = export.contract()
    for description in (dataset.tutorial(), second_description):
        data_columns = description.catalog_columns()
        for d in outputs.DATASETS:
            entry = exported["datasets"][d.table]
            in_terraform = (data_columns if entry["data_columns_first"] else []) + entry["columns"]
            assert in_terraform == d.for_data(description).catalog_columns(), (description.name, d.table)
        assert data_columns + exported["stream_record_extra_columns"] == outputs.catalog_fields(
            outputs.stream_record_fields(description)
        )


def test_the_contract_file_names_no_column_of_a_dataset():
    """The data's columns reach Terraform from the deployed model's description, never from contract.json."""
    exported = export.contract()
    exported.pop("named_queries")  # SQL templates (churn_tools.analytics), checked by their own tests
    text = json.dumps(exported)
    assert [c["name"] for c in dataset.tutorial().catalog_columns() if f'"{c["name"]}"' in text] == []


def string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    # Docstrings are prose, not definitions.
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_every_code_and_metric_name_is_written_once_in_the_package():
    names = set(codes.CODES) | {metrics.NAMESPACE, *metrics.METRICS}
    elsewhere = {
        str(path.relative_to(SRC)): sorted(string_literals(path) & names)
        for path in SRC.rglob("*.py")
        if path.parent.name != "contract"
    }
    assert {path: found for path, found in elsewhere.items() if found} == {}


def test_terraform_spells_no_code_column_or_metric_of_the_contract():
    names = set(codes.CODES) | {metrics.NAMESPACE, *metrics.METRICS}
    names |= {f.name for dataset in outputs.DATASETS for f in dataset.columns if "_" in f.name}
    found = {}
    for path in (REPO_ROOT / "terraform").rglob("*.tf"):
        # A block's own label (variable "model_version") is Terraform's name, not a spelling of the contract's.
        lines = [
            line for line in path.read_text().splitlines() if not line.startswith(("variable ", "output "))
        ]
        found[str(path.relative_to(REPO_ROOT))] = sorted(
            n for n in names if any(f'"{n}"' in line for line in lines)
        )
    assert {path: hits for path, hits in found.items() if hits} == {}
