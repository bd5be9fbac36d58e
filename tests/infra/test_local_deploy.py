"""End to end on a local AWS: deploy ENV=local to moto server, check what exists with boto3, and run each
deployed Glue job's entry script with the arguments Terraform gave it, on this process's Spark and on the job's
own Glue runtime. Plans, rollouts and the destroy run on a deployment of their own (test_local_rollouts.py)."""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path

import pytest

from churn_pipeline.contract import metrics, outputs, settings
from churn_pipeline.model import ModelDir

from .conftest import REPO_ROOT, load_hcl
from .local_deployment import (
    ACCOUNT,
    BUCKETS,
    DATABASE,
    ENDPOINT,
    JOB_NAMES,
    PREFIX,
    QUALITY_ALARM,
    client,
    deployed_arguments,
    writer_schemas,
)
from .test_static import JOB_SCRIPTS, is_glue_own, required_args

# One apply (about a minute of it the provider waiting on S3 lifecycle rules), then each job's entry script with
# the deployed arguments, on this process's Spark and on each job's Glue runtime (a venv installed per version).
pytestmark = pytest.mark.slow(seconds=650)
# The Glue runtime matrix below installs the uploaded dependency wheels on each job's Glue version.
SHIP_DEPENDENCY_WHEELS = True


def test_buckets_are_encrypted_versioned_private(deployment):
    s3 = client("s3")
    key_arn = client("kms").describe_key(KeyId="alias/churn-local")["KeyMetadata"]["Arn"]
    for bucket in BUCKETS.values():
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        }
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        }  # fmt: skip
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKETS["data"])["Rules"]
    # Live checkpoints (checkpoints/) never expire; retired ones (checkpoints-retired/) do.
    assert {r["ID"]: r.get("Expiration") for r in rules} == {
        "expire-noncurrent-versions": None,
        "expire-checkpoints-retired": {"Days": 30},
        "expire-tmp": {"Days": 7},
    }
    assert client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True


def test_the_package_is_uploaded_under_content_addressed_keys(deployment):
    artifacts = deployment["artifacts"]
    listed = client("s3").list_objects_v2(Bucket=BUCKETS["artifacts"])["Contents"]
    expected = {
        artifacts["batch_script_key"], artifacts["stream_script_key"], artifacts["quality_script_key"],
        artifacts["model_artifact_key"],
        artifacts["model_prefix"] + "feature_spec.json", artifacts["model_prefix"] + "baseline.json",
        artifacts["model_prefix"] + "metrics.json",
        artifacts["model_prefix"] + "dataset.json",
        *artifacts["batch_python_modules"], *artifacts["stream_python_modules"],
    }  # fmt: skip
    assert {o["Key"] for o in listed} == expected
    body = (
        client("s3")
        .get_object(Bucket=BUCKETS["artifacts"], Key=artifacts["model_artifact_key"])["Body"]
        .read()
    )
    assert body == (deployment["model_dir"] / "model.tar.gz").read_bytes()


