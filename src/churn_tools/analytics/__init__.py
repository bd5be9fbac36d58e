"""The Athena named queries: one definition, package data of this module, for Terraform and the demo.

`queries/*.sql` are templates (`${database}`, `${batch_table}`, `${stream_table}`, `${dead_letter_table}`, `${drift_table}`).
`make contract` copies them into terraform/contract.json, where the analytics module renders them with
templatestring() for Athena; `load_named_queries` renders them for DuckDB, so the demo runs exactly the SQL a
user runs in the Athena console. The first line of each file is `-- <description>`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from churn_pipeline.contract import outputs

QUERIES = resources.files(__name__) / "queries"
# The tables the query templates name, by role: the contract's datasets (the catalog tables Terraform makes).
TABLES = {
    "batch": outputs.BATCH_PREDICTIONS.table,
    "stream": outputs.STREAM_PREDICTIONS.table,
    "dead_letter": outputs.STREAM_DEAD_LETTER.table,
    "drift": outputs.BATCH_DRIFT.table,
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
        templates[path.name.removesuffix(".sql")] = (first[3:].strip(), text)
    if not templates:
        raise FileNotFoundError(f"no named queries (*.sql) in {directory}")
    return templates


def load_named_queries(
    database: str, tables: dict[str, str], directory: Traversable = QUERIES
) -> list[NamedQuery]:
    """Every query of `directory`, rendered; `tables` maps batch / stream / dead_letter to table names."""
    values = {
        "database": database,
        "batch_table": tables["batch"],
        "stream_table": tables["stream"],
        "dead_letter_table": tables["dead_letter"],
        "drift_table": tables["drift"],
    }
    return [
        NamedQuery(name, description, string.Template(template).substitute(values))
        for name, (description, template) in query_templates(directory).items()
    ]
