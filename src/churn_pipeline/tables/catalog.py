"""The Iceberg catalog the jobs commit through, from settings: the Glue Data Catalog (on AWS, and locally on
moto through AWS_ENDPOINT_URL), or pyiceberg's SQL catalog on a SQLite file for a purely local run with no AWS
stand-in. Both hand back a pyiceberg Catalog; the table and commit code is the same for either."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog

CATALOG_KINDS = ("glue", "sql")
# The SQLite file of the SQL catalog, inside its warehouse directory.
SQL_CATALOG_FILE = "iceberg-catalog.sqlite"


class CatalogSettingError(ValueError):
    """The catalog settings cannot make a catalog; the message names the setting."""


@dataclass(frozen=True)
class CatalogSettings:
    kind: str  # "glue" or "sql"
    # Where table data and metadata live: s3://bucket/prefix for Glue, a local directory for the SQL catalog.
    warehouse: str
    region: str | None = None  # the Glue catalog's and the bucket's region

    def __post_init__(self) -> None:
        if self.kind not in CATALOG_KINDS:
            raise CatalogSettingError(
                f"catalog kind must be one of {', '.join(CATALOG_KINDS)}, got {self.kind!r}"
            )
        if not self.warehouse:
            raise CatalogSettingError(
                f"the {self.kind} catalog needs a warehouse location, got {self.warehouse!r}"
            )
        if self.kind == "glue" and not self.warehouse.startswith("s3://"):
            raise CatalogSettingError(
                f"the glue catalog's warehouse must be an s3:// URI, got {self.warehouse!r}"
            )
        if self.kind == "glue" and not self.region:
            raise CatalogSettingError("the glue catalog needs a region (the catalog's and the bucket's)")
        if self.kind == "sql" and "://" in self.warehouse:
            raise CatalogSettingError(
                f"the sql catalog's warehouse is a local directory, got {self.warehouse!r}"
            )

    def table_location(self, database: str, table: str) -> str:
        """Where a table's files go: <warehouse>/<database>/<table> (a prefix IAM policies can name)."""
        if self.kind == "sql":
            return (Path(self.warehouse).resolve() / database / table).as_uri()
        return f"{self.warehouse.rstrip('/')}/{database}/{table}"


@dataclass(frozen=True)
class TableRef:
    """One table: the catalog it is in (settings) and its identifier (database.table)."""

    settings: CatalogSettings
    identifier: str

    def __post_init__(self) -> None:
        if self.identifier.count(".") != 1 or not all(self.identifier.split(".")):
            raise CatalogSettingError(f"a table identifier is database.table, got {self.identifier!r}")

    def catalog(self) -> Catalog:
        return catalog_from_settings(self.settings)


def _s3_endpoint() -> str | None:
    """The S3 endpoint override as boto3 reads it (AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL): pyiceberg hands
    `s3.endpoint` to pyarrow's S3FileSystem, which is not boto3 and is told explicitly. Unset on AWS."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def file_io_properties(settings: CatalogSettings) -> dict[str, str]:
    """The properties of the catalog's FileIO (pyiceberg.io.load_file_io): what Spark tasks use to write data
    files where the catalog's own FileIO reads them (the same region and S3 endpoint)."""
    if settings.kind == "sql":
        return {}
    properties = {"s3.region": settings.region or ""}
    if endpoint := _s3_endpoint():
        properties["s3.endpoint"] = endpoint
    return properties


def catalog_from_settings(settings: CatalogSettings, name: str = "churn") -> Catalog:
    if settings.kind == "glue":
        # The Glue client is boto3's (pyiceberg/catalog/glue.py, GlueCatalog.__init__): with no `glue.endpoint`
        # property it honours AWS_ENDPOINT_URL_GLUE / AWS_ENDPOINT_URL itself, as every other client here does.
        properties = {"glue.region": settings.region, **file_io_properties(settings)}
        return _glue_catalog(name, properties)
    from pyiceberg.catalog.sql import SqlCatalog

    warehouse = Path(settings.warehouse).resolve()
    warehouse.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(name, uri=f"sqlite:///{warehouse / SQL_CATALOG_FILE}", warehouse=warehouse.as_uri())


@functools.cache
def _shared_loader():
    """One botocore data loader per process (it caches the service models and endpoints it has parsed)."""
    import botocore.session

    return botocore.session.Session().get_component("data_loader")


def _botocore_session():
    """A new botocore session (its own credentials, region and config) that reuses the process's data loader.

    Every boto3.Session builds its own loader, and a Glue client from a fresh one parses Glue's service model
    and the endpoint rules again (about 0.35 CPU-s; 0.02 with the loader shared): a catalog here makes two such
    sessions, and every job run, table read and deploy step makes a catalog. The loader holds only the models
    botocore ships (botocore/loaders.py, its `instance_cache`), nothing of a session's credentials or region;
    `data_loader` is the component botocore.session.Session registers it under and reads it from.
    """
    import botocore.session

    session = botocore.session.Session()
    session.register_component("data_loader", _shared_loader())
    return session


def _glue_catalog(name: str, properties: dict[str, Any]) -> Catalog:
    import boto3
    from botocore.config import Config
    from pyiceberg.catalog.glue import GlueCatalog
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError

    class GlueCatalogUpdatingOnce(GlueCatalog):
        """GlueCatalog whose UpdateTable (the commit's one atomic step) is sent once, never retried by botocore.

        pyiceberg's Glue client retries every call (standard mode, 10 attempts: GlueCatalog.__init__). If an
        UpdateTable lands but its response is lost, the retried call carries a stale VersionId and Glue answers
        ConcurrentModificationException; pyiceberg reads that as "did not land" and deletes the manifest list
        of the snapshot the table now points at (Transaction.commit_transaction, its CommitFailedException
        branch): a table no reader can open (tests/tables/test_glue_races.py shows it). Sent once, a lost
        response surfaces as a connection error instead, pyiceberg deletes nothing, and commit_data_files
        reloads the table: it finds the landed commit by its marker, or commits again if it did not land (a
        throttle or a 5xx likewise). Reads (GetTable) keep pyiceberg's retries.
        """

        def __init__(self, name: str, **properties: Any) -> None:
            super().__init__(name, **properties)
            self.update_client = boto3.Session(
                region_name=properties["glue.region"], botocore_session=_botocore_session()
            ).client("glue", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

        def _update_glue_table(
            self, database_name: str, table_name: str, table_input: Any, version_id: str
        ) -> None:
            # As pyiceberg 0.12.0's own (pyiceberg/catalog/glue.py, _update_glue_table), with the client above.
            # SkipArchive: no archived table version per commit (Glue keeps a bounded number of versions).
            client = self.update_client
            try:
                client.update_table(
                    DatabaseName=database_name, TableInput=table_input, SkipArchive=True, VersionId=version_id
                )
            except client.exceptions.EntityNotFoundException as error:
                raise NoSuchTableError(f"Table does not exist: {database_name}.{table_name}") from error
            except client.exceptions.ConcurrentModificationException as error:
                raise CommitFailedException(
                    f"Cannot commit {database_name}.{table_name}: Glue refused table version {version_id} "
                    "(a concurrent update)"
                ) from error

    # pyiceberg builds its client's boto3.Session on the `botocore_session` property when given
    # (pyiceberg/catalog/glue.py, GlueCatalog.__init__, BOTOCORE_SESSION).
    return GlueCatalogUpdatingOnce(name, **properties, botocore_session=_botocore_session())
