"""The deploy step that creates the jobs' Iceberg tables (churn_tools.deploy.tables), on the session's moto
server through the Glue catalog, as `make deploy` runs it after its targeted apply: the tables it creates are
the ones the streaming job checks and changes nothing in; a model of another dataset evolves the scored table
so that both writers fit it; a column whose type changes stops the deploy, naming the column."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.streaming import table_layout
from churn_pipeline.tables import CatalogSettings, catalog_from_settings
from churn_tools.deploy import tables as deploy_tables

REGION = "us-east-1"


@pytest.fixture
def place(moto_server) -> tuple[dict[str, str], str]:
    """A results bucket and a Glue database, as the targeted apply leaves them."""
    suffix = uuid.uuid4().hex[:10]
    buckets = {"results": f"churn-deploy-tables-{suffix}"}
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=buckets["results"])
    database = f"churn_deploy_{suffix}"
    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": database})
    return buckets, database


def model_of(directory: Path, description: DatasetDescription) -> Path:
    """A model directory as far as the deploy step reads it: its dataset description."""
    directory.mkdir(parents=True)
    (directory / "dataset.json").write_text(description.to_json(), encoding="utf-8")
    return directory


def job_check(buckets, database, description) -> dict[str, str]:
    """What the streaming job does at its first micro-batch (handler.identifiers): check the tables, no evolve."""
    settings = CatalogSettings("glue", deploy_tables.warehouse(buckets), REGION)
    specs = table_layout.table_specs(outputs.STREAM_PREDICTIONS.for_data(description), drift=True)
    catalog = catalog_from_settings(settings)
    table_layout.ensure_tables(catalog, settings, database, specs)
    return {identifier: catalog.load_table(identifier).metadata_location for identifier in
            (f"{database}.{d.table}" for d in outputs.ICEBERG_DATASETS)}  # fmt: skip


def test_the_tables_it_creates_are_the_ones_the_streaming_job_checks(place, tmp_path):
    buckets, database = place
    model = model_of(tmp_path / "model", tutorial())
    created = deploy_tables.ensure_job_tables(model, buckets, database, REGION)
    # The batch job's four (scored last, as it commits) and the stream's three, in commit order.
    assert created == [
        f"{database}.{name}"
        for name in ("batch_rejects", "batch_failed", "batch_drift", "batch_predictions",
                     "stream_dead_letter", "stream_drift", "stream_predictions")
    ]  # fmt: skip
    glue = boto3.client("glue", region_name=REGION)
    for dataset in outputs.ICEBERG_DATASETS:
        found = glue.get_table(DatabaseName=database, Name=dataset.table)["Table"]
        assert found["Parameters"]["table_type"].upper() == "ICEBERG"
        assert found["Parameters"]["metadata_location"].startswith(
            f"s3://{buckets['results']}/tables/{database}/{dataset.table}/metadata/"
        )
    before = job_check(buckets, database, tutorial())
    # The job's check changes nothing, and neither does a second deploy of the same model.
    deploy_tables.ensure_job_tables(model, buckets, database, REGION)
    assert job_check(buckets, database, tutorial()) == before


def test_a_model_of_another_dataset_evolves_the_scored_table_for_both_writers(
    place, tmp_path, second_description
):
    buckets, database = place
    deploy_tables.ensure_job_tables(model_of(tmp_path / "first", tutorial()), buckets, database, REGION)
    with pytest.raises(Exception, match="writer writes"):  # the job alone does not evolve a table
        job_check(buckets, database, second_description)
    dead_before = job_check(buckets, database, tutorial())[f"{database}.stream_dead_letter"]
    deploy_tables.ensure_job_tables(
        model_of(tmp_path / "second", second_description), buckets, database, REGION
    )
    after = job_check(buckets, database, second_description)
    assert (
        job_check(buckets, database, tutorial()) == after
    )  # the old writer still fits (its columns optional)
    assert after[f"{database}.stream_dead_letter"] == dead_before  # only the scored table had new columns
    settings = CatalogSettings("glue", deploy_tables.warehouse(buckets), REGION)
    columns = (
        catalog_from_settings(settings).load_table(f"{database}.stream_predictions").schema().column_names
    )
    for description in (tutorial(), second_description):
        assert set(outputs.STREAM_PREDICTIONS.for_data(description).column_names) <= set(columns)


def test_a_column_that_changes_type_stops_the_deploy_naming_it(place, tmp_path):
    buckets, database = place
    deploy_tables.ensure_job_tables(model_of(tmp_path / "first", tutorial()), buckets, database, REGION)
    data = json.loads(tutorial().to_json())
    [column] = [c for c in data["columns"] if c["name"] == "Day Mins"]
    assert column["type"] == "decimal"
    column["type"] = "integer"  # a double column the new model writes as int: no Iceberg promotion
    retyped = DatasetDescription.from_json(json.dumps(data), "retyped")
    with pytest.raises(deploy_tables.TableDeployError, match="Day Mins"):
        deploy_tables.ensure_job_tables(model_of(tmp_path / "retyped", retyped), buckets, database, REGION)
