"""Small generated data of the second description's shape (tests/data/telco-shape.dataset.json) and a model
trained on it: another id, a Yes/No label, categories with spaces and parentheses, blanks allowed in
TotalCharges (a new customer, tenure 0, has none yet), a passthrough and an ignored column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts

INTERNET = ("DSL", "Fiber optic", "No")
CONTRACTS = ("Month-to-month", "One year", "Two year")
PAYMENTS = ("Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check")
REGION_NOTES = ("North (coast)", "South east", "West (inland, rural)")


def generate(n_rows: int, seed: int) -> pd.DataFrame:
    """Rows as text, in the description's column order; churn leans on contract, fibre and short tenure."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, n_rows)
    tenure[rng.random(n_rows) < 0.08] = 0  # new customers: no total charges yet
    internet = rng.choice(INTERNET, n_rows)
    contract = rng.choice(CONTRACTS, n_rows, p=[0.55, 0.25, 0.2])
    monthly = np.round(rng.uniform(18.25, 118.75, n_rows), 2)
    total = np.round(monthly * tenure * rng.uniform(0.9, 1.1, n_rows), 2)
    logit = -1.5 + 1.8 * (contract == "Month-to-month") + 0.9 * (internet == "Fiber optic") - 0.04 * tenure
    churn = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customerID": [f"{i:04d}-TLCO" for i in range(n_rows)],
            "gender": rng.choice(["Female", "Male"], n_rows),
            "SeniorCitizen": rng.integers(0, 2, n_rows).astype(str),
            "tenure": tenure.astype(str),
            "InternetService": internet,
            "Contract": contract,
            "PaymentMethod": rng.choice(PAYMENTS, n_rows),
            "MonthlyCharges": [f"{v:.2f}" for v in monthly],
            "TotalCharges": ["" if t == 0 else f"{v:.2f}" for t, v in zip(tenure, total, strict=True)],
            "Region note": rng.choice(REGION_NOTES, n_rows),
            "Internal flag": rng.choice(["a", "b"], n_rows),
            "Churn": np.where(churn, "Yes", "No"),
        }
    )


def train_model(description: DatasetDescription, work_dir: Path, n_rows: int = 1500) -> Path:
    """A model trained on generated rows of the description's shape; returns its directory."""
    work_dir.mkdir(parents=True, exist_ok=True)
    data = work_dir / "telco-train.csv"
    generate(n_rows, seed=5).to_csv(data, index=False)
    out = work_dir / "model"
    out.mkdir(exist_ok=True)
    write_artifacts(train(read_churn_csv(data, description), description=description), out)
    return out
