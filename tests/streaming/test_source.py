"""The Kinesis source against moto over HTTP: every shard, replayable batches, resharding, starting positions."""

from __future__ import annotations

import json
import time

import pytest

from churn_pipeline.streaming import kinesis_source as ks
from churn_pipeline.streaming.spark_source import KinesisStreamReader

from .conftest import create_stream, put_one_by_one, run_job


def payloads(start: int, n: int) -> list[tuple[bytes, str]]:
    return [(json.dumps({"n": i}).encode(), f"customer-{i}") for i in range(start, start + n)]


def read_batch(client, stream: str, start: dict, end: dict) -> list[tuple[str, str, bytes]]:
    """What the Spark tasks of one batch read: (shard, sequence number, data) in shard order."""
    rows = []
    for r in ks.plan_partitions(start, end):
        rows.extend(
            (r.shard_id, rec["SequenceNumber"], bytes(rec["Data"]))
            for rec in ks.read_shard_range(client, stream, r.shard_id, r.start, r.end_seq)
        )
    return rows


def run_batches(client, options: ks.SourceOptions, offset: dict, max_batches: int = 50):
    """Plan and read batches until the source has nothing new; returns [(start, end, rows)]."""
    batches = []
    for _ in range(max_batches):
        end = ks.plan_next_offset(client, options, offset)
        if end == offset:
            return batches
        batches.append((offset, end, read_batch(client, options.stream_name, offset, end)))
        offset = end
    raise AssertionError("source kept producing batches")


def test_reads_every_shard_and_replays_any_batch_identically(kinesis):
    stream = create_stream(kinesis, shards=4)
    placed = put_one_by_one(kinesis, stream, payloads(0, 120))
    assert len({shard for shard, _ in placed}) == 4
    options = ks.SourceOptions(stream)
    first_start = ks.initial_offset(kinesis, options)
    first_end = ks.plan_next_offset(kinesis, options, first_start)
    first = read_batch(kinesis, stream, first_start, first_end)
    assert sorted((s, q) for s, q, _ in first) == sorted(placed)

    more = put_one_by_one(kinesis, stream, payloads(120, 40))
    second_end = ks.plan_next_offset(kinesis, options, first_end)
    second = read_batch(kinesis, stream, first_end, second_end)
    assert sorted((s, q) for s, q, _ in second) == sorted(more)
    # A replay from the checkpointed offsets returns the same records, even with newer data in the stream.
    assert read_batch(kinesis, stream, first_start, first_end) == first
    assert ks.plan_next_offset(kinesis, options, second_end) == second_end  # nothing new: same offset


def test_batches_are_bounded_per_shard_and_cover_the_stream_without_overlap(kinesis):
    stream = create_stream(kinesis, shards=2)
    placed = put_one_by_one(kinesis, stream, payloads(0, 90))
    options = ks.SourceOptions(stream, max_records_per_shard=10)
    batches = run_batches(kinesis, options, ks.initial_offset(kinesis, options))
    assert all(
        len([r for r in rows if r[0] == shard]) <= 10
        for _, _, rows in batches
        for shard in ("shardId-000000000000", "shardId-000000000001")
    )
    read = [(s, q) for _, _, rows in batches for s, q, _ in rows]
    assert sorted(read) == sorted(placed) and len(read) == len(set(read))


def assert_parents_before_children(batches, shards: dict[str, dict]):
    """No record of a child shard is read in a batch that does not also finish every one of its parents."""
    finished_in: dict[str, int] = {}
    for index, (_, end, _) in enumerate(batches):
        for sid, state in end["shards"].items():
            if state["done"] and sid not in finished_in:
                finished_in[sid] = index
    for index, (_, _, rows) in enumerate(batches):
        for shard_id, _, _ in rows:
            for parent in ks._parents(shards[shard_id]):
                assert finished_in.get(parent, 10**9) <= index, (
                    f"{shard_id} read in batch {index} before parent {parent} was drained"
                )
                # and the parent's records all come in batches up to that one
                parent_batches = [i for i, (_, _, r) in enumerate(batches) if any(x[0] == parent for x in r)]
                assert max(parent_batches, default=-1) <= index


