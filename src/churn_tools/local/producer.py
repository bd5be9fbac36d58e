"""Replay a churn CSV into a Kinesis stream, one JSON object per customer record (like the tutorial's notebook).

    python -m churn_tools.local.producer --data churn.csv --stream churn [--dataset description.json] [--rate 1000]

Each record keeps the CSV header's field names, with the types of the dataset description (default: the
tutorial's): integer and decimal columns as JSON numbers, a blank in them as null; and gets a `record_id` and an
`event_time`. PutRecords batches hold at most 500 records and 5 MiB; the partition key is the customer (the
description's id column; the record otherwise), so one customer's records stay in order on one shard while
load spreads over all shards. Records a PutRecords call reports as failed (throttling, internal errors) are sent again, and only
those. SIGTERM/SIGINT finish the batch in flight, then stop. Exit code 2 when the stream is not there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from churn_pipeline.contract.dataset import (
    DECIMAL,
    INTEGER,
    DatasetDescription,
    DescriptionError,
    canonical,
    tutorial,
)
from churn_pipeline.streaming.kinesis_source import kinesis_client

log = logging.getLogger("churn_tools.local.producer")

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024  # data + partition key, per record
MAX_ATTEMPTS = 8


class ProducerError(RuntimeError):
    """The stream cannot take the records (absent, unreachable, a record too large, retries exhausted)."""


@dataclass
class BatchReport:
    batch: int
    records: int
    bytes: int
    attempts: int
    retried: int
    seconds: float


def json_value(text: str | None, kind: str):
    """CSV text -> the JSON value the notebook would send: numbers (a description's integer and decimal
    columns) as numbers and their blanks as null, anything unparsable kept as text."""
    if text is None:
        return None
    if kind in (INTEGER, DECIMAL):
        if not text.strip():
            return None
        try:
            return int(text) if kind == INTEGER else float(text)
        except ValueError:
            return text
    return text


def csv_records(
    path: str | Path, id_prefix: str, description: DatasetDescription | None = None
) -> Iterator[tuple[bytes, str]]:
    """(JSON payload, partition key) per CSV row; record_id is `id_prefix` + the row number. Types and the
    customer key (the id column) come from the description, by default the tutorial's."""
    description = description or tutorial()
    kinds = {canonical(c.name): c.type for c in description.columns}
    id_key = canonical(description.id_column) if description.id_column else None
    for chunk_start, chunk in _chunks(path):
        id_field = next((c for c in chunk.columns if canonical(c) == id_key), None)
        for offset, row in enumerate(chunk.to_dict(orient="records")):
            body = {
                name: json_value(None if pd.isna(value) else value, kinds.get(canonical(name), "string"))
                for name, value in row.items()
            }
            record_id = f"{id_prefix}{chunk_start + offset:09d}"
            body["record_id"] = record_id
            body["event_time"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            key = row[id_field] if id_field is not None and not pd.isna(row[id_field]) else record_id
            yield json.dumps(body).encode(), str(key)


def _chunks(path: str | Path, size: int = 10_000):
    start = 0
    for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=size):
        chunk.columns = [str(c).strip() for c in chunk.columns]
        yield start, chunk
        start += len(chunk)


def batches(items: Iterable[tuple[bytes, str]]) -> Iterator[list[tuple[bytes, str]]]:
    """Group records into PutRecords calls of at most 500 records and 5 MiB."""
    batch: list[tuple[bytes, str]] = []
    size = 0
    for data, key in items:
        record_size = len(data) + len(key.encode())
        if record_size > MAX_RECORD_BYTES:
            raise ProducerError(
                f"a record of {record_size:,} bytes exceeds Kinesis' 1 MiB limit (key {key!r})"
            )
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + record_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((data, key))
        size += record_size
    if batch:
        yield batch


