"""The commit protocol: a crash after any single object write, then a replay, leaves every row exactly once."""

from __future__ import annotations

import io

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_pipeline.streaming import sink


class CrashAfter(Exception):
    pass


class CrashingStore:
    """Wraps a store; the (n+1)-th put raises, like kill -9 between two object writes."""

    def __init__(self, store: sink.ObjectStore, puts_before_crash: int):
        self.store = store
        self.remaining = puts_before_crash

    def put(self, key, body):
        if self.remaining == 0:
            raise CrashAfter(key)
        self.remaining -= 1
        self.store.put(key, body)

    def __getattr__(self, name):
        return getattr(self.store, name)


def batch_table(ids: list[str], hours: list[str]) -> pa.Table:
    return pa.table(
        {
            "record_id": pa.array(ids, pa.string()),
            "churn_probability": pa.array([i / 100 for i in range(len(ids))], pa.float64()),
            "ingest_year": ["2026"] * len(ids),
            "ingest_month": ["11"] * len(ids),
            "ingest_day": ["26"] * len(ids),
            "ingest_hour": hours,
        }
    )


def glob_rows(root) -> list[tuple]:
    pattern = f"{root}/ingest_year=*/ingest_month=*/ingest_day=*/ingest_hour=*/*.parquet"
    return sorted(
        duckdb.sql(
            f"SELECT record_id, ingest_hour FROM read_parquet('{pattern}', hive_partitioning=true)"
        ).fetchall()
    )


def committed_rows(root) -> list[tuple]:
    frame = sink.read_committed(str(root), ["record_id", "ingest_hour"])
    return (
        []
        if frame is None
        else sorted((r, int(h)) for r, h in zip(frame["record_id"], frame["ingest_hour"], strict=True))
    )


# Two batches over three hour partitions: batch 0 writes manifest + 2 files + marker (4 puts), batch 1 the same.
BATCHES = [
    batch_table(["a", "b", "c"], ["10", "10", "11"]),
    batch_table(["d", "e"], ["11", "12"]),
]
EXPECTED = sorted([("a", 10), ("b", 10), ("c", 11), ("d", 11), ("e", 12)])


@pytest.mark.parametrize("crash_at", range(8))
def test_crash_after_any_write_then_replay_gives_each_row_once(tmp_path, crash_at):
    store = sink.LocalStore(tmp_path)
    crashing = CrashingStore(store, crash_at)
    crashed_in = None
    for batch_id, table in enumerate(BATCHES):
        try:
            sink.write_batch(crashing, table, "q1", batch_id)
        except CrashAfter:
            crashed_in = batch_id
            break
    assert crashed_in is not None
    # While the job is down a reader going through the commit markers sees only whole batches.
    committed_before = committed_rows(tmp_path)
    whole_batches = sorted(
        (r, int(h))
        for t in BATCHES[:crashed_in]
        for r, h in zip(t["record_id"].to_pylist(), t["ingest_hour"].to_pylist(), strict=True)
    )
    assert committed_before == whole_batches
    # Restart: Spark replays the interrupted batch (same records), then runs the next ones.
    for batch_id in range(crashed_in, len(BATCHES)):
        sink.write_batch(store, BATCHES[batch_id], "q1", batch_id)
    assert glob_rows(tmp_path) == EXPECTED
    assert committed_rows(tmp_path) == EXPECTED


def test_committed_batch_is_skipped_on_replay(tmp_path):
    store = sink.LocalStore(tmp_path)
    first = sink.write_batch(store, BATCHES[0], "q1", 0)
    files = {key: (tmp_path / key).stat().st_mtime_ns for key in first.files}
    again = sink.write_batch(store, BATCHES[0], "q1", 0)
    assert again.skipped and again.files == first.files and again.rows == 3
    assert {key: (tmp_path / key).stat().st_mtime_ns for key in first.files} == files


def test_replay_removes_files_an_earlier_attempt_wrote_and_this_one_does_not(tmp_path):
    store = sink.LocalStore(tmp_path)
    with pytest.raises(CrashAfter):
        sink.write_batch(CrashingStore(store, 3), BATCHES[0], "q1", 0)  # manifest + both files, no marker
    assert glob_rows(tmp_path) == [("a", 10), ("b", 10), ("c", 11)]
    # A replay that (say, after a fix of the partitioning) puts every row in hour 10 must not leave hour 11 behind.
    sink.write_batch(store, batch_table(["a", "b", "c"], ["10", "10", "10"]), "q1", 0)
    assert glob_rows(tmp_path) == [("a", 10), ("b", 10), ("c", 10)]


