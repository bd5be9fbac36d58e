"""The idempotent commit on both catalogs: one snapshot per batch with its marker, a replay skipped, a lost race
re-checked (never a second commit of one batch), uncommitted files invisible. Whole outputs compared."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException

from churn_pipeline.tables import (
    CommitConflictError,
    CommitMarker,
    DataFileError,
    RetryPolicy,
    commit_data_files,
    is_committed,
)
from churn_pipeline.tables.commit import SEQUENCE_PROPERTY, WRITER_PROPERTY

from .conftest import SCHEMA, batch_rows, hour

QUERY = "9c1f0c1e-query-id"
FAST = RetryPolicy(attempts=4, first_wait_seconds=0.01, max_wait_seconds=0.05)


def hours_since_epoch(rows: list[dict]) -> int:
    return int(rows[0]["kinesis_arrival_time"].timestamp()) // 3600


def marked_snapshots(table) -> list[tuple[str, str]]:
    summaries = [s.summary.additional_properties for s in table.snapshots()]
    return [(s[WRITER_PROPERTY], s[SEQUENCE_PROPERTY]) for s in summaries if WRITER_PROPERTY in s]


def test_one_commit_makes_exactly_the_batch_visible_with_hour_partitions(any_table):
    files = {
        any_table.write_file(rows := batch_rows("a", 5, hour(10))): rows,
        any_table.write_file(rows := batch_rows("b", 3, hour(10, 30))): rows,
        any_table.write_file(rows := batch_rows("c", 4, hour(11))): rows,
    }
    outcome = commit_data_files(any_table.catalog, any_table.identifier, list(files), CommitMarker(QUERY, 0))

    table = any_table.load()
    assert (outcome.committed, outcome.attempts) == (True, 1)
    assert [s.snapshot_id for s in table.snapshots()] == [outcome.snapshot_id]
    summary = table.current_snapshot().summary
    assert (summary[WRITER_PROPERTY], summary[SEQUENCE_PROPERTY], summary["added-data-files"]) == (
        QUERY,
        "0",
        "3",
    )
    assert any_table.rows() == sorted(sum(files.values(), []), key=lambda row: row["record_id"])
    # The hour partition of each file, read by pyiceberg from the file's statistics.
    listed = table.inspect.files().to_pylist()
    assert {f["file_path"]: f["partition"]["kinesis_arrival_time_hour"] for f in listed} == {
        path: hours_since_epoch(rows) for path, rows in files.items()
    }


def test_a_replay_is_skipped_and_later_batches_commit(any_table):
    first = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("b0", 4, hour(9)))],
        CommitMarker(QUERY, 0),
    )  # fmt: skip
    visible = any_table.rows()
    # The replayed micro-batch writes new files (new task attempts): the marker, not the paths, settles it.
    replay = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("b0-again", 4, hour(9)))],
        CommitMarker(QUERY, 0),
    )  # fmt: skip
    assert (replay.committed, replay.snapshot_id) == (False, first.snapshot_id)
    assert any_table.rows() == visible and marked_snapshots(any_table.load()) == [(QUERY, "0")]

    commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("b1", 2, hour(9)))],
        CommitMarker(QUERY, 1),
    )  # fmt: skip
    older = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("old", 2, hour(9)))],
        CommitMarker(QUERY, 0),
    )  # fmt: skip
    other_query = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("q2", 1, hour(9)))],
        CommitMarker("another-query", 0),
    )  # fmt: skip
    assert (older.committed, other_query.committed) == (False, True)
    assert marked_snapshots(any_table.load()) == [(QUERY, "0"), (QUERY, "1"), ("another-query", "0")]
    assert any_table.rows() == sorted(
        batch_rows("b0", 4, hour(9)) + batch_rows("b1", 2, hour(9)) + batch_rows("q2", 1, hour(9)),
        key=lambda row: row["record_id"],
    )


def test_files_of_an_attempt_that_never_committed_are_invisible(any_table):
    commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("b0", 3, hour(8)))],
        CommitMarker(QUERY, 0),
    )  # fmt: skip
    # Batch 1's first attempt wrote its files and died before the commit.
    any_table.write_file(batch_rows("b1-crashed", 3, hour(8)))
    assert any_table.rows() == batch_rows("b0", 3, hour(8))
    # The restart replays batch 1: new files, one commit; the crashed attempt's files stay unreferenced.
    commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("b1", 3, hour(8)))],
        CommitMarker(QUERY, 1),
    )  # fmt: skip
    assert any_table.rows() == batch_rows("b0", 3, hour(8)) + batch_rows("b1", 3, hour(8))


def _race_once(monkeypatch, under_test, competitor_marker, competitor_rows):
    """Between this committer's load and its commit, a second committer commits: the first commit_table call
    lets the competitor win, then proceeds (and loses: the branch head moved)."""
    original = under_test.catalog.commit_table
    calls = []

    def commit_table(table, requirements, updates):
        if not calls:
            calls.append(
                commit_data_files(
                    under_test.second_committer(),
                    under_test.identifier,
                    [under_test.write_file(competitor_rows)],
                    competitor_marker,
                )  # fmt: skip
            )
        return original(table, requirements, updates)

    monkeypatch.setattr(under_test.catalog, "commit_table", commit_table)
    return calls


def test_a_lost_race_to_the_same_batch_rechecks_the_marker_and_does_not_commit_twice(any_table, monkeypatch):
    """A zombie driver (or an earlier attempt) commits batch 3 while this one is committing batch 3."""
    competitor = _race_once(monkeypatch, any_table, CommitMarker(QUERY, 3), batch_rows("zombie", 4, hour(7)))
    waits = []
    outcome = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("ours", 4, hour(7)))],
        CommitMarker(QUERY, 3), FAST, sleep=waits.append,
    )  # fmt: skip
    assert (outcome.committed, outcome.attempts, len(waits)) == (False, 2, 1)
    assert outcome.snapshot_id == competitor[0].snapshot_id
    assert marked_snapshots(any_table.load()) == [(QUERY, "3")]
    assert any_table.rows() == batch_rows("zombie", 4, hour(7))


def test_a_lost_race_to_another_writer_retries_on_top_of_it(any_table, monkeypatch):
    _race_once(monkeypatch, any_table, CommitMarker("batch-run-7", 0), batch_rows("batch", 2, hour(6)))
    outcome = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("stream", 3, hour(6)))],
        CommitMarker(QUERY, 0), FAST, sleep=lambda _: None,
    )  # fmt: skip
    table = any_table.load()
    assert (outcome.committed, outcome.attempts) == (True, 2)
    assert marked_snapshots(table) == [("batch-run-7", "0"), (QUERY, "0")]
    assert table.current_snapshot().parent_snapshot_id == table.snapshots()[0].snapshot_id
    assert any_table.rows() == batch_rows("batch", 2, hour(6)) + batch_rows("stream", 3, hour(6))


def test_retries_are_bounded_with_growing_waits_and_commit_nothing(sql_table, monkeypatch):
    def always_lose(table, requirements, updates):
        raise CommitFailedException("Requirement failed: branch main has changed")

    monkeypatch.setattr(sql_table.catalog, "commit_table", always_lose)
    waits = []
    policy = RetryPolicy(attempts=4, first_wait_seconds=0.1, max_wait_seconds=0.3)
    with pytest.raises(CommitConflictError, match=rf"{sql_table.identifier}: .*lost the race 4 times"):
        commit_data_files(
            sql_table.catalog, sql_table.identifier, [sql_table.write_file(batch_rows("x", 1, hour(5)))],
            CommitMarker(QUERY, 0), policy, sleep=waits.append,
        )  # fmt: skip
    assert len(waits) == 3  # doubling from 0.1 s, capped at 0.3 s; jitter adds at most 10 %
    assert all(base <= w <= base * 1.1 for w, base in zip(waits, [0.1, 0.2, 0.3], strict=True)), waits
    assert sql_table.load().snapshots() == [] and sql_table.rows() == []


def test_an_empty_batch_commits_no_snapshot(sql_table):
    outcome = commit_data_files(sql_table.catalog, sql_table.identifier, [], CommitMarker(QUERY, 0))
    assert (outcome.committed, outcome.snapshot_id) == (False, None)
    assert sql_table.load().snapshots() == []


def test_an_empty_batch_asked_to_commit_records_its_marker_and_its_replay_is_skipped(any_table):
    marker = CommitMarker(QUERY, 4)
    first = commit_data_files(any_table.catalog, any_table.identifier, [], marker, commit_empty=True)
    replay = commit_data_files(any_table.catalog, any_table.identifier, [], marker, commit_empty=True)
    assert (first.committed, replay.committed, replay.snapshot_id) == (True, False, first.snapshot_id)
    assert marked_snapshots(any_table.load()) == [(QUERY, "4")] and any_table.rows() == []


def test_a_file_spanning_two_hours_is_refused_and_nothing_is_committed(sql_table):
    spanning = sql_table.write_file(batch_rows("a", 1, hour(4)) + batch_rows("b", 1, hour(5)))
    with pytest.raises(DataFileError, match="more than one partition values"):
        commit_data_files(sql_table.catalog, sql_table.identifier, [spanning], CommitMarker(QUERY, 0))
    assert sql_table.load().snapshots() == []


def test_a_file_with_nanosecond_timestamps_names_the_spark_setting(sql_table):
    nanos = pa.schema([*SCHEMA][:2] + [pa.field("kinesis_arrival_time", pa.timestamp("ns", tz="UTC"))])
    path = sql_table.write_file(batch_rows("n", 2, hour(4)), schema=nanos)
    with pytest.raises(DataFileError, match="spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS"):
        commit_data_files(sql_table.catalog, sql_table.identifier, [path], CommitMarker(QUERY, 0))
    assert sql_table.load().snapshots() == []


@pytest.mark.parametrize(
    ("writer", "sequence", "problem"),
    [("", 0, "writer id"), ("q", -1, "sequence"), ("q", True, "sequence"), ("q", "3", "sequence")],
)
def test_a_bad_marker_is_refused_naming_the_field(writer, sequence, problem):
    with pytest.raises(ValueError, match=problem):
        CommitMarker(writer, sequence)


def test_is_committed_holds_for_the_writers_newest_sequence_and_every_earlier_one(sql_table):
    commit_data_files(
        sql_table.catalog, sql_table.identifier, [sql_table.write_file(batch_rows("b", 1, hour(4)))],
        CommitMarker(QUERY, 5),
    )  # fmt: skip
    table = sql_table.load()
    assert [is_committed(table, CommitMarker(QUERY, n)) for n in (4, 5, 6)] == [True, True, False]
    assert not is_committed(table, CommitMarker("another-query", 0))


def test_a_table_loaded_before_another_commit_of_the_batch_loses_the_race_and_rechecks(any_table):
    """The caller's table (the handler loads it before its tasks write) is stale by the time of the commit: a
    zombie committed the same batch meanwhile. The commit against it is refused, the reload finds the marker."""
    stale = any_table.load()
    zombie = commit_data_files(
        any_table.second_committer(), any_table.identifier,
        [any_table.write_file(batch_rows("zombie", 2, hour(7)))], CommitMarker(QUERY, 3),
    )  # fmt: skip
    waits = []
    outcome = commit_data_files(
        any_table.catalog, any_table.identifier, [any_table.write_file(batch_rows("ours", 2, hour(7)))],
        CommitMarker(QUERY, 3), FAST, sleep=waits.append, loaded=stale,
    )  # fmt: skip
    assert (outcome.committed, outcome.snapshot_id, outcome.attempts, len(waits)) == (
        False, zombie.snapshot_id, 2, 1
    )  # fmt: skip
    assert marked_snapshots(any_table.load()) == [(QUERY, "3")]
    assert any_table.rows() == batch_rows("zombie", 2, hour(7))
