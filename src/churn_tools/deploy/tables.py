"""The deploy step that creates the jobs' Iceberg tables (the batch job's and the stream's) (and evolves them for a new model), between the
targeted apply that makes what they need (the Glue database, the results bucket and its encryption) and the
full apply that deploys the jobs that commit to them.

Why here and not in Terraform (terraform/README.md, "Iceberg tables"): a table is its first metadata file plus
the catalog entry pointing at it. moto's CreateTable with OpenTableFormatInput writes no metadata file, so
Terraform could create a working table on AWS only, and local would need a path of its own. And once the jobs
commit, the table's metadata_location is theirs: an aws_glue_catalog_table would send UpdateTable without a
VersionId on any change and could put back a stale pointer, dropping commits. So the tables are created as the
jobs check them, with the same definitions (churn_pipeline.batch.table_layout, streaming.table_layout) and the same
tables.ensure_table, through the Glue catalog (moto locally via AWS_ENDPOINT_URL: the same calls as on AWS).
Terraform owns the database, the IAM on the tables' ARNs (by name) and, in dev and prod, their optimizers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from churn_pipeline import tables
from churn_pipeline.batch import table_layout as batch_layout
from churn_pipeline.contract import outputs
from churn_pipeline.model import ModelDir, ModelDirError
from churn_pipeline.streaming import table_layout as stream_layout

# The environment a Glue catalog client of this process needs from the deployment's (ENV=local: moto's endpoint
# and its dummy credentials; dev/prod: what the process already has, so nothing is overridden).
AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def warehouse(bucket_names: Mapping[str, str]) -> str:
    """The tables' warehouse, as Terraform gives the jobs (--table_warehouse): contract.outputs.TABLE_WAREHOUSE
    in its bucket ({purpose: bucket name})."""
    location = outputs.TABLE_WAREHOUSE
    return f"s3://{bucket_names[location.bucket]}/{location.prefix}"


@contextlib.contextmanager
def aws_environment(process_env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with the deployment's AWS variables for the duration (pyiceberg's Glue client and pyarrow's
    S3 file system read them from the environment), restored afterwards."""
    saved = {name: os.environ.get(name) for name in AWS_VARIABLES}
    try:
        for name in AWS_VARIABLES:
            if name in process_env:
                os.environ[name] = process_env[name]
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class TableDeployError(RuntimeError):
    pass


def ensure_job_tables(
    model_dir: Path, bucket_names: Mapping[str, str], database: str, region: str
) -> list[str]:
    """The batch job's and the stream's tables for the model deployed: created if missing, else its new columns
    merged in (or refused, naming the column); their identifiers. The drift tables always: the Glue jobs write
    them."""
    try:
        description = ModelDir(model_dir).description()
    except ModelDirError as exc:
        raise TableDeployError(f"the tables' columns come from the model's description: {exc}") from exc
    settings = tables.CatalogSettings("glue", warehouse(bucket_names), region)
    catalog = tables.catalog_from_settings(settings)
    created: list[str] = []
    for job, specs in (
        ("batch", batch_layout.table_specs(batch_layout.datasets(description), drift=True)),
        ("stream", stream_layout.table_specs(outputs.STREAM_PREDICTIONS.for_data(description), drift=True)),
    ):
        try:
            identifiers = tables.ensure_tables(catalog, settings, database, specs, evolve=True)
        except tables.TableMismatchError as exc:
            raise TableDeployError(f"the {job} tables cannot take the model {model_dir}: {exc}") from exc
        created += identifiers.values()
    return created
