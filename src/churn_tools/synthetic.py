"""Synthetic churn data in the shape of a dataset description, streamed to disk.

Any description gets data of its shape: values per column type and role (vocabularies where the description
fixes them), blanks in the columns that allow them, label values from the description, with a churn signal
(a fixed random effect per numeric feature and per category) a tree model can learn.

The tutorial's description gets the tutorial's data exactly (`_draw_tutorial_chunk`): marginals as in the
published dataset (about 14% churn, 51 states, three area codes, ~10% on an international plan), charges as
minutes x tariff, and a non-linear churn signal. It takes every column name and value from the tutorial's
description, by the column's position in it, so no module names a tutorial column; same seed, same bytes as
before descriptions existed.

Rows are generated in fixed-size chunks, each from its own seeded stream, so the output is deterministic for a
seed and memory stays flat whatever the row count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from churn_pipeline.contract.dataset import (
    CATEGORICAL,
    DECIMAL,
    ID,
    IGNORED,
    INTEGER,
    LABEL,
    NUMERIC,
    DatasetDescription,
    DescriptionError,
    tutorial,
)

CHUNK_ROWS = 50_000
DEFAULT_SEED = 1729
# Share of blank values in a column whose description allows blanks (other descriptions than the tutorial's).
BLANK_RATE = 0.03
# A blank as real exports write it: a space (a spreadsheet's empty cell, the telco dataset's new customers).
BLANK = " "

_TUTORIAL = tutorial()
_TUTORIAL_NAMES = _TUTORIAL.column_names
# The tutorial's four usage periods, each a (minutes, calls, charge) triple of columns after its voicemail
# columns, in the file's order; a period is named by its minutes column's first word.
_USAGE_START, _PERIODS = 7, 4
_USAGE = [_TUTORIAL_NAMES[_USAGE_START + 3 * i : _USAGE_START + 3 * i + 3] for i in range(_PERIODS)]
_PERIOD_NAMES = [minutes.split()[0] for minutes, _, _ in _USAGE]
# Per-minute tariffs, by period in file order: the dataset's charges are exactly minutes x rate, to the cent.
TARIFFS = dict(zip(_PERIOD_NAMES, (0.17, 0.085, 0.045, 0.27), strict=True))
# The same tariffs in tenths of a cent per minute, for exact integer arithmetic.
_TARIFF_MILLS = {period: round(rate * 1000) for period, rate in TARIFFS.items()}


def charge(minutes: np.ndarray, period: str) -> np.ndarray:
    """minutes x tariff rounded half-up to the cent, computed in integers (no binary-float ties)."""
    tenths_of_minutes = np.rint(minutes * 10).astype(np.int64)
    cents = (tenths_of_minutes * _TARIFF_MILLS[period] + 50) // 100
    return cents / 100


def _clipped_normal(
    rng: np.random.Generator, mean: float, std: float, low: float, high: float, n: int
) -> np.ndarray:
    return np.clip(rng.normal(mean, std, n), low, high)


def generate_chunk(
    seed: int, chunk_index: int, n: int = CHUNK_ROWS, description: DatasetDescription | None = None
) -> pd.DataFrame:
    """The first `n` rows of chunk `chunk_index`; the same (seed, chunk_index) always gives the same rows.

    A full chunk is always drawn (then cut), so a row does not depend on how many rows were asked for.
    """
    description = description or _TUTORIAL
    if description == _TUTORIAL:  # same columns, labels and name: the tutorial's recipe
        full = _draw_tutorial_chunk(seed, chunk_index, CHUNK_ROWS)
    else:
        full = _draw_described_chunk(description, seed, chunk_index, CHUNK_ROWS)
    return full if n == CHUNK_ROWS else full.iloc[:n].reset_index(drop=True)


def _draw_tutorial_chunk(seed: int, chunk_index: int, n: int) -> pd.DataFrame:
    columns = _TUTORIAL.columns
    (state, account, area, phone, intl_plan_col, vmail_plan_col, vmail_col) = _TUTORIAL_NAMES[:_USAGE_START]
    custserv_col, label_col = _TUTORIAL_NAMES[_USAGE_START + 3 * _PERIODS :]
    day, eve, night, intl = _PERIOD_NAMES
    rng = np.random.default_rng([seed, chunk_index])
    states = np.array(columns[0].vocabulary)
    state_idx = rng.integers(0, len(states), n)
    # A fixed per-state effect (same for every chunk), small next to the usage signal.
    state_effect = np.random.default_rng([seed, 10**6]).normal(0.0, 0.2, len(states))

    intl_plan = rng.random(n) < 0.097
    vmail_plan = rng.random(n) < 0.277
    account_length = np.rint(_clipped_normal(rng, 101, 40, 1, 243, n)).astype(int)
    area_code = rng.choice(np.array(columns[2].vocabulary), n, p=[0.25, 0.50, 0.25])
    vmail_messages = np.where(vmail_plan, np.rint(_clipped_normal(rng, 29.3, 7.6, 4, 51, n)), 0).astype(int)

    mins = {
        day: np.round(_clipped_normal(rng, 179.8, 54.5, 0, 350.8, n), 1),
        eve: np.round(_clipped_normal(rng, 201.0, 50.7, 0, 363.7, n), 1),
        night: np.round(_clipped_normal(rng, 200.9, 50.6, 23.2, 395.0, n), 1),
        intl: np.round(_clipped_normal(rng, 10.2, 2.8, 0, 20.0, n), 1),
    }
    calls = {
        day: np.rint(_clipped_normal(rng, 100.4, 20.1, 0, 165, n)).astype(int),
        eve: np.rint(_clipped_normal(rng, 100.1, 19.9, 0, 170, n)).astype(int),
        night: np.rint(_clipped_normal(rng, 100.1, 19.6, 33, 175, n)).astype(int),
        intl: np.minimum(rng.poisson(4.5, n), 20),
    }
    custserv = np.minimum(rng.poisson(1.56, n), 9)

    # Churn signal, shaped like the real data's: heavy users on the flat plan, repeated service
    # calls (unless usage is high enough to mean the customer is engaged), an international plan
    # with heavy international use, and a voicemail plan that retains.
    usage = mins[day] * 0.17 + mins[eve] * 0.085
    logit = (
        -4.3
        + 6.0 / (1 + np.exp(-(usage - 58.0) / 1.2))
        + np.where(custserv >= 4, 3.0 / (1 + np.exp((mins[day] - 190.0) / 12.0)) + 0.6, 0.0)
        + np.where(intl_plan, 1.2 + 2.6 * ((mins[intl] > 13.0) | (calls[intl] < 3)), 0.0)
        - np.where(vmail_plan, 1.0, 0.0)
        + state_effect[state_idx]
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))

    phone_numbers = [
        f"{a}-{b:04d}" for a, b in zip(rng.integers(327, 423, n), rng.integers(0, 10_000, n), strict=True)
    ]
    # The plans' vocabulary lists the declined value first, then the subscribed one.
    declined, subscribed = columns[4].vocabulary
    values = {
        state: states[state_idx],
        account: account_length,
        area: area_code,
        phone: phone_numbers,
        intl_plan_col: np.where(intl_plan, subscribed, declined),
        vmail_plan_col: np.where(vmail_plan, subscribed, declined),
        vmail_col: vmail_messages,
    }
    for period, (minutes_col, calls_col, charge_col) in zip(_PERIOD_NAMES, _USAGE, strict=True):
        values[minutes_col] = mins[period]
        values[calls_col] = calls[period]
        values[charge_col] = charge(mins[period], period)
    values[custserv_col] = custserv
    values[label_col] = np.where(churn, _TUTORIAL.positive_labels[0], _TUTORIAL.negative_labels[0])
    return pd.DataFrame(values, columns=list(_TUTORIAL_NAMES))


def _draw_described_chunk(
    description: DatasetDescription, seed: int, chunk_index: int, n: int
) -> pd.DataFrame:
    """Rows of any description's shape, every value text as a CSV holds it (blanks as BLANK)."""
    rng = np.random.default_rng([seed, chunk_index])
    # The churn signal's effects are fixed per column (the same for every chunk), as the tutorial's per-state one.
    effects = np.random.default_rng([seed, 10**6])
    logit = np.full(n, -1.6)
    values: dict[str, np.ndarray] = {}
    for column in description.columns:
        if column.role == ID:
            first = chunk_index * CHUNK_ROWS
            keys = np.arange(first + 1, first + n + 1)
            text = (
                keys.astype(str)
                if column.type == INTEGER
                else np.char.add("C", np.char.zfill(keys.astype(str), 9))
            )
        elif column.role == LABEL:
            continue  # drawn from the signal once every feature is known
        elif column.type == DECIMAL or (column.type == INTEGER and column.role != CATEGORICAL):
            number = _described_numbers(rng, column, n)
            if column.role == NUMERIC:
                weight = effects.normal(0.0, 1.2)
                spread = max(float(number.std()), 1e-9)
                logit += weight * (number - number.mean()) / spread
            text = number.astype(int).astype(str) if column.type == INTEGER else np.char.mod("%.2f", number)
        else:
            vocabulary = column.vocabulary or _made_up_vocabulary(column)
            index = rng.integers(0, len(vocabulary), n)
            if column.role == CATEGORICAL:
                logit += effects.normal(0.0, 0.9, len(vocabulary))[index]
            text = np.array(vocabulary, dtype=object)[index]
        text = np.asarray(text, dtype=object)
        if column.blank_allowed:
            text[rng.random(n) < BLANK_RATE] = BLANK
        values[column.name] = text
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    label = next(c for c in description.columns if c.role == LABEL)
    values[label.name] = np.where(churn, description.positive_labels[0], description.negative_labels[0])
    return pd.DataFrame(values, columns=list(description.column_names))


