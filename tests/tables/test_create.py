"""Creating a table once, checking it afterwards, and the catalog settings; pyiceberg's own commit retry, shown
appending a batch twice, is why our tables switch it off."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException

from churn_pipeline.tables import (
    CatalogSettings,
    CommitConflictError,
    CommitMarker,
    TableMismatchError,
    commit_data_files,
    ensure_table,
)
from churn_pipeline.tables.catalog import CatalogSettingError
from churn_pipeline.tables.commit import WRITER_PROPERTY

from .conftest import DATABASE, PARTITION_BY, SCHEMA, batch_rows, hour


def test_a_created_table_is_iceberg_v2_partitioned_by_hour_with_the_writers_columns(any_table):
    table = any_table.load()
    assert table.format_version == 2
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [
        ("kinesis_arrival_time_hour", "hour")
    ]
    assert [(f.name, str(f.field_type), f.required) for f in table.schema().fields] == [
        ("record_id", "string", False), ("score", "double", False), ("kinesis_arrival_time", "timestamptz", False),
    ]  # fmt: skip
    assert table.location() == any_table.settings.table_location(*any_table.identifier.split("."))


def test_ensure_table_again_changes_nothing_and_refuses_another_shape(any_table):
    before = any_table.load().metadata_location
    again = ensure_table(any_table.catalog, any_table.identifier, SCHEMA, PARTITION_BY)
    assert again.metadata_location == before
    wider = SCHEMA.append(pa.field("model_version", pa.string()))
    with pytest.raises(TableMismatchError, match="writer writes"):
        ensure_table(any_table.catalog, any_table.identifier, wider, PARTITION_BY)
    retyped = pa.schema([*SCHEMA][:1] + [pa.field("score", pa.float32()), [*SCHEMA][2]])
    with pytest.raises(TableMismatchError, match="writer writes"):
        ensure_table(any_table.catalog, any_table.identifier, retyped, PARTITION_BY)
    with pytest.raises(TableMismatchError, match=r"partitioned by \[\('kinesis_arrival_time', 'hour'\)\]"):
        ensure_table(any_table.catalog, any_table.identifier, SCHEMA, [("kinesis_arrival_time", "day")])
    assert any_table.load().metadata_location == before


def test_a_model_with_other_columns_evolves_the_table_and_both_writers_commit_to_it(any_table):
    """The deploy step's evolve=True: a writer of another model's columns (one column gone, one new) merges them
    in by name; the table keeps the old column, optional, so rows of either writer commit and read, each with
    nulls in the other's columns. A column of the same name and another type is refused, naming it."""
    old_rows = batch_rows("old", 2, hour(1))
    commit_data_files(any_table.catalog, any_table.identifier, [any_table.write_file(old_rows)],
                      CommitMarker("old-model", 0))  # fmt: skip
    other_model = pa.schema([SCHEMA.field("record_id"), SCHEMA.field("kinesis_arrival_time"),
                             pa.field("model_version", pa.string())])  # fmt: skip
    with pytest.raises(TableMismatchError, match="writer writes"):  # not without evolving it first
        ensure_table(any_table.catalog, any_table.identifier, other_model, PARTITION_BY)
    ensure_table(any_table.catalog, any_table.identifier, other_model, PARTITION_BY, evolve=True)
    table = any_table.load()
    assert [(f.name, str(f.field_type), f.required) for f in table.schema().fields] == [
        ("record_id", "string", False), ("score", "double", False), ("kinesis_arrival_time", "timestamptz", False),
        ("model_version", "string", False),
    ]  # fmt: skip
    # Either writer's schema now passes the job's own check (no evolve), and neither changes the table.
    before = table.metadata_location
    for schema in (SCHEMA, other_model):
        assert (
            ensure_table(any_table.catalog, any_table.identifier, schema, PARTITION_BY).metadata_location
            == before
        )
    again = ensure_table(any_table.catalog, any_table.identifier, other_model, PARTITION_BY, evolve=True)
    assert again.metadata_location == before
    new_rows = [{"record_id": "new-000", "kinesis_arrival_time": hour(2), "model_version": "v2"}]
    commit_data_files(any_table.catalog, any_table.identifier, [any_table.write_file(new_rows, other_model)],
                      CommitMarker("new-model", 0))  # fmt: skip
    # (in record order: "new-..." before "old-...")
    expected = [{**new_rows[0], "score": None}] + [{**row, "model_version": None} for row in old_rows]
    assert any_table.rows() == expected
    after_commit = any_table.load().metadata_location
    retyped = pa.schema([SCHEMA.field("record_id"), pa.field("score", pa.string()),
                         SCHEMA.field("kinesis_arrival_time")])  # fmt: skip
    with pytest.raises(TableMismatchError, match="score"):
        ensure_table(any_table.catalog, any_table.identifier, retyped, PARTITION_BY, evolve=True)
    assert any_table.load().metadata_location == after_commit


