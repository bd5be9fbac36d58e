"""Exactly-once output of micro-batches to a local directory or S3, without relying on rename.

See docs/streaming-commit-protocol.md. In short, for micro-batch N of the query Q (Spark replays N with the
same records after a crash, because the source replays it from its checkpointed offsets):

1. every data file has a name fixed by (Q, N, partition): ingest_year=Y/.../ingest_hour=H/part-Q-N.parquet
   (part-Q-N-T-C.parquet where Spark task T writes chunk C of its share), written with ONE object PUT (atomic on S3;
   write-to-temp + rename locally). A replay rewrites the same names, so a record never exists in two files;
2. before the data, an intent manifest _manifests/Q/N.json lists the files this attempt writes (with task
   writes: each task's own _manifests/Q/N/T-C.json, before its files); a replay deletes files of an earlier
   attempt that it does not rewrite (with task writes: all of them, before any task writes), so nothing is
   orphaned;
3. after all data files, a commit marker _commits/Q/N.json (one PUT) lists them. A batch whose markers exist
   is skipped on replay. Readers that must never see a half-written batch read through the markers
   (`committed_files` / `duckdb_view_sql`); a plain glob sees each record exactly once as soon as the
   restarted job has re-run the interrupted batch.

Kept compatible with Python 3.10 (Glue 4.0 runs this module).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from churn_pipeline.contract import outputs

_UMASK = os.umask(0)
os.umask(_UMASK)
PARTITION_COLUMNS = tuple(f.name for f in outputs.INGEST_PARTITIONS)
MANIFESTS = "_manifests"
COMMITS = "_commits"


class ObjectStore:
    """The few operations the protocol needs, with S3's semantics: whole-object PUT, no rename."""

    def put(self, key: str, body: bytes) -> None:
        raise NotImplementedError

    def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def uri(self, key: str) -> str:
        raise NotImplementedError


