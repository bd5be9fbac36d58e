"""The batch job's data files: each Spark task writes its own into the run's partition folder of each table;
the driver then commits them (churn_pipeline.tables.commit_data_files).

A task writes one Parquet file per table it has rows for (`FileWriter`: a row group per Arrow batch, so a task
holds one batch at a time), named by its partition and the run's token: a retried task attempt rewrites the
same name, and only the files the successful attempts report are committed. They are what an Iceberg commit
can add as they are (pyiceberg `add_files`): timestamps in microseconds (pyarrow writes TIMESTAMP(MICROS),
never Spark's INT96), column statistics in every row group (pyarrow's default), one partition per file (every
file of a run is in its batch_id). A file no commit references is read by no one.

Local paths, file:// URIs (the SQL catalog's tables) and s3:// prefixes: tasks and the driver reach S3 with
boto3 (AWS_ENDPOINT_URL points a local run at the stand-in).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

_SUFFIX = ".parquet"
_S3_SCHEMES = ("s3", "s3a")
_UMASK = os.umask(0)  # read once, at import (setting it back at once): os.umask has no getter
os.umask(_UMASK)


def run_token() -> str:
    return uuid.uuid4().hex[:12]


class FileWriter:
    """One data file, written a table at a time and appearing whole at `close` (locally a hidden temp file
    renamed into place; on S3 a local temp file uploaded once). `close` returns the file's location."""

    def __init__(self, location: str, stem: str, schema: pa.Schema, region: str | None = None):
        self.location = f"{location.rstrip('/')}/{stem}{_SUFFIX}"
        self._schema = schema
        self._region = region
        local = _local_path(self.location)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=local.parent)
        else:
            fd, temp = tempfile.mkstemp(prefix="churn-batch-", suffix=_SUFFIX)
        os.close(fd)
        self._temp = Path(temp)
        self._writer = pq.ParquetWriter(str(self._temp), schema, compression="snappy", write_statistics=True)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

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


def write_file(location: str, stem: str, table: pa.Table, region: str | None = None) -> str:
    """One whole table as one file in `location` (the driver's drift rows); returns the file's location."""
    writer = FileWriter(location, stem, table.schema, region)
    try:
        writer.write(table)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


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


def _bucket_key(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    if parsed.scheme not in _S3_SCHEMES or not parsed.netloc:
        raise ValueError(f"{location!r} is not an s3:// location")
    return parsed.netloc, parsed.path.lstrip("/")


def _s3(region: str | None):
    import boto3

    return boto3.client("s3", region_name=region)
