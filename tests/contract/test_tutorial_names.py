"""Issue 27, item 7: the tutorial's dataset is one description among others. Its column names and values live in
its description file (package data), tests and docs; no Python module under src/ names one. And the published
JSON Schema agrees with DatasetDescription on what a description is."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import jsonschema
import pytest

from churn_pipeline.contract.dataset import DatasetDescription, DescriptionError, json_schema, tutorial

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"


# Words of the tutorial's vocabularies that are everyday words of code too (an argparse choice, a report cell):
# naming them says nothing about the tutorial. Its area codes are left out likewise (415 is an HTTP status).
COMMON_WORDS = {"yes", "no"}


def tutorial_names() -> tuple[set[str], set[str]]:
    """(column names, values) of the tutorial's description file itself: its label values and the text values of
    its vocabularies (the state codes), less COMMON_WORDS."""
    description = tutorial()
    values = {*description.positive_labels, *description.negative_labels}
    for column in description.columns:
        if column.type == "string":
            values |= set(column.vocabulary or ())
    return set(description.column_names), values - COMMON_WORDS


def _docstring_ids(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip


def tutorial_spellings(path: Path) -> list[str]:
    """`file:line: literal` for each string literal of `path` (docstrings aside: prose) that names a tutorial
    column or value: equal to a column name or value, or holding a column name that is not one plain word
    (an f-string's 'Day Mins')."""
    names, values = tutorial_names()
    phrases = {name for name in names if not name.isalnum()}
    tree = ast.parse(path.read_text(), str(path))
    docstrings = _docstring_ids(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docstrings:
            continue
        value = node.value
        if value in names or value in values or any(phrase in value for phrase in phrases):
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {value!r}")
    return found


def test_the_search_finds_a_tutorial_spelling(tmp_path):
    """The check can fail: a module that names a column or a state code is reported by its line."""
    names, values = tutorial_names()
    column = sorted(names)[0]
    state = sorted(v for v in values if len(v) == 2 and v.isupper())[0]
    module = REPO_ROOT / "src" / "churn_tools" / "_tutorial_probe.py"
    text = f'"""Docstrings may say {column!r}."""\nA = {column!r}\nB = f"x {{A}}"\nC = [{state!r}, "yes"]\n'
    module.write_text(text)
    try:
        found = tutorial_spellings(module)
    finally:
        module.unlink()
    assert found == [
        f"src/churn_tools/_tutorial_probe.py:2: {column!r}",
        f"src/churn_tools/_tutorial_probe.py:4: {state!r}",
    ]


def test_no_python_module_names_a_tutorial_column_or_value():
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in tutorial_spellings(path)]
    assert not found, (
        "tutorial columns or values named in Python (they belong in the description):\n" + "\n".join(found)
    )


# ---------------------------------------------------------------------- the JSON Schema and DatasetDescription
def test_the_tutorial_and_the_test_descriptions_validate_against_the_published_schema():
    validator = jsonschema.Draft202012Validator(json_schema())
    validator.check_schema(json_schema())
    validator.validate(json.loads(tutorial().to_json()))
    for path in (REPO_ROOT / "tests" / "data").glob("*.dataset.json"):
        validator.validate(json.loads(path.read_text()))


def _broken(change):
    data = json.loads(tutorial().to_json())
    change(data)
    return data


def _set_column(index, **fields):
    def change(data):
        data["columns"][index].update(fields)

    return change


BROKEN = {
    "a numeric feature typed string": _broken(_set_column(1, type="string")),
    "a categorical typed decimal": _broken(_set_column(0, type="decimal")),
    "bounds on a categorical": _broken(_set_column(0, min=0)),
    "a vocabulary on a numeric feature": _broken(_set_column(1, vocabulary=["a"])),
    "blanks allowed in the label": _broken(lambda d: d["columns"][-1].update(blank_allowed=True)),
    "an unknown role": _broken(_set_column(1, role="feature")),
    "an unknown column key": _broken(_set_column(1, unit="minutes")),
    "a name with trailing spaces": _broken(_set_column(1, name="Account Length ")),
    "an empty vocabulary": _broken(_set_column(0, vocabulary=[])),
    "no columns": _broken(lambda d: d.update(columns=[])),
    "no label values": _broken(lambda d: d["label"].update(positive=[])),
    "version 2": _broken(lambda d: d.update(description_version=2)),
    "an unknown top-level key": _broken(lambda d: d.update(owner="me")),
}


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_the_schema_rejects_what_the_description_rejects(problem):
    data = BROKEN[problem]
    with pytest.raises(DescriptionError):
        DatasetDescription.from_dict(copy.deepcopy(data), problem)
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(data))
    assert errors, f"the published schema accepts {problem}, which DatasetDescription rejects"
