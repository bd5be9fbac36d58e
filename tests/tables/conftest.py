"""Catalogs for the table tests: pyiceberg's SQL catalog on a SQLite file, and the Glue catalog on the session's
moto server over HTTP (AWS_ENDPOINT_URL), its tables created through pyiceberg (moto's CreateTable with
OpenTableFormatInput writes no metadata). Data files are written into the table's location the way Spark tasks
write them: Parquet, no field ids, nullable columns, UTC timestamps in microseconds."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from churn_pipeline.tables import CatalogSettings, catalog_from_settings, ensure_table

SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("score", pa.float64()),
        ("kinesis_arrival_time", pa.timestamp("us", tz="UTC")),
    ]
)
PARTITION_BY = [("kinesis_arrival_time", "hour")]
DATABASE = "churn_tables_test"
REGION = "us-east-1"


@dataclass
class TableUnderTest:
    settings: CatalogSettings
    catalog: Catalog
    identifier: str

    def load(self) -> Table:
        return self.catalog.load_table(self.identifier)

    def second_committer(self) -> Catalog:
        """Another process's catalog: built from the same settings, sharing nothing in memory."""
        return catalog_from_settings(self.settings)

    def write_file(self, rows: list[dict], schema: pa.Schema = SCHEMA) -> str:
        """One data file as a Spark task writes it, in the table's data directory; not committed."""
        table = self.load()
        path = f"{table.location()}/data/task-{uuid.uuid4().hex}.parquet"
        with table.io.new_output(path).create() as stream:
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), stream)
        return path

    def rows(self) -> list[dict]:
        """What a reader sees: a pyiceberg scan of the current snapshot, in record order."""
        return sorted(self.load().scan().to_arrow().to_pylist(), key=lambda row: row["record_id"])


def hour(h: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 6, h, minute, tzinfo=dt.UTC)


def batch_rows(prefix: str, count: int, at: dt.datetime) -> list[dict]:
    return [
        {
            "record_id": f"{prefix}-{i:03d}",
            "score": i / count,
            "kinesis_arrival_time": at + dt.timedelta(seconds=i),
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def glue_warehouse(moto_server) -> str:
    bucket = f"churn-tables-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    glue = boto3.client("glue", region_name=REGION)
    if DATABASE not in {d["Name"] for d in glue.get_databases()["DatabaseList"]}:
        glue.create_database(DatabaseInput={"Name": DATABASE})
    return f"s3://{bucket}/warehouse"


def _make(settings: CatalogSettings) -> TableUnderTest:
    catalog = catalog_from_settings(settings)
    name = f"scored_{uuid.uuid4().hex[:8]}"
    ensure_table(catalog, f"{DATABASE}.{name}", SCHEMA, PARTITION_BY, settings.table_location(DATABASE, name))
    return TableUnderTest(settings, catalog, f"{DATABASE}.{name}")


@pytest.fixture
def sql_table(tmp_path) -> TableUnderTest:
    return _make(CatalogSettings("sql", str(tmp_path / "warehouse")))


@pytest.fixture
def glue_table(glue_warehouse) -> TableUnderTest:
    return _make(CatalogSettings("glue", glue_warehouse, REGION))


@pytest.fixture(params=["sql", "glue"])
def any_table(request) -> TableUnderTest:
    return request.getfixturevalue(f"{request.param}_table")
