"""A Kinesis Data Streams source for Spark Structured Streaming, written with PySpark's Python data source API.

It reads through boto3, so AWS_ENDPOINT_URL points it at any Kinesis-compatible API (moto locally).

Offsets are per shard and live in Spark's checkpoint (the offset log), so a restart resumes where the last
planned batch ended and a batch is replayed from exactly the same (start, end] range:

    {"shards": {"shardId-000000000000": {"pos": "AFTER", "seq": "4955...", "done": false}, ...}}

`pos` is where reading starts: TRIM_HORIZON, AT_TIMESTAMP (with `ts`, epoch seconds) or AFTER (after `seq`,
the last sequence number delivered). `done` marks a closed shard read to its end. The driver plans a batch
by reading ahead on every readable shard to find the last sequence number available (bounded by
`max_records_per_shard`); each Spark task then reads one shard from its start position up to and including
that sequence number, so the same offsets always give the same records. The records the planning read fetched
travel with the task (up to READ_AHEAD_MAX_BYTES per shard and batch), so a record normally crosses the
network once, not twice (a shard's read throughput is limited); a task without them (a batch replayed after a
restart, or a larger range) reads its range from the stream.

Resharding: a shard is readable only once every parent it lists is `done` (or has aged out of the stream), so
all records of a parent are delivered before any record of its children, and a child is read from
TRIM_HORIZON: nothing is read twice or skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
from botocore.config import Config as BotoConfig

log = logging.getLogger(__name__)

SOURCE_NAME = "churn_kinesis"
SOURCE_SCHEMA = (
    "data binary, stream_name string, shard_id string, sequence_number string, "
    "partition_key string, approximate_arrival_timestamp timestamp"
)
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
GET_RECORDS_LIMIT = 10_000  # the Kinesis maximum per call
# Data bytes of read-ahead records a task may carry per shard; past that, the task reads its range itself.
READ_AHEAD_MAX_BYTES = 8 * 1024 * 1024
# The fields of a GetRecords record that the source emits (record_batches); the rest is not carried.
_RECORD_FIELDS = ("Data", "SequenceNumber", "PartitionKey", "ApproximateArrivalTimestamp")
# Shards a batch's planning reads at once (plan_next_offset).
_PLANNING_THREADS = 8


class KinesisSourceError(RuntimeError):
    """The stream cannot be read as configured (absent stream, bad option, records gone before being read)."""


@dataclass(frozen=True)
class SourceOptions:
    stream_name: str
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: float | None = None  # epoch seconds, for AT_TIMESTAMP
    max_records_per_shard: int = 10_000
    region: str | None = None

    @classmethod
    def from_options(cls, options: dict) -> SourceOptions:
        opts = {str(k).lower(): v for k, v in dict(options).items()}
        name = opts.get("streamname") or opts.get("stream_name")
        if not name:
            raise KinesisSourceError("option 'streamName' is required (the Kinesis stream to read)")
        position = str(opts.get("startingposition", "TRIM_HORIZON")).upper()
        if position not in STARTING_POSITIONS:
            raise KinesisSourceError(
                f"startingPosition must be one of {STARTING_POSITIONS}, got {position!r}"
            )
        timestamp = opts.get("startingtimestamp")
        if position == "AT_TIMESTAMP":
            if timestamp in (None, ""):
                raise KinesisSourceError("startingPosition AT_TIMESTAMP needs option 'startingTimestamp'")
            timestamp = parse_timestamp(str(timestamp))
        return cls(
            stream_name=name,
            starting_position=position,
            starting_timestamp=timestamp if position == "AT_TIMESTAMP" else None,
            max_records_per_shard=int(opts.get("maxrecordspershard", 10_000)),
            region=opts.get("region") or None,
        )


def parse_timestamp(text: str) -> float:
    """Epoch seconds from a number or an ISO-8601 time (UTC when no offset is given)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise KinesisSourceError(f"startingTimestamp {text!r} is neither epoch seconds nor ISO-8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def kinesis_client(region: str | None = None):
    # Adaptive retries ride out throttling (ProvisionedThroughputExceeded) without failing the batch.
    return boto3.client(
        "kinesis", region_name=region, config=BotoConfig(retries={"max_attempts": 10, "mode": "adaptive"})
    )


def list_shards(client, stream_name: str) -> list[dict]:
    """Every shard of the stream, open and closed (within retention), following pagination."""
    shards: list[dict] = []
    kwargs: dict = {"StreamName": stream_name}
    while True:
        try:
            page = client.list_shards(**kwargs)
        except client.exceptions.ResourceNotFoundException as exc:
            raise KinesisSourceError(f"Kinesis stream {stream_name!r} does not exist") from exc
        shards.extend(page.get("Shards", []))
        token = page.get("NextToken")
        if not token:
            return shards
        kwargs = {"NextToken": token}


def shard_iterator(client, stream_name: str, shard_id: str, state: dict) -> str:
    kwargs: dict = {"StreamName": stream_name, "ShardId": shard_id}
    if state["pos"] == "AFTER":
        kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=state["seq"])
    elif state["pos"] == "AT_TIMESTAMP":
        kwargs.update(
            ShardIteratorType="AT_TIMESTAMP", Timestamp=dt.datetime.fromtimestamp(state["ts"], dt.UTC)
        )
    else:
        kwargs.update(ShardIteratorType="TRIM_HORIZON")
    return client.get_shard_iterator(**kwargs)["ShardIterator"]


