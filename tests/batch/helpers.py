"""Helpers of the batch tests: CSV lines."""

from __future__ import annotations

from pathlib import Path

from churn_pipeline.contract.dataset import tutorial

HEADER = ",".join(tutorial().column_names)
# A clean row of the tutorial's format (values typed by hand, not taken from the dataset).
GOOD_ROW = "KS,128,415,382-4657,no,yes,25,265.1,110,45.07,197.4,99,16.78,244.7,91,11.01,10.0,3,2.7,1,False."


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
