"""The batch job's data files: each Spark task writes its own into the run's staging folder of each dataset,
then the driver publishes them into the run's partition `batch_id=<id>` with one call, `publish`.

A task writes one file per dataset it has rows for (`FileWriter`: a Parquet row group, or a CSV chunk, per
Arrow batch, so a task holds one batch at a time), named by its partition and the run's token: a retried task
attempt rewrites the same name, and only the files the successful attempts report are published. Parquet
files are what an Iceberg commit can add as they are (pyiceberg `add_files`, churn_pipeline.tables.commit):
timestamps in microseconds (pyarrow writes TIMESTAMP(MICROS), never Spark's INT96), column statistics in
every row group (pyarrow's default), one partition per file (every file of a run is in its batch_id).

Staging is `<dataset>/_staging/<batch id>-<run token>/`: beside the dataset, so that publishing is a rename
locally and a server-side copy on S3, and under a `_` folder, which Spark and Hadoop-style readers skip (as
they skip Spark's own `_temporary`). The job removes it when the run ends, published or not (`discard`).

Local paths and s3:// prefixes: tasks and the driver reach S3 with boto3
(AWS_ENDPOINT_URL points a local run at the stand-in).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa

from churn_pipeline.batch import writer
from churn_pipeline.contract import settings

STAGING = "_staging"
FORMATS = settings.OUTPUT_FORMATS
_SUFFIX = {"parquet": ".parquet", "csv": ".csv"}
_S3_SCHEMES = ("s3", "s3a")
_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys
_UMASK = os.umask(0)  # read once, at import (setting it back at once): os.umask has no getter
os.umask(_UMASK)


def run_token() -> str:
    return uuid.uuid4().hex[:12]


def staging_location(dataset_path: str, batch_id: str, token: str) -> str:
    return f"{dataset_path.rstrip('/')}/{STAGING}/{batch_id}-{token}"


def file_name(stem: str, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"output format must be one of {FORMATS}, got {fmt!r}")
    return stem + _SUFFIX[fmt]


class FileWriter:
    """One data file, written a table at a time and appearing whole at `close` (locally a hidden temp file
    renamed into place; on S3 a local temp file uploaded once). `close` returns the file's location."""

    def __init__(self, location: str, stem: str, schema: pa.Schema, fmt: str, region: str | None = None):
        self.location = f"{location.rstrip('/')}/{file_name(stem, fmt)}"
        self._schema = schema
        self._fmt = fmt
        self._region = region
        local = _local_path(self.location)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=local.parent)
        else:
            fd, temp = tempfile.mkstemp(prefix="churn-batch-", suffix=_SUFFIX[fmt])
        os.close(fd)
        self._temp = Path(temp)
        self._writer = _open(self._temp, schema, fmt)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table) if self._fmt == "parquet" else self._writer.write(table)

    def close(self) -> str:
        self._writer.close()
        local = _local_path(self.location)
        try:
            if local is not None:
                os.chmod(self._temp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the mode a plain open() gives
                os.replace(self._temp, local)
            else:
                bucket, key = _bucket_key(self.location)
                _s3(self._region).upload_file(str(self._temp), bucket, key)
        finally:
            self._temp.unlink(missing_ok=True)
        return self.location

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._temp.unlink(missing_ok=True)


def write_file(location: str, stem: str, table: pa.Table, fmt: str, region: str | None = None) -> str:
    """One whole table as one file in `location` (the driver's drift rows); returns the file's location."""
    writer = FileWriter(location, stem, table.schema, fmt, region)
    try:
        writer.write(table)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def publish(
    files: Mapping[str, Sequence[str]], batch_id: str, region: str | None = None
) -> dict[str, list[str]]:
    """Make `files` ({dataset path: the run's data files, in that dataset's staging}) the whole of each
    dataset's partition batch_id=<id>: what the partition held before is gone, other partitions are untouched;
    a dataset with no file for this run is left without the partition. Returns the published files.

    Locally the partition is swapped by two renames (the old folder out, the new one in). On S3, which has no
    rename, the files are copied in first and the partition's other files deleted after, so a reader may see
    both for a moment but never neither, and a crash in between leaves rows twice, never none (the re-run
    replaces them). The next step commits these same files to Iceberg tables instead (issue 30)."""
    published: dict[str, list[str]] = {}
    for dataset, staged in files.items():
        target = writer.partition_path(dataset, batch_id)
        if _local_path(dataset) is not None:
            published[dataset] = _publish_local(target, [_required_local(f) for f in staged])
        else:
            published[dataset] = _publish_s3(target, list(staged), region)
    return published


def discard(location: str, region: str | None = None) -> None:
    """Remove a staging folder and whatever is left in it (nothing once published; a failed run's files)."""
    local = _local_path(location)
    if local is not None:
        if local.exists():
            shutil.rmtree(local)
        _remove_if_empty(local.parent)
        return
    client = _s3(region)
    bucket, prefix = _bucket_key(location.rstrip("/") + "/")
    _delete_keys(client, bucket, _list_keys(client, bucket, prefix))


def _publish_local(target: str, staged: list[Path]) -> list[str]:
    final = Path(_required_local(target))
    if not staged:
        if final.exists():
            shutil.rmtree(final)
        return []
    folders = {path.parent for path in staged}
    if len(folders) != 1:
        raise ValueError(f"a dataset's files come from one staging folder, got {sorted(map(str, folders))}")
    (folder,) = folders
    incoming = folder / final.name
    incoming.mkdir()
    for path in staged:
        os.replace(path, incoming / path.name)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        replaced = folder / "replaced"
        os.replace(final, replaced)
        os.replace(incoming, final)
        shutil.rmtree(replaced)
    else:
        os.replace(incoming, final)
    return [str(final / path.name) for path in staged]


def _publish_s3(target: str, staged: list[str], region: str | None) -> list[str]:
    client = _s3(region)
    bucket, prefix = _bucket_key(target.rstrip("/") + "/")
    before = _list_keys(client, bucket, prefix)
    keys = []
    for source in staged:
        source_bucket, source_key = _bucket_key(source)
        key = prefix + source_key.rsplit("/", 1)[-1]
        # The managed copy: multipart above its threshold, so a file over CopyObject's 5 GB limit still goes.
        client.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
        keys.append(key)
    _delete_keys(client, bucket, [k for k in before if k not in set(keys)])
    return [f"s3://{bucket}/{key}" for key in keys]


def _open(path: Path, schema: pa.Schema, fmt: str):
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(str(path), schema, compression="snappy", write_statistics=True)
    import pyarrow.csv as pacsv

    return pacsv.CSVWriter(str(path), schema, write_options=pacsv.WriteOptions(include_header=True))


def _local_path(location: str) -> Path | None:
    """The local path of a plain path or a file: URI; None for S3."""
    parsed = urlparse(location)
    if parsed.scheme in _S3_SCHEMES:
        return None
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # (a one-letter scheme is a Windows drive)
        raise ValueError(
            f"{location!r}: the batch job writes to a local path or s3://, not {parsed.scheme}://"
        )
    return Path(location)


def _required_local(location: str) -> Path:
    path = _local_path(location)
    if path is None:
        raise ValueError(f"{location!r}: a dataset's files and its path are both local or both on S3")
    return path


def _remove_if_empty(folder: Path) -> None:
    if folder.name == STAGING and folder.exists() and not any(folder.iterdir()):
        folder.rmdir()


def _bucket_key(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    if parsed.scheme not in _S3_SCHEMES or not parsed.netloc:
        raise ValueError(f"{location!r} is not an s3:// location")
    return parsed.netloc, parsed.path.lstrip("/")


def _s3(region: str | None):
    import boto3

    return boto3.client("s3", region_name=region)


def _list_keys(client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


def _delete_keys(client, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), _DELETE_BATCH):
        chunk = keys[start : start + _DELETE_BATCH]
        response = client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        if response.get("Errors"):
            raise RuntimeError(f"s3://{bucket}: could not delete {response['Errors'][:3]} (and maybe more)")