class LocalStore(ObjectStore):
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden temp name (ignored by readers' globs), fsync, then rename: the file appears whole or not at all.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode a plain open() would
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.exists() else None

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def uri(self, key: str) -> str:
        return str(self.root / key)


class S3Store(ObjectStore):
    def __init__(self, bucket: str, prefix: str, client=None, region: str | None = None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client("s3", region_name=region)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def store_for(location: str, region: str | None = None) -> ObjectStore:
    """A local directory or an s3:// prefix (its client in `region`; None: boto3's default resolution)."""
    if location.startswith(("s3://", "s3a://")):
        bucket, _, prefix = location.split("://", 1)[1].partition("/")
        return S3Store(bucket, prefix, region=region)
    return LocalStore(location)


def _batch_name(query_id: str, batch_id: int) -> str:
    return f"{query_id}/{batch_id:012d}.json"


def data_key(partition: tuple[str, str, str, str], query_id: str, batch_id: int, task: str = "") -> str:
    """part-Q-N.parquet for a batch the driver writes; part-Q-N-T-C.parquet for chunk C of task T's share."""
    folders = "/".join(f"{name}={value}" for name, value in zip(PARTITION_COLUMNS, partition, strict=True))
    suffix = f"-{task}" if task else ""
    return f"{folders}/part-{query_id}-{batch_id:012d}{suffix}.parquet"


def task_manifest_prefix(query_id: str, batch_id: int) -> str:
    return f"{MANIFESTS}/{query_id}/{batch_id:012d}/"


@dataclass
class BatchWrite:
    """What one batch wrote to one dataset."""

    files: list[str]
    rows: int
    skipped: bool = False
    replayed: bool = False  # an earlier attempt of this batch was interrupted before its commit marker


def is_committed(store: ObjectStore, query_id: str, batch_id: int) -> bool:
    return store.get(f"{COMMITS}/{_batch_name(query_id, batch_id)}") is not None


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def partition_tables(table: pa.Table) -> dict[tuple[str, str, str, str], pa.Table]:
    """Split by the ingest_* columns (dropped from the file: they are in the path, Hive style)."""
    if table.num_rows == 0:
        return {}
    keys = list(zip(*(table.column(c).to_pylist() for c in PARTITION_COLUMNS), strict=True))
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    data = table.drop_columns(list(PARTITION_COLUMNS))
    return {key: data.take(pa.array(rows)) for key, rows in sorted(groups.items())}


def write_batch(
    store: ObjectStore, table: pa.Table, query_id: str, batch_id: int, extra: dict | None = None
) -> BatchWrite:
    """Write one batch's rows with the protocol above; idempotent for a replay of the same batch."""
    name = _batch_name(query_id, batch_id)
    if is_committed(store, query_id, batch_id):
        marker = _read_json(store, f"{COMMITS}/{name}")
        return BatchWrite(marker["files"], marker["rows"], skipped=True)
    parts = partition_tables(table)
    files = {data_key(key, query_id, batch_id): part for key, part in parts.items()}
    previous = store.get(f"{MANIFESTS}/{name}")
    store.put(f"{MANIFESTS}/{name}", json.dumps({"files": sorted(files)}).encode())
    if previous is not None:
        for stale in set(json.loads(previous)["files"]) - set(files):
            store.delete(stale)
    for key, part in files.items():
        store.put(key, parquet_bytes(part))
    marker = {
        "query_id": query_id,
        "batch_id": batch_id,
        "files": sorted(files),
        "rows": table.num_rows,
        **(extra or {}),
    }
    store.put(f"{COMMITS}/{name}", json.dumps(marker, sort_keys=True).encode())
    return BatchWrite(sorted(files), table.num_rows)


# --- the same protocol with the data written by the Spark tasks (the streaming handler) -----------------
# The driver begins the batch (removes whatever an earlier attempt of it wrote, then puts the intent
# manifest), each task writes its own files after its own intent manifest, and the driver commits the files
# the tasks report. No file name depends on how a replay partitions the records: a replay removes every file
# an earlier attempt listed before writing any of its own.


def begin_batch(store: ObjectStore, query_id: str, batch_id: int) -> bool:
    """Before the tasks write batch N: delete every file an earlier, uncommitted attempt of N listed (in its
    task manifests, or in a driver-written manifest), then those manifests, then put N's intent manifest.
    True when there was an earlier attempt (a replay)."""
    name = _batch_name(query_id, batch_id)
    previous = store.get(f"{MANIFESTS}/{name}")
    task_manifests = [
        key for key in store.list(task_manifest_prefix(query_id, batch_id)) if key.endswith(".json")
    ]
    stale = set(json.loads(previous).get("files", [])) if previous is not None else set()
    for key in task_manifests:
        stale.update(_read_json(store, key)["files"])
    for key in sorted(stale):  # data first: a crash here leaves manifests that still name what remains
        store.delete(key)
    for key in task_manifests:
        store.delete(key)
    intent = {"query_id": query_id, "batch_id": batch_id, "files": [],
              "task_manifests": task_manifest_prefix(query_id, batch_id)}  # fmt: skip
    store.put(f"{MANIFESTS}/{name}", json.dumps(intent, sort_keys=True).encode())
    return previous is not None or bool(task_manifests)


def write_task(
    store: ObjectStore, table: pa.Table, query_id: str, batch_id: int, task: int, chunk: int = 0
) -> list[str]:
    """In Spark task `task` (its partition index) of batch N, for its `chunk`-th Arrow batch: an intent manifest,
    then one file per ingest partition the rows touch (one PUT each). A retry of the task rewrites the same
    names."""
    parts = partition_tables(table)
    if not parts:
        return []
    label = f"{task:05d}-{chunk:05d}"
    files = {data_key(key, query_id, batch_id, label): part for key, part in parts.items()}
    manifest = f"{task_manifest_prefix(query_id, batch_id)}{label}.json"
    store.put(manifest, json.dumps({"files": sorted(files)}).encode())
    for key, part in files.items():
        store.put(key, parquet_bytes(part))
    return sorted(files)


def commit_batch(
    store: ObjectStore, query_id: str, batch_id: int, files: list[str], rows: int, extra: dict | None = None
) -> None:
    """After every task of batch N returned: the commit marker listing the files they wrote (one PUT)."""
    marker = {
        "query_id": query_id,
        "batch_id": batch_id,
        "files": sorted(files),
        "rows": rows,
        **(extra or {}),
    }
    store.put(f"{COMMITS}/{_batch_name(query_id, batch_id)}", json.dumps(marker, sort_keys=True).encode())


def committed_files(store: ObjectStore) -> list[str]:
    """Data files of committed batches only: what a reader that must not see a half-written batch reads."""
    files: list[str] = []
    for key in store.list(COMMITS):
        if key.endswith(".json"):
            files.extend(_read_json(store, key)["files"])
    return sorted(files)


def duckdb_view_sql(location: str, view: str) -> str:
    """A DuckDB view over the committed batches of a local or S3 dataset (hive-partitioned parquet)."""
    pattern = f"{location.rstrip('/')}/ingest_year=*/ingest_month=*/ingest_day=*/ingest_hour=*/*.parquet"
    commits = f"{location.rstrip('/')}/{COMMITS}/*/*.json"
    return (
        f"CREATE OR REPLACE VIEW {view} AS "
        f"SELECT d.* EXCLUDE (filename) FROM read_parquet('{pattern}', hive_partitioning = true, filename = true) d "
        f"WHERE regexp_extract(d.filename, 'part-(.*-[0-9]{{12}})(-[0-9]+)*\\.parquet$', 1) IN ("
        f"SELECT c.query_id || '-' || lpad(CAST(c.batch_id AS VARCHAR), 12, '0') "
        f"FROM read_json('{commits}', columns = {{query_id: 'VARCHAR', batch_id: 'BIGINT'}}) c)"
    )


def read_committed(location: str, columns: Iterable[str] | None = None):
    """Committed rows of a local dataset as pandas (tests, the latency probe, quick looks)."""
    import duckdb

    if not committed_files(LocalStore(location)):
        return None  # no committed row yet (the markers of empty batches list no file)
    con = duckdb.connect()
    con.execute(duckdb_view_sql(location, "committed"))
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    return con.execute(f"SELECT {select} FROM committed").df()


def _read_json(store: ObjectStore, key: str) -> dict:
    """A marker or manifest that a listing or an existence check has just shown; gone means a concurrent writer."""
    body = store.get(key)
    if body is None:
        raise FileNotFoundError(
            f"{key} vanished between its listing and its read: is another job writing here?"
        )
    return json.loads(body)