def put_batch(client, stream: str, batch: list[tuple[bytes, str]], sleep=time.sleep) -> tuple[int, int]:
    """PutRecords with retries of the records reported failed; returns (attempts, records retried)."""
    pending = batch
    retried = 0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        response = client.put_records(
            StreamName=stream, Records=[{"Data": data, "PartitionKey": key} for data, key in pending]
        )
        if response.get("FailedRecordCount", 0) == 0:
            return attempt, retried
        failed = [
            item for item, result in zip(pending, response["Records"], strict=True) if result.get("ErrorCode")
        ]
        codes = sorted({r["ErrorCode"] for r in response["Records"] if r.get("ErrorCode")})
        log.warning(
            "PutRecords attempt %d: %d of %d record(s) failed (%s); retrying them",
            attempt,
            len(failed),
            len(pending),
            ", ".join(codes),
        )
        retried += len(failed)
        pending = failed
        sleep(min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))
    raise ProducerError(f"{len(pending)} record(s) still failing after {MAX_ATTEMPTS} PutRecords attempts")


def check_stream(client, stream: str) -> None:
    try:
        status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
    except client.exceptions.ResourceNotFoundException as exc:
        raise ProducerError(f"Kinesis stream {stream!r} does not exist") from exc
    except (BotoCoreError, ClientError) as exc:
        raise ProducerError(f"cannot reach Kinesis to check stream {stream!r}: {exc}") from exc
    if status not in ("ACTIVE", "UPDATING"):
        raise ProducerError(f"Kinesis stream {stream!r} is {status}, not ACTIVE")


def send(
    client,
    stream: str,
    items: Iterable[tuple[bytes, str]],
    rate: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[BatchReport, list[tuple[bytes, str]]], None] | None = None,
) -> int:
    """Send every item (paced at `rate` records/s if given); returns the number of records sent."""
    started = time.monotonic()
    sent = 0
    # With a rate, smaller batches keep the flow smooth (about 10 calls per second).
    limit = MAX_BATCH_RECORDS if not rate else max(1, min(MAX_BATCH_RECORDS, int(rate / 10)))
    for number, batch in enumerate(_rebatch(batches(items), limit)):
        if should_stop():
            log.info("stop requested: %d record(s) sent, stopping before batch %d", sent, number)
            break
        if rate:
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        t0 = time.monotonic()
        attempts, retried = put_batch(client, stream, batch)
        sent += len(batch)
        report = BatchReport(
            number, len(batch), sum(len(d) for d, _ in batch), attempts, retried, time.monotonic() - t0
        )
        log.info(
            "batch %d: %d record(s), %d bytes, %d attempt(s), %d retried, %.3fs; %d sent",
            report.batch,
            report.records,
            report.bytes,
            report.attempts,
            report.retried,
            report.seconds,
            sent,
        )
        if on_batch is not None:
            on_batch(report, batch)
    return sent


def _rebatch(groups: Iterable[list], limit: int) -> Iterator[list]:
    for group in groups:
        for i in range(0, len(group), limit):
            yield group[i : i + limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a churn CSV into a Kinesis stream as JSON records.")
    parser.add_argument("--data", required=True, help="churn CSV (the columns of its dataset description)")
    parser.add_argument(
        "--dataset",
        help="dataset description (JSON) of the CSV, for its types and id; default: the tutorial's",
    )
    parser.add_argument("--stream", required=True, help="Kinesis stream name")
    parser.add_argument(
        "--rate", type=float, default=None, help="records per second (default: as fast as possible)"
    )
    parser.add_argument(
        "--id-prefix", default=None, help="record_id prefix (default: a fresh random one per run)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    stop_requested = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: stop_requested.append(s))
    client = kinesis_client()
    prefix = args.id_prefix if args.id_prefix is not None else f"{uuid.uuid4().hex[:8]}-"
    try:
        check_stream(client, args.stream)
        if not Path(args.data).is_file():
            raise ProducerError(f"data file {args.data!r} does not exist")
        description = DatasetDescription.load(args.dataset) if args.dataset else None
        records = csv_records(args.data, prefix, description)
        sent = send(client, args.stream, records, args.rate, lambda: bool(stop_requested))
    except (ProducerError, DescriptionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sent {sent:,} record(s) to {args.stream} (record_id prefix {prefix!r})")
    return 0 if not stop_requested else 130


if __name__ == "__main__":
    sys.exit(main())
