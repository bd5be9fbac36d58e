"""Data files as the jobs' tasks write them: one per hour of the partition column, under names no other attempt
uses, committed as they are; a column that cannot give each row an hour is refused before anything is written."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.io import load_file_io

from churn_pipeline.tables import CommitMarker, commit_data_files, files
from churn_pipeline.tables.files import data_location, write_hour_files

from .conftest import SCHEMA, batch_rows, hour
from .test_commit import QUERY, hours_since_epoch


def test_rows_of_two_hours_make_one_file_each_and_a_second_attempt_new_names(sql_table):
    rows = batch_rows("a", 3, hour(8, 59)) + batch_rows("b", 2, hour(9, 0))
    data = data_location(sql_table.load())
    first = write_hour_files(
        sql_table.settings, data, pa.Table.from_pylist(rows, SCHEMA), "kinesis_arrival_time", "t0"
    )
    again = write_hour_files(
        sql_table.settings, data, pa.Table.from_pylist(rows, SCHEMA), "kinesis_arrival_time", "t0"
    )
    assert len(first) == 2 and not set(first) & set(again), "an attempt never reuses another's names"
    assert [p.split("/")[-2] for p in first] == [
        "kinesis_arrival_time_hour=2026-12-06-08",
        "kinesis_arrival_time_hour=2026-12-06-09",
    ]

    commit_data_files(sql_table.catalog, sql_table.identifier, first, CommitMarker(QUERY, 0))
    assert sql_table.rows() == rows  # the second attempt's files are in no snapshot
    listed = sql_table.load().inspect.files().to_pylist()
    assert sorted(f["partition"]["kinesis_arrival_time_hour"] for f in listed) == [
        hours_since_epoch(rows[:3]),
        hours_since_epoch(rows[3:]),
    ]


@pytest.mark.parametrize(
    ("column", "problem"),
    [
        (pa.array([None], pa.timestamp("us", tz="UTC")), "has nulls"),
        (pa.array([0], pa.timestamp("ns", tz="UTC")), "must be a microsecond timestamp"),
    ],
)
def test_a_column_without_an_hour_per_row_is_refused(sql_table, column, problem):
    table = pa.table({"record_id": ["x"], "score": [0.5], "kinesis_arrival_time": column})
    data = data_location(sql_table.load())
    with pytest.raises(ValueError, match=problem):
        write_hour_files(sql_table.settings, data, table, "kinesis_arrival_time", "t0")


def test_a_worker_builds_one_file_io_for_every_batch_it_writes(sql_table, monkeypatch):
    """write_hour_files runs per Arrow batch in each Spark task, and a Python worker serves many tasks."""
    built = []

    def counted(properties, location):
        built.append(location)
        return load_file_io(properties, location)

    monkeypatch.setattr(files, "load_file_io", counted)
    monkeypatch.setattr(files, "_FILE_IOS", {})  # a fresh worker
    data = data_location(sql_table.load())
    written = [
        write_hour_files(
            sql_table.settings, data, pa.Table.from_pylist(batch_rows(f"b{n}", 2, hour(n)), SCHEMA),
            "kinesis_arrival_time", f"t{n}",
        )
        for n in range(4)
    ]  # fmt: skip
    assert (len(built), sum(len(paths) for paths in written)) == (1, 4)
    commit_data_files(sql_table.catalog, sql_table.identifier, sum(written, []), CommitMarker(QUERY, 0))
    assert sql_table.rows() == sum((batch_rows(f"b{n}", 2, hour(n)) for n in range(4)), [])