def test_stream_is_active_and_encrypted(deployment):
    summary = client("kinesis").describe_stream_summary(StreamName=f"{PREFIX}-customer-churn")[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamStatus"] == "ACTIVE" and summary["EncryptionType"] == "KMS"
    assert (
        summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and summary["RetentionPeriodHours"] == 24
    )


def test_glue_jobs_have_every_argument_their_script_resolves(deployment):
    glue, artifacts = client("glue"), deployment["artifacts"]
    model_uri = f"s3://{BUCKETS['artifacts']}/{artifacts['model_prefix']}"
    scoring = {"model_uri": model_uri, "scoring_mode": "endpoint", "endpoint_name": ENDPOINT, "threshold": "0.5",
               "aws_region": "us-east-1"}  # fmt: skip
    expected = {
        "batch": {
            "input_path": f"s3://{BUCKETS['data']}/input/",
            "table_warehouse": f"s3://{BUCKETS['results']}/tables/",
            "table_database": DATABASE,
            **scoring,
        },
        "stream": {
            "stream_arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{PREFIX}-customer-churn",
            "starting_position": "TRIM_HORIZON",
            "checkpoint_path": f"s3://{BUCKETS['data']}/checkpoints/stream-scoring/",
            "table_warehouse": f"s3://{BUCKETS['results']}/tables/",
            "table_database": DATABASE,
            "window_size": "100 seconds",
            **scoring,
        },
        "quality": {
            "outcomes_path": f"s3://{BUCKETS['data']}/outcomes/",
            "table_warehouse": f"s3://{BUCKETS['results']}/tables/",
            "table_database": DATABASE,
            "quality_path": f"s3://{BUCKETS['results']}/quality/metrics/",
            "calibration_path": f"s3://{BUCKETS['results']}/quality/calibration/",
            "outcome_rejects_path": f"s3://{BUCKETS['results']}/quality/outcome-rejects/",
            "training_set_path": f"s3://{BUCKETS['results']}/quality/training-set/",
            "horizon_days": str(settings.HORIZON_DAYS.default), "auc_margin": str(settings.AUC_MARGIN.default),
            **{k: scoring[k] for k in ("model_uri", "threshold", "aws_region")},
        },
    }  # fmt: skip
    for job, script in JOB_SCRIPTS.items():
        found = glue.get_job(JobName=JOB_NAMES[job])["Job"]
        job_args = {
            k.removeprefix("--"): v for k, v in found["DefaultArguments"].items() if not is_glue_own(k)
        }
        assert job_args == expected[job]
        assert set(job_args) == set(required_args(script)) - {"JOB_NAME"}
        assert (
            found["Command"]["ScriptLocation"]
            == f"s3://{BUCKETS['artifacts']}/{artifacts[f'{job}_script_key']}"
        )
        # The quality job runs on the batch job's Glue version, with its wheels.
        modules = artifacts["stream_python_modules" if job == "stream" else "batch_python_modules"]
        wheels = [f"s3://{BUCKETS['artifacts']}/{key}" for key in modules]
        assert found["DefaultArguments"]["--additional-python-modules"] == ",".join(wheels)
        assert found["SecurityConfiguration"] == f"{PREFIX}-jobs"
    stream = glue.get_job(JobName=JOB_NAMES["stream"])["Job"]
    assert (stream["Command"]["Name"], stream["GlueVersion"]) == ("gluestreaming", "5.1")
    quality, batch = (glue.get_job(JobName=JOB_NAMES[job])["Job"] for job in ("quality", "batch"))
    assert (quality["Command"]["Name"], quality["GlueVersion"]) == ("glueetl", batch["GlueVersion"])
    # A role per job: the batch job's cannot write the stream's tables, the streaming job's the batch outputs.
    assert [found["Role"].rsplit("/", 1)[1] for found in (quality, batch, stream)] == [
        f"{PREFIX}-glue-quality",
        f"{PREFIX}-glue-batch",
        f"{PREFIX}-glue-stream",
    ]


def test_the_quality_job_is_triggered_daily(deployment):
    """An activated SCHEDULED trigger (the provider starts it on creation) runs the quality job at the tfvars'
    cron (UTC); whether the schedule fires is on the first deployment checklist."""
    trigger = client("glue").get_trigger(Name=f"{PREFIX}-model-quality-schedule")["Trigger"]
    assert (trigger["Type"], trigger["State"], [a["JobName"] for a in trigger["Actions"]]) == (
        "SCHEDULED", "ACTIVATED", [JOB_NAMES["quality"]]
    )  # fmt: skip
    tfvars = load_hcl(REPO_ROOT / "terraform" / "envs" / "local" / "terraform.tfvars")
    assert trigger["Schedule"] == tfvars["settings"]["jobs"]["quality"]["schedule"]


def test_catalog_tables_exist_and_the_scoring_jobs_are_iceberg_tables_the_deploy_created(deployment):
    tables = {t["Name"]: t for t in client("glue").get_tables(DatabaseName=DATABASE)["TableList"]}
    assert set(tables) == {"kinesis_customer_churn", *(d.table for d in outputs.DATASETS)}
    assert tables["kinesis_customer_churn"]["Parameters"]["streamARN"].endswith(
        f":stream/{PREFIX}-customer-churn"
    )
    # The batch job's and the stream's: Iceberg tables whose metadata the deploy step wrote (moto's CreateTable
    # writes none), each under <warehouse><database>/<table>, partitioned as its job partitions: a stream table
    # by an hour, a batch table by the run's batch_id.
    from churn_pipeline.batch import table_layout as batch_layout

    batch = (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS, outputs.BATCH_FAILED, outputs.BATCH_DRIFT)
    partitioning = {
        **{d.table: batch_layout.PARTITION_BY for d in batch},
        outputs.STREAM_DRIFT.table: ((outputs.COMPUTED_AT, "hour"),),
        outputs.STREAM_PREDICTIONS.table: ((outputs.KINESIS_ARRIVAL_TIME, "hour"),),
        outputs.STREAM_DEAD_LETTER.table: ((outputs.KINESIS_ARRIVAL_TIME, "hour"),),
    }
    assert set(partitioning) == ICEBERG_TABLES
    for dataset in outputs.ICEBERG_DATASETS:
        table = stream_catalog().load_table(f"{DATABASE}.{dataset.table}")
        assert tables[dataset.table]["Parameters"]["table_type"].upper() == "ICEBERG"
        assert table.location() == f"s3://{BUCKETS['results']}/tables/{DATABASE}/{dataset.table}"
        spec = tuple(
            (table.schema().find_column_name(f.source_id), str(f.transform)) for f in table.spec().fields
        )
        assert spec == partitioning[dataset.table], dataset.table


def test_catalog_tables_hold_the_deployed_model_s_columns(deployment):
    from churn_pipeline.model import ModelDir

    description = ModelDir(deployment["model_dir"]).description()
    expected = writer_schemas(description)
    hive = {name: columns for name, columns in expected.items() if name not in ICEBERG_TABLES}
    assert {table: catalog_schema(table)[0] for table in hive} == hive
    # The Iceberg tables: the columns (names as written, Iceberg types) of the writer's Arrow schema.
    for dataset in outputs.ICEBERG_DATASETS:
        resolved = dataset.for_data(description)
        table = stream_catalog().load_table(f"{DATABASE}.{dataset.table}")
        assert iceberg_columns(table) == writer_iceberg_columns(table, outputs.arrow_schema(resolved)), (
            dataset.table
        )


ICEBERG_TABLES = {d.table for d in outputs.ICEBERG_DATASETS}


def stream_tables():
    """The deployed stream's tables as its Glue job finds them: its own arguments, read back from moto."""
    from churn_pipeline.streaming.handler import StreamTables
    from churn_pipeline.tables import CatalogSettings

    arguments = deployed_arguments("stream")
    catalog = CatalogSettings("glue", arguments["--table_warehouse"], arguments["--aws_region"])
    return StreamTables(catalog, arguments["--table_database"], drift=True)


def stream_catalog():
    """The Glue catalog (moto's) as the deployed streaming job makes it."""
    from churn_pipeline.tables import catalog_from_settings

    return catalog_from_settings(stream_tables().catalog)


def iceberg_columns(table) -> list[tuple[str, str]]:
    return [(f.name, str(f.field_type)) for f in table.schema().fields]


def writer_iceberg_columns(table, schema) -> list[tuple[str, str]]:
    """A writer's Arrow schema as the table's columns (matched by name, as pyiceberg's add_files matches them)."""
    from pyiceberg.io.pyarrow import pyarrow_to_schema

    return [
        (f.name, str(f.field_type)) for f in pyarrow_to_schema(schema, table.schema().name_mapping).fields
    ]


def fresh_stream_tables(deployment) -> None:
    """The stream's tables as a first deployment has them: dropped with their files, then created again by the
    deploy step's own code (churn_tools.deploy.tables) for the deployed model."""
    from churn_tools.deploy import tables as deploy_tables

    glue = client("glue")
    for dataset in outputs.ICEBERG_DATASETS:
        glue.delete_table(DatabaseName=DATABASE, Name=dataset.table)
    clear_prefix(BUCKETS["results"], outputs.TABLE_WAREHOUSE.prefix)
    deploy_tables.ensure_job_tables(deployment["model_dir"], BUCKETS, DATABASE, "us-east-1")


def test_endpoint_is_in_service_on_the_packaged_model(deployment):
    sagemaker, artifacts = client("sagemaker"), deployment["artifacts"]
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model_name = f"{ENDPOINT}-{artifacts['model_version']}"
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [model_name]
    assert config["KmsKeyId"].startswith("arn:aws:kms:")
    container = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]
    assert container["ModelDataUrl"] == f"s3://{BUCKETS['artifacts']}/{artifacts['model_artifact_key']}"
    assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")


