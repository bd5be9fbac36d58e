"""Iceberg tables: the catalog from settings, a table created once, and the one idempotent commit of data files
that Spark tasks wrote (one commit per table and micro-batch or run, its marker in the snapshot summary).

Built on pyiceberg 0.12.0 (pinned in pyproject.toml); what this package relies on in it is cited beside the code.
"""

from churn_pipeline.tables.catalog import CatalogSettings, TableRef, catalog_from_settings
from churn_pipeline.tables.commit import (
    CommitConflictError,
    CommitMarker,
    CommitOutcome,
    CommitUnavailableError,
    DataFileError,
    RetryPolicy,
    commit_data_files,
    is_committed,
    last_committed_sequence,
)
from churn_pipeline.tables.create import (
    TableMismatchError,
    TableSpec,
    ensure_loaded_tables,
    ensure_table,
    ensure_tables,
)
from churn_pipeline.tables.job_tables import JobTables
from churn_pipeline.tables.read import data_file_paths, read_arrow, read_pandas, read_spark

__all__ = [
    "CatalogSettings",
    "CommitConflictError",
    "CommitMarker",
    "CommitOutcome",
    "CommitUnavailableError",
    "DataFileError",
    "JobTables",
    "RetryPolicy",
    "TableMismatchError",
    "TableRef",
    "TableSpec",
    "catalog_from_settings",
    "commit_data_files",
    "data_file_paths",
    "ensure_loaded_tables",
    "ensure_table",
    "ensure_tables",
    "is_committed",
    "last_committed_sequence",
    "read_arrow",
    "read_pandas",
    "read_spark",
]