def _described_numbers(rng: np.random.Generator, column, n: int) -> np.ndarray:
    low = column.minimum if column.minimum is not None else 0.0
    high = column.maximum if column.maximum is not None else low + 100.0
    numbers = rng.uniform(low, high, n)
    return np.floor(numbers) if column.type == INTEGER else np.round(numbers, 2)


def _made_up_vocabulary(column) -> tuple[str, ...]:
    """Values for a categorical (or passthrough, ignored) column the description gives none for."""
    if column.type == INTEGER:
        return tuple(str(k) for k in range(4))
    size = 4 if column.role == CATEGORICAL else 12 if column.role != IGNORED else 2
    return tuple(f"{column.name} {k}" for k in range(1, size + 1))


def write_csv(
    rows: int, out: str | Path, seed: int = DEFAULT_SEED, description: DatasetDescription | None = None
) -> Path:
    """Stream `rows` rows of the description's shape (default: the tutorial's) to `out` chunk by chunk
    (floats with six decimals, as in the tutorial's file)."""
    description = description or _TUTORIAL
    if rows < 0:
        raise ValueError(f"ROWS must be >= 0, got {rows}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        pd.DataFrame(columns=list(description.column_names)).to_csv(handle, index=False, lineterminator="\n")
        for chunk_index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            chunk = generate_chunk(seed, chunk_index, min(CHUNK_ROWS, rows - start), description)
            chunk.to_csv(handle, header=False, index=False, float_format="%.6f", lineterminator="\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write synthetic churn data in the shape of a dataset description (default: the tutorial's)."
    )
    parser.add_argument("--rows", type=int, required=True, help="number of data rows (header excluded)")
    parser.add_argument("--out", required=True, help="output CSV path")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same file)")
    parser.add_argument(
        "--dataset", help="dataset description (JSON) whose shape to write; default: the tutorial's"
    )
    args = parser.parse_args(argv)
    try:
        description = DatasetDescription.load(args.dataset) if args.dataset else None
        path = write_csv(args.rows, args.out, args.seed, description)
    except (ValueError, OSError, DescriptionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.rows:,} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