def test_roles_have_inline_least_privilege_only(deployment):
    iam = client("iam")
    for role in (
        f"{PREFIX}-glue-batch",
        f"{PREFIX}-glue-stream",
        f"{PREFIX}-glue-quality",
        f"{PREFIX}-sagemaker-endpoint",
    ):
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["least-privilege"]


def test_analytics_and_monitoring_exist(deployment):
    workgroup = client("athena").get_work_group(WorkGroup=f"{PREFIX}-churn")["WorkGroup"]["Configuration"]
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    alarms = {
        a["AlarmName"] for a in client("cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    }
    assert alarms == {
        f"{PREFIX}-endpoint-5xx", f"{PREFIX}-endpoint-latency", f"{PREFIX}-stream-iterator-age",
        f"{PREFIX}-dead-letter-growth", f"{PREFIX}-batch-scoring-failed-tasks", f"{PREFIX}-stream-scoring-failed-tasks",
        f"{PREFIX}-batch-scoring-drift", f"{PREFIX}-stream-scoring-drift", f"{PREFIX}-model-quality-failed-tasks",
        QUALITY_ALARM,
    }  # fmt: skip


def test_the_quality_alarm_watches_what_the_deployed_model_s_scores_carry(deployment):
    """As deployed: the threshold is the model's own test AUC (its metrics.json) minus the margin the quality job
    reads from its deployed arguments, and the alarm's ModelVersion is the version the scorers write beside
    each score of that model (ModelDir.version, from its files), so the job's ModelAUC for it is the one watched."""
    from churn_pipeline.quality import glue as quality_glue

    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[QUALITY_ALARM])["MetricAlarms"]
    config = quality_glue.config_from_glue_args(
        {k.removeprefix("--"): v for k, v in deployed_arguments("quality").items()}
    )
    test_auc = ModelDir(deployment["model_dir"]).metrics()["test"]["auc"]
    assert alarm["Threshold"] == pytest.approx(
        settings.auc_alarm_threshold(test_auc, config.auc_margin), abs=1e-12
    )
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ComparisonOperator"]) == (
        metrics.NAMESPACE, metrics.MODEL_AUC, "LessThanThreshold"
    )  # fmt: skip
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        metrics.DIMENSION: JOB_NAMES["quality"],
        metrics.MODEL_VERSION_DIMENSION: ModelDir(deployment["model_dir"]).version(),
    }


