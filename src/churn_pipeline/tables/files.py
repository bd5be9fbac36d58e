"""Data files as a table's commit takes them: written by a Spark task (or the driver) straight under the table's
data location, one file per hour of the partition column, under a name no other attempt uses.

Nothing here is visible to a reader: a file becomes part of the table only when commit_data_files adds it to a
snapshot. A file an interrupted attempt wrote is never committed (its replay writes new names) and is left to
orphan-file cleanup, so no attempt ever deletes or overwrites another's file.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.table import Table

from churn_pipeline.tables.catalog import CatalogSettings, file_io_properties

_MICROS_PER_HOUR = 3_600_000_000
# The FileIO of each (properties, location scheme) in this process: a Spark Python worker is reused across
# tasks and write_hour_files runs per Arrow batch; a new PyArrowFileIO would build its file systems again (it
# caches them per instance: pyiceberg/io/pyarrow.py, PyArrowFileIO.__init__, fs_by_scheme).
_FILE_IOS: dict[tuple[tuple[tuple[str, str], ...], str], FileIO] = {}


def attempt_token() -> str:
    """Unique per writing attempt (a task retry, a replayed micro-batch): part of every file name it writes."""
    return uuid.uuid4().hex


def data_location(table: Table) -> str:
    """Where the table's data files go, as Iceberg says: its location provider's data path, the table property
    write.data.path if set, else <table location>/data (pyiceberg 0.12.0: Table.location_provider,
    pyiceberg/table/__init__.py; LocationProvider.__init__, pyiceberg/table/locations.py)."""
    return table.location_provider().data_path


def split_by_hour(table: pa.Table, column: str) -> dict[int, pa.Table]:
    """The rows of each hour (hours since the epoch, UTC) of the timestamp `column`. pyiceberg 0.12.0's
    add_files takes a file's partition value from the footer's min and max of the source column and refuses a
    file whose min and max fall in two partitions (pyiceberg/io/fileformat.py, DataFileStatistics._partition_value),
    so each file holds one hour."""
    if table.num_rows == 0:
        return {}
    kind = table.schema.field(column).type
    if not (pa.types.is_timestamp(kind) and kind.unit == "us"):
        raise ValueError(f"partition column {column!r} must be a microsecond timestamp, got {kind}")
    if table.column(column).null_count:
        raise ValueError(f"partition column {column!r} has nulls: a row without an hour has no partition")
    hours = pc.divide(table.column(column).cast(pa.int64()), _MICROS_PER_HOUR)  # integer division, >= 0
    groups: dict[int, pa.Table] = {}
    for hour in pc.unique(hours).to_pylist():
        groups[hour] = table.filter(pc.equal(hours, hour))
    return dict(sorted(groups.items()))


def _file_io(settings: CatalogSettings, location: str) -> FileIO:
    """The FileIO the catalog itself reads with (pyiceberg/io/__init__.py load_file_io: PyArrowFileIO for s3://
    and file://, chosen by the location's scheme only, _infer_file_io_from_scheme), one per process."""
    properties = file_io_properties(settings)
    key = (tuple(sorted(properties.items())), urlparse(location).scheme)
    if key not in _FILE_IOS:
        _FILE_IOS[key] = load_file_io(properties, location)
    return _FILE_IOS[key]


def write_hour_files(
    settings: CatalogSettings, data_location: str, table: pa.Table, hour_column: str, name: str
) -> list[str]:
    """Write `table` as one Parquet file per hour of `hour_column` under `data_location`
    (<data>/<column>_hour=<yyyy-mm-dd-hh>/<name>-<attempt>.parquet, the layout of Iceberg's own writers) through
    the catalog's FileIO; returns the files' URIs for the commit. An S3 file is one whole-object upload: a
    killed writer leaves none or a complete one, and neither is read unless committed."""
    # create(overwrite=False) refuses an existing file (pyiceberg/io/pyarrow.py PyArrowFile.create).
    io = _file_io(settings, data_location)
    token = attempt_token()
    paths = []
    for hour, part in split_by_hour(table, hour_column).items():
        folder = (
            pa.scalar(hour * _MICROS_PER_HOUR, pa.timestamp("us", tz="UTC")).as_py().strftime("%Y-%m-%d-%H")
        )
        path = f"{data_location.rstrip('/')}/{hour_column}_hour={folder}/{name}-{token}.parquet"
        with io.new_output(path).create(overwrite=False) as stream:
            # Statistics on (pyarrow's default): add_files reads the hour from them.
            pq.write_table(part, stream, compression="snappy")
        paths.append(path)
    return paths