@pytest.mark.parametrize("operation", ["split", "merge"])
def test_resharding_while_reading_drains_parents_first_and_reads_each_record_once(
    resharding_kinesis, operation
):
    client = resharding_kinesis
    stream = create_stream(client, shards=2)
    placed = put_one_by_one(client, stream, payloads(0, 60))
    options = ks.SourceOptions(stream, max_records_per_shard=8)
    offset = ks.initial_offset(client, options)
    batches = []
    for _ in range(2):  # the job is part-way through the parents when the stream is resharded
        end = ks.plan_next_offset(client, options, offset)
        batches.append((offset, end, read_batch(client, stream, offset, end)))
        offset = end
    shards_before = {s["ShardId"]: s for s in ks.list_shards(client, stream)}
    if operation == "split":
        low, high = (
            int(shards_before["shardId-000000000000"]["HashKeyRange"][k])
            for k in ("StartingHashKey", "EndingHashKey")
        )
        client.split_shard(
            StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str((low + high) // 2)
        )
    else:
        client.merge_shards(
            StreamName=stream,
            ShardToMerge="shardId-000000000000",
            AdjacentShardToMerge="shardId-000000000001",
        )
    placed += put_one_by_one(client, stream, payloads(60, 60))
    shards = {s["ShardId"]: s for s in ks.list_shards(client, stream)}
    children = [sid for sid, s in shards.items() if ks._parents(s)]
    assert children and {shard for shard, _ in placed[60:]} <= set(children) | {"shardId-000000000001"}

    batches += run_batches(client, options, offset)
    read = [(s, q) for _, _, rows in batches for s, q, _ in rows]
    assert sorted(read) == sorted(placed), "every record read"
    assert len(read) == len(set(read)), "no record read twice"
    assert_parents_before_children(batches, shards)


def reader_rows(reader: KinesisStreamReader, partitions) -> list[tuple[str, str, bytes]]:
    """What the Spark tasks emit for these partitions: (shard, sequence number, data)."""
    rows = []
    for partition in partitions:
        for batch in reader.read(partition):
            columns = batch.to_pydict()
            rows.extend(zip(columns["shard_id"], columns["sequence_number"], columns["data"], strict=True))
    return rows


def test_tasks_carry_the_records_their_batch_was_planned_with(kinesis):
    stream = create_stream(kinesis, shards=3)
    placed = put_one_by_one(kinesis, stream, payloads(0, 60))
    reader = KinesisStreamReader(ks.SourceOptions(stream))
    start = reader.initialOffset()
    end = reader.latestOffset()
    partitions = reader.partitions(start, end)
    from_stream = read_batch(kinesis, stream, start, end)
    assert [len(p.shard_range.records) for p in partitions] == [
        len([q for s, q in placed if s == p.shard_range.shard_id]) for p in partitions
    ]
    # The tasks read nothing from Kinesis: with the stream gone, they still emit exactly the planned range.
    kinesis.delete_stream(StreamName=stream)
    assert reader_rows(reader, partitions) == from_stream and sorted(
        (s, q) for s, q, _ in from_stream
    ) == sorted(placed)
    # A batch replayed from the offset log (a restart: no planning read in this process) reads the stream.
    replayed = KinesisStreamReader(ks.SourceOptions(stream)).partitions(start, end)
    assert replayed and all(p.shard_range.records is None for p in replayed)


def test_a_range_too_large_to_carry_is_read_by_its_task(kinesis, monkeypatch):
    monkeypatch.setattr(ks, "READ_AHEAD_MAX_BYTES", 100)  # a few records' worth of data
    stream = create_stream(kinesis, shards=1)
    put_one_by_one(kinesis, stream, payloads(0, 30))
    reader = KinesisStreamReader(ks.SourceOptions(stream))
    start = reader.initialOffset()
    [partition] = reader.partitions(start, reader.latestOffset())
    assert partition.shard_range.records is None
    assert [q for _, q, _ in reader_rows(reader, [partition])] == [
        q for _, q, _ in read_batch(kinesis, stream, start, reader._position)
    ]


def test_latest_and_at_timestamp_starting_positions(kinesis):
    stream = create_stream(kinesis, shards=2)
    put_one_by_one(kinesis, stream, payloads(0, 10))
    time.sleep(1.1)  # arrival timestamps are what AT_TIMESTAMP compares
    latest = ks.SourceOptions(stream, starting_position="LATEST")
    latest_start = ks.initial_offset(kinesis, latest)
    cut = time.time()
    time.sleep(1.1)
    later = put_one_by_one(kinesis, stream, payloads(10, 10))
    # LATEST: only what arrives after the query started (pinned as a timestamp, so it replays exactly).
    end = ks.plan_next_offset(kinesis, latest, latest_start)
    assert sorted((s, q) for s, q, _ in read_batch(kinesis, stream, latest_start, end)) == sorted(later)
    # AT_TIMESTAMP: from the given time, as ISO-8601 or epoch seconds.
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut)) + f".{int(cut % 1 * 1000):03d}Z"
    for stamp in (iso, str(cut)):
        options = ks.SourceOptions.from_options(
            {"streamName": stream, "startingPosition": "AT_TIMESTAMP", "startingTimestamp": stamp}
        )
        start = ks.initial_offset(kinesis, options)
        end = ks.plan_next_offset(kinesis, options, start)
        assert sorted((s, q) for s, q, _ in read_batch(kinesis, stream, start, end)) == sorted(later)
    # TRIM_HORIZON, the default: everything.
    default = ks.SourceOptions.from_options({"streamName": stream})
    start = ks.initial_offset(kinesis, default)
    assert len(read_batch(kinesis, stream, start, ks.plan_next_offset(kinesis, default, start))) == 20


def test_bad_options_and_missing_stream_give_clear_errors(kinesis):
    with pytest.raises(ks.KinesisSourceError, match="streamName"):
        ks.SourceOptions.from_options({})
    with pytest.raises(ks.KinesisSourceError, match="startingPosition must be one of"):
        ks.SourceOptions.from_options({"streamName": "s", "startingPosition": "EARLIEST"})
    with pytest.raises(ks.KinesisSourceError, match="needs option 'startingTimestamp'"):
        ks.SourceOptions.from_options({"streamName": "s", "startingPosition": "AT_TIMESTAMP"})
    with pytest.raises(ks.KinesisSourceError, match="'no-such-stream' does not exist"):
        ks.initial_offset(kinesis, ks.SourceOptions("no-such-stream"))


def test_restart_resumes_from_the_checkpoint(spark, kinesis, tmp_path, model_dir, synthetic_csv):
    from churn_tools.local import producer

    stream = create_stream(kinesis, shards=2)
    rows = list(producer.csv_records(synthetic_csv, "restart-"))[:60]
    producer.send(kinesis, stream, rows[:40])
    first, scored, _ = run_job(spark, stream, tmp_path, model_dir, stop_when_idle=2.0)
    assert sum(s.records_in for s in first) == 40 and len(scored) == 40
    producer.send(kinesis, stream, rows[40:])
    second, scored, dead = run_job(spark, stream, tmp_path, model_dir, stop_when_idle=2.0)
    assert sum(s.records_in for s in second) == 20, "the restart reads only what came after the checkpoint"
    assert sorted(scored["record_id"]) == [f"restart-{i:09d}" for i in range(60)]
    assert len(dead) == 0
