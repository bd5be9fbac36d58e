"""The Athena named queries: one definition, package data of this module, for Terraform and the demo.

`queries/*.sql` are templates: `${database}` and `${<role>_table}` for each role of `TABLES`, rendered by each
reader; the names of `CONSTANTS` (thresholds, the 7-day partition predicate), filled in here.
`make contract` copies them into terraform/contract.json, where the analytics module renders them with
templatestring() for Athena; `load_named_queries` renders them for DuckDB, so the demo runs exactly the SQL a
user runs in the Athena console. The first line of each file is `-- <description>`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from churn_pipeline import drift
from churn_pipeline.contract import metrics, outputs

QUERIES = resources.files(__name__) / "queries"
# The tables the query templates name, by role: the contract's datasets (the catalog tables Terraform makes).
TABLES = {
    "batch": outputs.BATCH_PREDICTIONS.table,
    "stream": outputs.STREAM_PREDICTIONS.table,
    "dead_letter": outputs.STREAM_DEAD_LETTER.table,
    "drift": outputs.BATCH_DRIFT.table,
    "stream_drift": outputs.STREAM_DRIFT.table,
}
# The streaming tables' rows of the last 7 days (UTC arrival), as a partition predicate, so that Athena prunes
# the projected partitions to those days instead of reading the whole table: a plain range on the partition
# column ingest_year (the cast is a no-op on Athena's string column), then the arrival day from
# ingest_year/ingest_month/ingest_day. The casts keep the SQL the same for Athena and for DuckDB (the local
# demo), which types partition values itself (2026 -> BIGINT, '05' -> VARCHAR); the integer day key is valid
# for every projected value (a date cast of day 31 of February would fail). Pruning applies to projected
# tables too: https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html
LAST_7_DAYS = """CAST(ingest_year AS varchar) >= CAST(year(current_date - INTERVAL '7' DAY) AS varchar)
  AND CAST(ingest_year AS integer) * 10000 + CAST(ingest_month AS integer) * 100 + CAST(ingest_day AS integer)
      >= year(current_date - INTERVAL '7' DAY) * 10000
         + month(current_date - INTERVAL '7' DAY) * 100
         + day(current_date - INTERVAL '7' DAY)"""
# What the templates share with the jobs and alarms, defined once here and written into every template.
CONSTANTS = {
    "drift_alarm_threshold": metrics.DRIFT_ALARM_THRESHOLD,
    "drift_min_rows": drift.MIN_ROWS,
    "last_7_days": LAST_7_DAYS,
}


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def query_templates(directory: Traversable = QUERIES) -> dict[str, tuple[str, str]]:
    """name -> (description, template) of every query file, in name order."""
    templates = {}
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        text = path.read_text()
        first, _, _ = text.partition("\n")
        if not first.startswith("-- "):
            raise ValueError(f"{path} must start with a '-- <description>' line")
        text = string.Template(text).safe_substitute(CONSTANTS)
        templates[path.name.removesuffix(".sql")] = (first[3:].strip(), text)
    if not templates:
        raise FileNotFoundError(f"no named queries (*.sql) in {directory}")
    return templates


def load_named_queries(
    database: str, tables: dict[str, str], directory: Traversable = QUERIES
) -> list[NamedQuery]:
    """Every query of `directory`, rendered; `tables` maps each role of `TABLES` to a table name."""
    values = {"database": database, **{f"{role}_table": table for role, table in tables.items()}}
    return [
        NamedQuery(name, description, string.Template(template).substitute(values))
        for name, (description, template) in query_templates(directory).items()
    ]