# ---------------------------------------------------------------- the jobs, run with what was deployed
# The entry scripts run with the DefaultArguments Terraform gave the deployed Glue jobs (read back from moto),
# against the deployed stream and buckets, the uploaded model and a local endpoint serving the deployed
# endpoint name. Only awsglue is a fake (tests/glue_fakes.py).
def download_prefix(bucket: str, prefix: str, target: Path) -> Path:
    """Copy an S3 prefix of moto to a local directory, key for key, to read it as the datasets' readers do."""
    s3 = client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            path = target / obj["Key"][len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
    return target


def catalog_schema(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(columns, partition keys) of a deployed catalog table, as (name, type)."""
    found = client("glue").get_table(DatabaseName=DATABASE, Name=table)["Table"]
    columns = [(c["Name"], c["Type"]) for c in found["StorageDescriptor"]["Columns"]]
    return columns, [(k["Name"], k["Type"]) for k in found.get("PartitionKeys", [])]


def file_schema(directory: Path) -> list[tuple[str, str]]:
    """(lower-cased name, catalog type) of every column of the Parquet files under a directory: one schema."""
    import pyarrow.parquet as pq

    hive = {
        "string": "string",
        "large_string": "string",
        "int32": "int",
        "int64": "bigint",
        "double": "double",
        "timestamp[us, tz=UTC]": "timestamp",
        "timestamp[us]": "timestamp",
        "timestamp[ns]": "timestamp",
        "binary": "binary",
    }  # fmt: skip  (Spark writes INT96, read as ns)
    schemas = {
        tuple((f.name.lower(), hive[str(f.type)]) for f in pq.read_schema(path))
        for path in directory.rglob("*.parquet")
    }
    assert len(schemas) == 1, f"files under {directory} disagree on their schema: {schemas}"
    return list(schemas.pop())


@pytest.fixture
def deployed_endpoint(deployment, tmp_path, monkeypatch):
    """The local model server answering for the deployed endpoint name only (any other name: 400)."""
    from churn_tools.local import endpoint_server
    from churn_tools.local import services as local_services

    port = local_services.free_port()
    endpoint_server.start_background(
        deployment["model_dir"], port, tmp_path / "endpoint", endpoint_name=ENDPOINT
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://{local_services.LOOPBACK}:{port}")
    yield
    endpoint_server.stop_background(tmp_path / "endpoint")


@pytest.mark.usefixtures("deployed_endpoint")
def test_streaming_entry_script_scores_a_micro_batch_with_the_deployed_arguments(
    deployment, spark, synthetic_csv, tmp_path, monkeypatch
):
    import glue_fakes

    from churn_pipeline import tables
    from churn_tools.local import producer

    arguments = deployed_arguments("stream")
    stream_name = arguments["--stream_arn"].rsplit("/", 1)[1]
    records = list(producer.csv_records(synthetic_csv, "seam-"))[:30] + [(b"{not json", "bad")]
    producer.send(client("kinesis"), stream_name, records)
    # A Glue worker's environment names no region: every client must take the job's --aws_region.
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    job_name = f"{PREFIX}-stream-scoring"
    monkeypatch.setattr(sys, "argv", glue_fakes.glue_argv("glue_stream_scoring.py", job_name, arguments))

    def run_entry_script() -> list[tuple]:
        with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.STREAM_FILES):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_stream_scoring.py"), run_name="__main__")
            from awsglue.context import CALLS

            return list(CALLS)

    calls = run_entry_script()
    assert calls[0][:2] == ("from_options", "kinesis") and calls[0][2]["startingPosition"] == "trim_horizon"
    assert calls[1] == (
        "forEachBatch",
        {"windowSize": "100 seconds", "checkpointLocation": arguments["--checkpoint_path"]},
    )
    batches = [c[1] for c in calls if c[0] == "batch"]
    assert batches, calls

    data = BUCKETS["data"]
    stream = stream_tables()
    scored, dead = stream.read(outputs.STREAM_PREDICTIONS), stream.read(outputs.STREAM_DEAD_LETTER)
    assert sorted(scored["record_id"]) == sorted(json.loads(d)["record_id"] for d, _ in records[:30])
    assert scored["churn_probability"].between(0, 1).all()
    assert [bytes(p) for p in dead["raw_payload"]] == [b"{not json"] and list(dead["error_code"]) == [
        "NOT_JSON"
    ]
    # The query id of the commits' markers is the one Spark wrote in the checkpoint's metadata, in the data bucket:
    # the scored table (committed last, even empty) holds the last micro-batch's marker, the dead-letter and drift
    # tables the marker of the batch that had their rows.
    metadata = client("s3").get_object(Bucket=data, Key="checkpoints/stream-scoring/metadata")["Body"].read()
    query_id = json.loads(metadata.decode().splitlines()[0])["id"]
    catalog = tables.catalog_from_settings(stream.catalog)
    markers = {
        dataset.table: tables.last_committed_sequence(
            catalog.load_table(stream.identifier(dataset)), query_id
        )
        for dataset in outputs.ICEBERG_DATASETS
    }
    assert markers["stream_predictions"] == batches[-1], markers
    assert all(markers[name] in batches for name in ("stream_dead_letter", "stream_drift")), markers
    # The files hold the writers' columns, as the tables declare them (what Athena reads through the catalog).
    description = ModelDir(deployment["model_dir"]).description()
    for dataset, frame in ((outputs.STREAM_PREDICTIONS.for_data(description), scored),
                           (outputs.STREAM_DEAD_LETTER, dead)):  # fmt: skip
        assert list(frame.columns) == list(dataset.column_names), dataset.table

    # The dead-letter alarm's metric was published, in the job's region, under the job's name.
    def dead_letters_published() -> float:
        stats = client("cloudwatch").get_metric_statistics(
            Namespace="ChurnPipeline", MetricName="DeadLetterRecords",
            Dimensions=[{"Name": "JobName", "Value": job_name}], StartTime=time.time() - 3600,
            EndTime=time.time() + 60, Period=60, Statistics=["Sum"],
        )  # fmt: skip
        return sum(point["Sum"] for point in stats["Datapoints"])

    assert dead_letters_published() == 1.0

    # The same micro-batch delivered again (the job stopped after its tables committed, before Spark did): it is
    # replayed with the same id and offsets, and neither dataset nor the metric counts it twice.
    local_checkpoint = next((tmp_path / "glue" / "checkpoints").iterdir())
    for name in (str(batches[-1]), f".{batches[-1]}.crc"):  # the commit and its checksum file
        (local_checkpoint / "commits" / name).unlink()
    replay = run_entry_script()
    assert [c[1] for c in replay if c[0] == "batch"][0] == batches[-1]
    again = stream.read(outputs.STREAM_PREDICTIONS)
    assert sorted(again["record_id"]) == sorted(scored["record_id"])
    assert len(stream.read(outputs.STREAM_DEAD_LETTER)) == 1
    assert dead_letters_published() == 1.0


@pytest.mark.usefixtures("deployed_endpoint")
def test_batch_entry_script_runs_with_the_deployed_arguments_as_far_as_spark_can_here(
    deployment, spark, tmp_path, monkeypatch
):
    import dataclasses

    import glue_fakes

    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.batch.job import run
    from churn_pipeline.streaming.job import forward_aws_environment

    arguments = deployed_arguments("batch")
    monkeypatch.setattr(
        sys, "argv", glue_fakes.glue_argv("glue_batch_scoring.py", f"{PREFIX}-batch-scoring", arguments)
    )
    with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.BASE_FILES):
        # Everything up to Spark's first read of s3://: on Glue, EMRFS serves it; local Spark has no S3
        # file system (terraform/README.md, first deployment checklist).
        with pytest.raises(Exception, match='No FileSystem for scheme "s3"'):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_batch_scoring.py"), run_name="__main__")
        from awsglue.job import EVENTS

        assert [e[0] for e in EVENTS] == ["init"] and EVENTS[0][2]["scoring_mode"] == "endpoint"

    # The rest with the deployed config as it is (model from the artifacts bucket, the deployed endpoint name,
    # the threshold, the region, the deployed tables in moto's Glue catalog), the input swapped for a local file.
    from batch.helpers import GOOD_ROW, HEADER, write_lines

    deployed = config_from_glue_args({k.removeprefix("--"): v for k, v in arguments.items()})
    source = write_lines(tmp_path / "in.csv", [HEADER, GOOD_ROW, GOOD_ROW.replace(",265.1,", ",-1,"), "KS,1"])
    local = dataclasses.replace(deployed, input_path=str(source), batch_id="deployed-arguments")
    forward_aws_environment(spark)  # Spark's Python workers reach the local endpoint as this process does
    summary = run(spark, local)
    assert (summary.scored, summary.rejected, summary.failed) == (1, 2, 0), summary.failure_reasons
    # A name the endpoint does not serve: the row fails (kept, with the endpoint's answer), not scored.
    unknown = dataclasses.replace(
        local, scoring=dataclasses.replace(deployed.scoring, endpoint_name="not-deployed", max_attempts=1),
        batch_id="unknown-endpoint",
    )  # fmt: skip
    assert run(spark, unknown).failed == 1
    # What the runs committed, read back through the catalog the deployed arguments name, in the tables the
    # deploy step created (their schemas are the writers': test_catalog_tables_hold_the_deployed_model_s_columns).
    rows = {
        dataset.table: deployed.tables.read(dataset).groupby(outputs.BATCH_PARTITION).size().to_dict()
        for dataset in (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS, outputs.BATCH_FAILED)
    }
    assert {table: (n.get("deployed-arguments", 0), n.get("unknown-endpoint", 0)) for table, n in rows.items()} == {
        "batch_predictions": (1, 0), "batch_rejects": (2, 2), "batch_failed": (0, 1),
    }  # fmt: skip
    drift = deployed.tables.read(outputs.BATCH_DRIFT)
    assert set(drift[outputs.BATCH_PARTITION]) >= {"deployed-arguments"}


@pytest.mark.usefixtures("deployed_endpoint")
def test_quality_entry_script_runs_with_the_deployed_arguments_and_publishes_what_the_alarm_watches(
    deployment, spark, synthetic_csv, tmp_path, monkeypatch
):
    """The quality job's entry script with its deployed arguments as far as local Spark can (its first s3://
    read), then its run() with the deployed config on local paths, over scores the deployed batch job's config
    wrote and outcomes of those customers: its files are what its catalog tables say, and the ModelAUC it
    publishes (to moto, in the job's region, under the job's name) is the very series the deployed alarm reads."""
    import csv
    import dataclasses
    from datetime import UTC, datetime

    import glue_fakes

    from churn_pipeline.batch.glue import config_from_glue_args as batch_config
    from churn_pipeline.batch.job import run as run_batch
    from churn_pipeline.quality.glue import config_from_glue_args as quality_config
    from churn_pipeline.quality.job import run as run_quality
    from churn_pipeline.streaming.job import forward_aws_environment
    from churn_pipeline.tables import JobTables, TableRef

    arguments = deployed_arguments("quality")
    monkeypatch.setattr(sys, "argv", glue_fakes.glue_argv("glue_quality.py", JOB_NAMES["quality"], arguments))
    with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.BASE_FILES):
        # Model and metrics.json come from the artifacts bucket (boto3); then Spark's first s3:// read stops it.
        with pytest.raises(Exception, match='No FileSystem for scheme "s3"'):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_quality.py"), run_name="__main__")
        from awsglue.job import EVENTS

        assert [e[0] for e in EVENTS] == ["init"]

    # Scores, by the deployed batch job's config on local paths; then outcomes of those customers.
    forward_aws_environment(spark)
    source = tmp_path / "in.csv"
    source.write_text("\n".join(synthetic_csv.read_text().splitlines()[:301]) + "\n")
    # (Into a local catalog: local Spark reads no s3:// data file, which is what the quality job's Spark reads.)
    out = tmp_path / "out"
    batch = dataclasses.replace(
        batch_config({k.removeprefix("--"): v for k, v in deployed_arguments("batch").items()}),
        input_path=str(source), tables=JobTables.local(out / "tables", "batch", drift=True),
    )  # fmt: skip
    assert run_batch(spark, batch).scored == 300
    description = ModelDir(deployment["model_dir"]).description()
    label = next(c.name for c in description.columns if c.role == "label")
    known_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(source, newline="") as handle, open(out / "outcomes.csv", "w", newline="") as outcomes:
        writer = csv.writer(outcomes)
        writer.writerow([description.id_column, label, "known_at"])
        writer.writerows([row[description.id_column], row[label], known_at] for row in csv.DictReader(handle))

    deployed = quality_config(
        {**{k.removeprefix("--"): v for k, v in arguments.items()}, "JOB_NAME": JOB_NAMES["quality"]}
    )
    local = dataclasses.replace(
        deployed, outcomes_path=str(out / "outcomes.csv"), quality_path=str(out / "quality"), stream_scored_tables=(),
        batch_scored_tables=(TableRef(batch.tables.catalog, batch.tables.identifier(outputs.BATCH_PREDICTIONS)),),
        calibration_path=str(out / "calibration"), rejects_path=str(out / "outcome-rejects"),
        training_set_path=str(out / "training-set"),
    )  # fmt: skip
    summary = run_quality(spark, local)
    version = ModelDir(deployment["model_dir"]).version()
    assert summary.joined == 300 and summary.deployed_model_version == version, summary.describe()
    # The job's own threshold is the deployed alarm's: the model's test AUC (metrics.json, uploaded with it)
    # minus the deployed margin.
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[QUALITY_ALARM])["MetricAlarms"]
    assert summary.alarm_threshold == pytest.approx(alarm["Threshold"], abs=1e-12)
    for table, folder in (("model_quality", "quality"), ("model_calibration", "calibration"),
                          ("outcome_rejects", "outcome-rejects")):  # fmt: skip
        if any((out / folder).rglob("*.parquet")):
            columns, partitions = catalog_schema(table)
            assert file_schema(out / folder) == columns, table
            assert partitions == []
    assert any((out / "quality").rglob("*.parquet")) and any((out / "calibration").rglob("*.parquet"))

    # What the job published is the series the deployed alarm reads: its namespace, metric and dimensions.
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=time.time() - 3600, EndTime=time.time() + 60, Period=60, Statistics=["Minimum"],
    )  # fmt: skip
    assert [point["Minimum"] for point in stats["Datapoints"]] == [summary.latest_auc[version]["auc"]]

    # A degraded world: the outcomes of 30% of the customers flipped (seeded). Its run publishes an AUC that meets
    # the deployed alarm's condition, read from the alarm itself (as the demo's drift step checks its alarm).
    import random

    flip = random.Random(29)
    with open(out / "outcomes.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    opposite = {description.positive_labels[0]: description.negative_labels[0],
                description.negative_labels[0]: description.positive_labels[0]}  # fmt: skip
    flipped = [[i, opposite[y] if flip.random() < 0.30 else y, k] for i, y, k in rows]
    with open(out / "degraded.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *flipped])
    degraded = run_quality(spark, dataclasses.replace(local, outcomes_path=str(out / "degraded.csv"),
                                                      run_id="degraded"))  # fmt: skip
    assert degraded.alarm and summary.alarm is False, (summary.describe(), degraded.describe())
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Statistic"] == "Minimum"
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=time.time() - 3600, EndTime=time.time() + 60, Period=alarm["Period"], Statistics=["Minimum"],
    )  # fmt: skip
    [period] = stats["Datapoints"]  # both runs fall in the alarm's one daily period
    assert period["Minimum"] == degraded.latest_auc[version]["auc"] < alarm["Threshold"]


# ---------------------------------------------------------------- the Glue runtime matrix
# Each job on its deployed Glue version's pyspark and Python, from the files the deploy uploaded for it
# (--additional-python-modules, fetched from the artifacts bucket), installed with --no-index as Glue does
# (tests/glue_runtimes.py). The entry script is the uploaded one too. Figures: the report at the end of the run.
def uploaded_job_files(job: str, target: Path) -> tuple[Path, list[Path]]:
    """(entry script, module files) of a deployed job, downloaded from the S3 locations its Glue job names."""
    found = client("glue").get_job(JobName=f"{PREFIX}-{job}-scoring")["Job"]
    s3 = client("s3")
    target.mkdir(parents=True, exist_ok=True)

    def download(uri: str) -> Path:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        path = target / key.rsplit("/", 1)[1]
        s3.download_file(bucket, key, str(path))
        return path

    modules = found["DefaultArguments"]["--additional-python-modules"].split(",")
    return download(found["Command"]["ScriptLocation"]), [download(uri) for uri in modules]


@pytest.fixture(scope="module")
def glue_runtimes(deployment, tmp_path_factory) -> dict:
    """{job: (venv, installed upload set, entry script)} on the Glue version each deployed job names."""
    import glue_runtimes

    runtimes = {}
    for job in ("batch", "stream"):
        version = client("glue").get_job(JobName=f"{PREFIX}-{job}-scoring")["Job"]["GlueVersion"]
        venv = glue_runtimes.runtime_venv(version)
        work = tmp_path_factory.mktemp(f"glue-{job}")
        script, files = uploaded_job_files(job, work / "uploaded")
        # pip's options as Terraform deployed them (--python-modules-installer-option), not written here.
        options = deployed_arguments(job)["--python-modules-installer-option"].split()
        assert "--no-index" in options
        runtimes[job] = (venv, glue_runtimes.install_uploaded(venv, files, work / "site", options), script)
    return runtimes


def test_the_install_fails_when_a_dependency_wheel_is_missing_from_the_upload(glue_runtimes, tmp_path):
    import glue_runtimes as runtime_matrix

    venv, installed, _script = glue_runtimes["stream"]
    without_pyarrow = [f for f in installed.files if not f.name.startswith("pyarrow-")]
    assert len(without_pyarrow) == len(installed.files) - 1
    with pytest.raises(runtime_matrix.RuntimeInstallError, match="nothing uploaded provides pyarrow"):
        runtime_matrix.install_uploaded(venv, without_pyarrow, tmp_path / "site", installed.installer_options)


def stream_payloads() -> list[bytes]:
    """Every record the deployed stream holds, from its start."""
    kinesis, name = client("kinesis"), f"{PREFIX}-customer-churn"
    payloads = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator and (got := kinesis.get_records(ShardIterator=iterator))["Records"]:
            payloads += [r["Data"] for r in got["Records"]]
            iterator = got.get("NextShardIterator")
    return payloads


def clear_prefix(bucket: str, prefix: str) -> None:
    """Every version under a prefix, deleted for good. (A plain delete in a versioned bucket leaves a delete
    marker, and moto answers 500 to deleting one: the destroy's bucket emptying would then retry for an hour.)"""
    s3 = client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        if versions:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": versions})
    assert not s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("DeleteMarkers")


def runtime_env(monkeypatch) -> dict[str, str]:
    """The job process's environment: moto, the local endpoint, no region (the job takes --aws_region)."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return dict(os.environ)


def logged_json(stdout: str, prefix: str) -> dict:
    lines = [line.split(prefix, 1)[1] for line in stdout.splitlines() if prefix in line]
    assert len(lines) == 1, f"expected one {prefix!r} line in the job's output:\n{stdout[-3000:]}"
    return json.loads(lines[0])


@pytest.mark.usefixtures("deployed_endpoint")
def test_streaming_job_scores_a_micro_batch_on_its_glue_runtime(
    deployment, glue_runtimes, synthetic_csv, tmp_path, monkeypatch
):
    import glue_fakes
    import glue_runtimes as runtime_matrix

    from churn_tools.local import producer

    venv, installed, script = glue_runtimes["stream"]
    # This run's outputs alone: a new query (its checkpoint is new) over everything the stream holds, into the
    # tables as the deploy step creates them.
    fresh_stream_tables(deployment)
    clear_prefix(BUCKETS["data"], "checkpoints/")
    records = list(producer.csv_records(synthetic_csv, f"glue{venv.glue_version}-"))[100:120]
    producer.send(client("kinesis"), f"{PREFIX}-customer-churn", [*records, (b"{not json either", "bad")])
    on_stream = stream_payloads()
    good = [p for p in on_stream if p.startswith(b"{") and not p.startswith(b"{not")]
    fake = glue_fakes.write_fake(tmp_path / "fake", glue_fakes.RUNTIME_STREAM_FILES)
    env = {**runtime_env(monkeypatch), "FAKE_GLUE_CHECKPOINTS": str(tmp_path / "checkpoints")}
    argv = glue_fakes.glue_argv(str(script), f"{PREFIX}-stream-scoring", deployed_arguments("stream"))
    result = runtime_matrix.run_python(venv, installed, fake, argv, env)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"

    # The job logged what it runs on: this runtime's Spark and Python, the uploaded pins.
    facts = logged_json(result.stdout, "runtime: ")
    assert (facts["spark"], facts["pyspark"], facts["python"]) == (venv.spark, venv.spark, venv.python_used)
    from packaging.utils import canonicalize_name, parse_wheel_filename

    pins = {canonicalize_name(name): str(version) for name, version, _, _ in map(parse_wheel_filename,
            (f.name for f in installed.files))}  # fmt: skip
    libraries = ("numpy", "pandas", "pyarrow", "xgboost-cpu", "churn-pipeline")
    assert {d: facts[d] for d in libraries} == {d: pins[d] for d in libraries}
    # ... and the connector's frame, in the parsed form the job asks for (payload fields, no `data`).
    schema = logged_json(result.stdout, "source frame schema: ")
    names = [f["name"] for f in schema["fields"]]
    assert "data" not in names and {"Day Mins", "record_id", "_corrupt_record"} <= set(names)

    stream = stream_tables()
    scored, dead = stream.read(outputs.STREAM_PREDICTIONS), stream.read(outputs.STREAM_DEAD_LETTER)
    assert sorted(scored["record_id"]) == sorted(json.loads(p)["record_id"] for p in good)
    assert scored["churn_probability"].between(0, 1).all()
    assert sorted(bytes(p) for p in dead["raw_payload"]) == sorted(set(on_stream) - set(good))
    assert set(dead["error_code"]) == {"NOT_JSON"}
    runtime_matrix.report(venv.glue_version, "stream", {
        "spark": facts["spark"], "python": facts["python"], "gap": venv.gap, "wheels": len(installed.files),
        "megabytes": round(installed.megabytes, 1), "scored": len(scored), "dead_lettered": len(dead),
    })  # fmt: skip


@pytest.mark.usefixtures("deployed_endpoint")
def test_batch_job_runs_on_its_glue_runtime_as_far_as_spark_can_here(
    deployment, glue_runtimes, spark, synthetic_csv, tmp_path, monkeypatch
):
    import dataclasses

    import glue_fakes
    import glue_runtimes as runtime_matrix
    import pandas as pd

    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.batch.job import run
    from churn_pipeline.streaming.job import forward_aws_environment

    venv, installed, script = glue_runtimes["batch"]
    arguments = deployed_arguments("batch")
    lines = synthetic_csv.read_text().splitlines()[:201]
    source = tmp_path / "in.csv"
    source.write_text("\n".join([*lines, lines[1].replace(",", ",x", 3), "KS,1"]) + "\n")

    # The deployed config with a local input, each run its own batch_id in the deployed tables (moto's catalog).
    runtime_run = f"runtime-{venv.glue_version}"
    request = {
        "argv": glue_fakes.glue_argv(str(script), f"{PREFIX}-batch-scoring", arguments),
        "entry_script": str(script),
        "arguments": {k.removeprefix("--"): v for k, v in arguments.items()},
        "overrides": {"input_path": str(source), "batch_id": runtime_run},
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    fake = glue_fakes.write_fake(tmp_path / "fake", glue_fakes.BASE_FILES)
    runner = str(Path(__file__).resolve().parents[1] / "glue_job_runner.py")
    result = runtime_matrix.run_python(
        venv, installed, fake, [runner, "batch", str(tmp_path / "request.json")], runtime_env(monkeypatch)
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    outcome = logged_json(result.stdout, "RESULT ")
    assert 'No FileSystem for scheme "s3"' in outcome["entry_error"] and outcome["events"] == ["init"]
    assert (outcome["runtime"]["spark"], outcome["runtime"]["python"]) == (venv.spark, venv.python_used)

    # The same rows through this process's Spark (the checkout's pyspark) with the same deployed config: the
    # runtime's outputs are the same, row for row.
    forward_aws_environment(spark)
    host_run = f"host-{venv.glue_version}"
    host = dataclasses.replace(
        config_from_glue_args(request["arguments"]), input_path=str(source), batch_id=host_run
    )
    summary = run(spark, host)
    assert outcome["summary"] == {"scored": summary.scored, "rejected": summary.rejected,
                                  "failed": summary.failed, "reject_codes": summary.reject_codes}  # fmt: skip
    assert (summary.scored, summary.rejected, summary.failed) == (200, 2, 0), summary.failure_reasons

    def table(dataset, batch_id: str) -> pd.DataFrame:
        frame = host.tables.read(dataset)
        frame = frame[frame[outputs.BATCH_PARTITION] == batch_id]
        frame = frame[[c for c in frame.columns if c not in ("scored_at", "batch_id")]]
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    for dataset in (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS):
        runtime_rows, host_rows = table(dataset, runtime_run), table(dataset, host_run)
        assert len(host_rows) == {"batch_predictions": 200, "batch_rejects": 2}[dataset.table]
        pd.testing.assert_frame_equal(runtime_rows, host_rows)
    runtime_matrix.report(venv.glue_version, "batch", {
        "spark": outcome["runtime"]["spark"], "python": outcome["runtime"]["python"], "gap": venv.gap,
        "wheels": len(installed.files), "megabytes": round(installed.megabytes, 1),
        "scored": summary.scored, "rejected": summary.rejected, "failed": summary.failed,
    })  # fmt: skip