def test_a_partition_column_outside_the_schema_is_refused(sql_table):
    with pytest.raises(TableMismatchError, match="partition column 'batch_id' is not in the schema"):
        ensure_table(sql_table.catalog, f"{DATABASE}.other", SCHEMA, [("batch_id", "identity")])


def test_pyicebergs_own_retry_appends_a_batch_twice_so_our_tables_switch_it_off(sql_table, monkeypatch):
    """pyiceberg 0.12.0 retries a lost commit on top of the winner without looking at the summaries."""
    identifier = f"{DATABASE}.pyiceberg_defaults"
    table = sql_table.catalog.create_table(identifier, SCHEMA)  # pyiceberg's defaults: its retries on
    catalog, original = sql_table.catalog, sql_table.catalog.commit_table
    calls = []

    def commit_table(table, requirements, updates):
        calls.append(1)
        if len(calls) == 1:  # the same batch's other attempt wins the race
            with catalog.load_table(identifier).transaction() as winner:
                winner.add_files(
                    [sql_table.write_file(batch_rows("b", 2, hour(2)))], CommitMarker("q", 0).summary()
                )
        return original(table, requirements, updates)

    monkeypatch.setattr(catalog, "commit_table", commit_table)
    with table.transaction() as ours:
        ours.add_files([sql_table.write_file(batch_rows("b", 2, hour(2)))], CommitMarker("q", 0).summary())
    summaries = [s.summary.additional_properties for s in catalog.load_table(identifier).snapshots()]
    assert [s[WRITER_PROPERTY] for s in summaries] == ["q", "q"]  # batch 0 of query q, twice
    assert catalog.load_table(identifier).scan().to_arrow().num_rows == 4

    monkeypatch.setattr(catalog, "commit_table", original)
    with pytest.raises(CommitConflictError, match="commit.retry.num-retries is not 0"):
        commit_data_files(
            catalog, identifier, [sql_table.write_file(batch_rows("c", 1, hour(2)))], CommitMarker("q", 1)
        )
    assert issubclass(CommitConflictError, RuntimeError) and not issubclass(
        CommitConflictError, CommitFailedException
    )


@pytest.mark.parametrize(
    ("kind", "warehouse", "region", "problem"),
    [
        ("hive", "/tmp/w", None, "catalog kind must be one of glue, sql, got 'hive'"),
        ("glue", "/tmp/w", "us-east-1", "must be an s3:// URI"),
        ("glue", "s3://b/w", None, "needs a region"),
        ("sql", "s3://b/w", None, "is a local directory"),
        ("sql", "", None, "needs a warehouse location"),
    ],
)
def test_bad_catalog_settings_are_refused_naming_the_setting(kind, warehouse, region, problem):
    with pytest.raises(CatalogSettingError, match=problem):
        CatalogSettings(kind, warehouse, region)