def test_files_are_keyed_by_query_and_batch_so_a_new_checkpoint_never_overwrites_old_output(tmp_path):
    store = sink.LocalStore(tmp_path)
    sink.write_batch(store, BATCHES[0], "query-one", 0)
    sink.write_batch(store, BATCHES[1], "query-two", 0)
    assert glob_rows(tmp_path) == EXPECTED


def s3_committed_rows(store) -> list[tuple]:
    """(record_id, hour) of every committed file of an S3 dataset."""
    rows = []
    for key in sink.committed_files(store):
        hour = key.split("ingest_hour=")[1].split("/")[0]
        part = pq.read_table(io.BytesIO(store.get(key)))
        rows.extend((r, int(hour)) for r in part["record_id"].to_pylist())
    return sorted(rows)


def assert_only_committed_files_remain(s3, bucket: str, prefix: str, store) -> None:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/ingest_")["Contents"]
    assert sorted(o["Key"][len(prefix) + 1 :] for o in listed) == sink.committed_files(store)


@pytest.mark.parametrize("writer", ["driver", "tasks"])
def test_s3_store_gives_the_same_guarantee_without_rename(moto_server, writer):
    """Crashes after some PUTs of batch 0, then the replay; with task writes the replay has 3 tasks, not 2."""

    def write(store, table, batch_id, replay=False):
        if writer == "driver":
            sink.write_batch(store, table, "q1", batch_id)
        else:
            write_by_tasks(store, table, "q1", batch_id, tasks=3 if replay else 2)

    s3 = boto3.client("s3", endpoint_url=moto_server)
    bucket = f"churn-stream-{writer}"
    s3.create_bucket(Bucket=bucket)
    for crash_at in (0, 1, 2, 3, 4, 5, 6):
        prefix = f"attempt-{crash_at}/scored"
        store = sink.store_for(f"s3://{bucket}/{prefix}")
        try:
            for batch_id, table in enumerate(BATCHES):
                write(CrashingStore(store, crash_at) if batch_id == 0 else store, table, batch_id)
        except CrashAfter:
            for batch_id, table in enumerate(BATCHES):
                write(store, table, batch_id, replay=True)
        assert s3_committed_rows(store) == EXPECTED, f"crash after {crash_at} put(s)"
        assert_only_committed_files_remain(s3, bucket, prefix, store)


# ---------------------------------------------------------------- the same protocol, data written by the tasks


def write_by_tasks(store, table: pa.Table, query_id: str, batch_id: int, tasks: int) -> None:
    """What the streaming handler does for one dataset: begin on the driver, each task its own share (rows
    dealt round-robin over `tasks`, as another partitioning of a replay could), commit on the driver."""
    if sink.is_committed(store, query_id, batch_id):
        return
    sink.begin_batch(store, query_id, batch_id)
    files = []
    for task in range(tasks):
        share = table.take(pa.array(range(task, table.num_rows, tasks), pa.int64()))
        files += sink.write_task(store, share, query_id, batch_id, task)
    sink.commit_batch(store, query_id, batch_id, files, table.num_rows)


# Batch 0 by 2 tasks: intent + (manifest + 2 files) + (manifest + 1 file) + marker = 7 puts; batch 1 similar.
@pytest.mark.parametrize("crash_at", range(13))
def test_task_writes_crash_after_any_put_then_a_replay_partitioned_otherwise_gives_each_row_once(
    tmp_path, crash_at
):
    store = sink.LocalStore(tmp_path)
    crashing = CrashingStore(store, crash_at)
    crashed_in = None
    for batch_id, table in enumerate(BATCHES):
        try:
            write_by_tasks(crashing, table, "q1", batch_id, tasks=2)
        except CrashAfter:
            crashed_in = batch_id
            break
    assert crashed_in is not None, "the crash came after the last put: raise the range"
    whole_batches = sorted(
        (r, int(h))
        for t in BATCHES[:crashed_in]
        for r, h in zip(t["record_id"].to_pylist(), t["ingest_hour"].to_pylist(), strict=True)
    )
    assert committed_rows(tmp_path) == whole_batches
    # While the job is down a plain glob may miss part of the interrupted batch, never holds a row twice.
    seen = [
        r for path in tmp_path.rglob("part-*.parquet") for r in pq.read_table(path)["record_id"].to_pylist()
    ]
    assert len(seen) == len(set(seen))
    # The restart replays the interrupted batch with three tasks instead of two: other file names.
    for batch_id in range(crashed_in, len(BATCHES)):
        write_by_tasks(store, BATCHES[batch_id], "q1", batch_id, tasks=3)
    assert glob_rows(tmp_path) == EXPECTED
    assert committed_rows(tmp_path) == EXPECTED
    assert not [
        p
        for p in tmp_path.rglob("*.parquet")
        if str(p.relative_to(tmp_path)) not in sink.committed_files(store)
    ]
