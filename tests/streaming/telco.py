"""Small generated data of the second description's shape (tests/data/telco-shape.dataset.json), as JSON
records: another id, a Yes/No label that depends on the features, categories with spaces and parentheses,
blank TotalCharges for new customers (allowed by the description), a passthrough and an ignored column."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

INTERNET = ("DSL", "Fiber optic", "No")
CONTRACTS = ("Month-to-month", "One year", "Two year")
PAYMENTS = ("Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check")


def telco_records(n: int, seed: int) -> list[dict]:
    """`n` customers as a producer would send them (JSON types: numbers as numbers, a blank as "")."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        tenure = int(rng.integers(0, 73))
        internet = str(rng.choice(INTERNET))
        contract = str(rng.choice(CONTRACTS))
        payment = str(rng.choice(PAYMENTS))
        monthly = round(float(rng.uniform(18.0, 118.0)), 2)
        risk = (
            -1.0
            + 1.6 * (contract == "Month-to-month")
            + 0.9 * (internet == "Fiber optic")
            + 0.6 * (payment == "Electronic check")
            - 0.05 * tenure
        )
        rows.append(
            {
                "customerID": f"{i:04d}-TELCO",
                "gender": str(rng.choice(("Female", "Male"))),
                "SeniorCitizen": int(rng.random() < 0.16),
                "tenure": tenure,
                "InternetService": internet,
                "Contract": contract,
                "PaymentMethod": payment,
                "MonthlyCharges": monthly,
                # A new customer has no total yet: blank, as in the public telco data.
                "TotalCharges": "" if tenure == 0 else round(tenure * monthly, 2),
                "Region note": f"zone {i % 3} (north)",
                "Internal flag": str(rng.choice(("a", "b"))),
                "Churn": "Yes" if rng.random() < 1 / (1 + math.exp(-risk)) else "No",
            }
        )
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    """The records as the CSV a user would train on (every described column, in the description's order)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
