"""Synthetic churn data in the exact format of the tutorial's dataset, streamed to disk.

Marginals follow the published dataset (about 14% churn, 51 states, three area codes, ~10% on an
international plan); churn depends on usage, service calls and plans through a non-linear signal a
tree model can learn. Rows are generated in fixed-size chunks, each from its own seeded stream, so
the output is deterministic for a seed and memory stays flat whatever the row count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from churn_pipeline.contract import schema

CHUNK_ROWS = 50_000
DEFAULT_SEED = 1729

# Per-minute tariffs: the dataset's charges are exactly minutes x rate, rounded to cents.
TARIFFS = {"Day": 0.17, "Eve": 0.085, "Night": 0.045, "Intl": 0.27}
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


def generate_chunk(seed: int, chunk_index: int, n: int = CHUNK_ROWS) -> pd.DataFrame:
    """The first `n` rows of chunk `chunk_index`; the same (seed, chunk_index) always gives the same rows.

    A full chunk is always drawn (then cut), so a row does not depend on how many rows were asked for.
    """
    full = _draw_chunk(seed, chunk_index, CHUNK_ROWS)
    return full if n == CHUNK_ROWS else full.iloc[:n].reset_index(drop=True)


def _draw_chunk(seed: int, chunk_index: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, chunk_index])
    states = np.array(schema.STATES)
    state_idx = rng.integers(0, len(states), n)
    # A fixed per-state effect (same for every chunk), small next to the usage signal.
    state_effect = np.random.default_rng([seed, 10**6]).normal(0.0, 0.2, len(states))

    intl_plan = rng.random(n) < 0.097
    vmail_plan = rng.random(n) < 0.277
    account_length = np.rint(_clipped_normal(rng, 101, 40, 1, 243, n)).astype(int)
    area_code = rng.choice(np.array(schema.AREA_CODES), n, p=[0.25, 0.50, 0.25])
    vmail_messages = np.where(vmail_plan, np.rint(_clipped_normal(rng, 29.3, 7.6, 4, 51, n)), 0).astype(int)

    mins = {
        "Day": np.round(_clipped_normal(rng, 179.8, 54.5, 0, 350.8, n), 1),
        "Eve": np.round(_clipped_normal(rng, 201.0, 50.7, 0, 363.7, n), 1),
        "Night": np.round(_clipped_normal(rng, 200.9, 50.6, 23.2, 395.0, n), 1),
        "Intl": np.round(_clipped_normal(rng, 10.2, 2.8, 0, 20.0, n), 1),
    }
    calls = {
        "Day": np.rint(_clipped_normal(rng, 100.4, 20.1, 0, 165, n)).astype(int),
        "Eve": np.rint(_clipped_normal(rng, 100.1, 19.9, 0, 170, n)).astype(int),
        "Night": np.rint(_clipped_normal(rng, 100.1, 19.6, 33, 175, n)).astype(int),
        "Intl": np.minimum(rng.poisson(4.5, n), 20),
    }
    custserv = np.minimum(rng.poisson(1.56, n), 9)

    # Churn signal, shaped like the real data's: heavy users on the flat plan, repeated service
    # calls (unless usage is high enough to mean the customer is engaged), an international plan
    # with heavy international use, and a voicemail plan that retains.
    usage = mins["Day"] * 0.17 + mins["Eve"] * 0.085
    logit = (
        -4.3
        + 6.0 / (1 + np.exp(-(usage - 58.0) / 1.2))
        + np.where(custserv >= 4, 3.0 / (1 + np.exp((mins["Day"] - 190.0) / 12.0)) + 0.6, 0.0)
        + np.where(intl_plan, 1.2 + 2.6 * ((mins["Intl"] > 13.0) | (calls["Intl"] < 3)), 0.0)
        - np.where(vmail_plan, 1.0, 0.0)
        + state_effect[state_idx]
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))

    phone = [
        f"{a}-{b:04d}" for a, b in zip(rng.integers(327, 423, n), rng.integers(0, 10_000, n), strict=True)
    ]
    columns = {
        "State": states[state_idx],
        "Account Length": account_length,
        "Area Code": area_code,
        "Phone": phone,
        "Int'l Plan": np.where(intl_plan, "yes", "no"),
        "VMail Plan": np.where(vmail_plan, "yes", "no"),
        "VMail Message": vmail_messages,
    }
    for period in ("Day", "Eve", "Night"):
        columns[f"{period} Mins"] = mins[period]
        columns[f"{period} Calls"] = calls[period]
        columns[f"{period} Charge"] = charge(mins[period], period)
    columns["Intl Mins"] = mins["Intl"]
    columns["Intl Calls"] = calls["Intl"]
    columns["Intl Charge"] = charge(mins["Intl"], "Intl")
    columns["CustServ Calls"] = custserv
    columns["Churn?"] = np.where(churn, schema.POSITIVE_LABEL, schema.NEGATIVE_LABEL)
    return pd.DataFrame(columns, columns=list(schema.RAW_COLUMN_NAMES))


def write_csv(rows: int, out: str | Path, seed: int = DEFAULT_SEED) -> Path:
    """Stream `rows` rows to `out` chunk by chunk (floats with six decimals, as in the original file)."""
    if rows < 0:
        raise ValueError(f"ROWS must be >= 0, got {rows}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        handle.write(",".join(schema.RAW_COLUMN_NAMES) + "\n")
        for chunk_index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            chunk = generate_chunk(seed, chunk_index, min(CHUNK_ROWS, rows - start))
            chunk.to_csv(handle, header=False, index=False, float_format="%.6f", lineterminator="\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write synthetic churn data in the tutorial's CSV format.")
    parser.add_argument("--rows", type=int, required=True, help="number of data rows (header excluded)")
    parser.add_argument("--out", required=True, help="output CSV path")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same file)")
    args = parser.parse_args(argv)
    try:
        path = write_csv(args.rows, args.out, args.seed)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.rows:,} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
