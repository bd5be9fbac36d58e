"""A table created once, from the writer's pyarrow schema and an Iceberg partition spec; later calls check that
the table is still the one the writer writes (same columns, same partitioning) and change nothing."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, ValidationError
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.table import Table
from pyiceberg.transforms import parse_transform

from churn_pipeline.contract import outputs
from churn_pipeline.tables.catalog import CatalogSettings

# Iceberg format v2: what Athena engine v3 reads and writes and Glue's table optimizers maintain.
FORMAT_VERSION = "2"
# pyiceberg 0.12.0 retries a commit that lost a race itself (pyiceberg/table/__init__.py,
# Transaction.commit_transaction; apache/iceberg-python PR #3320, not in 0.12.0rc1): it refreshes the table and
# appends the same files again on top of the new head, without looking at the snapshot summaries. If the
# winner of the race was another attempt at the same micro-batch, that appends the batch twice. So its retries
# are off on our tables, and commit_data_files retries instead, re-checking the marker first.
COMMIT_RETRY_PROPERTY = "commit.retry.num-retries"
TABLE_PROPERTIES = {"format-version": FORMAT_VERSION, COMMIT_RETRY_PROPERTY: "0"}

# A partition field: (source column, Iceberg transform: "identity", "hour", "day", "month", "year", ...).
PartitionBy = Sequence[tuple[str, str]]


class TableMismatchError(RuntimeError):
    """The table in the catalog is not the one the writer writes; the message names the difference."""


def _partition_field_name(column: str, transform: str) -> str:
    return column if transform == "identity" else f"{column}_{transform}"


def ensure_table(
    catalog: Catalog,
    identifier: str,
    schema: pa.Schema,
    partition_by: PartitionBy = (),
    location: str | None = None,
    evolve: bool = False,
) -> Table:
    """The table `identifier` (database.table): created as Iceberg v2 with `schema` and `partition_by` if missing,
    else checked against them. Timestamps must be microseconds (Iceberg v2 has no nanoseconds).

    A table may hold optional columns the writer does not write (an earlier model's data columns): a reader gets
    nulls there for the rows of this writer. With `evolve` (the deploy step, for a model with other columns), a
    table lacking some of the writer's columns takes them (pyiceberg's update_schema().union_by_name, one
    commit); a column of the same name and another type is refused, naming it."""
    for column, transform in partition_by:
        if column not in schema.names:
            raise TableMismatchError(
                f"{identifier}: partition column {column!r} is not in the schema {schema.names}"
            )
        parse_transform(transform)  # an unknown transform name raises here, naming it
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return _create(catalog, identifier, schema, partition_by, location)
    if evolve:
        table = _evolve(table, identifier, schema)
    _check(table, identifier, schema, partition_by)
    return table


def _evolve(table: Table, identifier: str, schema: pa.Schema) -> Table:
    """The table with the writer's columns merged in by name (one schema commit, none if nothing changes).

    pyiceberg 0.12.0 (pyiceberg/table/update/schema.py, UpdateSchema.union_by_name -> _UnionByNameVisitor): a
    new name is added as an optional column, a type it can promote (int -> long, float -> double) is widened,
    any other type change raises ValidationError "Cannot change column type: <name>: <old> -> <new>"."""
    current = table.schema()
    try:
        with table.update_schema() as update:
            update.union_by_name(schema)
    except (ValidationError, ValueError) as error:
        raise TableMismatchError(
            f"{identifier}: the writer's columns cannot be merged into the table's: {error} (the table has "
            f"{current.as_arrow()}, the writer writes {schema}); a column that changes type needs a new name"
        ) from error
    return table.refresh()


def _create(
    catalog: Catalog, identifier: str, schema: pa.Schema, partition_by: PartitionBy, location: str | None
):
    namespace = identifier.rsplit(".", 1)[0]
    # The SQL catalog's namespaces exist only in its file; in Glue the database is Terraform's. (A SqlCatalog
    # instance means its module is loaded; it is not imported here, so Glue workers need no SQLAlchemy.)
    sql = sys.modules.get("pyiceberg.catalog.sql")
    if sql is not None and isinstance(catalog, sql.SqlCatalog):
        catalog.create_namespace_if_not_exists(namespace)
    # One commit creates the table with its spec: the spec's source ids are the ids create_table assigns.
    transaction = catalog.create_table_transaction(
        identifier, schema, location=location, properties=TABLE_PROPERTIES
    )
    with transaction.update_spec() as spec:
        for column, transform in partition_by:
            spec.add_field(column, parse_transform(transform), _partition_field_name(column, transform))
    return transaction.commit_transaction()


def _check(table: Table, identifier: str, schema: pa.Schema, partition_by: PartitionBy) -> None:
    current = table.schema()
    try:
        wanted = pyarrow_to_schema(schema, name_mapping=current.name_mapping).fields
    except ValueError:  # a column the table lacks: the name mapping cannot place it
        wanted = ()
    written = {field.field_id for field in wanted}
    # Every column the writer writes, as the table has it; the table's other columns optional (an earlier
    # model's data columns: null in this writer's rows). pyiceberg's add_files accepts such files
    # (pyiceberg/schema.py, _check_schema_compatible: "An optional field can be missing").
    if (
        not wanted
        or any(current.find_field(f.field_id) != f for f in wanted)
        or any(f.required for f in current.fields if f.field_id not in written)
    ):
        raise TableMismatchError(
            f"{identifier} has columns {current.as_arrow()} but the writer writes {schema}; "
            "evolve the table's schema first (Iceberg schema evolution: the deploy step does), then write"
        )
    spec = [(current.find_column_name(f.source_id), str(f.transform)) for f in table.spec().fields]
    wanted_spec = [(column, str(parse_transform(transform))) for column, transform in partition_by]
    if spec != wanted_spec:
        raise TableMismatchError(f"{identifier} is partitioned by {spec}, the writer expects {wanted_spec}")
    if table.properties.get(COMMIT_RETRY_PROPERTY) != "0":
        raise TableMismatchError(
            f"{identifier} lets pyiceberg retry commits itself ({COMMIT_RETRY_PROPERTY}="
            f"{table.properties.get(COMMIT_RETRY_PROPERTY, '4 by default')}), which can append a micro-batch twice; "
            f"set the table property {COMMIT_RETRY_PROPERTY}=0"
        )


@dataclass(frozen=True)
class TableSpec:
    """One table a job writes: its dataset (resolved: the scored ones with the model's data columns in front),
    the schema its files are written with, and its Iceberg partitioning."""

    dataset: outputs.Dataset
    schema: pa.Schema
    partition_by: tuple[tuple[str, str], ...]


def ensure_tables(
    catalog: Catalog,
    settings: CatalogSettings,
    database: str,
    specs: Mapping[str, TableSpec],
    evolve: bool = False,
) -> dict[str, str]:
    """{role: identifier} of a job's tables, each created if missing or checked against its spec (`evolve`: a
    table whose columns the spec's schema adds to takes the spec's by name; ensure_table)."""
    ensured = ensure_loaded_tables(catalog, settings, database, specs, evolve)
    return {role: identifier for role, (identifier, _table) in ensured.items()}


def ensure_loaded_tables(
    catalog: Catalog,
    settings: CatalogSettings,
    database: str,
    specs: Mapping[str, TableSpec],
    evolve: bool = False,
) -> dict[str, tuple[str, Table]]:
    """As ensure_tables, with each table as its check loaded (or created) it: {role: (identifier, table)}, for a
    caller that reads the table's settings (its data location) without loading it again."""
    ensured = {}
    for role, spec in specs.items():
        identifier = f"{database}.{spec.dataset.table}"
        table = ensure_table(
            catalog,
            identifier,
            spec.schema,
            spec.partition_by,
            settings.table_location(database, spec.dataset.table),
            evolve=evolve,
        )
        ensured[role] = (identifier, table)
    return ensured
