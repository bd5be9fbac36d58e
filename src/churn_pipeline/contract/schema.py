"""The raw record format of the tutorial's churn dataset: column names, order and value types.

Every reader (CSV for training and batch, JSON for streaming) validates against this one list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "string" | "int" | "double"


RAW_COLUMNS: tuple[Column, ...] = (
    Column("State", "string"),
    Column("Account Length", "int"),
    Column("Area Code", "int"),
    Column("Phone", "string"),
    Column("Int'l Plan", "string"),
    Column("VMail Plan", "string"),
    Column("VMail Message", "int"),
    Column("Day Mins", "double"),
    Column("Day Calls", "int"),
    Column("Day Charge", "double"),
    Column("Eve Mins", "double"),
    Column("Eve Calls", "int"),
    Column("Eve Charge", "double"),
    Column("Night Mins", "double"),
    Column("Night Calls", "int"),
    Column("Night Charge", "double"),
    Column("Intl Mins", "double"),
    Column("Intl Calls", "int"),
    Column("Intl Charge", "double"),
    Column("CustServ Calls", "int"),
    Column("Churn?", "string"),
)

RAW_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in RAW_COLUMNS)
LABEL_COLUMN = "Churn?"
POSITIVE_LABEL = "True."
NEGATIVE_LABEL = "False."

# The 50 states plus DC, as in the tutorial's dataset.
STATES: tuple[str, ...] = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN", "KS",
    "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV",
    "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
)  # fmt: skip
AREA_CODES: tuple[int, ...] = (408, 415, 510)
PLAN_VALUES: tuple[str, ...] = ("no", "yes")


def canonical(name: str) -> str:
    """Key for case-insensitive column matching (a Glue catalog lower-cases column names)."""
    return name.strip().lower()