def _ending_sequence(shard: dict) -> int | None:
    ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
    return None if ending is None else int(ending)


@dataclass(frozen=True)
class ReadAhead:
    """What the planning read fetched from one shard: every record after `start`, in order, up to the last."""

    start: dict
    records: tuple[dict, ...]


def scan_shard(
    client, stream_name: str, shard: dict, state: dict, limit: int, keep_bytes: int = 0
) -> tuple[str | None, int, bool, list[dict] | None]:
    """Read ahead from `state` to find the last sequence number available now (at most `limit` records).

    Returns (last sequence number or None, records seen, whether the shard is closed and read to its end,
    the records seen if their data fits in `keep_bytes`, else None).
    """
    iterator = shard_iterator(client, stream_name, shard["ShardId"], state)
    ending = _ending_sequence(shard)
    last: str | None = state.get("seq") if state["pos"] == "AFTER" else None
    seen = 0
    kept: list[dict] | None = []
    kept_bytes = 0
    while iterator is not None and seen < limit:
        response = client.get_records(ShardIterator=iterator, Limit=min(GET_RECORDS_LIMIT, limit - seen))
        records = response.get("Records", [])
        if records:
            seen += len(records)
            last = records[-1]["SequenceNumber"]
            kept_bytes += sum(len(r["Data"]) for r in records)
            if kept is not None and kept_bytes <= keep_bytes:
                kept.extend({k: r[k] for k in _RECORD_FIELDS if k in r} for r in records)
            else:
                kept = None  # too much to carry: the task reads the range itself
        iterator = response.get("NextShardIterator")
        # At the tip (GetRecords' MillisBehindLatest, "zero indicates that record processing is caught up"):
        # a page with records at the tip needs no further, empty page to say so (one call less per shard).
        if response.get("MillisBehindLatest", 0) == 0:
            break
    # Kinesis ends a closed shard with a null iterator; emulators may instead report the closing sequence
    # number, so a closed shard whose last record has been delivered is done as well.
    drained = iterator is None or (ending is not None and int(last or 0) >= ending and seen < limit)
    return last, seen, drained, kept


def read_shard_range(client, stream_name: str, shard_id: str, start: dict, end_seq: str) -> Iterator[dict]:
    """Yield the records of one shard after `start` up to and including sequence number `end_seq`."""
    iterator = shard_iterator(client, stream_name, shard_id, start)
    end = int(end_seq)
    empty_polls = 0
    while iterator is not None:
        response = client.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
        records = response.get("Records", [])
        for record in records:
            if int(record["SequenceNumber"]) > end:
                return
            yield record
            if int(record["SequenceNumber"]) == end:
                return
        iterator = response.get("NextShardIterator")
        # Kinesis may return empty pages before the end of a planned range; give up only when it is at the tip.
        empty_polls = empty_polls + 1 if not records else 0
        if not records and response.get("MillisBehindLatest", 0) == 0 and empty_polls > 3:
            break
    raise KinesisSourceError(
        f"shard {shard_id} of {stream_name!r} ended before sequence number {end_seq} planned for this batch "
        "(records expired from the stream's retention before they were read?)"
    )


def _parents(shard: dict) -> list[str]:
    return [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]


