"""What a reader sees of a table: the rows of one committed snapshot (the current one unless asked), never a
listing of the table's data directory. Files a writer wrote but never committed, or an interrupted attempt
left behind, are referenced by no snapshot and so are never read.

pyiceberg 0.12.0 (pyiceberg/table/__init__.py): Table.scan(selected_fields, snapshot_id) plans the data files of
that snapshot from its manifests (DataScan.plan_files -> FileScanTask.file.file_path); DataScan.to_arrow reads
them, mapping the files' columns to the table's by name through the table's name mapping (the files Spark
writes carry no field ids), and on a table with no snapshot yields an empty table with the table's schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table


def _scan(table: Table, columns: Sequence[str] | None, snapshot_id: int | None):
    if snapshot_id is not None and table.metadata.snapshot_by_id(snapshot_id) is None:
        raise ValueError(
            f"{table.name()}: no snapshot {snapshot_id} (known: {[s.snapshot_id for s in table.snapshots()]})"
        )
    missing = sorted(set(columns or ()) - set(table.schema().column_names))
    if missing:
        raise ValueError(f"{table.name()}: no column(s) {missing}; it has {table.schema().column_names}")
    return table.scan(selected_fields=tuple(columns) if columns else ("*",), snapshot_id=snapshot_id)


def read_arrow(
    catalog: Catalog, identifier: str, columns: Sequence[str] | None = None, snapshot_id: int | None = None
) -> pa.Table:
    """The committed rows of `identifier` (database.table) as Arrow: empty, with the table's columns, before
    its first commit."""
    return _scan(catalog.load_table(identifier), columns, snapshot_id).to_arrow()


def read_pandas(
    catalog: Catalog, identifier: str, columns: Sequence[str] | None = None, snapshot_id: int | None = None
):
    """The committed rows as pandas (tests, the latency probe, the demo, quick looks)."""
    return read_arrow(catalog, identifier, columns, snapshot_id).to_pandas()


def data_file_paths(catalog: Catalog, identifier: str, snapshot_id: int | None = None) -> list[str]:
    """The data files one snapshot references (the current one unless asked), as their URIs."""
    tasks = _scan(catalog.load_table(identifier), None, snapshot_id).plan_files()
    return sorted(task.file.file_path for task in tasks)


def read_spark(spark, catalog: Catalog, identifier: str, snapshot_id: int | None = None):
    """The committed rows as a Spark DataFrame: the snapshot's data files, read by Spark itself (the rows never
    pass through the driver). None before the first commit. Columns are matched by name, as the writers
    wrote them. Files of several schemas (a table evolved with a new model's columns, tables.ensure_table) are
    read with the union of their columns: Spark otherwise takes one file's footer as the schema of all, and an
    older file first would drop the newer columns. A renamed or retyped column needs Spark's Iceberg connector
    instead (ensure_table refuses a type change)."""
    paths = data_file_paths(catalog, identifier, snapshot_id)
    if not paths:
        return None
    # Spark reads s3:// on Glue (EMRFS) and file:// URIs locally, as pyiceberg writes them in the manifests.
    return spark.read.option("mergeSchema", "true").parquet(*paths)
