"""Where a job commits: the catalog (Glue, or pyiceberg's SQL catalog for a run with no AWS stand-in), the
database its tables are in, and whether it writes its drift table. The batch job's config holds one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from churn_pipeline.contract import outputs
from churn_pipeline.tables.catalog import CatalogSettings, catalog_from_settings
from churn_pipeline.tables.read import read_pandas


@dataclass(frozen=True)
class JobTables:
    catalog: CatalogSettings
    database: str
    drift: bool = False

    def __post_init__(self) -> None:
        if not self.database or "." in self.database:
            raise ValueError(f"a job's tables' database must be a plain name, got {self.database!r}")

    def identifier(self, dataset: outputs.Dataset) -> str:
        return f"{self.database}.{dataset.table}"

    @classmethod
    def local(cls, warehouse: str | Path, database: str, drift: bool = False) -> Self:
        """The tables in pyiceberg's SQL catalog in a local directory (a run with no AWS stand-in)."""
        return cls(CatalogSettings("sql", str(warehouse)), database, drift)

    def read(self, dataset: outputs.Dataset, columns: Sequence[str] | None = None):
        """The committed rows of one of the job's tables as pandas (tests, the demo, quick looks): empty, with
        the table's columns, before the first commit."""
        return read_pandas(catalog_from_settings(self.catalog), self.identifier(dataset), columns)
