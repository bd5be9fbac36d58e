"""`churn-dataset`: propose a dataset description from a CSV (infer) and check a CSV against one (check).

infer reads every value as text and decides, per column, a type (integer, decimal, string) and a role, printing
one line per column with its reason; the description it writes is built and validated by DatasetDescription
itself, so it loads wherever a description is taken. check runs every row through the same code the pipeline
scores with (features.encode, one column at a time so each problem is named by its column) and reports, per
column and per reason, the count and the first file lines; it exits 1 when the data does not fit.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churn_pipeline.contract import codes
from churn_pipeline.contract.dataset import (
    CATEGORICAL,
    DECIMAL,
    ID,
    IGNORED,
    INTEGER,
    LABEL,
    NUMERIC,
    PASSTHROUGH,
    STRING,
    ColumnDescription,
    DatasetDescription,
    DescriptionError,
)
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.contract.features import CategoricalColumn, FeatureSpec, encode
from churn_pipeline.training.datasets import csv_files, read_churn_csv

# An integer column with at most this many distinct values is a category (an area code, a 0/1 flag), not a count.
INTEGER_CATEGORY_MAX_VALUES = 5
# A text column with more distinct values than this is not a useful category (a name, a free-text note).
STRING_CATEGORY_MAX_VALUES = 100
# How many file lines a report names per column and reason.
EXAMPLE_LINES = 5
# The check's reason for a whole-number column holding a fraction, and for an unknown label value.
NOT_AN_INTEGER = "NOT_AN_INTEGER"
UNKNOWN_LABEL = "UNKNOWN_LABEL"
UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"  # a warning: scoring encodes it as an unseen category

_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
HEADER_LINES = 1  # file line of data row i (0-based) is i + HEADER_LINES + 1


class UsageError(Exception):
    """Input the command cannot work from (exit 2)."""


# ---------------------------------------------------------------------- infer
@dataclass(frozen=True)
class Decision:
    column: ColumnDescription
    reason: str


def _text_values(raw: pd.Series) -> pd.Series:
    """The column as trimmed text; a blank (empty or spaces only) is NA."""
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def _value_type(values: pd.Series) -> str:
    """integer when every non-blank value is a whole number, decimal when every one is a finite number."""
    if values.empty:
        return STRING
    if values.str.fullmatch(_INTEGER_TEXT).all():
        return INTEGER
    numbers = pd.to_numeric(values, errors="coerce")
    return DECIMAL if np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)).all() else STRING


def infer_description(
    frame: pd.DataFrame, name: str, label: str, positive: str, id_column: str | None = None
) -> tuple[DatasetDescription, list[Decision]]:
    """A description proposed from the data (every value text), with the reason for each column."""
    header = [str(c) for c in frame.columns]
    by_key = {h.strip().lower(): h for h in header}
    for flag, wanted in (("--label", label), ("--id", id_column)):
        if wanted is not None and wanted.strip().lower() not in by_key:
            raise UsageError(f"{flag} {wanted!r} is not a column of the data; header has {header}")
    label_name = by_key[label.strip().lower()]
    id_name = by_key[id_column.strip().lower()] if id_column else None
    decisions = []
    negative: list[str] = []
    for column_name in header:
        values = _text_values(frame[column_name])
        present = values.dropna()
        blanks = int(values.isna().sum())
        distinct = present.unique()
        kind = _value_type(present)
        blank_note = f", {blanks:,} blank(s)" if blanks else ""
        if column_name == label_name:
            found = sorted(str(v) for v in distinct)
            if positive not in found:
                raise UsageError(
                    f"--positive {positive!r} is not a value of {label_name!r}; it has {found[:20]}"
                )
            negative = [v for v in found if v != positive]
            if not negative:
                raise UsageError(
                    f"label column {label_name!r} holds only the positive value {positive!r}: "
                    "a model needs customers who stayed too"
                )
            churned = float((present == positive).mean())
            reason = f"--label; positive {positive!r} ({churned:.1%} of rows), negative {negative}" + (
                f"; {blanks:,} blank label(s): check will reject them" if blanks else ""
            )
            decisions.append(Decision(ColumnDescription(column_name, kind, LABEL), reason))
        elif column_name == id_name:
            duplicates = len(present) - len(distinct)
            reason = "--id; type string (an id is a key, not a number)" + (
                f"; {duplicates:,} repeated value(s)" if duplicates else ""
            )
            reason += (
                f"; {blanks:,} blank(s): an id may not be blank, check will reject them" if blanks else ""
            )
            decisions.append(Decision(ColumnDescription(column_name, STRING, ID), reason))
        elif present.empty:
            decisions.append(
                Decision(ColumnDescription(column_name, STRING, IGNORED), "every value is blank")
            )
        else:
            decisions.append(_feature_decision(column_name, kind, present, len(distinct), blanks, blank_note))
    data = {
        "description_version": 1,
        "name": name,
        "label": {"column": label_name, "positive": [positive], "negative": negative},
        "columns": [d.column.to_dict() for d in decisions],
    }
    return DatasetDescription.from_dict(data, f"the description inferred from {name}"), decisions


def _feature_decision(
    name: str, kind: str, present: pd.Series, n_distinct: int, blanks: int, blank_note: str
) -> Decision:
    blank_allowed = blanks > 0
    allowed_note = "; blanks allowed (missing to the model)" if blank_allowed else ""
    if kind == STRING:
        if n_distinct > STRING_CATEGORY_MAX_VALUES:
            return Decision(
                ColumnDescription(name, STRING, PASSTHROUGH, blank_allowed),
                f"text with {n_distinct:,} distinct values (> {STRING_CATEGORY_MAX_VALUES}): kept in the "
                f"outputs, not a feature{blank_note}",
            )
        return Decision(
            ColumnDescription(name, STRING, CATEGORICAL, blank_allowed),
            f"text with {n_distinct} distinct value(s): a category{blank_note}{allowed_note}",
        )
    if kind == INTEGER and n_distinct <= INTEGER_CATEGORY_MAX_VALUES:
        return Decision(
            ColumnDescription(name, INTEGER, CATEGORICAL, blank_allowed),
            f"whole numbers with {n_distinct} distinct value(s) (<= {INTEGER_CATEGORY_MAX_VALUES}): a category"
            f"{blank_note}{allowed_note}",
        )
    numbers = pd.to_numeric(present).astype(float)
    minimum = 0.0 if numbers.min() >= 0 else None
    range_note = f"{numbers.min():g}..{numbers.max():g}"
    bound_note = "; no negative value: min 0" if minimum is not None else ""
    what = "whole numbers" if kind == INTEGER else "decimal numbers"
    return Decision(
        ColumnDescription(name, kind, NUMERIC, blank_allowed, minimum=minimum),
        f"{what} {range_note} with {n_distinct:,} distinct values: numeric{bound_note}{blank_note}{allowed_note}",
    )


def read_text_csv(path: Path) -> pd.DataFrame:
    """The CSV file (or folder of CSV files) as infer reads it: every value text, an empty cell NA."""
    frames = []
    for file in csv_files(path):
        if file.stat().st_size == 0:
            raise UsageError(f"{file} is empty: expected a header row")
        frames.append(pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""]))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def run_infer(args: argparse.Namespace) -> int:
    frame = read_text_csv(Path(args.data))
    name = args.name or Path(args.data).stem
    description, decisions = infer_description(frame, name, args.label, args.positive, args.id)
    width = max(len(d.column.name) for d in decisions)
    for decision in decisions:
        column = decision.column
        print(
            f"{column.name:<{width}}  {column.type:<7} {column.role:<11} {decision.reason}", file=sys.stderr
        )
    print(
        f"{len(frame):,} rows read; review the roles (a passthrough or ignored column is not a feature), "
        "then `churn-dataset check`",
        file=sys.stderr,
    )
    if args.out:
        path = description.save(args.out)
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(description.to_json())
    return 0


# ---------------------------------------------------------------------- check
@dataclass
class ColumnReport:
    column: ColumnDescription
    problems: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # reason -> file lines
    warnings: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @staticmethod
    def _render(found: dict[str, list[int]]) -> str:
        parts = []
        for reason, lines in found.items():
            shown = ", ".join(str(n) for n in lines[:EXAMPLE_LINES]) + (
                ", ..." if len(lines) > EXAMPLE_LINES else ""
            )
            parts.append(f"{len(lines):,} {reason} (line{'s' if len(lines) > 1 else ''} {shown})")
        return "; ".join(parts)

    def line(self) -> str:
        text = f"{self.column.name!r} ({self.column.type}, {self.column.role}): "
        if not self.problems and not self.warnings:
            return text + "ok"
        rendered = [self._render(self.problems)] if self.problems else []
        if self.warnings:
            rendered.append("warning: " + self._render(self.warnings))
        return text + "; ".join(rendered)


def _lines(mask: np.ndarray, first_line: np.ndarray) -> list[int]:
    return [int(n) for n in first_line[np.flatnonzero(mask)]]


def check_frame(
    frame: pd.DataFrame, description: DatasetDescription, file_lines: np.ndarray
) -> list[ColumnReport]:
    """Every described column of `frame` (every value text, header in the description's spelling) checked."""
    reports = []
    for column in description.columns:
        report = ColumnReport(column)
        reports.append(report)
        if column.role == IGNORED or column.name not in frame.columns:
            continue  # an ignored column is dropped unread; an absent label (data to score) has nothing to check
        text = _text_values(frame[column.name])
        blank = text.isna().to_numpy()
        if column.role in (NUMERIC, CATEGORICAL):
            _check_feature(frame[[column.name]], column, report, file_lines)
        else:
            if blank.any() and not column.blank_allowed:
                report.problems[codes.MISSING_VALUE] = _lines(blank, file_lines)
            if column.is_numeric_type:
                numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                report.problems[codes.NOT_A_NUMBER] = _lines(~blank & ~np.isfinite(numbers), file_lines)
        if column.type == INTEGER:
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            fraction = np.isfinite(numbers) & (np.floor(numbers) != numbers)
            report.problems[NOT_AN_INTEGER] = _lines(fraction, file_lines)
        if column.role == LABEL:
            unknown = ~blank & text.map(lambda v: description.label_value(v) is None).to_numpy(dtype=bool)
            report.problems[UNKNOWN_LABEL] = _lines(unknown, file_lines)
        for found in (report.problems, report.warnings):
            for reason in [r for r, lines in found.items() if not lines]:
                del found[reason]
    return reports


def _check_feature(
    frame: pd.DataFrame, column: ColumnDescription, report: ColumnReport, file_lines: np.ndarray
) -> None:
    """One feature column through features.encode, the scorers' own checks (blanks, numbers, bounds)."""
    blank_allowed = (column.name,) if column.blank_allowed else ()
    if column.role == NUMERIC:
        spec = FeatureSpec(
            numeric_columns=(column.name,),
            categorical_columns=(),
            bounds={column.name: (column.minimum, column.maximum)},
            blank_allowed=blank_allowed,
        )
    else:
        # Without a vocabulary every value is known (training learns them): the vocabulary of the data itself.
        vocabulary = column.vocabulary or tuple(sorted(set(_text_values(frame[column.name]).dropna())))
        spec = FeatureSpec(
            numeric_columns=(),
            categorical_columns=(CategoricalColumn(column.name, vocabulary or ("",)),),
            blank_allowed=blank_allowed,
        )
    encoded = encode(frame, spec)
    codes_by_row = np.full(len(frame), None, dtype=object)
    codes_by_row[~encoded.valid] = encoded.reject_code.to_numpy()
    for code in pd.unique(encoded.reject_code):
        report.problems[code] = _lines(codes_by_row == code, file_lines)
    if column.role == CATEGORICAL and encoded.unknown_categories:
        # A valid row with an all-zero one-hot holds an allowed blank or a value outside the vocabulary.
        blank = _text_values(frame[column.name]).isna().to_numpy()
        zero = np.zeros(len(frame), dtype=bool)
        zero[encoded.valid] = encoded.matrix.sum(axis=1) == 0
        report.warnings[UNKNOWN_CATEGORY] = _lines(zero & ~blank, file_lines)


def run_check(args: argparse.Namespace) -> int:
    description = DatasetDescription.load(args.description)
    # encode logs unseen categories; the report counts them per column with their lines instead.
    logging.getLogger("churn_pipeline.contract.features").setLevel(logging.ERROR)
    total_rows = 0
    failed = False
    n_warnings = 0
    for file in csv_files(args.data):
        try:
            frame = read_churn_csv(file, description, label_required=not args.no_label)
        except ContractError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        file_lines = np.arange(len(frame)) + HEADER_LINES + 1
        print(f"{file}: {len(frame):,} rows against {description.source} ({description.name})")
        for report in check_frame(frame, description, file_lines):
            print("  " + report.line())
            failed |= bool(report.problems)
            n_warnings += sum(len(lines) for lines in report.warnings.values())
        total_rows += len(frame)
    verdict = "does NOT fit" if failed else "fits"
    print(
        f"{args.data} {verdict} {description.source}: {total_rows:,} rows checked"
        + (f", {n_warnings:,} warning(s) (unknown categories score as unseen)" if n_warnings else "")
    )
    return 1 if failed else 0


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="churn-dataset",
        description="Describe your churn data (infer) and check data against a description.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    infer = commands.add_parser("infer", help="propose a dataset description from a CSV")
    infer.add_argument("data", help="CSV file (or a directory of them) with a header row")
    infer.add_argument("--label", required=True, help="the column that says whether the customer churned")
    infer.add_argument("--positive", required=True, help="the label value that means churned")
    infer.add_argument("--id", help="the customer key column (kept in the outputs, never a feature)")
    infer.add_argument("--name", help="the description's name (default: the file name)")
    infer.add_argument("--out", help="write the description here (default: stdout)")
    check = commands.add_parser("check", help="check every row of a CSV against a description")
    check.add_argument("description", help="dataset description (JSON)")
    check.add_argument("data", help="CSV file or directory")
    check.add_argument(
        "--no-label", action="store_true", help="data to score: the label column may be absent"
    )
    args = parser.parse_args(argv)
    try:
        return run_infer(args) if args.command == "infer" else run_check(args)
    except DescriptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (UsageError, ContractError, OSError, pd.errors.ParserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