def plan_next_offset(
    client, options: SourceOptions, current: dict, read_ahead: dict[str, ReadAhead] | None = None
) -> dict:
    """The end offset of the next batch: every readable shard read ahead, parents before children.

    `read_ahead`, when given, receives per shard the records read (for plan_partitions to hand to the tasks).
    """
    shards = {s["ShardId"]: s for s in list_shards(client, options.stream_name)}
    states = {sid: dict(state) for sid, state in current["shards"].items()}
    for sid, shard in shards.items():
        if sid not in states:
            # A shard created after the query started (a split or merge child): all its data is new.
            states[sid] = {"pos": "TRIM_HORIZON", "seq": None, "done": False}
            log.info(
                "new shard %s (parents %s) joins the stream %s", sid, _parents(shard), options.stream_name
            )
    for sid, state in states.items():
        if sid not in shards and not state["done"]:
            log.warning("shard %s left the stream (retention expired) before it was read to its end", sid)
            state["done"] = True

    progressed = True
    scanned: set[str] = set()
    keep_bytes = READ_AHEAD_MAX_BYTES if read_ahead is not None else 0

    def scan(sid: str):
        return scan_shard(
            client, options.stream_name, shards[sid], states[sid], options.max_records_per_shard, keep_bytes
        )

    # Repeat until no new shard becomes readable: a parent finished in this pass unlocks its children.
    while progressed:
        progressed = False
        readable = [
            sid
            for sid in sorted(shards)
            if not states[sid]["done"]
            and sid not in scanned
            and all(states.get(p, {"done": True})["done"] for p in _parents(shards[sid]))
        ]
        scanned.update(readable)
        # The pass's shards are read at once: each scan is a few round trips to Kinesis, and one after the
        # other they were most of a batch's planning. A boto3 client is thread-safe (boto3 docs, "Clients:
        # Multithreading or multiprocessing with clients"); each thread reads its own shard and state.
        if len(readable) > 1:
            with ThreadPoolExecutor(max_workers=min(len(readable), _PLANNING_THREADS)) as pool:
                results = list(pool.map(scan, readable))
        else:
            results = [scan(sid) for sid in readable]
        for sid, (last, _seen, drained, kept) in zip(readable, results, strict=True):
            state = states[sid]
            start = dict(state)
            if read_ahead is not None and kept:
                read_ahead[sid] = ReadAhead(start, tuple(kept))
            if last is not None and last != state.get("seq"):
                state.update(pos="AFTER", seq=last)
                state.pop("ts", None)
            if drained:
                state["done"] = True
                progressed = True
    return {"shards": {sid: states[sid] for sid in sorted(states)}}


def initial_offset(client, options: SourceOptions) -> dict:
    shards = list_shards(client, options.stream_name)
    if options.starting_position == "TRIM_HORIZON":
        start: dict[str, object] = {"pos": "TRIM_HORIZON", "seq": None, "done": False}
    else:
        # LATEST is pinned to the start time as AT_TIMESTAMP, so the first batch can be replayed exactly.
        ts = options.starting_timestamp if options.starting_position == "AT_TIMESTAMP" else time.time()
        start = {"pos": "AT_TIMESTAMP", "seq": None, "ts": ts, "done": False}
    return {"shards": {s["ShardId"]: dict(start) for s in sorted(shards, key=lambda s: s["ShardId"])}}


@dataclass(frozen=True)
class ShardRange:
    """One Spark task: a shard read after `start` up to and including `end_seq`.

    `records`: that very range, read ahead when the batch was planned (None: the task reads the stream).
    """

    shard_id: str
    start: dict
    end_seq: str
    records: tuple[dict, ...] | None = None


def plan_partitions(
    start: dict, end: dict, read_ahead: dict[str, ReadAhead] | None = None
) -> list[ShardRange]:
    ranges = []
    for sid, end_state in end["shards"].items():
        begin = start["shards"].get(sid, {"pos": "TRIM_HORIZON", "seq": None, "done": False})
        if end_state.get("pos") == "AFTER" and end_state.get("seq") != begin.get("seq"):
            ahead = (read_ahead or {}).get(sid)
            # Only records read from this very start up to this very end stand for the range.
            fits = (
                ahead is not None
                and ahead.start == begin
                and ahead.records[-1]["SequenceNumber"] == end_state["seq"]
            )
            ranges.append(ShardRange(sid, begin, end_state["seq"], ahead.records if fits and ahead else None))
    return ranges


def record_batches(stream_name: str, shard_id: str, records: Iterator[dict], size: int = 2000):
    """The records as Arrow record batches of SOURCE_SCHEMA (much cheaper for Spark than one tuple per row)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("data", pa.binary()),
            ("stream_name", pa.string()),
            ("shard_id", pa.string()),
            ("sequence_number", pa.string()),
            ("partition_key", pa.string()),
            ("approximate_arrival_timestamp", pa.timestamp("us", tz="UTC")),
        ]
    )
    chunk: list[dict] = []

    def flush():
        return pa.RecordBatch.from_arrays(
            [
                pa.array([bytes(r["Data"]) for r in chunk], pa.binary()),
                pa.array([stream_name] * len(chunk), pa.string()),
                pa.array([shard_id] * len(chunk), pa.string()),
                pa.array([r["SequenceNumber"] for r in chunk], pa.string()),
                pa.array([r.get("PartitionKey") for r in chunk], pa.string()),
                pa.array([r["ApproximateArrivalTimestamp"] for r in chunk], pa.timestamp("us", tz="UTC")),
            ],
            schema=schema,
        )

    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield flush()
            chunk = []
    if chunk:
        yield flush()


def register(spark) -> None:
    """Register the source with a SparkSession: spark.readStream.format("churn_kinesis")."""
    from churn_pipeline.streaming.spark_source import KinesisDataSource

    spark.dataSource.register(KinesisDataSource)


def dumps(offset: dict) -> str:
    return json.dumps(offset, sort_keys=True)
