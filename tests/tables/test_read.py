"""The reader seam: a reader sees exactly the rows of a committed snapshot, never a file written but not
committed, on both catalogs; an earlier snapshot stays readable (time travel); Spark reads the same rows."""

from __future__ import annotations

import pytest

from churn_pipeline import tables
from churn_pipeline.tables import CommitMarker, commit_data_files

from .conftest import batch_rows, hour
from .test_commit import QUERY


def by_id(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: row["record_id"])


def test_a_reader_sees_committed_rows_only_and_earlier_snapshots_stay_readable(any_table):
    catalog, identifier = any_table.catalog, any_table.identifier
    empty = tables.read_arrow(catalog, identifier)
    assert (empty.num_rows, empty.column_names) == (0, ["record_id", "score", "kinesis_arrival_time"])
    assert tables.data_file_paths(catalog, identifier) == []

    first = batch_rows("a", 3, hour(9))
    first_file = any_table.write_file(first)
    one = commit_data_files(catalog, identifier, [first_file], CommitMarker(QUERY, 0))
    # Written but never committed (an attempt that died before its commit): in the data directory, unread.
    any_table.write_file(batch_rows("orphan", 4, hour(9)))
    second = batch_rows("b", 2, hour(10))
    second_file = any_table.write_file(second)
    commit_data_files(catalog, identifier, [second_file], CommitMarker(QUERY, 1))

    assert by_id(tables.read_arrow(catalog, identifier).to_pylist()) == by_id(first + second)
    assert tables.data_file_paths(catalog, identifier) == sorted([first_file, second_file])
    assert by_id(tables.read_arrow(catalog, identifier, snapshot_id=one.snapshot_id).to_pylist()) == first
    assert tables.data_file_paths(catalog, identifier, one.snapshot_id) == [first_file]
    frame = tables.read_pandas(catalog, identifier, ["record_id"])
    assert (list(frame.columns), sorted(frame["record_id"])) == (
        ["record_id"],
        [r["record_id"] for r in by_id(first + second)],
    )


def test_a_reader_names_an_unknown_column_or_snapshot(sql_table):
    with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
        tables.read_arrow(sql_table.catalog, sql_table.identifier, ["record_id", "nope"])
    with pytest.raises(ValueError, match="no snapshot 42"):
        tables.read_arrow(sql_table.catalog, sql_table.identifier, snapshot_id=42)


def test_spark_reads_the_committed_files_only(spark, sql_table):
    catalog, identifier = sql_table.catalog, sql_table.identifier
    assert tables.read_spark(spark, catalog, identifier) is None
    rows = batch_rows("s", 4, hour(11))
    commit_data_files(catalog, identifier, [sql_table.write_file(rows)], CommitMarker(QUERY, 0))
    sql_table.write_file(batch_rows("orphan", 2, hour(11)))  # never committed

    frame = tables.read_spark(spark, catalog, identifier)
    assert sorted(r["record_id"] for r in frame.collect()) == [r["record_id"] for r in rows]


def test_spark_reads_every_column_of_files_written_before_and_after_the_table_evolved(spark, sql_table):
    """A new model's columns merged in (ensure_table(evolve=True)): Spark reads the old files' rows with nulls
    there and the new files' rows with their values, whichever file comes first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churn_pipeline.tables import ensure_table

    from .conftest import PARTITION_BY, SCHEMA

    catalog, identifier = sql_table.catalog, sql_table.identifier

    def written(name: str, rows: list[dict], schema: pa.Schema) -> str:
        # Named so that the older file sorts first: the one whose footer Spark would take alone.
        path = f"{sql_table.load().location()}/data/{name}.parquet"
        with sql_table.load().io.new_output(path).create() as stream:
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), stream)
        return path

    old_rows = batch_rows("a", 2, hour(9))
    commit_data_files(catalog, identifier, [written("0-older", old_rows, SCHEMA)], CommitMarker(QUERY, 0))
    wider = SCHEMA.append(pa.field("tenure", pa.int64()))
    ensure_table(catalog, identifier, wider, PARTITION_BY, evolve=True)
    new_rows = [{**row, "tenure": 7} for row in batch_rows("b", 2, hour(10))]
    commit_data_files(catalog, identifier, [written("1-newer", new_rows, wider)], CommitMarker(QUERY, 1))

    frame = tables.read_spark(spark, catalog, identifier)
    assert "tenure" in frame.columns
    assert sorted((r["record_id"], r["tenure"]) for r in frame.collect()) == [
        ("a-000", None), ("a-001", None), ("b-000", 7), ("b-001", 7)
    ]  # fmt: skip
