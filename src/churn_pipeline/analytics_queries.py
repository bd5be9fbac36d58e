"""The Athena named queries, read from the same files Terraform deploys them from.

`terraform/modules/analytics/queries/*.sql` are templates (`${database}`, `${batch_table}`,
`${stream_table}`, `${dead_letter_table}`) rendered by Terraform's templatefile() for Athena and by
`load_named_queries` for DuckDB, so the demo runs exactly the SQL a user runs in the Athena console.
The first line of each file is `-- <description>`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "analytics" / "queries"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def load_named_queries(
    database: str, tables: dict[str, str], directory: Path = QUERIES_DIR
) -> list[NamedQuery]:
    """Every query of `directory`, rendered; `tables` maps batch / stream / dead_letter to table names."""
    values = {
        "database": database,
        "batch_table": tables["batch"],
        "stream_table": tables["stream"],
        "dead_letter_table": tables["dead_letter"],
    }
    queries = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        first, _, _ = text.partition("\n")
        if not first.startswith("-- "):
            raise ValueError(f"{path} must start with a '-- <description>' line")
        queries.append(NamedQuery(path.stem, first[3:].strip(), string.Template(text).substitute(values)))
    if not queries:
        raise FileNotFoundError(f"no named queries (*.sql) in {directory}")
    return queries
