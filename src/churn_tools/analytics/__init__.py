"""The Athena named queries: one definition, package data of this module, for Terraform and the demo.

`queries/*.sql` are templates: `${database}` and `${<role>_table}` for each role of `TABLES`, rendered by each
reader; the names of `CONSTANTS` (thresholds, the start of the last 7 days), filled in here.
`make contract` copies them into terraform/contract.json, where the analytics module renders them with
templatestring() for Athena; `load_named_queries` renders them for DuckDB, so the demo runs exactly the SQL a
user runs in the Athena console. The first line of each file is `-- <description>`.

`queries/data/*.sql` name columns of the user's data, so they are made per dataset description
(`data_query_templates`): churn rate by each categorical feature, latest scores by the id column. `make
deploy` writes them for the description of the model it ships (Terraform's `data_named_queries`, beside the
catalog tables' `data_columns`); the demo makes them from the model it scores with.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from churn_pipeline import drift
from churn_pipeline.contract import metrics, outputs
from churn_pipeline.contract.dataset import DatasetDescription, canonical, tutorial

QUERIES = resources.files(__name__) / "queries"
DATA_QUERIES = QUERIES / "data"
# The tables the query templates name, by role: the contract's datasets (the catalog tables Terraform makes).
TABLES = {
    "batch": outputs.BATCH_PREDICTIONS.table,
    "stream": outputs.STREAM_PREDICTIONS.table,
    "dead_letter": outputs.STREAM_DEAD_LETTER.table,
    "drift": outputs.BATCH_DRIFT.table,
    "stream_drift": outputs.STREAM_DRIFT.table,
    "quality": outputs.MODEL_QUALITY.table,
}
# The start of the last 7 days (a rolling 7 x 24 hours, UTC), for the streaming tables' time columns. Those
# tables are Iceberg tables partitioned by the hour of that very column (streaming.table_layout.HOUR_COLUMN), so a
# plain range on the column is what prunes: Iceberg turns it into a range on the hidden hour partition and skips
# every data file outside it, no partition column in the query (https://iceberg.apache.org/spec/#partitioning,
# "hidden partitioning"; Athena reads Iceberg tables' partitioning itself:
# https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg.html). The same SQL runs on DuckDB (the demo).
SINCE_7_DAYS_AGO = "current_timestamp - INTERVAL '7' DAY"
# What the templates share with the jobs and alarms, defined once here and written into every template.
CONSTANTS = {
    "drift_alarm_threshold": metrics.DRIFT_ALARM_THRESHOLD,
    "drift_min_rows": drift.MIN_ROWS,
    "since_7_days_ago": SINCE_7_DAYS_AGO,
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


class QueryError(ValueError):
    """A column name the queries cannot carry (a template placeholder in it)."""


def _column(name: str) -> str:
    """A data column as SQL names it (the catalog's lower-case name, quoted for spaces and punctuation)."""
    if "$" in name or "%{" in name:  # the templates' own markers (Python's and Terraform's templatestring)
        raise QueryError(f"column {name!r}: '$' and '%{{' cannot appear in a column the named queries read")
    return '"' + canonical(name).replace('"', '""') + '"'


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", canonical(name)).strip("_") or "column"


def data_query_templates(description: DatasetDescription) -> dict[str, tuple[str, str]]:
    """name -> (description, template) of the queries that read the data's own columns: churn rate by each
    categorical feature (`churn_rate_by_<feature>`) and the latest scores with the id column."""
    files = {path.name.removesuffix(".sql"): path.read_text() for path in DATA_QUERIES.iterdir()
             if path.name.endswith(".sql")}  # fmt: skip
    rendered: dict[str, str] = {}
    for feature in description.categorical_features:
        name = f"churn_rate_by_{_slug(feature.name)}"
        if name in rendered:
            raise QueryError(f"two categorical features make the same query name {name!r}")
        rendered[name] = string.Template(files["churn_rate_by_feature"]).substitute(
            feature=_column(feature.name), feature_label=feature.name
        )
    id_select = f"{_column(description.id_column)},\n       " if description.id_column else ""
    rendered["latest_predictions"] = string.Template(files["latest_predictions"]).substitute(
        id_select=id_select
    )
    templates = {}
    for name, text in rendered.items():
        first, _, _ = text.partition("\n")
        templates[name] = (first[3:].strip(), string.Template(text).safe_substitute(CONSTANTS))
    return templates


def load_named_queries(
    database: str,
    tables: dict[str, str],
    description: DatasetDescription | None = None,
    directory: Traversable = QUERIES,
) -> list[NamedQuery]:
    """Every query, the fixed ones of `directory` and those of the data's `description` (default: the
    tutorial's), rendered; `tables` maps each role of `TABLES` to a table name."""
    values = {"database": database, **{f"{role}_table": table for role, table in tables.items()}}
    templates = {**query_templates(directory), **data_query_templates(description or tutorial())}
    return [
        NamedQuery(name, text, string.Template(template).substitute(values))
        for name, (text, template) in sorted(templates.items())
    ]
