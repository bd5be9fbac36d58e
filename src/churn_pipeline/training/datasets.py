"""Reading churn CSV files into pandas with the header checked and every value kept as text.

Values stay text so that the one `features.encode` decides what is a number and rejects what is not,
for training exactly as for scoring.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churn_pipeline.contract.dataset import DatasetDescription, canonical, tutorial
from churn_pipeline.contract.errors import ContractError

CSV_SUFFIXES = (".csv", ".txt")


def csv_files(path: str | Path) -> list[Path]:
    """A CSV file, or every .csv/.txt file of a directory (a SageMaker channel, a Spark output)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CSV_SUFFIXES)
        if not files:
            raise ContractError(f"no .csv or .txt file in directory {path}")
        return files
    if not path.exists():
        raise ContractError(f"input file does not exist: {path}")
    return [path]


def read_churn_csv(
    path: str | Path, description: DatasetDescription | None = None, *, label_required: bool = True
) -> pd.DataFrame:
    """Read churn rows as text; header names are matched to the description's columns case-insensitively.

    Raises ContractError for an empty file or a header that lacks a described column (the label may be
    absent when `label_required` is false: data to score). Extra columns are kept (the feature contract
    ignores them). Without a description, the tutorial's.
    """
    description = description or tutorial()
    required = description.column_names if label_required else description.required_columns
    frames = []
    for file in csv_files(path):
        if file.stat().st_size == 0:
            raise ContractError(f"{file} is empty: expected a header row with the columns {list(required)}")
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
        frames.append(_canonical_header(frame, file, required))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _canonical_header(frame: pd.DataFrame, file: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """The description's spelling for every column it names (any case in the file)."""
    by_key = {canonical(name): name for name in required}
    present = {canonical(str(c)) for c in frame.columns}
    missing = [name for key, name in by_key.items() if key not in present]
    if missing:
        raise ContractError(f"{file}: missing column(s) {missing}; header has {list(frame.columns)}")
    return frame.rename(columns=lambda c: by_key.get(canonical(str(c)), c))
